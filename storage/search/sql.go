package search

import (
	"fmt"
	"strconv"
	"strings"
)

// The SQL of a search reads resources r and tests each clause as r.rid IN (a subquery on
// one index table), so Postgres can start from whichever index is most selective. Every
// value is a bind parameter; only table and column names, chosen here, are spliced in.

type builder struct {
	reg     *Registry
	base    string // Query.BaseURL
	args    []any
	aliases int
	with    []string // common table expressions, by where
	access  *Access  // Query.Access: nil sees everything
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

func (b *builder) alias(prefix string) string {
	b.aliases++
	return prefix + strconv.Itoa(b.aliases)
}

// sortKey is how one _sort parameter orders: an expression over r and the Postgres type
// its cursor values are read back as.
type sortKey struct {
	expr, cast string
	desc       bool
}

// PageSQL is the query of one page: rid, type, id, version_id, last_updated, content, then the sort keys as text (for
// the cursor), at most limit rows, in the query's order (or reversed for a Before cursor,
// which the caller puts back in order).
func (q *Query) PageSQL(reg *Registry, limit int) (string, []any) {
	b := &builder{reg: reg, base: q.BaseURL, access: q.Access}
	if sql, ok := b.pageByRID(q, limit); ok {
		return sql, b.args
	}
	if sql, ok := b.datePage(q, limit); ok {
		return sql, b.args
	}
	keys, laterals := b.sortKeys(q)
	where := b.where(q)
	before := q.Cursor != nil && q.Cursor.Before
	if c := q.Cursor; c != nil {
		where += " AND " + b.keyset(keys, c)
		if len(q.Sort) > 0 && !c.Snapshot.IsZero() {
			where += " AND r.last_updated <= " + b.arg(c.Snapshot) + "::timestamptz"
		}
	}
	var sel, order []string
	for _, k := range keys {
		sel = append(sel, k.expr+"::text")
		order = append(order, k.expr+direction(k.desc != before))
	}
	order = append(order, "r.rid"+direction(before))
	sql := b.withClause() + "SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content"
	for _, s := range sel {
		sql += ", " + s
	}
	sql += " FROM resources r" + laterals + " WHERE " + where +
		" ORDER BY " + strings.Join(order, ", ") + " LIMIT " + b.arg(limit)
	return sql, b.args
}

// pageByRID answers a page in the default order (rid) when every clause is answered by the
// index tables: index rows exist only for live resources, and sp names the type, so the page's
// rids are chosen, ordered and cut there, and only they are read from resources. Otherwise a
// family=s matching thousands would read thousands of resource rows to return 50.
func (b *builder) pageByRID(q *Query, limit int) (string, bool) {
	// The page is cut in the index tables, before the access filter could drop a row.
	if len(q.Sort) > 0 || q.Compartment != nil || q.ReferencedBy != nil || len(q.Clauses) == 0 || !q.Access.Unrestricted(q.Type) {
		return "", false
	}
	for _, c := range q.Clauses {
		if !fromIndex(c) {
			return "", false
		}
	}
	cand, covered, planned := b.slotCandidates(q)
	var subs []string
	for _, c := range q.Clauses {
		if !covered[c] {
			sub, _ := b.indexSubquery(c)
			subs = append(subs, sub)
		}
	}
	base, rest := cand, subs
	if !planned {
		base, rest = subs[0], subs[1:]
	}
	conds := []string{"true"}
	for _, sub := range rest {
		conds = append(conds, "m.rid IN ("+sub+")")
	}
	before := q.Cursor != nil && q.Cursor.Before
	if q.Cursor != nil {
		op := " > "
		if before {
			op = " < "
		}
		conds = append(conds, "m.rid"+op+b.arg(q.Cursor.RID))
	}
	n := b.arg(limit)
	b.with = append(b.with, "matched AS MATERIALIZED (SELECT m.rid FROM ("+base+") m WHERE "+strings.Join(conds, " AND ")+
		" GROUP BY m.rid ORDER BY m.rid"+direction(before)+" LIMIT "+n+")")
	return b.withClause() + "SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content FROM resources r" +
		" WHERE r.type = " + b.arg(q.Type) + " AND NOT r.deleted AND r.rid IN (SELECT rid FROM matched)" +
		" ORDER BY r.rid" + direction(before) + " LIMIT " + n, true
}

// CountSQL counts every match of the query.
func (q *Query) CountSQL(reg *Registry) (string, []any) {
	b := &builder{reg: reg, base: q.BaseURL, access: q.Access}
	where := b.where(q)
	return b.withClause() + "SELECT count(*) FROM resources r WHERE " + where, b.args
}

func direction(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

func (b *builder) where(q *Query) string {
	conds := []string{"r.type = " + b.arg(q.Type), "NOT r.deleted"}
	cand, covered, planned := b.slotCandidates(q)
	var subs []string
	for _, c := range q.Clauses {
		if covered[c] {
			continue
		}
		if sub, ok := b.indexSubquery(c); ok {
			subs = append(subs, sub)
		} else {
			conds = append(conds, b.clause(c, "r"))
		}
	}
	base, rest := cand, subs
	if !planned && len(subs) > 1 {
		base, rest = subs[0], subs[1:]
	}
	switch {
	case !planned && len(subs) == 0:
	case !planned && len(subs) == 1:
		conds = append(conds, "r.rid IN ("+subs[0]+")")
	default:
		// Several index conditions are intersected in the index tables alone before any
		// resource row is read; left to itself the planner fetched a resource row for each
		// candidate of the least selective condition. MATERIALIZED keeps it apart.
		// The Slot plan starts from schedule_slots instead (slotplan.go).
		filters := []string{"true"}
		for _, sub := range rest {
			filters = append(filters, "m.rid IN ("+sub+")")
		}
		b.with = append(b.with, "matched AS MATERIALIZED (SELECT m.rid FROM ("+base+") m WHERE "+strings.Join(filters, " AND ")+")")
		conds = append(conds, "r.rid IN (SELECT rid FROM matched)")
	}
	if q.Compartment != nil {
		conds = append(conds, b.compartment(q.Type, q.Compartment, "r"))
	}
	if q.ReferencedBy != nil {
		conds = append(conds, b.referencedBy(q.Type, q.ReferencedBy, "r"))
	}
	if !b.access.Unrestricted(q.Type) {
		conds = append(conds, b.visible(q.Type, "r"))
	}
	return strings.Join(conds, " AND ")
}

// withClause is the WITH of the query, "" when it has no common table expressions.
func (b *builder) withClause() string {
	if len(b.with) == 0 {
		return ""
	}
	return "WITH " + strings.Join(b.with, ", ") + " "
}

// sortKeys makes one expression per _sort parameter. A resource with several values sorts
// by its least (ascending) or greatest (descending); one without sorts last.
func (b *builder) sortKeys(q *Query) ([]sortKey, string) {
	var keys []sortKey
	var laterals strings.Builder
	for i, s := range q.Sort {
		switch s.Param.Code {
		case "_id":
			keys = append(keys, sortKey{expr: "r.id", cast: "text", desc: s.Descending})
			continue
		case "_lastUpdated":
			keys = append(keys, sortKey{expr: "r.last_updated", cast: "timestamptz", desc: s.Descending})
			continue
		}
		agg := "min"
		if s.Descending {
			agg = "max"
		}
		var table, col, cast, missing string
		switch s.Param.Kind {
		case KindDate:
			table, col, cast = "search_date", "low", "timestamptz"
			if s.Descending {
				col = "high"
			}
			missing = "'infinity'::timestamptz"
		case KindNumber:
			table, col, cast, missing = "search_number", "value", "numeric", "'Infinity'::numeric"
		case KindQuantity:
			table, col, cast, missing = "search_quantity", "low", "numeric", "'Infinity'::numeric"
			if s.Descending {
				col = "high"
			}
		case KindString:
			table, col, cast = "search_string", "value", "text"
		case KindToken:
			table, col, cast = "search_token", "code", "text"
		case KindURI:
			table, col, cast = "search_uri", "value", "text"
		case KindReference:
			table, col, cast = "search_reference", "(x.target_type || '/' || x.target_id || x.url)", "text"
		}
		if cast == "text" {
			// U+10FFFF sorts after every string in the C collation.
			missing = "U&'\\+10FFFF'"
		}
		if s.Descending {
			missing = strings.Replace(strings.Replace(missing, "'infinity'", "'-infinity'", 1), "'Infinity'", "'-Infinity'", 1)
			if cast == "text" {
				missing = "''"
			}
		}
		if !strings.HasPrefix(col, "(") {
			col = "x." + col
		}
		if cast == "text" {
			// An empty value (a CodeableConcept with only a text has code '') is no
			// value: it must not sort first.
			col = "NULLIF(" + col + ", '')"
		}
		alias := "s" + strconv.Itoa(i)
		fmt.Fprintf(&laterals, " CROSS JOIN LATERAL (SELECT COALESCE(%s(%s), %s)", agg, col, missing)
		if cast == "text" {
			laterals.WriteString(` COLLATE "C"`)
		}
		fmt.Fprintf(&laterals, " AS k FROM %s x WHERE x.rid = r.rid AND x.sp = %s) %s", table, b.arg(key(q.Type, s.Param.Code)), alias)
		keys = append(keys, sortKey{expr: alias + ".k", cast: cast, desc: s.Descending})
	}
	return keys, laterals.String()
}

// keyset is the condition "after the cursor in the query's order" (or before it).
func (b *builder) keyset(keys []sortKey, c *Cursor) string {
	// (k0 > v0) OR (k0 = v0 AND k1 > v1) OR ... OR (all equal AND rid > c.RID),
	// with < for descending keys, and every comparison flipped for a Before cursor.
	var ors []string
	var eqs []string
	for i, k := range keys {
		v := b.arg(c.Keys[i]) + "::" + k.cast
		op := ">"
		if k.desc != c.Before {
			op = "<"
		}
		ors = append(ors, "("+strings.Join(append(append([]string{}, eqs...), k.expr+" "+op+" "+v), " AND ")+")")
		eqs = append(eqs, k.expr+" = "+v)
	}
	op := ">"
	if c.Before {
		op = "<"
	}
	ors = append(ors, "("+strings.Join(append(eqs, "r.rid "+op+" "+b.arg(c.RID)), " AND ")+")")
	return "(" + strings.Join(ors, " OR ") + ")"
}

// table is the index table of a clause and the sp its rows carry.
func table(c *Clause) (name, sp string) {
	sp = key(c.Type, c.Param.Code)
	switch c.Param.Kind {
	case KindString:
		return "search_string", sp
	case KindToken:
		if c.Modifier == "of-type" {
			return "search_token", sp + ":of-type"
		}
		return "search_token", sp
	case KindReference:
		if c.Modifier == "identifier" {
			return "search_token", sp + ":identifier"
		}
		return "search_reference", sp
	case KindDate:
		return "search_date", sp
	case KindNumber:
		return "search_number", sp
	case KindQuantity:
		return "search_quantity", sp
	case KindURI:
		return "search_uri", sp
	case KindComposite:
		return "search_composite", sp
	}
	return "search_number", sp + ":latitude"
}

// indexSubquery is the SELECT of the rids that satisfy a clause, for the clauses answered
// from the index tables alone; ok is false for those tested otherwise (negations,
// :missing, _id, _lastUpdated, _has, near).
func (b *builder) indexSubquery(c *Clause) (string, bool) {
	if !fromIndex(c) {
		return "", false
	}
	if len(c.Chain) > 0 {
		return b.chain(c), true
	}
	tbl, sp := table(c)
	if c.Param.Kind == KindDate && len(c.Also) > 0 {
		if w := dateWindow(c); w[0].After(w[1]) {
			return b.eachDate(c), true
		}
		return b.dateRange(c, sp), true
	}
	x := b.alias("x")
	spArg := b.arg(sp)
	var ors []string
	for _, v := range c.Values {
		cond := b.value(c, x, v)
		if r, ok := v.(ReferenceValue); ok && r.URL == "" && c.Modifier != "identifier" {
			cond = "(" + cond + " AND " + b.local(x) + ")"
		}
		ors = append(ors, cond)
	}
	return fmt.Sprintf("SELECT %s.rid FROM %s %s WHERE %s.sp = %s AND %s", x, tbl, x, x, spArg, or(ors)), true
}

// eachDate answers ANDed date clauses whose windows do not meet (lt May & gt July) one
// by one: no single window bounds their matches, yet a Period from May to August
// satisfies both. dateRange would find nothing.
func (b *builder) eachDate(c *Clause) string {
	d := b.alias("d")
	var sql string
	for i, cl := range append([]*Clause{c}, c.Also...) {
		one := *cl
		one.Also = nil
		sub, _ := b.indexSubquery(&one)
		switch i {
		case 0:
			sql = "SELECT " + d + ".rid FROM (" + sub + ") " + d + " WHERE "
		case 1:
			sql += d + ".rid IN (" + sub + ")"
		default:
			sql += " AND " + d + ".rid IN (" + sub + ")"
		}
	}
	return sql
}

// local is the condition that the search_reference row x names a resource of this
// server: a relative reference, or an absolute URL under the base. Another server's
// http://other.example/fhir/Patient/1 has Patient and 1 in its row too, but is not
// this server's Patient/1 (see Query.BaseURL).
func (b *builder) local(x string) string {
	relative := "position(':' in " + x + ".url) = 0"
	if b.base == "" {
		return relative
	}
	return "(" + relative + " OR starts_with(" + x + ".url, " + b.arg(strings.TrimRight(b.base, "/")+"/") + "))"
}

// fromIndex reports whether the rids of c come from the index tables alone.
func fromIndex(c *Clause) bool {
	switch {
	case c.Has != nil:
		return false
	case len(c.Chain) > 0:
		return true
	}
	return c.Param.Code != "_id" && c.Param.Code != "_lastUpdated" && c.Missing == nil && c.Param.Kind != KindSpecial && c.Modifier != "not"
}

// clause is the SQL condition of c on the resources row r.
func (b *builder) clause(c *Clause, r string) string {
	if sub, ok := b.indexSubquery(c); ok {
		return r + ".rid IN (" + sub + ")"
	}
	if c.Has != nil {
		return b.has(c, r)
	}
	switch c.Param.Code {
	case "_id":
		return b.idClause(c, r)
	case "_lastUpdated":
		return b.lastUpdated(c, r)
	}
	tbl, sp := table(c)
	x := b.alias("x")
	if c.Missing != nil {
		exists := fmt.Sprintf("EXISTS (SELECT 1 FROM %s %s WHERE %s.rid = %s.rid AND %s.sp = %s)", tbl, x, x, r, x, b.arg(sp))
		if c.Param.Kind == KindReference {
			// A Reference with only an identifier is a value too; its row is a token.
			y := b.alias("x")
			exists = fmt.Sprintf("(%s OR EXISTS (SELECT 1 FROM search_token %s WHERE %s.rid = %s.rid AND %s.sp = %s))", exists, y, y, r, y, b.arg(sp+":identifier"))
		}
		if *c.Missing {
			return "NOT " + exists
		}
		return exists
	}
	if c.Param.Kind == KindSpecial {
		return b.near(c, r)
	}
	// :not: no value of the resource matches (resources without the element match too).
	spArg := b.arg(sp)
	var ors []string
	for _, v := range c.Values {
		ors = append(ors, b.value(c, x, v))
	}
	return fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s %s WHERE %s.rid = %s.rid AND %s.sp = %s AND %s)", tbl, x, x, r, x, spArg, or(ors))
}

func or(conds []string) string {
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

func (b *builder) idClause(c *Clause, r string) string {
	if c.Missing != nil {
		return strconv.FormatBool(!*c.Missing)
	}
	var ids []string
	for _, v := range c.Values {
		if t, ok := v.(TokenValue); ok {
			ids = append(ids, t.Code)
		}
	}
	cond := r + ".id = ANY(" + b.arg(ids) + "::text[])"
	if c.Modifier == "not" {
		return "NOT " + cond
	}
	return cond
}

func (b *builder) lastUpdated(c *Clause, r string) string {
	if c.Missing != nil {
		return strconv.FormatBool(!*c.Missing)
	}
	var ors []string
	for _, v := range c.Values {
		ors = append(ors, b.dateCond(r+".last_updated", r+".last_updated", v.(DateValue)))
	}
	return or(ors)
}
