package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"time"
)

// The demo clinic: a practice, two insurers, eight doctors with a specialty and weekly
// hours, four weeks of 30-minute slots (and the past week, for past visits), twenty
// insured patients, appointments in every interesting state, and the records of the
// fulfilled visits (demorecords.go).

type demoDoctor struct {
	given, family string
	specialty     string // SNOMED CT code
	specialtyName string
	days          []any
	from, to      string // availableTime, UTC
}

var demoDoctors = []demoDoctor{
	{"Anna", "Berg", "394814009", "General practice", []any{"mon", "tue", "wed", "thu", "fri"}, "08:00:00", "12:00:00"},
	{"Ben", "Okafor", "394814009", "General practice", []any{"mon", "tue", "wed", "thu", "fri"}, "13:00:00", "17:00:00"},
	{"Chloe", "Martin", "394579002", "Cardiology", []any{"mon", "wed"}, "09:00:00", "15:00:00"},
	{"David", "Nakamura", "394582007", "Dermatology", []any{"tue", "thu"}, "09:00:00", "13:00:00"},
	{"Elena", "Rossi", "394537008", "Paediatrics", []any{"mon", "tue", "thu"}, "08:30:00", "12:30:00"},
	{"Farid", "Haddad", "394801008", "Trauma and orthopaedics", []any{"wed", "fri"}, "10:00:00", "16:00:00"},
	{"Grace", "Lindqvist", "394594003", "Ophthalmology", []any{"tue", "fri"}, "08:00:00", "11:00:00"},
	{"Hugo", "Fernandes", "394587001", "Psychiatry", []any{"mon", "thu"}, "13:00:00", "18:00:00"},
}

var (
	demoGiven  = []string{"Alice", "Bruno", "Carla", "Dmitri", "Eva", "Felix", "Greta", "Hassan", "Ines", "Jonas"}
	demoFamily = []string{"Schmidt", "Dubois", "Kowalski", "Jensen", "Moreau", "Novak", "Silva", "Weber", "Yilmaz", "Costa"}
)

const snomed = "http://snomed.info/sct"

func demoRef(typ, id string) map[string]any { return map[string]any{"reference": typ + "/" + id} }

// seedDemoClinic writes the demo clinic as of now through h, the FHIR API in-process without the
// token check (app.App.FHIR.Handler()): the server seeds as itself, no caller in the
// request, which the access policy lets do everything.
func seedDemoClinic(ctx context.Context, h http.Handler, now time.Time, log *slog.Logger) error {
	c := &fhirClient{ctx: ctx, handler: h}
	today := now.Truncate(24 * time.Hour)
	from, until := today.AddDate(0, 0, -7), today.AddDate(0, 0, 28)
	for _, org := range []map[string]any{
		{"resourceType": "Organization", "id": "demo-clinic", "active": true, "name": "Careslot Demo Clinic",
			"type": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"}}}}},
		{"resourceType": "Organization", "id": "demo-insurer-acme", "active": true, "name": "Acme Health Insurance",
			"type": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "ins"}}}}},
		{"resourceType": "Organization", "id": "demo-insurer-northwind", "active": true, "name": "Northwind Mutual",
			"type": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "ins"}}}}},
		{"resourceType": "Location", "id": "demo-main-street", "status": "active", "name": "Main Street Clinic",
			"managingOrganization": demoRef("Organization", "demo-clinic")},
	} {
		if err := c.put(org); err != nil {
			return err
		}
	}
	for i, d := range demoDoctors {
		n := fmt.Sprintf("%d", i+1)
		specialty := []any{map[string]any{"coding": []any{map[string]any{"system": snomed, "code": d.specialty, "display": d.specialtyName}}}}
		for _, doc := range []map[string]any{
			{"resourceType": "Practitioner", "id": "demo-dr-" + n, "active": true,
				"name": []any{map[string]any{"prefix": []any{"Dr"}, "given": []any{d.given}, "family": d.family}}},
			{"resourceType": "PractitionerRole", "id": "demo-role-" + n, "active": true,
				"practitioner": demoRef("Practitioner", "demo-dr-"+n), "organization": demoRef("Organization", "demo-clinic"),
				"location": []any{demoRef("Location", "demo-main-street")}, "specialty": specialty,
				"availableTime": []any{map[string]any{"daysOfWeek": d.days, "availableStartTime": d.from, "availableEndTime": d.to}},
				"notAvailable": []any{map[string]any{"description": "Training day",
					"during": map[string]any{"start": today.AddDate(0, 0, 14).Format("2006-01-02"), "end": today.AddDate(0, 0, 14).Format("2006-01-02")}}}},
			{"resourceType": "Schedule", "id": "demo-schedule-" + n, "active": true, "specialty": specialty,
				"actor":           []any{demoRef("Practitioner", "demo-dr-"+n), demoRef("Location", "demo-main-street")},
				"planningHorizon": map[string]any{"start": from.Format(time.RFC3339), "end": until.Format(time.RFC3339)}},
		} {
			if err := c.put(doc); err != nil {
				return err
			}
		}
		params := map[string]any{"resourceType": "Parameters", "parameter": []any{
			map[string]any{"name": "start", "valueDateTime": from.Format(time.RFC3339)},
			map[string]any{"name": "end", "valueDateTime": until.Format(time.RFC3339)},
			map[string]any{"name": "slot-length", "valueInteger": 30},
		}}
		if _, err := c.must("POST", "Schedule/demo-schedule-"+n+"/$generate-slots", params, http.StatusOK); err != nil {
			return err
		}
	}
	var patients []string
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("demo-patient-%d", i+1)
		insurer := []string{"demo-insurer-acme", "demo-insurer-northwind"}[i%2]
		birth := time.Date(1950+i*3, time.Month(1+i%12), 1+i, 0, 0, 0, 0, time.UTC)
		for _, doc := range []map[string]any{
			{"resourceType": "Patient", "id": id, "active": true, "gender": []string{"female", "male"}[i%2], "birthDate": birth.Format("2006-01-02"),
				"name": []any{map[string]any{"given": []any{demoGiven[i%10]}, "family": demoFamily[(i*3)%10]}}},
			{"resourceType": "Coverage", "id": "demo-coverage-" + fmt.Sprint(i+1), "status": "active",
				"beneficiary": demoRef("Patient", id), "payor": []any{demoRef("Organization", insurer)},
				"period": map[string]any{"start": fmt.Sprintf("%d-01-01", now.Year()-1), "end": fmt.Sprintf("%d-12-31", now.Year()+1)}},
		} {
			if err := c.put(doc); err != nil {
				return err
			}
		}
		patients = append(patients, id)
	}
	n, err := seedAppointments(c, now, from, until, patients)
	if err != nil {
		return err
	}
	visits, err := seedVisitRecords(c)
	if err != nil {
		return err
	}
	log.Info("demo clinic seeded", "doctors", len(demoDoctors), "patients", len(patients), "appointments", n, "visits with records", visits)
	return nil
}

// offer is an open slot as $find proposes it.
type offer struct {
	doctor     string
	appt       map[string]any
	start, end time.Time
}

// openSlots lists every open slot of the demo doctors between from and until, by start.
func openSlots(c *fhirClient, from, until time.Time) ([]offer, error) {
	var out []offer
	for i := range demoDoctors {
		doctor := fmt.Sprintf("demo-dr-%d", i+1)
		q := url.Values{"start": {from.Format(time.RFC3339)}, "end": {until.Format(time.RFC3339)}, "practitioner": {"Practitioner/" + doctor}}
		b, err := c.must("GET", "Appointment/$find?"+q.Encode(), nil, http.StatusOK)
		if err != nil {
			return nil, err
		}
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			appt := e.(map[string]any)["resource"].(map[string]any)
			start, _ := time.Parse(time.RFC3339, appt["start"].(string))
			end, _ := time.Parse(time.RFC3339, appt["end"].(string))
			out = append(out, offer{doctor: doctor, appt: appt, start: start, end: end})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out, nil
}

// demoVisit is one appointment to seed: where it ends up and how it gets there.
type demoVisit struct {
	past    bool
	steps   []string // statuses after creation, in order
	created string   // booked, pending or proposed
	answer  string   // an AppointmentResponse of the doctor: accepted or declined; "" for none
}

var demoVisits = func() []demoVisit {
	var v []demoVisit
	add := func(k int, d demoVisit) {
		for i := 0; i < k; i++ {
			v = append(v, d)
		}
	}
	add(6, demoVisit{past: true, created: "booked", steps: []string{"arrived", "checked-in", "fulfilled"}})
	add(2, demoVisit{past: true, created: "booked", steps: []string{"noshow"}})
	add(2, demoVisit{past: true, created: "booked", steps: []string{"cancelled"}})
	add(12, demoVisit{created: "booked"})
	add(2, demoVisit{created: "booked", steps: []string{"cancelled"}})
	add(2, demoVisit{created: "pending"})
	add(1, demoVisit{created: "pending", answer: "accepted"})
	add(1, demoVisit{created: "pending", answer: "declined"})
	add(2, demoVisit{created: "proposed"})
	return v
}()

// seedAppointments books the demo visits on open slots spread over the period, giving
// each patient a turn; a slot that conflicts (the patient is busy then) is passed over.
func seedAppointments(c *fhirClient, now, from, until time.Time, patients []string) (int, error) {
	slots, err := openSlots(c, from, until)
	if err != nil {
		return 0, err
	}
	var past, future []offer
	for _, s := range slots {
		switch {
		case s.end.Before(now):
			past = append(past, s)
		case s.start.After(now.Add(time.Hour)):
			future = append(future, s)
		}
	}
	made := 0
	pick := map[bool]int{}
	for i, v := range demoVisits {
		id := fmt.Sprintf("demo-appt-%02d", i+1)
		if status, _, err := c.call("GET", "Appointment/"+id, nil); err != nil {
			return made, err
		} else if status == http.StatusOK {
			continue // seeded before
		}
		pool := future
		if v.past {
			pool = past
		}
		if len(pool) == 0 {
			continue
		}
		stride := max(1, len(pool)/(len(demoVisits)+1))
		patient := patients[i%len(patients)]
		for tries := 0; tries < 20; tries++ {
			k := (pick[v.past]*stride + tries) % len(pool)
			ok, err := seedVisit(c, id, pool[k], patient, v)
			if err != nil {
				return made, err
			}
			if ok {
				made++
				break
			}
		}
		pick[v.past]++
	}
	return made, nil
}

// seedVisit creates one appointment on slot and walks it through its steps; false when
// the slot or the patient's time is taken.
func seedVisit(c *fhirClient, id string, slot offer, patient string, v demoVisit) (bool, error) {
	appt := map[string]any{"resourceType": "Appointment", "id": id, "status": v.created,
		"description": "Consultation", "start": slot.appt["start"], "end": slot.appt["end"], "slot": slot.appt["slot"],
		"participant": []any{
			map[string]any{"actor": demoRef("Patient", patient), "required": "required", "status": "accepted"},
			map[string]any{"actor": demoRef("Practitioner", slot.doctor), "required": "required", "status": "accepted"},
			map[string]any{"actor": demoRef("Location", "demo-main-street"), "required": "information-only", "status": "accepted"},
		}}
	if v.created != "booked" {
		appt["participant"].([]any)[1].(map[string]any)["status"] = "needs-action"
	}
	status, out, err := c.call("PUT", "Appointment/"+id, appt)
	if err != nil {
		return false, err
	}
	if status == http.StatusConflict {
		return false, nil
	}
	if status != http.StatusCreated {
		return false, fmt.Errorf("seed Appointment/%s: status %d: %v", id, status, out)
	}
	for _, step := range v.steps {
		out["status"] = step
		if step == "cancelled" {
			out["cancelationReason"] = map[string]any{"text": "patient called to cancel"}
		}
		if out, err = c.must("PUT", "Appointment/"+id, out, http.StatusOK); err != nil {
			return false, err
		}
	}
	if v.answer != "" {
		resp := map[string]any{"resourceType": "AppointmentResponse", "appointment": demoRef("Appointment", id),
			"actor": demoRef("Practitioner", slot.doctor), "participantStatus": v.answer}
		if _, err := c.must("POST", "AppointmentResponse", resp, http.StatusCreated); err != nil {
			return false, err
		}
	}
	return true, nil
}
