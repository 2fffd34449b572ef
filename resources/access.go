package resources

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
)

// The access policy: who may do what to which resource. It is the intersection of the
// caller's role (what a patient, a practitioner, an admin may ever reach) and the
// token's SMART scopes (what this app was granted), decided here and nowhere else:
//   - Decide answers for a type (may this caller search Appointments, and which of them);
//   - Authorize answers for one stored resource, and is what every interaction calls.
// Every decision goes through decided, which an audit trail can observe (Rules.Observe).

// The types of the directory, which every signed-in person may read. Medication is a
// drug's definition, no one's record: a patient reads the one their prescription names.
var directory = map[string]bool{"Practitioner": true, "PractitionerRole": true, "Organization": true,
	"Location": true, "HealthcareService": true, "Schedule": true, "Slot": true, "Medication": true}

// conformance types describe the server itself; every signed-in caller may read them.
var conformance = map[string]bool{"OperationDefinition": true, "SearchParameter": true, "StructureDefinition": true,
	"CapabilityStatement": true}

// adminOnly types are never reached through a person's role: the audit trail.
var adminOnly = map[string]bool{"AuditEvent": true}

// owned types are nobody's record but their creator's: a person reaches the ones they
// created (subscription_state.owner), whatever the launch patient. Their notifications
// carry only what the owner may read (OwnerMaySee).
var owned = map[string]bool{"Subscription": true}

// patientWritable are the types a patient writes in their own compartment: their
// Patient and Coverage, and booking, rescheduling and cancelling their appointments.
var patientWritable = map[string]bool{"Patient": true, "Coverage": true, "Appointment": true, "AppointmentResponse": true}

// Decision is the answer to one access question.
type Decision struct {
	Allowed bool
	// Reason says why, for the audit trail and the refusal's diagnostics.
	Reason string
	// Access is what the caller may see or touch, by type (the interaction's for the
	// type asked, read for the others: includes, chains); nil means everything.
	Access *search.Access
}

// Event is one access decision as the audit trail sees it.
type Event struct {
	Caller      caller.Caller
	Anonymous   bool // no caller: the server itself, or a server that requires no token
	Interaction scope.Interaction
	Type, ID    string // ID is empty for a type-level decision (a search, a create)
	Allowed     bool
	Reason      string
}

// Decide tells whether the caller in ctx may do interaction i on resources of typ at
// all, and which of them. A request without a caller is the server itself (seeding, or
// a careslot run without RequireToken) and may do everything.
func (r *Rules) Decide(ctx context.Context, i scope.Interaction, typ string) Decision {
	return r.decide(ctx, i, typ, true)
}

// decide is Decide; others tells whether the Access must also say what the caller may
// read of the other types (a search's includes and chains), or of typ alone (one
// resource's check, which is then cheaper).
func (r *Rules) decide(ctx context.Context, i scope.Interaction, typ string, others bool) Decision {
	c, ok := caller.From(ctx)
	if !ok {
		return Decision{Allowed: true, Reason: "no caller: the server itself"}
	}
	p := newPolicy(c, r.cfg.BaseURL)
	f, reason := p.filter(i, typ)
	if len(f) == 0 {
		return r.decided(ctx, c, i, typ, "", Decision{Reason: reason})
	}
	access := &search.Access{Types: map[string]search.Filter{typ: f}, BaseURL: p.baseURL}
	if others || f.NeedsOtherTypes() {
		access = p.access(i, typ, f)
	}
	return r.decided(ctx, c, i, typ, "", Decision{Allowed: true, Reason: reason, Access: access})
}

// visibility tells whether a stored resource passes an access filter: the pool, or a
// write transaction (which sees its own writes).
type visibility interface {
	Visible(ctx context.Context, a *search.Access, typ string, rid int64) (bool, error)
}

// Authorize decides whether the caller in ctx may do i on the stored resource res
// (nil for a create or a type-level interaction). A resource the caller may not see
// is refused exactly as a missing one (404), so a refusal tells nothing of what exists;
// one they may see but not change gets 403.
func (r *Rules) Authorize(ctx context.Context, db visibility, i scope.Interaction, typ string, res *storage.Resource) error {
	d := r.decide(ctx, i, typ, false)
	if res == nil {
		if !d.Allowed {
			return fhirerr.Forbidden(d.Reason)
		}
		return nil
	}
	c, hasCaller := caller.From(ctx)
	if !hasCaller {
		return nil
	}
	seen := d
	if i != scope.Read {
		seen = r.decide(ctx, scope.Read, typ, false)
	}
	visible := false
	if seen.Allowed {
		ok, err := db.Visible(ctx, seen.Access, typ, res.RID)
		if err != nil {
			return err
		}
		visible = ok
	}
	if !visible {
		r.decided(ctx, c, i, typ, res.ID, Decision{Reason: fmt.Sprintf("%s/%s is not one the caller may see", typ, res.ID)})
		return notKnown(typ, res.ID)
	}
	if i == scope.Read {
		return nil
	}
	if !d.Allowed {
		return fhirerr.Forbidden(d.Reason)
	}
	ok, err := db.Visible(ctx, d.Access, typ, res.RID)
	if err != nil {
		return err
	}
	if !ok {
		reason := fmt.Sprintf("the caller may see %s/%s but not %s it", typ, res.ID, verb(i))
		r.decided(ctx, c, i, typ, res.ID, Decision{Reason: reason})
		return fhirerr.Forbidden(reason)
	}
	return nil
}

// ReadAccess is the access a read of typ by the caller in ctx is checked against by
// Authorize (nil: every resource of typ), for a read that asks it in the same query as
// the row (storage.ReadVisible). Ask it once Authorize allowed reading typ at all.
func (r *Rules) ReadAccess(ctx context.Context, typ string) *search.Access {
	if _, ok := caller.From(ctx); !ok {
		return nil
	}
	d := r.decide(ctx, scope.Read, typ, false)
	if !d.Allowed {
		return &search.Access{} // sees no type
	}
	return d.Access
}

// AuthorizeWritten checks a resource just written in tx: the caller must be allowed to
// write what it has become (a patient may not book an appointment for someone else,
// nor move their own into another patient's compartment). tx sees the write's index rows.
func (r *Rules) AuthorizeWritten(ctx context.Context, tx *storage.Tx, i scope.Interaction, res *storage.Resource) error {
	c, ok := caller.From(ctx)
	if !ok {
		return nil
	}
	d := r.decide(ctx, i, res.Type, false)
	if !d.Allowed {
		return fhirerr.Forbidden(d.Reason)
	}
	if d.Access.Unrestricted(res.Type) {
		return nil
	}
	visible, err := tx.Visible(ctx, d.Access, res.Type, res.RID)
	if err != nil {
		return err
	}
	if !visible {
		// A resource out of reach because a reference of it names nothing (a patient who
		// does not exist) gets the answer the commit would give, as one naming a hidden
		// patient does (AuthorizeReferences): the two must not be told apart.
		if err := r.missingReference(ctx, tx, res); err != nil {
			return err
		}
		reason := fmt.Sprintf("the %s written is not one the caller may %s: it must stay within what their role and scopes reach", res.Type, verb(i))
		r.decided(ctx, c, i, res.Type, res.ID, Decision{Reason: reason})
		return fhirerr.Forbidden(reason)
	}
	return nil
}

// AuthorizeReferences refuses a resource about to be written that refers to one the
// caller may not see, with storage's very answer for a reference to a resource that
// does not exist: otherwise writing references would probe what exists (403 for a
// hidden patient, 422 for a missing one). A target that does not exist is left to
// storage's check at commit, where a transaction's later entries may have created it.
func (r *Rules) AuthorizeReferences(ctx context.Context, tx *storage.Tx, typ, id string, body []byte) error {
	if _, ok := caller.From(ctx); !ok {
		return nil
	}
	links, err := storage.ExtractLinks(typ, body)
	if err != nil {
		return err
	}
	for _, l := range links {
		// The directory is no one's record: that a slot exists, busy or not, is no
		// secret, and booking a taken one must be told so (409), not that it is missing.
		if l.TargetType == typ && l.TargetID == id || directory[l.TargetType] {
			continue
		}
		d := r.decide(ctx, scope.Read, l.TargetType, false)
		if d.Allowed && d.Access.Unrestricted(l.TargetType) {
			continue
		}
		target, err := tx.Read(ctx, l.TargetType, l.TargetID)
		if target == nil || target.Deleted {
			if err != nil && !errors.Is(err, fhirerr.ErrNotFound) && !errors.Is(err, fhirerr.ErrGone) {
				return err
			}
			continue
		}
		visible := false
		if d.Allowed {
			if visible, err = tx.Visible(ctx, d.Access, l.TargetType, target.RID); err != nil {
				return err
			}
		}
		if !visible {
			return noSuchTarget(typ+"/"+id, l)
		}
	}
	return nil
}

// AuthorizeDeleteReferrers refuses to delete res while a resource the caller may not
// see refers to it, without naming that resource: storage's conflict (and a cascade's
// refusal) would name it, and a delete must not be a way to learn what refers to what.
func (r *Rules) AuthorizeDeleteReferrers(ctx context.Context, tx *storage.Tx, res *storage.Resource) error {
	if _, ok := caller.From(ctx); !ok {
		return nil
	}
	referrers, err := tx.Referrers(ctx, res.Type, res.ID)
	if err != nil {
		return err
	}
	for i := range referrers {
		ref := &referrers[i]
		d := r.decide(ctx, scope.Read, ref.Type, false)
		visible := d.Allowed && d.Access.Unrestricted(ref.Type)
		if d.Allowed && !visible {
			if visible, err = tx.Visible(ctx, d.Access, ref.Type, ref.RID); err != nil {
				return err
			}
		}
		if !visible {
			return &fhirerr.Error{Kind: fhirerr.ErrConflict, Code: fhirerr.CodeConflict, Resource: res.Type + "/" + res.ID,
				Diagnostics: fmt.Sprintf("%s/%s is still referenced by a resource the caller may not see; it cannot be deleted by this caller", res.Type, res.ID)}
		}
	}
	return nil
}

// missingReference is storage's refusal of res at commit when one of its references
// names no live resource, or nil.
func (r *Rules) missingReference(ctx context.Context, tx *storage.Tx, res *storage.Resource) error {
	links, err := storage.ExtractLinks(res.Type, res.Content)
	if err != nil {
		return err
	}
	for _, l := range links {
		target, err := tx.Read(ctx, l.TargetType, l.TargetID)
		if err != nil && !errors.Is(err, fhirerr.ErrNotFound) && !errors.Is(err, fhirerr.ErrGone) {
			return err
		}
		if target == nil || target.Deleted {
			return noSuchTarget(res.Type+"/"+res.ID, l)
		}
	}
	return nil
}

// noSuchTarget is word for word storage's answer for a reference to nothing (checkLinks).
func noSuchTarget(source string, l storage.Link) error {
	fe := fhirerr.Unprocessable(fhirerr.CodeNotFound,
		fmt.Sprintf("%s refers to %s/%s, which does not exist on this server", source, l.TargetType, l.TargetID), l.Path)
	fe.Resource = source
	return fe
}

// notKnown is the refusal of a resource the caller may not see: word for word what
// storage answers for a resource that does not exist.
func notKnown(typ, id string) error {
	return fhirerr.NotFound(fmt.Sprintf("%s/%s is not known", typ, id))
}

func verb(i scope.Interaction) string {
	switch i {
	case scope.Create:
		return "create"
	case scope.Update:
		return "update"
	case scope.Delete:
		return "delete"
	case scope.Search:
		return "search"
	}
	return "read"
}

// decided hands a decision to the observer, if any, and returns it.
func (r *Rules) decided(ctx context.Context, c caller.Caller, i scope.Interaction, typ, id string, d Decision) Decision {
	if r.Observe != nil {
		r.Observe(ctx, Event{Caller: c, Interaction: i, Type: typ, ID: id, Allowed: d.Allowed, Reason: d.Reason})
	}
	return d
}

// policy is the access of one caller.
type policy struct {
	c       caller.Caller
	scopes  scope.Set
	baseURL string
	// patient is the launch patient; self is the caller's own resource id of its role.
	patient, self string
}

func newPolicy(c caller.Caller, baseURL string) *policy {
	p := &policy{c: c, scopes: scope.ParseSet(c.Scopes), baseURL: baseURL, patient: c.Patient}
	typ, id, _ := strings.Cut(c.FHIRUser, "/")
	switch c.Role {
	case caller.RolePatient:
		if typ == "Patient" {
			p.self = id
		}
		if p.patient == "" {
			p.patient = p.self
		}
		if p.patient != p.self {
			p.self, p.patient = "", "" // a token naming two patients reaches neither
		}
	case caller.RolePractitioner:
		if typ == "Practitioner" {
			p.self = id
		}
	}
	return p
}

// access is the Access of a decision: typ with its filter f, every other type with
// what the caller may read of it.
func (p *policy) access(i scope.Interaction, typ string, f search.Filter) *search.Access {
	a := &search.Access{Types: map[string]search.Filter{typ: f}, BaseURL: p.baseURL}
	unrestricted := a.Unrestricted(typ)
	for _, t := range search.Definitions().Types() {
		if t == typ {
			continue
		}
		rf, _ := p.filter(scope.Read, t)
		a.Types[t] = rf
		if !a.Unrestricted(t) {
			unrestricted = false
		}
	}
	if unrestricted && p.unrestrictedEverywhere(i) {
		return nil
	}
	return a
}

// unrestrictedEverywhere reports whether the caller sees every type wholly, types the
// search registry does not know included: an admin or backend with */ scopes.
func (p *policy) unrestrictedEverywhere(i scope.Interaction) bool {
	if !p.c.Unrestricted() {
		return false
	}
	for _, s := range p.scopes {
		if s.Type == "*" && len(s.Query) == 0 && s.Allows(scope.Read, "*") && p.contextCounts(s.Context) && s.Context != scope.Patient {
			return true
		}
	}
	return false
}

// contextCounts tells which scope contexts a caller's role may use: user/ and patient/
// for people, system/ for backend clients.
func (p *policy) contextCounts(ctx scope.Context) bool {
	if p.c.Role == caller.RoleSystem {
		return ctx == scope.System
	}
	return ctx == scope.User || ctx == scope.Patient
}

// filter is what the caller may do i to of typ: the role's reach intersected with each
// scope context's grant, joined. Empty: nothing, and reason says why.
func (p *policy) filter(i scope.Interaction, typ string) (search.Filter, string) {
	write := i == scope.Create || i == scope.Update || i == scope.Delete
	role, why := p.roleFilter(typ, write, i)
	if len(role) == 0 {
		return nil, why
	}
	if confidentialityApplies(typ) {
		switch p.c.Role {
		case caller.RolePractitioner:
			role = confidential(role, func(g *search.Grant) { g.Confidential = p.self })
		case caller.RolePatient:
			role = confidential(role, func(g *search.Grant) { g.ConfidentialTo = p.self })
		}
	}
	var out search.Filter
	granted := false
	for _, ctx := range []scope.Context{scope.System, scope.User, scope.Patient} {
		if !p.contextCounts(ctx) {
			continue
		}
		g := p.scopes.For(ctx, i, typ)
		if !g.Allowed {
			continue
		}
		granted = true
		within := role
		if ctx == scope.Patient && !directory[typ] && !conformance[typ] {
			if p.patient == "" {
				continue // patient/ scopes without a launch patient reach nobody
			}
			// A Binary is in the compartment when what it belongs to is.
			if !owned[typ] && typ != "Binary" {
				within = intersect(role, search.Grant{Compartments: []search.Compartment{{Type: "Patient", ID: p.patient}}})
			}
		}
		if g.Narrow == nil {
			out = append(out, within...)
			continue
		}
		for _, q := range g.Narrow {
			clauses, ok := narrowing(typ, q)
			if !ok {
				continue // a scope whose query careslot cannot search grants nothing
			}
			out = append(out, intersect(within, search.Grant{Where: clauses})...)
		}
	}
	if len(out) == 0 {
		if !granted {
			return nil, fmt.Sprintf("the token's scopes do not allow %s on %s", verb(i), typ)
		}
		return nil, fmt.Sprintf("the token's scopes reach no %s of this caller", typ)
	}
	return out, fmt.Sprintf("%s may %s %s", p.c.Role, verb(i), typ)
}

// belongsTo is the Binaries that belong to a resource the caller may read: their
// securityContext names it. A Binary without one belongs to no one but admins and
// backend services.
var belongsTo = search.Filter{{SecurityContext: true}}

// roleFilter is what the caller's role may ever reach of typ, for reading or writing.
func (p *policy) roleFilter(typ string, write bool, i scope.Interaction) (search.Filter, string) {
	all := search.Filter{{}}
	switch p.c.Role {
	case caller.RoleAdmin, caller.RoleSystem:
		return all, ""
	case caller.RolePatient:
		if p.self == "" {
			return nil, "the patient's token names no Patient of theirs"
		}
		own := search.Filter{{Compartments: []search.Compartment{{Type: "Patient", ID: p.self}}}}
		switch {
		case owned[typ]:
			return p.ownFilter()
		case adminOnly[typ]:
		case typ == "Binary" && !write:
			return belongsTo, ""
		case write && patientWritable[typ]:
			if i == scope.Delete || typ == "Patient" && i != scope.Update {
				break // a patient cancels rather than deletes; creating patients is the clinic's
			}
			return own, ""
		case write:
		case typ == "Slot":
			// The free slots, and those of their own appointments: whose the others are is
			// not theirs to know.
			var f search.Filter
			for _, q := range []url.Values{{"status": {"free"}}, {"_has:Appointment:slot:patient": {"Patient/" + p.self}}} {
				if clauses, ok := narrowing("Slot", q); ok {
					f = append(f, search.Grant{Where: clauses})
				}
			}
			return f, ""
		case directory[typ] || conformance[typ]:
			return all, ""
		case typ == "Patient" || search.Definitions().CompartmentParams("Patient", typ) != nil:
			return own, ""
		}
		return nil, fmt.Sprintf("a patient may not %s %s", verb(i), typ)
	case caller.RolePractitioner:
		if p.self == "" {
			return nil, "the practitioner's token names no Practitioner of theirs"
		}
		patients := search.Grant{PatientsOf: p.self}
		mine := search.Grant{Compartments: []search.Compartment{{Type: "Practitioner", ID: p.self}}}
		inPractitioner := search.Definitions().CompartmentParams("Practitioner", typ) != nil
		record := typ == "Patient" || search.Definitions().CompartmentParams("Patient", typ) != nil
		switch {
		case owned[typ]:
			return p.ownFilter()
		case adminOnly[typ]:
		case typ == "Binary" && i == scope.Create:
			// An upload may come before the DocumentReference it belongs to, which
			// then becomes its securityContext (documents.go).
			return search.Filter{{SecurityContext: true}, {NoSecurityContext: true}}, ""
		case typ == "Binary":
			return belongsTo, ""
		case typ == "Schedule" && write:
			return search.Filter{mine}, ""
		case typ == "Slot" && write:
			clauses, ok := narrowing("Slot", url.Values{"schedule.actor": {"Practitioner/" + p.self}})
			if ok {
				return search.Filter{{Where: clauses}}, ""
			}
		case typ == "AppointmentResponse":
			f := search.Filter{mine}
			if clauses, ok := narrowing(typ, url.Values{"appointment.practitioner": {"Practitioner/" + p.self}}); ok {
				f = append(f, search.Grant{Where: clauses})
			}
			if !write {
				f = append(f, patients)
			}
			return f, ""
		case write && (directory[typ] || conformance[typ]):
		case directory[typ] || conformance[typ]:
			return all, ""
		case record && inPractitioner:
			return search.Filter{patients, mine}, ""
		case record:
			return search.Filter{patients}, ""
		}
		return nil, fmt.Sprintf("a practitioner may not %s %s", verb(i), typ)
	}
	return nil, "the caller has no role"
}

// ownFilter is what a person reaches of an owned type: what they created, told apart by
// their OAuth2 subject (the same person through any app).
func (p *policy) ownFilter() (search.Filter, string) {
	if p.c.Subject == "" {
		return nil, "the token names no subject, so it owns no Subscription"
	}
	return search.Filter{{OwnedBy: p.c.Subject}}, ""
}

// confidentialityApplies tells whether a person's reach of typ leaves out the records
// labelled restricted or very restricted that are not theirs to see: every record but
// the Patient itself (whose practitioners must know who they treat), the directory, the
// server's own types, and Binary (as visible as what it belongs to, which this applies to).
func confidentialityApplies(typ string) bool {
	return typ != "Patient" && typ != "Binary" && !directory[typ] && !conformance[typ] && !adminOnly[typ] && !owned[typ]
}

// confidential is f with each grant kept from the sensitive records the caller is not
// one of the few of (set says who: a practitioner of the visit, the record's patient).
func confidential(f search.Filter, set func(*search.Grant)) search.Filter {
	out := make(search.Filter, len(f))
	for i, g := range f {
		set(&g)
		out[i] = g
	}
	return out
}

// intersect is each grant of f narrowed by g as well.
func intersect(f search.Filter, g search.Grant) search.Filter {
	out := make(search.Filter, 0, len(f))
	for _, h := range f {
		h.Compartments = append(append([]search.Compartment(nil), h.Compartments...), g.Compartments...)
		h.Where = append(append([]*search.Clause(nil), h.Where...), g.Where...)
		if g.PatientsOf != "" {
			h.PatientsOf = g.PatientsOf
		}
		if g.OwnedBy != "" {
			h.OwnedBy = g.OwnedBy
		}
		out = append(out, h)
	}
	return out
}

// narrowing parses a scope's query (or a role's condition) as a search of typ: its
// clauses, or !ok when careslot cannot search it.
func narrowing(typ string, q url.Values) ([]*search.Clause, bool) {
	parsed, err := search.Definitions().Parse(typ, q, search.ParseOptions{Strict: true, DefaultCount: 1, MaxCount: 1})
	if err != nil || len(parsed.Clauses) == 0 || len(parsed.Include) > 0 || len(parsed.RevInclude) > 0 {
		return nil, false
	}
	return parsed.Clauses, true
}
