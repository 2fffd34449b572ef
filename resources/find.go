package resources

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// FindRequest is a call of Appointment/$find (IHE ITI-115). Each list holds the values of
// one parameter in order of preference: a slot matches any one of them, and must match
// every parameter given.
type FindRequest struct {
	Start, End    time.Time
	Actors        []string // practitioner: Practitioner/[id] or PractitionerRole/[id] (or any schedule actor)
	Specialties   []string // tokens: code or system|code
	ServiceTypes  []string // visit-type tokens
	Organizations []string // Organization/[id]
	Addresses     []string // location-string: the start of a Location's address part
	Locations     []string // Location/[id]
	Patients      []string // ids of stored patients the appointment is for
	// NewPatients are patient-resource values that are not stored: they become
	// participants by identifier and name, and filter nothing.
	NewPatients []map[string]any
	Coverages   []string       // insurance-reference: Coverage ids
	Referral    map[string]any // referral-identifier: the ServiceRequest's Identifier; nil for none
	Limit       int
}

// maxFindResults bounds what one $find answers.
const maxFindResults = 500

// farFuture stands for an open end of a coverage period.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// FindAppointments answers $find: open slots, as proposed Appointments that $hold or $book
// can take as they are, best preference first, and how many matched in all. Lapsed holds
// are released first so that their slots show as open.
func (r *Rules) FindAppointments(ctx context.Context, store *storage.Store, req FindRequest) ([]map[string]any, int, error) {
	if !req.End.After(req.Start) {
		return nil, 0, fhirerr.Invalid("end must be after start")
	}
	if req.Limit <= 0 || req.Limit > maxFindResults {
		req.Limit = maxFindResults
	}
	q := storage.FreeSlotQuery{From: req.Start, To: req.End, Actors: req.Actors, Specialties: req.Specialties,
		ServiceTypes: req.ServiceTypes, Patients: req.Patients, Limit: req.Limit}
	for _, p := range req.Patients {
		if res, err := readLive(ctx, store, "Patient", p); err != nil {
			return nil, 0, err
		} else if res == nil {
			return nil, 0, fhirerr.Unprocessable(fhirerr.CodeNotFound, "Patient/"+p+" is not known", "patient-reference")
		}
	}
	var err error
	if q.Periods, err = coveredPeriods(ctx, store, req.Coverages, req.Patients); err != nil {
		return nil, 0, err
	}
	places := []struct {
		values []string
		expand func(context.Context, string) ([]string, error)
	}{
		{req.Organizations, store.OrganizationActors},
		{req.Addresses, func(ctx context.Context, text string) ([]string, error) {
			var actors []string
			locs, err := store.LocationsByAddress(ctx, text)
			for _, l := range locs {
				more, err := store.LocationActors(ctx, l)
				if err != nil {
					return nil, err
				}
				actors = append(actors, more...)
			}
			return actors, err
		}},
		{req.Locations, store.LocationActors},
	}
	for _, p := range places {
		if len(p.values) == 0 {
			continue
		}
		var ranked storage.RankedActors
		for i, v := range p.values {
			actors, err := p.expand(ctx, v)
			if err != nil {
				return nil, 0, err
			}
			for _, a := range actors {
				ranked.Refs, ranked.Ranks = append(ranked.Refs, a), append(ranked.Ranks, int32(i))
			}
		}
		q.Places = append(q.Places, ranked)
	}
	if _, err := r.ExpireHolds(ctx, store); err != nil {
		return nil, 0, err
	}
	slots, total, err := store.FreeSlots(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	out := make([]map[string]any, 0, len(slots))
	for _, s := range slots {
		out = append(out, r.proposal(req, s))
	}
	return out, total, nil
}

// proposal is the proposed Appointment for a free slot: the patients, the schedule's
// actors, and what the request said of coverage and referral.
func (r *Rules) proposal(req FindRequest, s storage.FreeSlot) map[string]any {
	var participants []any
	needed := func(actor map[string]any) {
		participants = append(participants, map[string]any{"actor": actor, "required": "required", "status": "needs-action"})
	}
	for _, p := range req.Patients {
		needed(map[string]any{"reference": "Patient/" + p})
	}
	for _, p := range req.NewPatients {
		needed(newPatientActor(p))
	}
	for _, a := range s.Actors {
		needed(map[string]any{"reference": a})
	}
	appt := map[string]any{
		"resourceType": "Appointment",
		"status":       "proposed",
		"start":        formatInstant(s.Start),
		"end":          formatInstant(s.End),
		"slot":         []any{map[string]any{"reference": "Slot/" + s.ID}},
		"participant":  participants,
	}
	if len(s.ServiceTypes) > 0 {
		appt["serviceType"] = tokenConcepts(s.ServiceTypes)
	}
	if len(s.Specialties) > 0 {
		appt["specialty"] = tokenConcepts(s.Specialties)
	}
	var support []any
	for _, c := range req.Coverages {
		support = append(support, map[string]any{"reference": "Coverage/" + c})
	}
	if support != nil {
		appt["supportingInformation"] = support
	}
	if req.Referral != nil {
		appt["basedOn"] = []any{map[string]any{"type": "ServiceRequest", "identifier": req.Referral}}
	}
	if !req.Start.IsZero() {
		appt["requestedPeriod"] = []any{map[string]any{"start": formatInstant(req.Start), "end": formatInstant(req.End)}}
	}
	return appt
}

// newPatientActor refers to a patient who is not stored yet by identifier and name.
func newPatientActor(p map[string]any) map[string]any {
	actor := map[string]any{"type": "Patient"}
	if ids := objects(p, "identifier"); len(ids) > 0 {
		actor["identifier"] = ids[0]
	}
	if names := objects(p, "name"); len(names) > 0 {
		if text := str(names[0], "text"); text != "" {
			actor["display"] = text
		} else {
			var parts []string
			given, _ := names[0]["given"].([]any)
			for _, g := range given {
				if s, ok := g.(string); ok {
					parts = append(parts, s)
				}
			}
			if f := str(names[0], "family"); f != "" {
				parts = append(parts, f)
			}
			if len(parts) > 0 {
				actor["display"] = strings.Join(parts, " ")
			}
		}
	}
	return actor
}

// tokenConcepts turns index tokens back into CodeableConcepts. The index holds a coding
// both as system|code and as code, so a code alone is taken only when no system|code
// has it.
func tokenConcepts(tokens []string) []any {
	var out []any
	for _, t := range tokens {
		if !strings.Contains(t, "|") && slices.ContainsFunc(tokens, func(o string) bool { return strings.HasSuffix(o, "|"+t) }) {
			continue
		}
		coding := map[string]any{"code": t}
		if i := strings.LastIndex(t, "|"); i >= 0 {
			coding = map[string]any{"code": t[i+1:]}
			if t[:i] != "" {
				coding["system"] = t[:i]
			}
		}
		if coding["code"] == "" {
			continue
		}
		out = append(out, map[string]any{"coding": []any{coding}})
	}
	return out
}

// coveredPeriods checks the coverages an insurance-reference names as the insurance
// rule would (active, an Organization payor, one of the patients' own) and returns their
// periods, within which the slots must start.
func coveredPeriods(ctx context.Context, store *storage.Store, coverages, patients []string) ([]storage.Period, error) {
	var out []storage.Period
	for _, id := range coverages {
		res, err := readLive(ctx, store, "Coverage", id)
		if err != nil {
			return nil, err
		}
		if res == nil {
			return nil, fhirerr.Unprocessable(fhirerr.CodeNotFound, "Coverage/"+id+" is not known", "insurance-reference")
		}
		doc, err := decode(res.Content)
		if err != nil {
			return nil, err
		}
		from, to, ok := coveragePeriod(doc)
		if !ok {
			return nil, fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
				fmt.Sprintf("Coverage/%s cannot pay for a booking: it must be active, with an Organization payor and a valid period", id), "insurance-reference")
		}
		if beneficiary := reference(doc, "beneficiary"); len(patients) > 0 && !containsRef(patients, "Patient/", beneficiary) {
			return nil, fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
				fmt.Sprintf("Coverage/%s is %s's, not a coverage of the patient of the appointment", id, beneficiary), "insurance-reference")
		}
		out = append(out, storage.Period{From: from, To: to})
	}
	return out, nil
}

func containsRef(ids []string, prefix, ref string) bool {
	for _, id := range ids {
		if prefix+id == ref {
			return true
		}
	}
	return false
}

// coveragePeriod is the span a Coverage is in force, as coverageInForce reads it: from
// its start to its end (a date end includes that day), open where a bound is missing;
// ok is false when it is not usable at all.
func coveragePeriod(doc map[string]any) (from, to time.Time, ok bool) {
	to = farFuture
	period := object(doc, "period")
	if s := str(period, "start"); s != "" {
		var err error
		if from, _, err = parseDateTime(s); err != nil {
			return from, to, false
		}
	}
	if e := str(period, "end"); e != "" {
		_, end, err := parseDateTime(e)
		if err != nil {
			return from, to, false
		}
		if _, isInstant := parseInstantOK(e); isInstant {
			end = end.Add(time.Microsecond) // an instant end is in force at that instant
		}
		to = end
	}
	// coverageInForce at the period's start checks status and payor with the same reading.
	probe := from
	if probe.IsZero() {
		probe = to.Add(-time.Microsecond)
	}
	return from, to, to.After(from) && coverageInForce(doc, probe)
}

// readLive reads typ/id, nil when it does not exist or is deleted.
func readLive(ctx context.Context, store *storage.Store, typ, id string) (*storage.Resource, error) {
	res, err := store.Read(ctx, typ, id)
	if errors.Is(err, fhirerr.ErrNotFound) || errors.Is(err, fhirerr.ErrGone) || (err == nil && (res == nil || res.Deleted)) {
		return nil, nil
	}
	return res, err
}
