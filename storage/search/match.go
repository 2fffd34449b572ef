package search

import (
	"github.com/careslot/careslot/fhir/fhirerr"
)

// Matchable refuses what a subscription's criteria cannot use: matching tests one changed
// resource at a time, so chains and _has (which read other resources), compartments,
// and the parameters that shape a result page have no meaning there.
func (q *Query) Matchable() error {
	refuse := func(what string) error {
		return fhirerr.Unprocessable(fhirerr.CodeNotSupported,
			"Subscription.criteria: "+what+" cannot be used in subscription criteria", "Subscription.criteria")
	}
	for _, c := range q.Clauses {
		if len(c.Chain) > 0 {
			return refuse("a chained parameter (" + c.Param.Code + ".…)")
		}
		if c.Has != nil {
			return refuse("_has")
		}
	}
	switch {
	case len(q.Include) > 0 || len(q.RevInclude) > 0:
		return refuse("_include and _revinclude")
	case len(q.Sort) > 0:
		return refuse("_sort")
	case q.Compartment != nil || q.ReferencedBy != nil:
		return refuse("a compartment")
	case q.Summary != "" || q.Elements != "" || q.Total != "" || q.Cursor != nil:
		return refuse("_summary, _elements, _total and _cursor")
	}
	return nil
}

// MatchSQL selects the rids, among rids, of the resources that q matches. It is the
// search's own WHERE over the index tables alone (no plan that starts from the
// scheduling tables), with every date range tested value by value: storage runs it over
// a copy of changed resources in temporary tables, where those tables are all there is.
func (q *Query) MatchSQL(reg *Registry, rids []int64) (string, []any) {
	generic := *q
	generic.Generic = true
	for _, c := range generic.DateRangeKeys() {
		c.MultiValued = true
	}
	b := &builder{reg: reg, base: q.BaseURL}
	where := b.where(&generic)
	return b.withClause() + "SELECT r.rid FROM resources r WHERE " + where + " AND r.rid = ANY(" + b.arg(rids) + "::bigint[])", b.args
}
