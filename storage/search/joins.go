// Conditions that reach across resources: chains, _has, compartments, _include and
// _revinclude, and Location near (two index rows joined).

package search

import (
	"fmt"
	"strconv"
)

// targetJoin joins reference rows x to the resources t they name. The index tables use
// the C collation and resources the database's: a comparison in C could not use the
// (type, id) index of resources, so the reference side is cast to the default collation.
func targetJoin(x, t string) string {
	return fmt.Sprintf(`%s.type = %s.target_type COLLATE "default" AND %s.id = %s.target_id COLLATE "default"`, t, x, t, x)
}

// chain selects the resources whose reference points to a resource matching the chain.
func (b *builder) chain(c *Clause) string {
	x, t := b.alias("x"), b.alias("t")
	var ors []string
	for _, inner := range c.Chain {
		ors = append(ors, "("+t+".type = "+b.arg(inner.Type)+" AND "+b.clause(inner, t)+" AND "+b.visible(inner.Type, t)+")")
	}
	// The join is written in both collations (see targetJoin) so Postgres may go either way:
	// from the references to the targets, or from matching targets back to the references.
	return fmt.Sprintf("SELECT %s.rid FROM search_reference %s JOIN resources %s ON %s AND %s.type = %s.target_type AND %s.id = %s.target_id"+
		" WHERE %s.sp = %s AND %s AND NOT %s.deleted AND %s",
		x, x, t, targetJoin(x, t), t, x, t, x, x, b.arg(key(c.Type, c.Param.Code)), b.local(x), t, or(ors))
}

// has tests the resources that point at r: _has:Type:param:clause.
func (b *builder) has(c *Clause, r string) string {
	x, o := b.alias("x"), b.alias("o")
	h := c.Has
	return fmt.Sprintf("%s.id IN (SELECT %s.target_id COLLATE \"default\" FROM search_reference %s JOIN resources %s ON %s.rid = %s.rid"+
		" WHERE %s.sp = %s AND %s.target_type = %s AND %s AND NOT %s.deleted AND %s AND %s)",
		r, x, x, o, o, x, x, b.arg(key(h.Type, h.Param.Code)), x, b.arg(c.Type), b.local(x), o, b.clause(h.Clause, o), b.visible(h.Type, o))
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
	return fmt.Sprintf("%s.rid IN (SELECT %s.rid FROM search_reference %s WHERE %s.sp = ANY(%s::text[]) AND %s.target_type = %s AND %s.target_id = %s AND %s)",
		r, x, x, x, b.arg(sps), x, b.arg(comp.Type), x, b.arg(comp.ID), b.local(x))
}

// IncludeSQL finds the resources that the resources rids refer to through inc.
func (inc Include) IncludeSQL(reg *Registry, rids []int64, limit int) (string, []any) {
	b := &builder{reg: reg, base: inc.BaseURL, access: inc.Access}
	sql := "SELECT DISTINCT ON (t.rid) t.rid, t.type, t.id, t.version_id, t.last_updated, t.content" +
		" FROM search_reference x JOIN resources t ON " + targetJoin("x", "t") +
		" WHERE x.rid = ANY(" + b.arg(rids) + "::bigint[]) AND x.sp = ANY(" + b.arg(inc.keys(reg)) + "::text[]) AND " + b.local("x") + " AND NOT t.deleted"
	if inc.Target != "" {
		sql += " AND x.target_type = " + b.arg(inc.Target)
	}
	if inc.Access != nil {
		sql += " AND " + b.visibleAnyType("t", inc.Target)
	}
	return b.withClause() + sql + " ORDER BY t.rid LIMIT " + b.arg(limit), b.args
}

// RevIncludeSQL finds the resources that refer to the resources rids through inc.
func (inc Include) RevIncludeSQL(reg *Registry, rids []int64, limit int) (string, []any) {
	b := &builder{reg: reg, base: inc.BaseURL, access: inc.Access}
	sql := "SELECT DISTINCT ON (o.rid) o.rid, o.type, o.id, o.version_id, o.last_updated, o.content" +
		" FROM resources m JOIN search_reference x ON x.target_id = m.id AND x.target_type = m.type" +
		" JOIN resources o ON o.rid = x.rid" +
		" WHERE m.rid = ANY(" + b.arg(rids) + "::bigint[]) AND x.sp = ANY(" + b.arg(inc.keys(reg)) + "::text[]) AND " + b.local("x") + " AND NOT o.deleted"
	if inc.Target != "" {
		sql += " AND m.type = " + b.arg(inc.Target)
	}
	if inc.Access != nil {
		sql += " AND " + b.visibleAnyType("o", inc.Source)
	}
	return b.withClause() + sql + " ORDER BY o.rid LIMIT " + b.arg(limit), b.args
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

// referencedBy keeps the resources of typ that a resource of the compartment refers to
// (resource_links: every literal reference, whatever its path), the compartment's own
// resource included. Only references from resources the caller may see count, so a
// hidden record does not reveal whom it names.
func (b *builder) referencedBy(typ string, comp *Compartment, r string) string {
	var sps []string
	for _, t := range b.reg.Types() {
		if t != comp.Type {
			sps = append(sps, b.compartmentKeys(comp.Type, t)...)
		}
	}
	x, m, l := b.alias("x"), b.alias("m"), b.alias("l")
	members := fmt.Sprintf("SELECT %s.rid FROM search_reference %s WHERE %s.sp = ANY(%s::text[]) AND %s.target_type = %s AND %s.target_id = %s AND %s",
		x, x, x, b.arg(sps), x, b.arg(comp.Type), x, b.arg(comp.ID), b.local(x))
	visible := "true"
	if b.access != nil {
		visible = b.visibleAnyType(m, "")
	}
	return fmt.Sprintf("%s.id IN (SELECT %s.target_id FROM resource_links %s JOIN resources %s ON %s.rid = %s.rid"+
		" WHERE %s.target_type = %s AND NOT %s.deleted AND (%s.rid IN (%s) OR (%s.type = %s AND %s.id = %s)) AND %s)",
		r, l, l, m, m, l,
		l, b.arg(typ), m, m, members, m, b.arg(comp.Type), m, b.arg(comp.ID), visible)
}
