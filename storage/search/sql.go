package search

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The SQL of a search reads resources r and tests each clause as r.rid IN (a subquery on
// one index table), so Postgres can start from whichever index is most selective. Every
// value is a bind parameter; only table and column names, chosen here, are spliced in.

// ResourceColumns are the columns every search query returns first, in this order.
const ResourceColumns = "rid, type, id, version_id, last_updated, content"

type builder struct {
	reg     *Registry
	args    []any
	aliases int
	with    []string // common table expressions, by where
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

// PageSQL is the query of one page: ResourceColumns, then the sort keys as text (for
// the cursor), at most limit rows, in the query's order (or reversed for a Before cursor,
// which the caller puts back in order).
func (q *Query) PageSQL(reg *Registry, limit int) (string, []any) {
	b := &builder{reg: reg}
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

// CountSQL counts every match of the query.
func (q *Query) CountSQL(reg *Registry) (string, []any) {
	b := &builder{reg: reg}
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
	var subs []string
	for _, c := range q.Clauses {
		if sub, ok := b.indexSubquery(c); ok {
			subs = append(subs, sub)
		} else {
			conds = append(conds, b.clause(c, "r"))
		}
	}
	switch len(subs) {
	case 0:
	case 1:
		conds = append(conds, "r.rid IN ("+subs[0]+")")
	default:
		// Several index conditions are intersected in the index tables alone before any
		// resource row is read; left to itself the planner fetched a resource row for each
		// candidate of the least selective condition. MATERIALIZED keeps it apart.
		var filters []string
		for _, sub := range subs[1:] {
			filters = append(filters, "m.rid IN ("+sub+")")
		}
		b.with = append(b.with, "matched AS MATERIALIZED (SELECT m.rid FROM ("+subs[0]+") m WHERE "+strings.Join(filters, " AND ")+")")
		conds = append(conds, "r.rid IN (SELECT rid FROM matched)")
	}
	if q.Compartment != nil {
		conds = append(conds, b.compartment(q.Type, q.Compartment, "r"))
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
	if c.Has != nil {
		return "", false
	}
	if len(c.Chain) > 0 {
		return b.chain(c), true
	}
	if c.Param.Code == "_id" || c.Param.Code == "_lastUpdated" || c.Missing != nil || c.Param.Kind == KindSpecial || c.Modifier == "not" {
		return "", false
	}
	tbl, sp := table(c)
	if c.Param.Kind == KindDate && len(c.Also) > 0 {
		return b.dateRange(c, sp), true
	}
	x := b.alias("x")
	spArg := b.arg(sp)
	var ors []string
	for _, v := range c.Values {
		ors = append(ors, b.value(c, x, v))
	}
	return fmt.Sprintf("SELECT %s.rid FROM %s %s WHERE %s.sp = %s AND %s", x, tbl, x, x, spArg, or(ors)), true
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

// value is the condition of one value on the index row alias x.
func (b *builder) value(c *Clause, x string, v Value) string {
	switch v := v.(type) {
	case StringValue:
		switch c.Modifier {
		case "exact":
			return x + ".exact = " + b.arg(v.Raw)
		case "contains":
			return x + ".value LIKE " + b.arg("%"+likeEscape(v.Norm)+"%")
		}
		return x + ".value LIKE " + b.arg(likeEscape(v.Norm)+"%")
	case TokenValue:
		return b.token(c.Modifier, x+".system", x+".code", x+".text", v)
	case ReferenceValue:
		return b.reference(x, v)
	case DateValue:
		cond := b.dateCond(x+".low", x+".high", v)
		if w, ok := window(v); ok {
			cond = b.window(x, w) + " AND " + cond
		}
		return cond
	case NumberValue:
		return b.numberCond(x+".value", x+".value", v)
	case QuantityValue:
		return b.quantityCond(x+".low", x+".high", x+".system", x+".code", x+".unit", v)
	case URIValue:
		switch c.Modifier {
		case "below":
			return x + ".value LIKE " + b.arg(likeEscape(v.URI)+"%")
		case "above":
			return "left(" + b.arg(v.URI) + "::text, length(" + x + ".value)) = " + x + ".value"
		}
		return x + ".value = " + b.arg(v.URI)
	case CompositeValue:
		return b.composite(x, v)
	}
	return "false"
}

func (b *builder) token(modifier, system, code, text string, v TokenValue) string {
	switch modifier {
	case "of-type":
		return "(" + system + " = " + b.arg(v.TypeSystem) + " AND " + code + " = " + b.arg(v.TypeCode) + " AND " + text + " = " + b.arg(v.Code) + ")"
	case "text":
		return text + " LIKE " + b.arg(likeEscape(v.Code)+"%")
	}
	if !v.HasSystem {
		return code + " = " + b.arg(v.Code)
	}
	cond := system + " = " + b.arg(v.System)
	if v.Code != "" {
		cond = "(" + cond + " AND " + code + " = " + b.arg(v.Code) + ")"
	}
	return cond
}

func (b *builder) reference(x string, v ReferenceValue) string {
	if v.URL != "" {
		return x + ".url = " + b.arg(v.URL)
	}
	cond := x + ".target_id = " + b.arg(v.ID)
	if v.Type != "" {
		cond = "(" + cond + " AND " + x + ".target_type = " + b.arg(v.Type) + ")"
	}
	return cond
}

// dateCond compares the range [lo, hi] of a stored value with a searched date as the
// R4 prefixes define it; the range of the searched value is [v.Low, v.High].
func (b *builder) dateCond(lo, hi string, v DateValue) string {
	a := func() string { return b.arg(v.Low) + "::timestamptz" }
	z := func() string { return b.arg(v.High) + "::timestamptz" }
	switch v.Prefix {
	case "ne":
		return "NOT (" + lo + " >= " + a() + " AND " + hi + " <= " + z() + ")"
	case "gt":
		return hi + " > " + z()
	case "lt":
		return lo + " < " + a()
	case "ge":
		// The range above the value overlaps the target, or the value contains it.
		s := a()
		return "(" + hi + " >= " + s + " AND (" + hi + " > " + z() + " OR " + lo + " >= " + s + "))"
	case "le":
		e := z()
		return "(" + lo + " <= " + e + " AND (" + lo + " < " + a() + " OR " + hi + " <= " + e + "))"
	case "sa":
		return lo + " > " + z()
	case "eb":
		return hi + " < " + a()
	case "ap":
		wl, wh := approximately(v.Low, v.High)
		return "(" + lo + " <= " + b.arg(wh) + "::timestamptz AND " + hi + " >= " + b.arg(wl) + "::timestamptz)"
	}
	return "(" + lo + " >= " + a() + " AND " + hi + " <= " + z() + ")"
}

// window is a range that every stored date matching v overlaps: the GiST index of
// search_date finds those rows without scanning from the start or end of time.
func window(v DateValue) ([2]time.Time, bool) {
	switch v.Prefix {
	case "eq":
		return [2]time.Time{v.Low, v.High}, true
	case "gt", "sa":
		return [2]time.Time{v.High.Add(time.Microsecond), MaxTime}, true
	case "lt", "eb":
		return [2]time.Time{MinTime, v.Low.Add(-time.Microsecond)}, true
	case "ge":
		return [2]time.Time{v.Low, MaxTime}, true
	case "le":
		return [2]time.Time{MinTime, v.High}, true
	case "ap":
		lo, hi := approximately(v.Low, v.High)
		return [2]time.Time{lo, hi}, true
	}
	return [2]time.Time{}, false
}

func (b *builder) window(x string, w [2]time.Time) string {
	if w[0].After(w[1]) {
		return "false"
	}
	return fmt.Sprintf("tstzrange(%s.low, %s.high, '[]') && tstzrange(%s::timestamptz, %s::timestamptz, '[]')", x, x, b.arg(w[0]), b.arg(w[1]))
}

// dateRange answers several ANDed single-value clauses on one date parameter: a value
// that satisfies them all is found with one window scan; a resource with several values
// may satisfy them with different values, which the second branch (few rows) tests.
func (b *builder) dateRange(c *Clause, sp string) string {
	all := append([]*Clause{c}, c.Also...)
	w := [2]time.Time{MinTime, MaxTime}
	for _, cl := range all {
		if cw, ok := window(cl.Values[0].(DateValue)); ok {
			if cw[0].After(w[0]) {
				w[0] = cw[0]
			}
			if cw[1].Before(w[1]) {
				w[1] = cw[1]
			}
		}
	}
	x, y := b.alias("x"), b.alias("x")
	spArg := b.arg(sp)
	var same, each []string
	for _, cl := range all {
		v := cl.Values[0].(DateValue)
		same = append(same, b.dateCond(x+".low", x+".high", v))
		if c.MultiValued {
			each = append(each, "bool_or("+b.dateCond(y+".low", y+".high", v)+")")
		}
	}
	single := fmt.Sprintf("SELECT %s.rid FROM search_date %s WHERE %s.sp = %s AND %s AND %s", x, x, x, spArg, b.window(x, w), strings.Join(same, " AND "))
	if !c.MultiValued {
		// The usual case (Appointment.start, Slot.start): one value per resource, so a plain
		// semi-join that Postgres can drive from either side.
		return single
	}
	return fmt.Sprintf("%s UNION ALL SELECT %s.rid FROM search_date %s WHERE %s.sp = %s AND %s.multi GROUP BY %s.rid HAVING %s",
		single, y, y, y, spArg, y, y, strings.Join(each, " AND "))
}

// numberCond compares a stored number (or range [lo, hi]) with a searched number; eq
// means within the precision of the searched value.
func (b *builder) numberCond(lo, hi string, v NumberValue) string {
	n := func(s string) string { return b.arg(s) + "::numeric" }
	switch v.Prefix {
	case "ne":
		return "NOT (" + lo + " >= " + n(v.Low) + " AND " + hi + " < " + n(v.High) + ")"
	case "gt":
		return hi + " > " + n(v.Value)
	case "lt":
		return lo + " < " + n(v.Value)
	case "ge":
		return hi + " >= " + n(v.Value)
	case "le":
		return lo + " <= " + n(v.Value)
	case "sa":
		return lo + " > " + n(v.Value)
	case "eb":
		return hi + " < " + n(v.Value)
	case "ap":
		// Within 10% of the value.
		val := n(v.Value)
		return "(" + lo + " <= " + val + " + abs(" + val + ") * 0.1 AND " + hi + " >= " + val + " - abs(" + val + ") * 0.1)"
	}
	return "(" + lo + " >= " + n(v.Low) + " AND " + hi + " < " + n(v.High) + ")"
}

func (b *builder) quantityCond(lo, hi, system, code, unit string, v QuantityValue) string {
	cond := b.numberCond(lo, hi, v.NumberValue)
	switch {
	case v.System != "" && v.Code != "":
		cond += " AND " + system + " = " + b.arg(v.System) + " AND " + code + " = " + b.arg(v.Code)
	case v.Code != "":
		c := b.arg(v.Code)
		if unit == "" {
			cond += " AND " + code + " = " + c
		} else {
			cond += " AND (" + code + " = " + c + " OR " + unit + " = " + c + ")"
		}
	case v.System != "":
		cond += " AND " + system + " = " + b.arg(v.System)
	}
	return "(" + cond + ")"
}

func (b *builder) composite(x string, v CompositeValue) string {
	var first string
	switch f := v.First.(type) {
	case TokenValue:
		first = b.token("", x+".c1_system", x+".c1_code", "", f)
	case ReferenceValue:
		if f.Type != "" {
			first = x + ".c1_code = " + b.arg(f.Type+"/"+f.ID)
		} else {
			first = x + ".c1_code LIKE " + b.arg("%/"+likeEscape(f.ID))
		}
	default:
		return "false"
	}
	var second string
	switch s := v.Second.(type) {
	case TokenValue:
		second = b.token("", x+".c2_system", x+".c2_code", "", s)
	case QuantityValue:
		second = b.quantityCond(x+".c2_low", x+".c2_high", x+".c2_system", x+".c2_code", "", s)
	case DateValue:
		second = b.dateCond(x+".c2_from", x+".c2_to", s)
	case StringValue:
		second = x + ".c2_text LIKE " + b.arg(likeEscape(s.Norm)+"%")
	default:
		return "false"
	}
	return "(" + first + " AND " + second + ")"
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

// chain selects the resources whose reference points to a resource matching the chain.
func (b *builder) chain(c *Clause) string {
	x, t := b.alias("x"), b.alias("t")
	var ors []string
	for _, inner := range c.Chain {
		ors = append(ors, "("+t+".type = "+b.arg(inner.Type)+" AND "+b.clause(inner, t)+")")
	}
	return fmt.Sprintf("SELECT %s.rid FROM search_reference %s JOIN resources %s ON %s.type = %s.target_type AND %s.id = %s.target_id"+
		" WHERE %s.sp = %s AND NOT %s.deleted AND %s",
		x, x, t, t, x, t, x, x, b.arg(key(c.Type, c.Param.Code)), t, or(ors))
}

// has tests the resources that point at r: _has:Type:param:clause.
func (b *builder) has(c *Clause, r string) string {
	x, o := b.alias("x"), b.alias("o")
	h := c.Has
	return fmt.Sprintf("%s.id IN (SELECT %s.target_id FROM search_reference %s JOIN resources %s ON %s.rid = %s.rid"+
		" WHERE %s.sp = %s AND %s.target_type = %s AND NOT %s.deleted AND %s)",
		r, x, x, o, o, x, x, b.arg(key(h.Type, h.Param.Code)), x, b.arg(c.Type), o, b.clause(h.Clause, o))
}

// near finds Locations within a distance of a point (haversine on a 6371 km sphere),
// narrowed first by a latitude band that the index serves.
func (b *builder) near(c *Clause, r string) string {
	var ors []string
	sp := key(c.Type, c.Param.Code)
	for _, v := range c.Values {
		n, ok := v.(NearValue)
		if !ok {
			continue
		}
		la, lo := b.alias("la"), b.alias("lo")
		lat, lon := b.arg(n.Latitude)+"::float8", b.arg(n.Longitude)+"::float8"
		band := n.Kilometres / 111.0
		ors = append(ors, fmt.Sprintf("%s.rid IN (SELECT %s.rid FROM search_number %s JOIN search_number %s ON %s.rid = %s.rid AND %s.sp = %s"+
			" WHERE %s.sp = %s AND %s.value BETWEEN %s::numeric AND %s::numeric"+
			" AND 12742 * asin(sqrt(power(sin(radians(%s.value::float8 - %s) / 2), 2) + cos(radians(%s)) * cos(radians(%s.value::float8)) * power(sin(radians(%s.value::float8 - %s) / 2), 2))) <= %s::float8)",
			r, la, la, lo, lo, la, lo, b.arg(sp+":longitude"), la, b.arg(sp+":latitude"), la,
			b.arg(strconv.FormatFloat(n.Latitude-band, 'f', -1, 64)), b.arg(strconv.FormatFloat(n.Latitude+band, 'f', -1, 64)),
			la, lat, lat, la, lo, lon, b.arg(n.Kilometres)))
	}
	return or(ors)
}

// compartment keeps the resources of a compartment: the compartment's own resource, and
// resources that refer to it through the parameters its CompartmentDefinition names.
func (b *builder) compartment(typ string, comp *Compartment, r string) string {
	if typ == comp.Type {
		return r + ".id = " + b.arg(comp.ID)
	}
	var sps []string
	for _, code := range b.reg.CompartmentParams(comp.Type, typ) {
		if p := b.reg.Param(typ, code); p != nil && p.Kind == KindReference {
			sps = append(sps, key(typ, code))
		}
	}
	if len(sps) == 0 {
		return "false"
	}
	x := b.alias("x")
	return fmt.Sprintf("%s.rid IN (SELECT %s.rid FROM search_reference %s WHERE %s.sp = ANY(%s::text[]) AND %s.target_type = %s AND %s.target_id = %s)",
		r, x, x, x, b.arg(sps), x, b.arg(comp.Type), x, b.arg(comp.ID))
}

// IncludeSQL finds the resources that the resources rids refer to through inc.
func (inc Include) IncludeSQL(reg *Registry, rids []int64, limit int) (string, []any) {
	b := &builder{reg: reg}
	sql := "SELECT DISTINCT ON (t.rid) t.rid, t.type, t.id, t.version_id, t.last_updated, t.content" +
		" FROM search_reference x JOIN resources t ON t.type = x.target_type AND t.id = x.target_id" +
		" WHERE x.rid = ANY(" + b.arg(rids) + "::bigint[]) AND x.sp = ANY(" + b.arg(inc.keys(reg)) + "::text[]) AND NOT t.deleted"
	if inc.Target != "" {
		sql += " AND x.target_type = " + b.arg(inc.Target)
	}
	return sql + " ORDER BY t.rid LIMIT " + b.arg(limit), b.args
}

// RevIncludeSQL finds the resources that refer to the resources rids through inc.
func (inc Include) RevIncludeSQL(reg *Registry, rids []int64, limit int) (string, []any) {
	b := &builder{reg: reg}
	sql := "SELECT DISTINCT ON (o.rid) o.rid, o.type, o.id, o.version_id, o.last_updated, o.content" +
		" FROM resources m JOIN search_reference x ON x.target_id = m.id AND x.target_type = m.type" +
		" JOIN resources o ON o.rid = x.rid" +
		" WHERE m.rid = ANY(" + b.arg(rids) + "::bigint[]) AND x.sp = ANY(" + b.arg(inc.keys(reg)) + "::text[]) AND NOT o.deleted"
	if inc.Target != "" {
		sql += " AND m.type = " + b.arg(inc.Target)
	}
	return sql + " ORDER BY o.rid LIMIT " + b.arg(limit), b.args
}

// keys are the sp values of the include's parameter, or of every reference parameter of
// its source type for Type:*.
func (inc Include) keys(reg *Registry) []string {
	if inc.Param != nil {
		return []string{key(inc.Source, inc.Param.Code)}
	}
	var out []string
	for _, p := range reg.Params(inc.Source) {
		if p.Kind == KindReference {
			out = append(out, key(inc.Source, p.Code))
		}
	}
	return out
}
