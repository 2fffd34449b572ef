package search

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// The limits of one search. Postgres plans a query with n joined conditions in time that
// grows much faster than n (300 repeats of name=a planned for minutes), so a query is
// bounded before any SQL is made; docs/search.md lists them.
const (
	// MaxParams is how many name=value pairs a query may send, repeats included.
	MaxParams = 1000
	// MaxDistinct is how many different name=value pairs remain once identical ones are
	// merged (name=a&name=a is name=a).
	MaxDistinct = 100
	// MaxValues is how many values all parameters carry together, counting each of a
	// comma-separated list.
	MaxValues = 1000
	// MaxConditions is how many conditions the SQL joins: each clause, each level of a
	// chain or _has, each ANDed date bound.
	MaxConditions = 20
)

// tooCostly is the 400 of a search over one of the limits.
func tooCostly(format string, args ...any) *fhirerr.Error {
	return fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeTooCostly, fmt.Sprintf(format, args...))
}

// merged returns params without repeated identical name=value pairs, or the refusal of
// a query over MaxParams, MaxDistinct or MaxValues. Repeating a condition does not
// change what it selects, so merging changes no answer.
func merged(params url.Values) (url.Values, error) {
	sent, distinct, values := 0, 0, 0
	out := make(url.Values, len(params))
	for name, raws := range params {
		sent += len(raws)
		seen := make(map[string]bool, len(raws))
		for _, raw := range raws {
			if seen[raw] {
				continue
			}
			seen[raw] = true
			out[name] = append(out[name], raw)
			distinct++
			values += strings.Count(raw, ",") + 1
		}
	}
	switch {
	case sent > MaxParams:
		return nil, tooCostly("the search sends %d parameters; at most %d are accepted", sent, MaxParams)
	case distinct > MaxDistinct:
		return nil, tooCostly("the search has %d different parameters (identical repeats merged); at most %d are accepted", distinct, MaxDistinct)
	case values > MaxValues:
		return nil, tooCostly("the search has %d values; at most %d are accepted", values, MaxValues)
	}
	return out, nil
}

// checkConditions refuses a query whose SQL would join more than MaxConditions conditions.
func checkConditions(q *Query) error {
	if n := conditions(q.Clauses); n > MaxConditions {
		return tooCostly("the search has %d conditions (parameters, chain and _has levels, date bounds); at most %d are accepted", n, MaxConditions)
	}
	return nil
}

func conditions(clauses []*Clause) int {
	n := 0
	for _, c := range clauses {
		n += 1 + conditions(c.Chain) + conditions(c.Also)
		if c.Has != nil {
			n += conditions([]*Clause{c.Has.Clause})
		}
	}
	return n
}
