package resources_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

// visitFixture is a booked appointment of patients[0] with doctor 0.
func visitFixture(t *testing.T) (*clinic, string) {
	t.Helper()
	c := newClinic(t, apptest.New(t), 2)
	s := c.slot(t, 0, at(9, 0), 30)
	doc := c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), s)
	doc["serviceType"] = []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/service-type", "code": "124"}}}}
	return c, c.create(t, doc)
}

// visits returns the Encounters that name the appointment.
func (c *clinic) visits(t *testing.T, appt string) []map[string]any {
	t.Helper()
	b := c.srv.Must(t, 200, "GET", "Encounter?appointment=Appointment/"+appt, nil).JSON(t)
	var out []map[string]any
	entries, _ := b["entry"].([]any)
	for _, e := range entries {
		out = append(out, e.(map[string]any)["resource"].(map[string]any))
	}
	return out
}

func (c *clinic) oneVisit(t *testing.T, appt string) map[string]any {
	t.Helper()
	v := c.visits(t, appt)
	if len(v) != 1 {
		t.Fatalf("Appointment/%s has %d Encounters, want 1: %v", appt, len(v), v)
	}
	return v[0]
}

func TestVisitFollowsAppointment(t *testing.T) {
	t.Parallel()
	c, appt := visitFixture(t)
	if v := c.visits(t, appt); len(v) != 0 {
		t.Fatalf("a booked appointment has an Encounter: %v", v)
	}
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "arrived"))
	enc := c.oneVisit(t, appt)
	if enc["status"] != "in-progress" {
		t.Errorf("arrived: Encounter status %v, want in-progress", enc["status"])
	}
	if got := enc["subject"].(map[string]any)["reference"]; got != "Patient/"+c.patients[0] {
		t.Errorf("subject %v", got)
	}
	parts, _ := enc["participant"].([]any)
	if len(parts) != 1 || parts[0].(map[string]any)["individual"].(map[string]any)["reference"] != "Practitioner/"+c.doctors[0] {
		t.Errorf("participants %v", parts)
	}
	if st, _ := enc["serviceType"].(map[string]any); st == nil {
		t.Errorf("serviceType not copied: %v", enc)
	}
	period, _ := enc["period"].(map[string]any)
	if period["start"] == nil || period["end"] != nil {
		t.Errorf("in-progress period %v", period)
	}
	if _, ok := enc["class"]; !ok {
		t.Errorf("no class (required by R4): %v", enc)
	}
	id := enc["id"]
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "checked-in"))
	if enc := c.oneVisit(t, appt); enc["id"] != id || enc["status"] != "in-progress" {
		t.Errorf("checked-in: %v", enc)
	}
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "fulfilled"))
	enc = c.oneVisit(t, appt)
	period, _ = enc["period"].(map[string]any)
	if enc["id"] != id || enc["status"] != "finished" || period["end"] == nil {
		t.Errorf("fulfilled: %v", enc)
	}
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "entered-in-error"))
	if enc := c.oneVisit(t, appt); enc["status"] != "cancelled" {
		t.Errorf("entered-in-error after fulfilled: Encounter %v, want cancelled", enc["status"])
	}
}

func TestVisitNoShowWithoutArrivalHasNoEncounter(t *testing.T) {
	t.Parallel()
	c, appt := visitFixture(t)
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "noshow"))
	if v := c.visits(t, appt); len(v) != 0 {
		t.Errorf("a no-show has an Encounter: %v", v)
	}
}

func TestVisitCancelledAfterArrival(t *testing.T) {
	t.Parallel()
	c, appt := visitFixture(t)
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "checked-in"))
	if enc := c.oneVisit(t, appt); enc["status"] != "in-progress" {
		t.Fatalf("checked-in: %v", enc)
	}
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "entered-in-error"))
	if enc := c.oneVisit(t, appt); enc["status"] != "cancelled" {
		t.Errorf("entered-in-error after check-in: Encounter %v, want cancelled", enc["status"])
	}
}

func TestVisitUsesClientEncounter(t *testing.T) {
	t.Parallel()
	c, appt := visitFixture(t)
	mine := c.create(t, map[string]any{"resourceType": "Encounter", "status": "planned",
		"class":       map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
		"subject":     ref("Patient", c.patients[0]),
		"appointment": []any{ref("Appointment", appt)}})
	// A second Encounter of the same appointment is refused: it has one visit.
	r := c.srv.Do(t, "POST", "Encounter", map[string]any{"resourceType": "Encounter", "status": "planned",
		"class":       map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"appointment": []any{ref("Appointment", appt)}})
	if r.Status != 409 {
		t.Fatalf("second Encounter of an appointment: %d %s", r.Status, r.Body)
	}
	checkExpression(t, r, "Encounter.appointment[0]")
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "arrived"))
	enc := c.oneVisit(t, appt)
	if enc["id"] != mine || enc["status"] != "in-progress" {
		t.Errorf("arrival did not start the client's Encounter: %v", enc)
	}
	if enc["class"].(map[string]any)["code"] != "VR" {
		t.Errorf("the client's class was overwritten: %v", enc["class"])
	}
	// Once the client's Encounter is deleted, arrival's successor may take its place.
	c.srv.Must(t, 204, "DELETE", "Encounter/"+mine, nil)
	c.create(t, map[string]any{"resourceType": "Encounter", "status": "in-progress",
		"class":       map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"appointment": []any{ref("Appointment", appt)}})
}

func TestVisitEncounterMustShareAppointmentPatient(t *testing.T) {
	t.Parallel()
	c, appt := visitFixture(t)
	r := c.srv.Do(t, "POST", "Encounter", map[string]any{"resourceType": "Encounter", "status": "planned",
		"class":       map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"subject":     ref("Patient", c.patients[1]),
		"appointment": []any{ref("Appointment", appt)}})
	if r.Status != 422 {
		t.Fatalf("Encounter of another patient's appointment: %d %s", r.Status, r.Body)
	}
	checkExpression(t, r, "Encounter.appointment[0]")
}

func TestRecordsMustShareEncounterPatient(t *testing.T) {
	t.Parallel()
	c, appt := visitFixture(t)
	c.srv.Must(t, 200, "PUT", "Appointment/"+appt, setField(c.read(t, "Appointment", appt), "status", "arrived"))
	enc := c.oneVisit(t, appt)["id"].(string)
	code := map[string]any{"text": "x"}
	mine, other := ref("Patient", c.patients[0]), ref("Patient", c.patients[1])
	encRef := ref("Encounter", enc)
	records := func(patient map[string]any) []map[string]any {
		return []map[string]any{
			{"resourceType": "Condition", "subject": patient, "encounter": encRef, "code": code},
			{"resourceType": "Procedure", "status": "completed", "subject": patient, "encounter": encRef, "code": code},
			{"resourceType": "MedicationRequest", "status": "active", "intent": "order", "medicationCodeableConcept": code, "subject": patient, "encounter": encRef},
			{"resourceType": "Observation", "status": "final", "code": code, "subject": patient, "encounter": encRef},
			{"resourceType": "DiagnosticReport", "status": "final", "code": code, "subject": patient, "encounter": encRef},
			{"resourceType": "AllergyIntolerance", "patient": patient, "encounter": encRef, "code": code},
			{"resourceType": "DocumentReference", "status": "current", "subject": patient,
				"content": []any{map[string]any{"attachment": map[string]any{"contentType": "text/plain", "data": "aGk="}}},
				"context": map[string]any{"encounter": []any{encRef}}},
		}
	}
	for _, doc := range records(other) {
		typ := doc["resourceType"].(string)
		r := c.srv.Do(t, "POST", typ, doc)
		if r.Status != 422 {
			t.Errorf("%s of another patient naming the visit: %d %s", typ, r.Status, r.Body)
			continue
		}
		want := typ + ".encounter"
		if typ == "DocumentReference" {
			want = "DocumentReference.context.encounter[0]"
		}
		checkExpression(t, r, want)
	}
	for _, doc := range records(mine) {
		c.srv.Must(t, 201, "POST", doc["resourceType"].(string), doc)
	}
	// From the appointment to its records, in one search each way.
	b := c.srv.Must(t, 200, "GET", "Encounter?appointment=Appointment/"+appt+
		"&_revinclude=Condition:encounter&_revinclude=DocumentReference:encounter", nil).JSON(t)
	got := map[string]int{}
	for _, e := range b["entry"].([]any) {
		got[e.(map[string]any)["resource"].(map[string]any)["resourceType"].(string)]++
	}
	if got["Encounter"] != 1 || got["Condition"] != 1 || got["DocumentReference"] != 1 {
		t.Errorf("Encounter with its records: %v", got)
	}
	b = c.srv.Must(t, 200, "GET", "DocumentReference?encounter.appointment=Appointment/"+appt, nil).JSON(t)
	if entries, _ := b["entry"].([]any); len(entries) != 1 {
		t.Errorf("DocumentReference?encounter.appointment: %d entries: %v", len(entries), b)
	}
	b = c.srv.Must(t, 200, "GET", "Condition?encounter.appointment="+appt, nil).JSON(t)
	if entries, _ := b["entry"].([]any); len(entries) != 1 {
		t.Errorf("Condition?encounter.appointment: %d entries", len(entries))
	}
}

// TestVisitOneEncounterUnderConcurrentUpdates races arrivals, check-ins and clients'
// Encounters of one appointment: whatever wins, it has exactly one Encounter.
func TestVisitOneEncounterUnderConcurrentUpdates(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	client := &http.Client{Timeout: 60 * time.Second}
	for round := 0; round < 4; round++ {
		s := c.slot(t, 0, at(9+round, 0), 30)
		appt := c.create(t, c.appointment("booked", c.patients[0], 0, at(9+round, 0), at(9+round, 30), s))
		base := c.read(t, "Appointment", appt)
		var wg sync.WaitGroup
		start := make(chan struct{})
		send := func(method, path string, doc map[string]any) {
			defer wg.Done()
			b, _ := json.Marshal(doc)
			<-start
			req, _ := http.NewRequest(method, c.srv.URL+"/"+path, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/fhir+json")
			req.Header.Set("Authorization", "Bearer "+c.srv.SystemToken)
			if resp, err := client.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Errorf("%s %s: %d", method, path, resp.StatusCode)
				}
			}
		}
		for i := 0; i < 12; i++ {
			wg.Add(1)
			switch i % 3 {
			case 0:
				go send("PUT", "Appointment/"+appt, setField(clone(base), "status", "arrived"))
			case 1:
				go send("PUT", "Appointment/"+appt, setField(clone(base), "status", "checked-in"))
			default:
				go send("POST", "Encounter", map[string]any{"resourceType": "Encounter", "status": "arrived",
					"class":       map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
					"subject":     ref("Patient", c.patients[0]),
					"appointment": []any{ref("Appointment", appt)}})
			}
		}
		close(start)
		wg.Wait()
		c.oneVisit(t, appt)
	}
}

func setField(doc map[string]any, key string, v any) map[string]any {
	doc[key] = v
	return doc
}

func clone(doc map[string]any) map[string]any {
	b, _ := json.Marshal(doc)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// checkExpression requires the first issue to point at want.
func checkExpression(t *testing.T, r *apptest.Response, want string) {
	t.Helper()
	issues, _ := r.JSON(t)["issue"].([]any)
	if len(issues) == 0 {
		t.Fatalf("not an OperationOutcome: %s", r.Body)
	}
	exprs, _ := issues[0].(map[string]any)["expression"].([]any)
	if len(exprs) == 0 || exprs[0] != want {
		t.Errorf("expression %v, want %s: %s", exprs, want, r.Body)
	}
}

// TestRecordsCheckedInsideTransactionBundle checks a record against an Encounter that
// the same transaction Bundle creates before it.
func TestRecordsCheckedInsideTransactionBundle(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	bundle := func(patient string) map[string]any {
		return map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
			map[string]any{"fullUrl": "urn:uuid:6f1c1e0e-0000-4000-8000-000000000001",
				"resource": map[string]any{"resourceType": "Encounter", "status": "finished",
					"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
					"subject": ref("Patient", c.patients[0])},
				"request": map[string]any{"method": "POST", "url": "Encounter"}},
			map[string]any{"resource": map[string]any{"resourceType": "Condition", "code": map[string]any{"text": "x"},
				"subject":   ref("Patient", patient),
				"encounter": map[string]any{"reference": "urn:uuid:6f1c1e0e-0000-4000-8000-000000000001"}},
				"request": map[string]any{"method": "POST", "url": "Condition"}},
		}}
	}
	r := c.srv.Do(t, "POST", "", bundle(c.patients[1]))
	if r.Status != 422 {
		t.Fatalf("Bundle with a Condition of another patient than its Encounter: %d %s", r.Status, r.Body)
	}
	checkExpression(t, r, "Bundle.entry[1].resource.encounter")
	c.srv.Must(t, 200, "POST", "", bundle(c.patients[0]))
}

// An appointment recorded after the fact, created fulfilled, was still a visit (the state
// machine lets an update reach fulfilled only through arrived or checked-in): its
// Encounter is made finished, from the appointment's start, so the visit's records have
// an Encounter to name.
func TestVisitOfAppointmentCreatedFulfilled(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	// Recorded after the fact: created fulfilled, its time in the past.
	past := time.Now().Add(-48 * time.Hour).Truncate(time.Hour)
	doc := c.appointment("fulfilled", c.patients[1], 1, past, past.Add(30*time.Minute))
	id := c.create(t, doc)
	enc := c.oneVisit(t, id)
	period, _ := enc["period"].(map[string]any)
	if enc["status"] != "finished" || period["start"] != instant(past) && period["start"] != past.UTC().Format(time.RFC3339Nano) {
		t.Errorf("created fulfilled: Encounter %v, want finished from the appointment's start %s", enc, instant(past))
	}
	if got := enc["subject"].(map[string]any)["reference"]; got != "Patient/"+c.patients[1] {
		t.Errorf("subject %v", got)
	}
	// Fulfilled again (an update that keeps the status) makes no second Encounter.
	c.srv.Must(t, 200, "PUT", "Appointment/"+id, setField(c.read(t, "Appointment", id), "comment", "seen"))
	c.oneVisit(t, id)
}

// A visit with records keeps its patient: moving the Encounter to another patient would
// make the records' visit someone else's.
func TestEncounterWithRecordsKeepsItsPatient(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	enc := c.create(t, map[string]any{"resourceType": "Encounter", "status": "finished",
		"class":   map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"subject": ref("Patient", c.patients[0])})
	cond := c.create(t, map[string]any{"resourceType": "Condition", "subject": ref("Patient", c.patients[0]),
		"encounter": ref("Encounter", enc), "code": map[string]any{"text": "flu"}})
	moved := setField(c.read(t, "Encounter", enc), "subject", ref("Patient", c.patients[1]))
	r := c.srv.Do(t, "PUT", "Encounter/"+enc, moved)
	if r.Status != 422 {
		t.Fatalf("moving a visit with records to another patient: %d %s", r.Status, r.Body)
	}
	checkExpression(t, r, "Encounter.subject")
	if got := c.read(t, "Encounter", enc)["subject"].(map[string]any)["reference"]; got != "Patient/"+c.patients[0] {
		t.Fatalf("the refused update changed the subject to %v", got)
	}
	// Other changes to the visit are fine; so is the move once its record is gone.
	c.srv.Must(t, 200, "PUT", "Encounter/"+enc, setField(c.read(t, "Encounter", enc), "status", "finished"))
	c.srv.Must(t, 204, "DELETE", "Condition/"+cond, nil)
	c.srv.Must(t, 200, "PUT", "Encounter/"+enc, setField(c.read(t, "Encounter", enc), "subject", ref("Patient", c.patients[1])))
}
