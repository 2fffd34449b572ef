package fhir_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// docs/scheduling.md, "An IHE scheduling client, start to end": find, hold, book,
// reschedule (both ways), cancel, and the refusals, as the docs write them.
func TestDocsIHEClientFlow(t *testing.T) {
	sch, practitioner, patient := docsClinic(t, "docs-ihe")
	srv.Must(t, http.StatusOK, "POST", "Schedule/"+sch+"/$generate-slots?start=2030-01-07&end=2030-01-08&slot-length=30", nil)
	find := func() []map[string]any {
		t.Helper()
		r := srv.Must(t, http.StatusOK, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&specialty=http://snomed.info/sct|394579002&practitioner="+practitioner+"&patient-reference="+patient+"&_count=2", nil)
		return docsBundleResources(t, r, "searchset")
	}
	slotOf := func(appt map[string]any) string {
		return strings.TrimPrefix(appt["slot"].([]any)[0].(map[string]any)["reference"].(string), "Slot/")
	}
	resourceParam := func(name string, res map[string]any, more ...map[string]any) map[string]any {
		list := []any{map[string]any{"name": name, "resource": res}}
		for _, m := range more {
			list = append(list, m)
		}
		return map[string]any{"resourceType": "Parameters", "parameter": list}
	}

	// 1. Find: two offers, a total of six.
	r := srv.Must(t, http.StatusOK, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&specialty=http://snomed.info/sct|394579002&practitioner="+practitioner+"&patient-reference="+patient+"&_count=2", nil)
	offers := docsBundleResources(t, r, "searchset")
	if total := r.JSON(t)["total"]; len(offers) != 2 || total != float64(6) {
		t.Fatalf("$find: %d offers of %v, want 2 of 6", len(offers), total)
	}
	if offers[0]["start"] != "2030-01-07T09:00:00Z" || offers[1]["start"] != "2030-01-07T09:30:00Z" || offers[0]["requestedPeriod"] == nil || offers[0]["specialty"] == nil {
		t.Fatalf("offers %v", offers)
	}
	first, second := slotOf(offers[0]), slotOf(offers[1])

	// 2. Hold the first: pending, Expires header, the slot busy-tentative.
	r = srv.Must(t, http.StatusOK, "POST", "Appointment/$hold", resourceParam("appointment-resource", offers[0]))
	held := docsBundleResources(t, r, "searchset")[0]
	expires, err := http.ParseTime(r.Header.Get("Expires"))
	if held["status"] != "pending" || err != nil || time.Until(expires) > 5*time.Minute || time.Until(expires) < 4*time.Minute {
		t.Fatalf("$hold: %v, Expires %q", held["status"], r.Header.Get("Expires"))
	}
	if got := docsStatus(t, "Slot/"+first); got != "busy-tentative" {
		t.Errorf("held slot: %s", got)
	}
	// Someone else cannot hold it: 409, fatal, not-found.
	r = srv.Do(t, "POST", "Appointment/$hold", resourceParam("appointment-resource", offers[0]))
	if is := opIssue(t, r.Body); r.Status != http.StatusConflict || is["severity"] != "fatal" || is["code"] != "not-found" ||
		!strings.Contains(is["diagnostics"].(string), "Slot/"+first+" is already booked by Appointment/") {
		t.Errorf("holding a held slot: %d %s", r.Status, r.Body)
	}

	// 3. Book the hold by reference.
	a1 := held["id"].(string)
	booked := docsBundleResources(t, srv.Must(t, http.StatusOK, "POST", "Appointment/$book",
		`{"resourceType": "Parameters", "parameter": [{"name": "appointment-reference", "valueReference": {"reference": "Appointment/`+a1+`"}}]}`), "searchset")[0]
	if booked["status"] != "booked" || docsStatus(t, "Slot/"+first) != "busy" {
		t.Fatalf("$book: %v", booked["status"])
	}

	// 4. Reschedule to the 09:30 offer, the Argonaut way.
	offers = find()
	if slotOf(offers[0]) != second {
		t.Fatalf("the first offer now is %s, want the 09:30 slot %s", slotOf(offers[0]), second)
	}
	a2 := docsBundleResources(t, srv.Must(t, http.StatusOK, "POST", "Appointment/$book", resourceParam("appointment-resource", offers[0],
		map[string]any{"name": "cancelled-appt-id", "valueUri": "Appointment/" + a1})), "searchset")[0]
	old := srv.Must(t, http.StatusOK, "GET", "Appointment/"+a1, nil).JSON(t)
	if a2["status"] != "booked" || old["status"] != "cancelled" || old["cancelationReason"].(map[string]any)["text"] != "rescheduled to Appointment/"+a2["id"].(string) {
		t.Fatalf("reschedule: new %v, old %v", a2["status"], old)
	}
	if docsStatus(t, "Slot/"+first) != "free" || docsStatus(t, "Slot/"+second) != "busy" {
		t.Errorf("slots after the reschedule: %s, %s", docsStatus(t, "Slot/"+first), docsStatus(t, "Slot/"+second))
	}
	// Taken meanwhile: a Bundle holding only the fatal OperationOutcome, nothing changed.
	offers = find()
	srv.Must(t, http.StatusCreated, "PUT", "Patient/docs-ihe-other", `{"resourceType":"Patient","id":"docs-ihe-other"}`)
	srv.Must(t, http.StatusCreated, "POST", "Appointment", map[string]any{"resourceType": "Appointment", "status": "booked",
		"start": offers[0]["start"], "end": offers[0]["end"], "slot": offers[0]["slot"], "participant": []any{
			map[string]any{"actor": map[string]any{"reference": "Patient/docs-ihe-other"}, "status": "accepted"},
			map[string]any{"actor": map[string]any{"reference": "PractitionerRole/docs-ihe-role"}, "status": "accepted"}}})
	r = srv.Do(t, "POST", "Appointment/$book", resourceParam("appointment-resource", offers[0],
		map[string]any{"name": "cancelled-appt-id", "valueUri": "Appointment/" + a2["id"].(string)}))
	if b := r.JSON(t); r.Status != http.StatusConflict || b["type"] != "searchset" || len(b["entry"].([]any)) != 1 {
		t.Errorf("rescheduling into a taken slot: %d %s", r.Status, r.Body)
	}
	if docsStatus(t, "Appointment/"+a2["id"].(string)) != "booked" || docsStatus(t, "Slot/"+second) != "busy" {
		t.Errorf("a refused reschedule changed the booking")
	}
	// The IHE way: the stored appointment, changed to the other offer (10:00).
	third := slotOf(offers[1])
	changed := srv.Must(t, http.StatusOK, "GET", "Appointment/"+a2["id"].(string), nil).JSON(t)
	changed["slot"] = offers[1]["slot"]
	changed["start"], changed["end"] = offers[1]["start"], offers[1]["end"]
	moved := docsBundleResources(t, srv.Must(t, http.StatusOK, "POST", "Appointment/$book", resourceParam("appointment-resource", changed)), "searchset")[0]
	if moved["status"] != "booked" || moved["id"] != a2["id"] || docsStatus(t, "Slot/"+third) != "busy" || docsStatus(t, "Slot/"+second) != "free" {
		t.Errorf("IHE change: %v, slots %s, %s", moved["status"], docsStatus(t, "Slot/"+third), docsStatus(t, "Slot/"+second))
	}
	first = third

	// 5. Cancel.
	moved["status"] = "cancelled"
	done := docsBundleResources(t, srv.Must(t, http.StatusOK, "POST", "Appointment/$book", resourceParam("appointment-resource", moved,
		map[string]any{"name": "comment", "valueString": "the patient called to cancel"})), "searchset")[0]
	if done["status"] != "cancelled" || done["comment"] != "the patient called to cancel" || docsStatus(t, "Slot/"+first) != "free" {
		t.Errorf("cancel: %v", done)
	}
}
