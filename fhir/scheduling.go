package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
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
		{Name: "find", Types: []string{"Appointment"}, Type: true, Handler: s.findAppointments, Aliases: []string{"provider", "visit-type", "_count"}, Needs: &Need{scope.Search, "Slot"},
			Definition: s.operationDefinition(opMeta{Name: "find", Title: "FindAppointments", Types: []string{"Appointment"}, Type: true,
				Description: "Argonaut Scheduling $find: open slots between start and end as proposed Appointments, for a practitioner, specialty or service type, leaving out times the patient is already booked.",
				Params: []opParam{
					{Name: "start", Use: "in", Min: 1, Max: "1", Type: "dateTime", Doc: "earliest start"},
					{Name: "end", Use: "in", Min: 1, Max: "1", Type: "dateTime", Doc: "latest start (exclusive)"},
					{Name: "practitioner", Use: "in", Min: 0, Max: "1", Type: "Reference", Doc: "Practitioner/[id] or PractitionerRole/[id] (also accepted as provider)"},
					{Name: "specialty", Use: "in", Min: 0, Max: "1", Type: "Coding", Doc: "specialty of the slot or schedule (code or system|code)"},
					{Name: "service-type", Use: "in", Min: 0, Max: "1", Type: "Coding", Doc: "service type of the slot (also accepted as visit-type)"},
					{Name: "patient", Use: "in", Min: 0, Max: "1", Type: "Reference", Doc: "the patient the appointment is for"},
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a searchset of proposed Appointments"},
				}})},
		{Name: "hold", Types: []string{"Appointment"}, Type: true, Handler: s.holdAppointment, Aliases: []string{"appointment-resource", "appointment-reference"}, Needs: &Need{scope.Create, "Appointment"},
			Definition: s.operationDefinition(opMeta{Name: "hold", Title: "HoldAppointment", Types: []string{"Appointment"}, Type: true, AffectsState: true,
				Description: "Argonaut Scheduling $hold: holds a proposed appointment's slot for 5 minutes (status pending, slot busy-tentative, the hold-expires extension). A hold that lapses is cancelled and its slot freed by itself.",
				Params: []opParam{
					{Name: "appt-resource", Use: "in", Min: 0, Max: "1", Type: "Appointment", Doc: "the proposed Appointment (e.g. from $find)"},
					{Name: "appt-id", Use: "in", Min: 0, Max: "1", Type: "uri", Doc: "or the reference of a stored proposed Appointment"},
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a collection with the held Appointment"},
				}})},
		{Name: "book", Types: []string{"Appointment"}, Type: true, Handler: s.bookAppointment, Aliases: []string{"appointment-resource", "appointment-reference"}, Needs: &Need{scope.Update, "Appointment"},
			Definition: s.operationDefinition(opMeta{Name: "book", Title: "BookAppointment", Types: []string{"Appointment"}, Type: true, AffectsState: true,
				Description: "Argonaut Scheduling $book: books a proposed or held appointment (status booked, participants accepted, slot busy) under the same rules as any booking: 409 if the slot or anyone's time is taken.",
				Params: []opParam{
					{Name: "appt-resource", Use: "in", Min: 0, Max: "1", Type: "Appointment", Doc: "the Appointment to book"},
					{Name: "appt-id", Use: "in", Min: 0, Max: "1", Type: "uri", Doc: "or the reference of a stored (held) Appointment"},
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a collection with the booked Appointment"},
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

// findAppointments answers Appointment/$find with a searchset of proposed Appointments.
func (s *Server) findAppointments(w http.ResponseWriter, r *http.Request) error {
	req, err := s.findRequest(w, r)
	if err != nil {
		return err
	}
	if req.Patient != "" {
		// $find leaves out the patient's booked times: only for who may see the patient.
		ctx := r.Context()
		res, err := s.reader(ctx).Read(ctx, "Patient", req.Patient)
		if res != nil {
			err = s.authorize(ctx, scope.Read, "Patient", res)
		}
		if err != nil {
			return err
		}
	}
	found, err := s.rules.FindAppointments(r.Context(), s.store, req)
	if err != nil {
		return err
	}
	out := Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "searchset", Total: ptr(len(found)), Timestamp: nowInstant()}
	for _, appt := range found {
		out.Entry = append(out.Entry, BundleEntry{FullURL: "urn:uuid:" + storage.NewID(), Resource: marshal(appt), Search: &EntrySearch{Mode: "match"}})
	}
	writeJSON(w, r, http.StatusOK, marshal(out))
	return nil
}

func (s *Server) findRequest(w http.ResponseWriter, r *http.Request) (resources.FindRequest, error) {
	var req resources.FindRequest
	p, err := s.readParams(w, r)
	if err != nil {
		return req, err
	}
	if req.Start, req.End, err = p.period(); err != nil {
		return req, err
	}
	_, actor, err := p.first("practitioner", "provider")
	if err != nil {
		return req, err
	}
	if actor != "" {
		if req.Actor, err = s.localReference(actor, "Practitioner", "practitioner"); err != nil {
			return req, err
		}
	}
	if req.Specialty, err = p.get("specialty"); err != nil {
		return req, err
	}
	name, serviceType, err := p.first("service-type", "visit-type")
	if err != nil {
		return req, err
	}
	req.ServiceType = serviceType
	for param, v := range map[string]string{"specialty": req.Specialty, name: req.ServiceType} {
		if !storableText(v) {
			return req, fhirerr.Invalid(fmt.Sprintf("parameter %s is not valid UTF-8 text without NUL bytes", param))
		}
	}
	patient, err := p.get("patient")
	if err != nil {
		return req, err
	}
	if patient != "" {
		ref, err := s.localReference(patient, "Patient", "patient")
		if err != nil {
			return req, err
		}
		if !strings.HasPrefix(ref, "Patient/") {
			return req, fhirerr.Invalid("patient must be a Patient reference")
		}
		req.Patient = strings.TrimPrefix(ref, "Patient/")
	}
	if c, err := p.get("_count"); err != nil {
		return req, err
	} else if c != "" {
		if req.Limit, err = strconv.Atoi(c); err != nil || req.Limit < 1 {
			return req, fhirerr.Invalid("_count must be a positive integer")
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

// holdAppointment answers POST Appointment/$hold.
func (s *Server) holdAppointment(w http.ResponseWriter, r *http.Request) error {
	return s.prepareAndWrite(w, r, func(body []byte, _ *storage.Resource) ([]byte, error) {
		return resources.PrepareHold(body, time.Now(), resources.DefaultHoldDuration)
	})
}

// bookAppointment answers POST Appointment/$book.
func (s *Server) bookAppointment(w http.ResponseWriter, r *http.Request) error {
	return s.prepareAndWrite(w, r, func(body []byte, prev *storage.Resource) ([]byte, error) {
		return resources.PrepareBooking(body, prev, time.Now())
	})
}

// prepareAndWrite runs $hold or $book: it takes the appointment given (appt-resource) or
// stored (appt-id), lets prepare turn it into the hold or booking, and writes it through
// the ordinary rules (slot, overlap, coverage, life cycle) in one transaction.
func (s *Server) prepareAndWrite(w http.ResponseWriter, r *http.Request, prepare func([]byte, *storage.Resource) ([]byte, error)) error {
	if err := requirePost(r); err != nil {
		return err
	}
	p, err := s.readParams(w, r)
	if err != nil {
		return err
	}
	raw, err := p.resource("appt-resource", "appointment-resource")
	if err != nil {
		return err
	}
	_, apptRef, err := p.first("appt-id", "appointment-reference")
	if err != nil {
		return err
	}
	id := ""
	switch {
	case raw != nil:
		if typ, err := s.validator.Validate(raw); err != nil {
			return err
		} else if typ != "Appointment" {
			return fhirerr.Invalid("appt-resource must be an Appointment, not a " + typ)
		}
		raw = s.localizeReferences(raw)
		id = bodyID(raw)
	case apptRef != "":
		ref, err := s.localReference(apptRef, "Appointment", "appt-id")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(ref, "Appointment/") {
			return fhirerr.Invalid("appt-id must refer to an Appointment")
		}
		id = strings.TrimPrefix(ref, "Appointment/")
	default:
		return fhirerr.Invalid("give the appointment as appt-resource or appt-id")
	}
	ctx := r.Context()
	var res *storage.Resource
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		res, err = s.prepareAppointment(ctx, tx, id, raw, prepare)
		return err
	})
	if err != nil {
		return err
	}
	out := Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "collection", Timestamp: nowInstant(),
		Entry: []BundleEntry{{FullURL: s.cfg.BaseURL + "/Appointment/" + res.ID, Resource: res.Content}}}
	setVersionHeaders(w, res)
	writeJSON(w, r, http.StatusOK, marshal(out))
	return nil
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
