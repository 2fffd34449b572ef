package demoui_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// appointment seeds an appointment of patient with dr-1 in the i-th seeded slot.
func (u *uiServer) appointment(t *testing.T, id, patient string, i int, status string) {
	t.Helper()
	ref := func(r string) map[string]any { return map[string]any{"reference": r} }
	doctorStatus := "accepted"
	if status == "pending" {
		doctorStatus = "needs-action"
	}
	u.seed(t, "PUT", "Appointment/"+id, map[string]any{"resourceType": "Appointment", "id": id, "status": status,
		"start": u.slot(i).Format(time.RFC3339), "end": u.slot(i).Add(30 * time.Minute).Format(time.RFC3339),
		"slot": []any{ref(fmt.Sprintf("Slot/slot-%d", i))},
		"participant": []any{
			map[string]any{"actor": ref(patient), "status": "accepted"},
			map[string]any{"actor": ref("Practitioner/dr-1"), "status": doctorStatus}}})
}

// showDay has the doctor's list show the seeded day.
func (u *uiServer) showDay(p *person) {
	p.t.Helper()
	p.setValue("doctor-date", u.day.Format("2006-01-02"))
	p.do("show the day", waitIdle("#doctor-list"), chromedp.WaitVisible(chromedp.CSS("#doctor-list [data-appointment]")))
}

// TestVisitRecords: during a visit the doctor records a diagnosis and a prescription;
// the patient finds both under that visit.
func TestVisitRecords(t *testing.T) {
	u := newUIServer(t)
	u.appointment(t, "visit-1", "Patient/pat-1", 0, "booked")
	b := newBrowser(t)

	doctor := b.person(t, "dr.berg")
	doctor.signIn(u.root, "sign-in-staff", "dr.berg")
	u.showDay(doctor)
	doctor.do("mark arrived", chromedp.Click(chromedp.CSS(`#doctor-list button[aria-label^="Arrived"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-status="arrived"]`)))
	doctor.do("add a diagnosis", chromedp.Click(chromedp.CSS(`#doctor-list [data-add-diagnosis]`)),
		chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-diagnosis-form] input[name="text"]`)),
		chromedp.SendKeys(chromedp.CSS(`#doctor-list [data-diagnosis-form] input[name="text"]`), "Essential hypertension"),
		chromedp.SendKeys(chromedp.CSS(`#doctor-list [data-diagnosis-form] input[name="code"]`), "i10"),
		chromedp.Click(chromedp.CSS(`#doctor-list [data-diagnosis-form] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#alerts .alert-success")), chromedp.WaitNotPresent(chromedp.CSS(`#doctor-list [data-diagnosis-form]`)))
	doctor.do("add a prescription", chromedp.Click(chromedp.CSS(`#doctor-list [data-add-prescription]`)),
		chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-prescription-form] input[name="medication"]`)),
		chromedp.SendKeys(chromedp.CSS(`#doctor-list [data-prescription-form] input[name="medication"]`), "Ramipril 5 mg tablet"),
		chromedp.SendKeys(chromedp.CSS(`#doctor-list [data-prescription-form] input[name="dosage"]`), "one tablet every morning"),
		chromedp.Click(chromedp.CSS(`#doctor-list [data-prescription-form] button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#doctor-list [data-prescription-form]`)))
	if text := doctor.eval(`document.getElementById("alerts").innerText`); !strings.Contains(text, "The prescription is saved") {
		t.Errorf("after the prescription the doctor reads %q", text)
	}
	doctor.screenshot("1-recorded")

	// Both are the visit's: the Encounter careslot opened on arrival, of Alice.
	encounters := u.asServer(t, "GET", "Encounter?appointment=Appointment/visit-1", nil)
	entries, _ := encounters["entry"].([]any)
	if len(entries) != 1 {
		t.Fatalf("encounters of the visit: %v", encounters)
	}
	enc := "Encounter/" + entries[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
	for _, q := range []string{"Condition?encounter=" + enc + "&code=http://hl7.org/fhir/sid/icd-10|I10&subject=Patient/pat-1&recorder=Practitioner/dr-1",
		"MedicationRequest?encounter=" + enc + "&subject=Patient/pat-1&requester=Practitioner/dr-1&intent=order"} {
		if got := u.asServer(t, "GET", q, nil); got["total"] != float64(1) {
			t.Errorf("%s: %v", q, got)
		}
	}

	alice := b.person(t, "alice")
	alice.signIn(u.root, "sign-in-patient", "alice")
	alice.do("see the records", chromedp.WaitVisible(chromedp.CSS(`#records [data-visit="Appointment/visit-1"] [data-prescription]`)))
	text := alice.eval(`document.querySelector('#records [data-visit="Appointment/visit-1"]').innerText`)
	for _, want := range []string{"Visit on", "Dr Anna Berg", "Diagnoses", "Essential hypertension (I10)", "Prescriptions", "Ramipril 5 mg tablet: one tablet every morning"} {
		if !strings.Contains(text, want) {
			t.Errorf("the patient's visit reads %q, want %q in it", text, want)
		}
	}
	alice.screenshot("1-records")
}
