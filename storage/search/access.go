// The access filter: what a caller may see, as SQL that every query ANDs onto every
// resources row it reads, so that matches, totals, chain targets, _has sources and
// included resources all leave out what the caller may not see.

package search

import (
	"fmt"
	"sort"
	"strings"
)

// Access is what one caller may see, by resource type; a type it does not list is
// invisible. A nil *Access sees everything (the server itself, an administrator).
// The access policy (package resources) decides it; this file only turns it into SQL.
type Access struct {
	Types map[string]Filter
	// BaseURL is the server's FHIR base (Query.BaseURL), for the checks made outside a search.
	BaseURL string
}

// Filter is who may see the resources of one type: a resource is visible when one of
// the grants holds. No grant: none is.
type Filter []Grant

// Grant is one reason to see a resource: every condition it sets holds. A Grant that
// sets none grants every resource of the type.
type Grant struct {
	// Compartments: the resources in each of these compartments, e.g. Patient/123 (and
	// that resource itself).
	Compartments []Compartment
	// PatientsOf: the resources in the Patient compartment of each patient who has an
	// appointment with Practitioner/PatientsOf (directly, or through one of their
	// PractitionerRoles), and those patients themselves.
	PatientsOf string
	// Where narrows the grant to the resources that match these clauses (parsed for the
	// type, e.g. a v2 scope's category=laboratory, or a Slot's schedule.actor).
	Where []*Clause
	// OwnedBy: the Subscriptions created by this OAuth2 subject (subscription_state.owner),
	// the only thing that makes a Subscription anyone's.
	OwnedBy string
	// SecurityContext: the Binaries whose securityContext names a live resource that
	// the same Access lets the caller see (a Binary is as visible as what it belongs to).
	SecurityContext bool
	// NoSecurityContext: the Binaries whose securityContext names no resource (an upload
	// before its DocumentReference).
	NoSecurityContext bool
	// Confidential, when set, keeps out the resources labelled restricted or very
	// restricted (meta.security v3-Confidentiality R or V) unless Practitioner/Confidential
	// took part in their visit: the Encounter they are or name (as its participant, or a
	// practitioner of its Appointment), or the Appointment they are.
	Confidential string
	// ConfidentialTo, when set, keeps out the resources labelled restricted or very
	// restricted unless they are about Patient/ConfidentialTo (their patient or subject):
	// another patient in whose compartment such a record also is (its performer, say)
	// does not see it.
	ConfidentialTo string
}

// ConfidentialitySystem is the code system of the confidentiality security labels.
const ConfidentialitySystem = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"

// restricts reports whether g sets any condition.
func (g *Grant) restricts() bool {
	return len(g.Compartments) > 0 || g.PatientsOf != "" || len(g.Where) > 0 || g.OwnedBy != "" || g.SecurityContext || g.NoSecurityContext ||
		g.Confidential != "" || g.ConfidentialTo != ""
}

// NeedsOtherTypes reports whether f's conditions depend on what the caller may see of
// other types (a Binary's securityContext), so that its Access must list them.
func (f Filter) NeedsOtherTypes() bool {
	for _, g := range f {
		if g.SecurityContext {
			return true
		}
	}
	return false
}

// Unrestricted reports whether a sees every resource of typ.
func (a *Access) Unrestricted(typ string) bool {
	if a == nil {
		return true
	}
	for _, g := range a.Types[typ] {
		if !g.restricts() {
			return true
		}
	}
	return false
}

// Visible reports whether a lets anything of typ be seen.
func (a *Access) Visible(typ string) bool {
	return a == nil || len(a.Types[typ]) > 0
}

// visible is the condition that the resources row r, of type typ, is visible.
func (b *builder) visible(typ, r string) string {
	a := b.access
	if a.Unrestricted(typ) {
		return "true"
	}
	// The filter's own clauses (schedule.actor=…) are tested without the filter, or a
	// chain in a filter would ask for the filter again.
	b.access = nil
	defer func() { b.access = a }()
	var ors []string
	for _, g := range a.Types[typ] {
		conds := []string{"true"}
		for _, comp := range g.Compartments {
			conds = append(conds, b.compartment(typ, &comp, r))
		}
		if g.PatientsOf != "" {
			conds = append(conds, b.patientsOfCompartment(typ, g.PatientsOf, r))
		}
		for _, c := range g.Where {
			conds = append(conds, b.clause(c, r))
		}
		if g.OwnedBy != "" {
			conds = append(conds, b.ownedBy(typ, g.OwnedBy, r))
		}
		if g.SecurityContext {
			conds = append(conds, b.securityContextVisible(a, typ, r))
		}
		if g.Confidential != "" {
			conds = append(conds, "(NOT "+b.sensitive(typ, r)+" OR "+b.visitPractitioner(typ, g.Confidential, r)+")")
		}
		if g.ConfidentialTo != "" {
			conds = append(conds, "(NOT "+b.sensitive(typ, r)+" OR "+b.aboutPatient(typ, g.ConfidentialTo, r)+")")
		}
		if g.NoSecurityContext {
			conds = append(conds, "NOT EXISTS (SELECT 1 FROM resource_links l WHERE l.rid = "+r+".rid AND l.path = "+b.arg(typ+".securityContext")+")")
		}
		ors = append(ors, "("+strings.Join(conds, " AND ")+")")
	}
	if len(ors) == 0 {
		return "false"
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// ownedBy keeps the Subscriptions whose recorded creator is subject; nothing of another type.
func (b *builder) ownedBy(typ, subject, r string) string {
	if typ != "Subscription" {
		return "false"
	}
	s := b.alias("own")
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM subscription_state %s WHERE %s.subscription_id = %s.id AND %s.owner->>'Subject' = %s)`,
		s, s, r, s, b.arg(subject))
}

// sensitive is the condition that the row r, of type typ, is labelled restricted or very
// restricted (its _security index rows).
func (b *builder) sensitive(typ, r string) string {
	x := b.alias("sec")
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM search_token %s WHERE %s.rid = %s.rid AND %s.sp = %s AND %s.system = %s AND %s.code IN ('R', 'V'))`,
		x, x, r, x, b.arg(key(typ, "_security")), x, b.arg(ConfidentialitySystem), x)
}

// aboutPatient is the condition that the row r, of type typ, is about Patient/patient:
// its patient or subject search parameter names them.
func (b *builder) aboutPatient(typ, patient, r string) string {
	var sps []string
	for _, code := range []string{"patient", "subject"} {
		if p := b.reg.Param(typ, code); p != nil && p.Kind == KindReference {
			sps = append(sps, key(typ, code))
		}
	}
	if len(sps) == 0 {
		return "false"
	}
	x := b.alias("pt")
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM search_reference %s WHERE %s.rid = %s.rid AND %s.sp = ANY(%s::text[]) AND %s.target_type = 'Patient' AND %s.target_id = %s)`,
		x, x, r, x, b.arg(sps), x, x, b.arg(patient))
}

// visitPractitioner is the condition that Practitioner/practitioner took part in the
// visit of the row r: r is an Appointment of theirs, an Encounter of theirs, or names one.
func (b *builder) visitPractitioner(typ, practitioner, r string) string {
	id := b.arg(practitioner)
	ofAppointment := func(a string) string {
		x := b.alias("ap")
		return fmt.Sprintf(`EXISTS (SELECT 1 FROM search_reference %s WHERE %s.rid = %s.rid AND %s.sp = 'Appointment.practitioner' AND %s.target_type = 'Practitioner' AND %s.target_id = %s)`,
			x, x, a, x, x, x, id)
	}
	ofEncounter := func(e string) string {
		x, y, a := b.alias("ep"), b.alias("ea"), b.alias("a")
		return fmt.Sprintf(`(EXISTS (SELECT 1 FROM search_reference %s WHERE %s.rid = %s.rid AND %s.sp IN ('Encounter.participant', 'Encounter.practitioner') AND %s.target_type = 'Practitioner' AND %s.target_id = %s)`+
			` OR EXISTS (SELECT 1 FROM search_reference %s JOIN resources %s ON %s.type = 'Appointment' AND %s.id = %s.target_id COLLATE "default" AND NOT %s.deleted`+
			` WHERE %s.rid = %s.rid AND %s.sp = 'Encounter.appointment' AND %s.target_type = 'Appointment' AND %s))`,
			x, x, e, x, x, x, id,
			y, a, a, a, y, a,
			y, e, y, y, ofAppointment(a))
	}
	switch typ {
	case "Appointment":
		return ofAppointment(r)
	case "Encounter":
		return ofEncounter(r)
	}
	l, e := b.alias("vl"), b.alias("ve")
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM resource_links %s JOIN resources %s ON %s.type = 'Encounter' AND %s.id = %s.target_id AND NOT %s.deleted`+
		` WHERE %s.rid = %s.rid AND %s.target_type = 'Encounter' AND %s)`,
		l, e, e, e, l, e, l, r, l, ofEncounter(e))
}

// securityContextVisible is the condition that the securityContext of the row r names a
// live resource that a lets the caller see; typ itself is left out of a, so that a
// securityContext naming another Binary grants nothing (and asks for no recursion).
func (b *builder) securityContextVisible(a *Access, typ, r string) string {
	others := &Access{Types: make(map[string]Filter, len(a.Types)), BaseURL: a.BaseURL}
	for t, f := range a.Types {
		if t != typ {
			others.Types[t] = f
		}
	}
	saved := b.access
	b.access = others
	defer func() { b.access = saved }()
	l, t := b.alias("l"), b.alias("t")
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM resource_links %s JOIN resources %s ON %s.type = %s.target_type AND %s.id = %s.target_id`+
		` WHERE %s.rid = %s.rid AND %s.path = %s AND NOT %s.deleted AND %s)`,
		l, t, t, l, t, l, l, r, l, b.arg(typ+".securityContext"), t, b.visibleAnyType(t, ""))
}

// patientsOfCompartment keeps the resources in the Patient compartment of a patient of
// the practitioner (patientsOf), and those patients.
func (b *builder) patientsOfCompartment(typ, practitioner, r string) string {
	patients := b.patientsOf(practitioner)
	if typ == "Patient" {
		ps := b.alias("ps")
		return r + ".id IN (SELECT " + ps + ".id COLLATE \"default\" FROM (" + patients + ") " + ps + "(id))"
	}
	sps := b.compartmentKeys("Patient", typ)
	if len(sps) == 0 {
		return "false"
	}
	x := b.alias("x")
	return fmt.Sprintf(`%s.rid IN (SELECT %s.rid FROM search_reference %s WHERE %s.sp = ANY(%s::text[]) AND %s.target_type = 'Patient' AND %s.target_id IN (%s) AND %s)`,
		r, x, x, x, b.arg(sps), x, x, patients, b.local(x))
}

// patientsOf is the SELECT of the ids of the patients who have an appointment with the
// practitioner, named in the appointment as Practitioner/id or as one of their roles.
func (b *builder) patientsOf(practitioner string) string {
	a, p, role, rp := b.alias("a"), b.alias("p"), b.alias("pr"), b.alias("rp")
	id := b.arg(practitioner)
	return fmt.Sprintf(`SELECT %s.target_id FROM search_reference %s JOIN search_reference %s ON %s.rid = %s.rid`+
		` WHERE %s.sp = 'Appointment.patient' AND %s.target_type = 'Patient' AND (`+
		`(%s.sp = 'Appointment.practitioner' AND %s.target_type = 'Practitioner' AND %s.target_id = %s)`+
		` OR (%s.sp = 'Appointment.actor' AND %s.target_type = 'PractitionerRole' AND %s.target_id IN`+
		` (SELECT %s.id COLLATE "C" FROM resources %s JOIN search_reference %s ON %s.rid = %s.rid`+
		` WHERE %s.sp = 'PractitionerRole.practitioner' AND %s.target_type = 'Practitioner' AND %s.target_id = %s AND NOT %s.deleted)))`,
		p, a, p, p, a,
		p, p,
		a, a, a, id,
		a, a, a,
		role, role, rp, rp, role,
		rp, rp, rp, id, role)
}

// compartmentKeys are the sp values of the reference parameters that put typ into a
// compartment of compartmentType.
func (b *builder) compartmentKeys(compartmentType, typ string) []string {
	var sps []string
	for _, code := range b.reg.CompartmentParams(compartmentType, typ) {
		if p := b.reg.Param(typ, code); p != nil && p.Kind == KindReference {
			sps = append(sps, key(typ, code))
		}
	}
	return sps
}

// visibleAnyType is visible for a row r whose type is only known at run time (an
// included resource): the condition of its type, for each type the access lists.
func (b *builder) visibleAnyType(r string, only string) string {
	a := b.access
	if a == nil {
		return "true"
	}
	if only != "" {
		return "(" + r + ".type = " + b.arg(only) + " AND " + b.visible(only, r) + ")"
	}
	var whole, ors []string
	types := make([]string, 0, len(a.Types))
	for t := range a.Types {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if a.Unrestricted(t) {
			whole = append(whole, t)
		} else if len(a.Types[t]) > 0 {
			ors = append(ors, "("+r+".type = "+b.arg(t)+" AND "+b.visible(t, r)+")")
		}
	}
	if len(whole) > 0 {
		ors = append(ors, r+".type = ANY("+b.arg(whole)+"::text[])")
	}
	if len(ors) == 0 {
		return "false"
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// VisibleSQL is the query that tells whether the resource rid, of type typ, is visible
// under a: one boolean row.
func (a *Access) VisibleSQL(reg *Registry, typ string, rid int64) (string, []any) {
	b := &builder{reg: reg, base: a.BaseURL, access: a}
	ridArg := b.arg(rid)
	cond := b.visible(typ, "r")
	return b.withClause() + "SELECT EXISTS (SELECT 1 FROM resources r WHERE r.rid = " + ridArg + " AND " + cond + ")", b.args
}

// ReadVisibleSQL is the query that reads the resources row of typ/id, its columns cols
// (of the alias r), with one last boolean column: whether a lets its caller see it. A
// read and its access check, otherwise two round trips (VisibleSQL), in one.
func (a *Access) ReadVisibleSQL(reg *Registry, cols, typ, id string) (string, []any) {
	b := &builder{reg: reg, base: a.BaseURL, access: a}
	typArg, idArg := b.arg(typ), b.arg(id)
	cond := b.visible(typ, "r")
	return b.withClause() + "SELECT " + cols + ", " + cond + " FROM resources r WHERE r.type = " + typArg + " AND r.id = " + idArg, b.args
}

// RIDsSQL is the SELECT of the rids of the resources visible under a, with its
// arguments numbered after the first offset ones, for queries written elsewhere
// (history): only of type typ when typ is not empty.
func (a *Access) RIDsSQL(reg *Registry, typ string, offset int) (string, []any) {
	b := &builder{reg: reg, base: a.BaseURL, access: a, args: make([]any, offset)}
	var cond string
	if typ != "" {
		cond = "r.type = " + b.arg(typ) + " AND " + b.visible(typ, "r")
	} else {
		cond = b.visibleAnyType("r", "")
	}
	return "SELECT r.rid FROM resources r WHERE " + cond, b.args[offset:]
}
