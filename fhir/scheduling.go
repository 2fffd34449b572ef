package fhir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/resources"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/gorilla/mux"
)

// SchedulingOperations are the scheduling operations: Schedule/[id]/$generate-slots and
// the Argonaut Scheduling IG's Appointment/$find, $hold and $book. The rules behind them
// are in package resources; this is only their HTTP side.
func (s *Server) SchedulingOperations() []*Operation {
	return []*Operation{
		{Name: "generate-slots", Types: []string{"Schedule"}, Instance: true, Handler: s.generateSlots, Aliases: []string{"slotLength"}, Needs: &Need{scope.Create, "Slot"},
			Definition: s.operationDefinition(opMeta{Name: "generate-slots", Title: "GenerateSlots", Types: []string{"Schedule"}, Instance: true, AffectsState: true,
				Description: "Makes the free slots of a schedule between start and end from the availableTime of its PractitionerRoles, minus their notAvailable periods, within the schedule's planningHorizon. Idempotent: only where the schedule has no slot yet.",
				Params: []opParam{
					{Name: "start", Use: "in", Min: 1, Max: "1", Type: "dateTime", Doc: "first instant to make slots from (a date means its midnight UTC)"},
					{Name: "end", Use: "in", Min: 1, Max: "1", Type: "dateTime", Doc: "instant by which the last slot ends"},
					{Name: "slot-length", Use: "in", Min: 1, Max: "1", Type: "integer", Doc: "slot length in minutes (or a Duration)"},
					{Name: "service-type", Use: "in", Min: 0, Max: "1", Type: "Coding", Doc: "service type put on every slot (system|code in a query)"},
					{Name: "timezone", Use: "in", Min: 0, Max: "1", Type: "code", Doc: "IANA time zone of the roles' availableTime; UTC by default"},
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a collection of the slots made"},
				}})},
		{Name: "find", Types: []string{"Appointment"}, Type: true, Handler: s.findAppointments, Aliases: []string{"provider", "service-type", "patient"}, Needs: &Need{scope.Search, "Slot"},
			Definition: s.operationDefinition(opMeta{Name: "find", Title: "FindAppointments", Types: []string{"Appointment"}, Type: true,
				Description: "IHE ITI-115 Find Potential Appointments (the R4 successor of Argonaut Scheduling $find): open slots between start and end as proposed Appointments. " +
					"Different parameters combine with AND, repeated values of one parameter with OR, in order of preference; results come best preference first, then earliest. " +
					"Times the patients are already booked are left out. careslot's own names are taken as aliases: provider (practitioner), service-type (visit-type), patient (patient-reference).",
				Params: []opParam{
					{Name: "start", Use: "in", Min: 1, Max: "1", Type: "dateTime", Doc: "earliest start (a date means its midnight UTC)"},
					{Name: "end", Use: "in", Min: 1, Max: "1", Type: "dateTime", Doc: "latest start (exclusive)"},
					{Name: "specialty", Use: "in", Min: 0, Max: "*", Type: "string", SearchType: "token", Doc: "specialty of the slot or its schedule (code or system|code); several in order of preference"},
					{Name: "visit-type", Use: "in", Min: 0, Max: "*", Type: "string", SearchType: "token", Doc: "service type of the slot (code or system|code); several in order of preference (alias: service-type)"},
					{Name: "practitioner", Use: "in", Min: 0, Max: "*", Type: "Reference", Doc: "Practitioner/[id] or PractitionerRole/[id] among the schedule's actors (or a Practitioner by identifier alone); several in order of preference (alias: provider)"},
					{Name: "organization", Use: "in", Min: 0, Max: "*", Type: "Reference", Doc: "Organization/[id]: schedules of the organization, its PractitionerRoles (and their practitioners), the Locations it manages and the HealthcareServices it provides; several in order of preference"},
					{Name: "location-string", Use: "in", Min: 0, Max: "*", Type: "string", SearchType: "string", Doc: "start of a part of a Location's address (line, city, district, state, postal code, country), any case: schedules of those Locations and of the roles and services given there; several in order of preference"},
					{Name: "location-reference", Use: "in", Min: 0, Max: "*", Type: "Reference", Doc: "Location/[id]: schedules of the location and of the PractitionerRoles and HealthcareServices given there; several in order of preference"},
					{Name: "patient-reference", Use: "in", Min: 0, Max: "*", Type: "Reference", Doc: "Patient/[id] the appointment is for: a participant, and times the patient is booked are left out (alias: patient)"},
					{Name: "patient-resource", Use: "in", Min: 0, Max: "*", Type: "Patient", Doc: "a Patient not stored yet, made a participant by identifier and name (a stored one's id counts as patient-reference)"},
					{Name: "insurance-reference", Use: "in", Min: 0, Max: "*", Type: "Reference", Doc: "Coverage/[id] that pays: checked as the insurance rule does (active, an Organization payor, the patient's), only slots within its period, and carried as supportingInformation"},
					{Name: "referral-identifier", Use: "in", Min: 0, Max: "1", Type: "Identifier", Doc: "identifier of the referral's ServiceRequest (system|value in a query), carried as basedOn"},
					{Name: "_count", Use: "in", Min: 0, Max: "1", Type: "integer", Doc: "at most this many appointments (at most 500); total counts them all"},
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a searchset of proposed Appointments, best preference first, with total"},
				}})},
		{Name: "hold", Types: []string{"Appointment"}, Type: true, Handler: s.holdAppointment, Aliases: []string{"appt-resource", "appt-id"}, Needs: &Need{scope.Create, "Appointment"},
			Definition: s.operationDefinition(opMeta{Name: "hold", Title: "HoldAppointment", Types: []string{"Appointment"}, Type: true, AffectsState: true,
				Description: "IHE ITI-116 Hold Appointment (Argonaut Scheduling $hold): holds a proposed appointment's slot (status pending, slot busy-tentative) for the server's hold time (CARESLOT_HOLD_TTL, 5 minutes by default), given in the hold-expires extension and the Expires header. " +
					"A hold that lapses is cancelled and its slot freed by itself. A slot no longer available is refused with an OperationOutcome whose issue is fatal, not-found (409). Argonaut's names are taken as aliases: appt-resource, appt-id.",
				Params: []opParam{
					{Name: "appointment-reference", Use: "in", Min: 0, Max: "1", Type: "Reference", Doc: "a stored proposed Appointment (alias: appt-id); this or appointment-resource"},
					{Name: "appointment-resource", Use: "in", Min: 0, Max: "1", Type: "Appointment", Doc: "the proposed Appointment, as $find offered it (alias: appt-resource)"},
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a searchset whose one entry is the held Appointment (status pending)"},
				}})},
		{Name: "book", Types: []string{"Appointment"}, Type: true, Handler: s.bookAppointment, Aliases: []string{"appt-resource", "appt-id"}, Needs: &Need{scope.Update, "Appointment"},
			Definition: s.operationDefinition(opMeta{Name: "book", Title: "BookAppointment", Types: []string{"Appointment"}, Type: true, AffectsState: true,
				Description: "IHE ITI-117 Book Appointment (Argonaut Scheduling $book): books a proposed or held appointment (status booked, participants accepted, slot busy) under the same rules as any booking. " +
					"A stored appointment given booked with another slot is rescheduled, one given cancelled is cancelled; cancelled-appt-id (Argonaut) books the new appointment and cancels the old one, freeing its slot, in one transaction, or does neither. " +
					"A refusal is a searchset Bundle holding only an OperationOutcome whose issue is fatal, with the refusal's status (409 when the slot or anyone's time is taken). Argonaut's names are taken as aliases: appt-resource, appt-id.",
				Params: []opParam{
					{Name: "appointment-reference", Use: "in", Min: 0, Max: "1", Type: "Reference", Doc: "a stored (held) Appointment (alias: appt-id); this or appointment-resource"},
					{Name: "appointment-resource", Use: "in", Min: 0, Max: "1", Type: "Appointment", Doc: "the Appointment to book (pending or proposed), to change (booked, with its id) or to cancel (cancelled, with its id) (alias: appt-resource)"},
					{Name: "cancelled-appt-id", Use: "in", Min: 0, Max: "1", Type: "uri", Doc: "Appointment/[id] that this booking replaces: cancelled in the same transaction; it must be for the same patient and still proposed, pending, booked or waitlisted"},
					{Name: "comment", Use: "in", Min: 0, Max: "1", Type: "string", Doc: "a note put in Appointment.comment"},
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a searchset whose one entry is the booked (or cancelled) Appointment"},
				}})},
	}
}

// requirePost refuses GET for an operation that changes data: 405.
func requirePost(r *http.Request) error {
	if r.Method != http.MethodPost {
		return errorf(fhirerr.ErrMethodNotAllowed, fhirerr.CodeNotSupported, "%s changes data; call it with POST", r.URL.Path)
	}
	return nil
}

// generateSlots answers POST Schedule/[id]/$generate-slots.
func (s *Server) generateSlots(w http.ResponseWriter, r *http.Request) error {
	req, err := s.slotRequest(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var made []*storage.Resource
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		// Only who may change the schedule makes its slots (404 for one they may not see).
		if sched, err := tx.Read(ctx, "Schedule", req.ScheduleID); sched != nil && !sched.Deleted {
			if err := s.rules.Authorize(ctx, tx, scope.Update, "Schedule", sched); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		made, err = s.rules.GenerateSlots(ctx, tx, req)
		return err
	})
	if err != nil {
		return err
	}
	out := Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "collection", Total: ptr(len(made)), Timestamp: nowInstant()}
	for _, res := range made {
		out.Entry = append(out.Entry, BundleEntry{FullURL: s.cfg.BaseURL + "/Slot/" + res.ID, Resource: res.Content})
	}
	writeJSON(w, r, http.StatusOK, marshal(out))
	return nil
}

func (s *Server) slotRequest(w http.ResponseWriter, r *http.Request) (resources.SlotRequest, error) {
	req := resources.SlotRequest{ScheduleID: mux.Vars(r)["id"]}
	if err := requirePost(r); err != nil {
		return req, err
	}
	p, err := s.readParams(w, r)
	if err != nil {
		return req, err
	}
	if req.Start, req.End, err = p.period(); err != nil {
		return req, err
	}
	name, length, err := p.first("slot-length", "slotLength")
	if err != nil {
		return req, err
	}
	minutes, convErr := strconv.Atoi(length)
	if length == "" || convErr != nil {
		return req, fhirerr.Invalid(fmt.Sprintf("parameter %s is required: the slot length in whole minutes", name))
	}
	if minutes < 1 || minutes > 24*60 {
		// Checked here, before the conversion: a huge count of minutes overflows a Duration.
		return req, fhirerr.Invalid("slot-length must be between 1 minute and 24 hours")
	}
	req.Length = time.Duration(minutes) * time.Minute
	if cc, ok := p.concepts["service-type"]; ok {
		req.ServiceType = cc
	} else if tok, err := p.get("service-type"); err != nil {
		return req, err
	} else if tok != "" {
		if req.ServiceType, err = tokenConcept(tok); err != nil {
			return req, err
		}
	}
	if tz, err := p.get("timezone"); err != nil {
		return req, err
	} else if tz != "" {
		if req.Zone, err = time.LoadLocation(tz); err != nil {
			return req, fhirerr.Invalid(fmt.Sprintf("timezone %q is not an IANA time zone", tz))
		}
	}
	return req, nil
}

// r4Code and r4URI are the R4 patterns of the code and uri primitives.
var (
	r4Code = regexp.MustCompile(`^[^\s]+(\s[^\s]+)*$`)
	r4URI  = regexp.MustCompile(`^\S+$`)
)

// tokenConcept turns system|code (or code) into a CodeableConcept; 400 unless it makes a
// valid R4 Coding, as it is stored on every slot made.
func tokenConcept(tok string) (map[string]any, error) {
	coding := map[string]any{"code": tok}
	sys, code, hasSystem := strings.Cut(tok, "|")
	if hasSystem {
		coding = map[string]any{"system": sys, "code": code}
	}
	if !storableText(tok) || !r4Code.MatchString(code) || (hasSystem && !r4URI.MatchString(sys)) {
		return nil, fhirerr.Invalid(fmt.Sprintf("service-type %q is not a code or system|code of a valid Coding", tok))
	}
	return map[string]any{"coding": []any{coding}}, nil
}

// findAppointments answers Appointment/$find with a searchset of proposed Appointments,
// best preference first; total counts every match, beyond _count too (ITI-115).
func (s *Server) findAppointments(w http.ResponseWriter, r *http.Request) error {
	req, err := s.findRequest(w, r)
	if err != nil {
		return err
	}
	// $find leaves out the patients' booked times and checks their coverages: only for
	// who may see them. Unknown or hidden ones are 404 alike.
	ctx := r.Context()
	for _, read := range append(prefixed("Patient", req.Patients), prefixed("Coverage", req.Coverages)...) {
		typ, id, _ := strings.Cut(read, "/")
		res, err := s.reader(ctx).Read(ctx, typ, id)
		if res != nil {
			err = s.authorize(ctx, scope.Read, typ, res)
		}
		if err != nil {
			return err
		}
	}
	found, total, err := s.rules.FindAppointments(ctx, s.store, req)
	if err != nil {
		return err
	}
	out := Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "searchset", Total: ptr(total), Timestamp: nowInstant()}
	for _, appt := range found {
		out.Entry = append(out.Entry, BundleEntry{FullURL: "urn:uuid:" + storage.NewID(), Resource: marshal(appt), Search: &EntrySearch{Mode: "match"}})
	}
	writeJSON(w, r, http.StatusOK, marshal(out))
	return nil
}

func prefixed(typ string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = typ + "/" + id
	}
	return out
}

// referenceByIdentifier finds the one typ whose identifier is tok (system|value).
func (s *Server) referenceByIdentifier(ctx context.Context, typ, tok, param string) (string, error) {
	sys, value, _ := strings.Cut(tok, "|")
	if !storableText(tok) {
		return "", fhirerr.Invalid(fmt.Sprintf("parameter %s: the identifier is not valid UTF-8 text without NUL bytes", param), param)
	}
	ids, err := s.store.IDsByIdentifier(ctx, typ, sys, value)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", fhirerr.Unprocessable(fhirerr.CodeNotFound, fmt.Sprintf("parameter %s: no %s has the identifier %s", param, typ, tok), param)
	case 1:
		return typ + "/" + ids[0], nil
	}
	return "", fhirerr.Unprocessable(fhirerr.CodeMultipleMatches, fmt.Sprintf("parameter %s: %d %s resources have the identifier %s", param, len(ids), typ, tok), param)
}

// maxFindValues bounds the values one $find parameter may list.
const maxFindValues = 20

func (s *Server) findRequest(w http.ResponseWriter, r *http.Request) (resources.FindRequest, error) {
	var req resources.FindRequest
	p, err := s.readParams(w, r)
	if err != nil {
		return req, err
	}
	if req.Start, req.End, err = p.period(); err != nil {
		return req, err
	}
	// refs reads a repeatable reference parameter (and its aliases) as Type/id of one of types.
	refs := func(types []string, names ...string) ([]string, error) {
		var out []string
		for _, v := range p.all(names...) {
			if v == "" {
				return nil, fhirerr.Invalid(fmt.Sprintf("parameter %s must be a reference to a %s on this server", names[0], types[0]), names[0])
			}
			if tok, ok := strings.CutPrefix(v, identifierRefPrefix); ok {
				// ITI-115's own example names the practitioner by identifier; patients are
				// not looked up so, which would tell who exists.
				if types[0] == "Patient" {
					return nil, fhirerr.Invalid(fmt.Sprintf("parameter %s must be a literal reference; a patient is not looked up by identifier", names[0]), names[0])
				}
				ref, err := s.referenceByIdentifier(r.Context(), types[0], tok, names[0])
				if err != nil {
					return nil, err
				}
				out = append(out, ref)
				continue
			}
			ref, err := s.localReference(v, types[0], names[0])
			if err != nil {
				return nil, err
			}
			if typ, _, _ := strings.Cut(ref, "/"); !slices.Contains(types, typ) {
				return nil, fhirerr.Invalid(fmt.Sprintf("parameter %s must refer to a %s, not %s", names[0], strings.Join(types, " or "), ref), names[0])
			}
			out = append(out, ref)
		}
		return out, nil
	}
	// texts reads a repeatable text parameter (and its aliases).
	texts := func(names ...string) ([]string, error) {
		vs := p.all(names...)
		for _, v := range vs {
			if v == "" || !storableText(v) {
				return nil, fhirerr.Invalid(fmt.Sprintf("parameter %s is not valid UTF-8 text without NUL bytes", names[0]), names[0])
			}
		}
		return vs, nil
	}
	if req.Actors, err = refs([]string{"Practitioner", "PractitionerRole"}, "practitioner", "provider"); err != nil {
		return req, err
	}
	if req.Specialties, err = texts("specialty"); err != nil {
		return req, err
	}
	if req.ServiceTypes, err = texts("visit-type", "service-type"); err != nil {
		return req, err
	}
	if req.Organizations, err = refs([]string{"Organization"}, "organization"); err != nil {
		return req, err
	}
	if req.Addresses, err = texts("location-string"); err != nil {
		return req, err
	}
	if req.Locations, err = refs([]string{"Location"}, "location-reference"); err != nil {
		return req, err
	}
	patients, err := refs([]string{"Patient"}, "patient-reference", "patient")
	if err != nil {
		return req, err
	}
	for _, ref := range patients {
		req.Patients = append(req.Patients, strings.TrimPrefix(ref, "Patient/"))
	}
	if len(p.values["patient-resource"]) > 0 {
		return req, fhirerr.Invalid("patient-resource takes a Patient resource, in a Parameters body", "patient-resource")
	}
	for i, raw := range p.resources["patient-resource"] {
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil || doc["resourceType"] != "Patient" {
			return req, fhirerr.Invalid(fmt.Sprintf("patient-resource %d must be a Patient", i+1), "patient-resource")
		}
		// A Patient that is stored is the patient-reference to it.
		if id, _ := doc["id"].(string); id != "" {
			if res, err := s.store.Read(r.Context(), "Patient", id); err != nil {
				return req, err
			} else if res != nil && !res.Deleted {
				req.Patients = append(req.Patients, id)
				continue
			}
		}
		req.NewPatients = append(req.NewPatients, doc)
	}
	coverages, err := refs([]string{"Coverage"}, "insurance-reference")
	if err != nil {
		return req, err
	}
	for _, ref := range coverages {
		req.Coverages = append(req.Coverages, strings.TrimPrefix(ref, "Coverage/"))
	}
	if referral, err := p.get("referral-identifier"); err != nil {
		return req, err
	} else if referral != "" {
		sys, value, hasSystem := strings.Cut(referral, "|")
		if !hasSystem {
			sys, value = "", referral
		}
		if value == "" || !storableText(referral) || (hasSystem && !r4URI.MatchString(sys)) {
			return req, fhirerr.Invalid("referral-identifier must be an Identifier (system|value in a query)", "referral-identifier")
		}
		req.Referral = map[string]any{"value": value}
		if sys != "" {
			req.Referral["system"] = sys
		}
	}
	for name, n := range map[string]int{"practitioner": len(req.Actors), "specialty": len(req.Specialties), "visit-type": len(req.ServiceTypes),
		"organization": len(req.Organizations), "location-string": len(req.Addresses), "location-reference": len(req.Locations),
		"patient-reference": len(req.Patients) + len(req.NewPatients), "insurance-reference": len(req.Coverages)} {
		if n > maxFindValues {
			return req, fhirerr.Invalid(fmt.Sprintf("parameter %s is given %d times; $find takes at most %d", name, n, maxFindValues), name)
		}
	}
	if c, err := p.get("_count"); err != nil {
		return req, err
	} else if c != "" {
		if req.Limit, err = strconv.Atoi(c); err != nil || req.Limit < 1 {
			return req, fhirerr.Invalid("_count must be a positive integer", "_count")
		}
	}
	return req, nil
}

// storableText reports whether PostgreSQL can take s as text: valid UTF-8 without NUL.
func storableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// localReference reads a reference parameter: Type/id, an absolute URL under this
// server's base, or a bare id of defaultType.
func (s *Server) localReference(v, defaultType, param string) (string, error) {
	v = strings.TrimPrefix(v, s.cfg.BaseURL+"/")
	if typ, id, ok := storage.ParseReference(v); ok {
		return typ + "/" + id, nil
	}
	if validID(v) {
		return defaultType + "/" + v, nil
	}
	return "", fhirerr.Invalid(fmt.Sprintf("parameter %s: %q is not a reference to a resource on this server", param, v))
}

// validID reports whether id is a FHIR resource id.
func validID(id string) bool {
	_, _, ok := storage.ParseReference("Id/" + id)
	return ok
}

// holdAppointment answers POST Appointment/$hold (IHE ITI-116): a searchset Bundle with
// the held Appointment, its expiry also as the Expires header. A refusal is an
// OperationOutcome whose issue is fatal; a slot no longer available is not-found.
func (s *Server) holdAppointment(w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	res, err := s.prepareAndWrite(w, r, false, func(body []byte, _ *storage.Resource) ([]byte, error) {
		return resources.PrepareHold(body, now, s.cfg.HoldTTL)
	})
	if err != nil {
		fe := fatal(err)
		if errors.Is(err, fhirerr.ErrConflict) {
			fe.Code = fhirerr.CodeNotFound // ITI-116: the appointment is not available to be held
		}
		return fe
	}
	if expires, ok := resources.HoldExpiry(res.Content); ok {
		w.Header().Set("Expires", expires.UTC().Format(http.TimeFormat))
	}
	s.writeAppointment(w, r, res)
	return nil
}

// bookAppointment answers POST Appointment/$book (IHE ITI-117): a searchset Bundle with the
// booked (or, for a cancel, cancelled) Appointment. A booking that cannot be made (409, a
// slot or time taken; 422, a rule broken) is that Bundle holding only the
// OperationOutcome, whose issue is fatal; a request refused before any booking is tried
// (malformed, not allowed, not found) is a plain OperationOutcome, as everywhere.
func (s *Server) bookAppointment(w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	res, err := s.prepareAndWrite(w, r, true, func(body []byte, prev *storage.Resource) ([]byte, error) {
		return resources.PrepareBooking(body, prev, now)
	})
	if errors.Is(err, fhirerr.ErrConflict) || errors.Is(err, fhirerr.ErrUnprocessable) {
		return outcomeInBundle{fatal(err)}
	}
	if err != nil {
		return fatal(err)
	}
	s.writeAppointment(w, r, res)
	return nil
}

// fatal is the refusal err with its issue's severity fatal, as IHE ITI Scheduling asks.
func fatal(err error) *fhirerr.Error {
	fe := *fhirerr.From(err)
	fe.Severity = "fatal"
	return &fe
}

// outcomeInBundle is a refusal answered as a searchset Bundle holding only its
// OperationOutcome (ITI-117); fail renders it.
type outcomeInBundle struct{ fe *fhirerr.Error }

func (o outcomeInBundle) Error() string { return o.fe.Error() }
func (o outcomeInBundle) Unwrap() error { return o.fe }

// outcomeBundle is the Bundle of an outcomeInBundle.
func outcomeBundle(fe *fhirerr.Error) []byte {
	return marshal(Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "searchset", Total: ptr(0), Timestamp: nowInstant(),
		Entry: []BundleEntry{{FullURL: "urn:uuid:" + storage.NewID(), Resource: fe.JSON(), Search: &EntrySearch{Mode: "outcome"}}}})
}

// writeAppointment answers $hold or $book: a searchset Bundle whose one match is the
// stored Appointment, as the IHE Appointment Bundle profile says.
func (s *Server) writeAppointment(w http.ResponseWriter, r *http.Request, res *storage.Resource) {
	out := Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "searchset", Total: ptr(1), Timestamp: nowInstant(),
		Entry: []BundleEntry{{FullURL: s.cfg.BaseURL + "/Appointment/" + res.ID, Resource: res.Content, Search: &EntrySearch{Mode: "match"}}}}
	setVersionHeaders(w, res)
	writeJSON(w, r, http.StatusOK, marshal(out))
}

// prepareAndWrite runs $hold or $book: it takes the appointment given
// (appointment-resource) or stored (appointment-reference), lets prepare turn it into the
// hold or booking, and writes it through the ordinary rules (slot, overlap, coverage,
// life cycle) in one transaction. For $book, cancelled-appt-id names the appointment it
// replaces (a reschedule): that one is cancelled, freeing its slot, in the same
// transaction, before the new one is booked; if either fails, neither happens.
func (s *Server) prepareAndWrite(w http.ResponseWriter, r *http.Request, book bool, prepare func([]byte, *storage.Resource) ([]byte, error)) (*storage.Resource, error) {
	if err := requirePost(r); err != nil {
		return nil, err
	}
	p, err := s.readParams(w, r)
	if err != nil {
		return nil, err
	}
	raw, err := p.resource("appointment-resource", "appt-resource")
	if err != nil {
		return nil, err
	}
	name, apptRef, err := p.first("appointment-reference", "appt-id")
	if err != nil {
		return nil, err
	}
	if raw != nil && apptRef != "" {
		return nil, fhirerr.Invalid("give the appointment as appointment-resource or as appointment-reference, not both", name)
	}
	id := ""
	switch {
	case raw != nil:
		if typ, err := s.validator.Validate(raw); err != nil {
			return nil, err
		} else if typ != "Appointment" {
			return nil, fhirerr.Invalid("appointment-resource must be an Appointment, not a "+typ, "appointment-resource")
		}
		raw = s.localizeReferences(raw)
		id = bodyID(raw)
	case apptRef != "":
		if id, err = s.appointmentID(apptRef, name); err != nil {
			return nil, err
		}
	default:
		return nil, fhirerr.Invalid("give the appointment as appointment-resource or appointment-reference")
	}
	var replaces, comment string
	if book {
		if cname, ref, err := p.first("cancelled-appt-id"); err != nil {
			return nil, err
		} else if ref != "" {
			if replaces, err = s.appointmentID(ref, cname); err != nil {
				return nil, err
			}
			if replaces == id {
				return nil, fhirerr.Invalid("cancelled-appt-id names the appointment being booked; a reschedule books another", cname)
			}
		}
		if comment, err = p.get("comment"); err != nil {
			return nil, err
		} else if !storableText(comment) {
			return nil, fhirerr.Invalid("comment is not valid UTF-8 text without NUL bytes", "comment")
		}
	}
	if id == "" {
		id = storage.NewID()
	}
	ctx := r.Context()
	var res *storage.Resource
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		var old *storage.Resource
		if replaces != "" {
			if old, err = s.cancelReplaced(ctx, tx, replaces, id); err != nil {
				return err
			}
		}
		res, err = s.prepareAppointment(ctx, tx, id, raw, func(body []byte, prev *storage.Resource) ([]byte, error) {
			body, err := prepare(body, prev)
			if err != nil || comment == "" {
				return body, err
			}
			return setComment(body, comment)
		})
		if err != nil || old == nil {
			return err
		}
		return resources.SamePatient(old.Content, res.Content)
	})
	return res, err
}

// appointmentID reads an appointment reference parameter (Appointment/[id], an absolute
// URL under this server, or a bare id) as the id.
func (s *Server) appointmentID(v, param string) (string, error) {
	ref, err := s.localReference(v, "Appointment", param)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(ref, "Appointment/") {
		return "", fhirerr.Invalid(param+" must refer to an Appointment", param)
	}
	return strings.TrimPrefix(ref, "Appointment/"), nil
}

// cancelReplaced cancels Appointment/id, which a reschedule to Appointment/by replaces, in
// tx: its slot is freed and its time given back by the ordinary rules. Only an appointment
// that still holds (or may hold) time can be replaced; a second reschedule of the same
// one waits on its row lock and then finds it cancelled: 409.
func (s *Server) cancelReplaced(ctx context.Context, tx *storage.Tx, id, by string) (*storage.Resource, error) {
	prev, err := tx.Lock(ctx, "Appointment", id)
	if err != nil {
		return nil, err
	}
	if prev == nil || prev.Deleted {
		return nil, fhirerr.NotFound(fmt.Sprintf("cancelled-appt-id: Appointment/%s is not known", id))
	}
	body, err := resources.PrepareReplaced(prev.Content, "Appointment/"+by)
	if err != nil {
		return nil, err
	}
	return s.write(ctx, tx, prev, "Appointment", id, body, http.MethodPut)
}

// setComment puts $book's comment on the appointment.
func setComment(body []byte, comment string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fhirerr.Invalid("the appointment is not a JSON object")
	}
	doc["comment"] = comment
	return marshal(doc), nil
}

func (s *Server) prepareAppointment(ctx context.Context, tx *storage.Tx, id string, raw json.RawMessage,
	prepare func([]byte, *storage.Resource) ([]byte, error)) (*storage.Resource, error) {
	var prev *storage.Resource
	if id != "" {
		var err error
		if prev, err = tx.Lock(ctx, "Appointment", id); err != nil {
			return nil, err
		}
		// Before prepare tells anything of the stored appointment's state.
		if err := s.rules.Authorize(ctx, tx, scope.Update, "Appointment", livePrev(prev)); err != nil {
			return nil, err
		}
	}
	body := []byte(raw)
	if raw == nil {
		if prev == nil || prev.Deleted {
			return nil, fhirerr.NotFound(fmt.Sprintf("Appointment/%s is not known", id))
		}
		body = prev.Content
	}
	if id == "" {
		id = storage.NewID()
	}
	body, err := prepare(body, prev)
	if err != nil {
		return nil, err
	}
	if body, err = setBodyID(body, id); err != nil {
		return nil, err
	}
	method := http.MethodPut
	if prev == nil || prev.Deleted {
		method = http.MethodPost
	}
	return s.write(ctx, tx, prev, "Appointment", id, body, method)
}

func ptr[T any](v T) *T { return &v }

func nowInstant() string { return time.Now().UTC().Format(time.RFC3339) }
