package resources_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

// day is a Monday far enough ahead that every fixture coverage is in force and no
// appointment is in the past.
var day = time.Date(2030, 1, 7, 0, 0, 0, 0, time.UTC)

// at is a time on day.
func at(hour, minute int) time.Time {
	return day.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

// clinic is a small practice on a fresh server: an insurer, two doctors with a schedule
// each, and patients insured by the insurer.
type clinic struct {
	srv       *apptest.Server
	insurer   string
	doctors   []string // Practitioner ids
	schedules []string // Schedule ids, one per doctor
	patients  []string // insured Patient ids
}

func newClinic(t *testing.T, srv *apptest.Server, patients int) *clinic {
	t.Helper()
	c := &clinic{srv: srv}
	c.insurer = c.create(t, map[string]any{"resourceType": "Organization", "name": "Acme Health Insurance"})
	for i := 0; i < 2; i++ {
		doc := c.create(t, map[string]any{"resourceType": "Practitioner", "name": []any{map[string]any{"family": fmt.Sprintf("Doctor%d", i)}}})
		c.doctors = append(c.doctors, doc)
		c.schedules = append(c.schedules, c.create(t, map[string]any{"resourceType": "Schedule", "actor": []any{ref("Practitioner", doc)}}))
	}
	for i := 0; i < patients; i++ {
		c.patients = append(c.patients, c.insuredPatient(t))
	}
	return c
}

// insuredPatient creates a patient with an active coverage paid by the insurer.
func (c *clinic) insuredPatient(t *testing.T) string {
	t.Helper()
	p := c.create(t, map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": "Patient"}}})
	c.create(t, coverage(p, c.insurer, "2020-01-01", "2040-12-31"))
	return p
}

func coverage(patient, payor, start, end string) map[string]any {
	return map[string]any{"resourceType": "Coverage", "status": "active",
		"beneficiary": ref("Patient", patient), "payor": []any{ref("Organization", payor)},
		"period": map[string]any{"start": start, "end": end}}
}

// create POSTs a resource and returns its id.
func (c *clinic) create(t *testing.T, doc map[string]any) string {
	t.Helper()
	r := c.srv.Must(t, 201, "POST", doc["resourceType"].(string), doc)
	return r.JSON(t)["id"].(string)
}

// slot creates a free slot of the doctor's schedule.
func (c *clinic) slot(t *testing.T, doctor int, start time.Time, minutes int) string {
	t.Helper()
	return c.create(t, map[string]any{"resourceType": "Slot", "schedule": ref("Schedule", c.schedules[doctor]), "status": "free",
		"start": instant(start), "end": instant(start.Add(time.Duration(minutes) * time.Minute))})
}

// appointment is an Appointment body of patient with doctor; slots may be empty.
func (c *clinic) appointment(status string, patient string, doctor int, start, end time.Time, slots ...string) map[string]any {
	doc := map[string]any{"resourceType": "Appointment", "status": status,
		"participant": []any{
			map[string]any{"actor": ref("Patient", patient), "status": "accepted"},
			map[string]any{"actor": ref("Practitioner", c.doctors[doctor]), "status": "accepted"},
		}}
	if !start.IsZero() {
		doc["start"], doc["end"] = instant(start), instant(end)
	}
	var refs []any
	for _, s := range slots {
		refs = append(refs, ref("Slot", s))
	}
	if refs != nil {
		doc["slot"] = refs
	}
	return doc
}

// status reads the status of typ/id.
func (c *clinic) status(t *testing.T, typ, id string) string {
	t.Helper()
	s, _ := c.srv.Must(t, 200, "GET", typ+"/"+id, nil).JSON(t)["status"].(string)
	return s
}

// read returns typ/id as JSON.
func (c *clinic) read(t *testing.T, typ, id string) map[string]any {
	t.Helper()
	return c.srv.Must(t, 200, "GET", typ+"/"+id, nil).JSON(t)
}

// update PUTs doc (which has an id) and returns the response.
func (c *clinic) update(t *testing.T, doc map[string]any) *apptest.Response {
	t.Helper()
	return c.srv.Do(t, "PUT", doc["resourceType"].(string)+"/"+doc["id"].(string), doc)
}

func ref(typ, id string) map[string]any { return map[string]any{"reference": typ + "/" + id} }

func instant(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// diagnostics returns the first issue of an OperationOutcome body.
func diagnostics(t *testing.T, r *apptest.Response) (code, text string) {
	t.Helper()
	issues, _ := r.JSON(t)["issue"].([]any)
	if len(issues) == 0 {
		t.Fatalf("not an OperationOutcome: %s", r.Body)
	}
	is := issues[0].(map[string]any)
	code, _ = is["code"].(string)
	text, _ = is["diagnostics"].(string)
	return code, text
}
