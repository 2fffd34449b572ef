package demoui_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDoctorAvailability: a doctor opens a day's slots from her hours, a patient sees
// them; the doctor blocks the afternoon, and the patient can no longer book it.
func TestDoctorAvailability(t *testing.T) {
	u := newUIServer(t)
	b := newBrowser(t)
	day := u.day.Format("2006-01-02")

	doctor := b.person(t, "dr.martin")
	doctor.signIn(u.root, "sign-in-staff", "dr.martin")
	if hours := doctor.eval(`document.getElementById("hours").textContent`); !strings.Contains(hours, "Every day: 09:00–17:00") {
		t.Errorf("the doctor's hours read %q", hours)
	}
	doctor.setValue("doctor-date", day)
	doctor.setValue("gen-from", day)
	doctor.setValue("gen-to", day)
	doctor.setValue("gen-length", "60")
	doctor.do("open slots", chromedp.Click(chromedp.CSS(`#generate-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#availability-result .alert-success")),
		chromedp.WaitVisible(chromedp.CSS(`#slot-summary[data-free="8"]`)))
	if text := doctor.eval(`document.getElementById("availability-result").innerText`); !strings.Contains(text, "Opened 8 free slots") {
		t.Errorf("after opening slots the doctor reads %q", text)
	}
	doctor.screenshot("1-opened")

	alice := b.person(t, "alice")
	alice.signIn(u.root, "sign-in-patient", "alice")
	times := func() string {
		alice.do("show dr-2's week", chromedp.Click(chromedp.CSS(`#doctors [data-doctor="Practitioner/dr-2"]`)),
			chromedp.WaitVisible(chromedp.CSS("#week")), waitIdle("#slots"))
		return alice.eval(fmt.Sprintf(`[...document.querySelectorAll('#slots button[data-start^="%s"]')].map(b => b.dataset.start.slice(11, 16)).join(",")`, day))
	}
	if got := times(); got != "09:00,10:00,11:00,12:00,13:00,14:00,15:00,16:00" {
		t.Fatalf("the patient is offered %q on %s, want the eight opened slots", got, day)
	}
	alice.screenshot("1-offered")

	doctor.setValue("block-from", day+"T13:00")
	doctor.setValue("block-to", day+"T18:00")
	doctor.do("block the afternoon", chromedp.SendKeys(chromedp.CSS("#block-reason"), "training"),
		chromedp.Click(chromedp.CSS(`#block-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#availability-result .alert-success")),
		chromedp.WaitVisible(chromedp.CSS(`#slot-summary[data-free="4"]`)))
	doctor.screenshot("2-blocked")
	// The four afternoon slots are busy-unavailable, and 17:00–18:00, which had none, got
	// a blocking slot of its own.
	blocked := u.asServer(t, "GET", "Slot?schedule=Schedule/sch-2&status=busy-unavailable&_sort=start", nil)
	if entries, _ := blocked["entry"].([]any); len(entries) != 5 || !strings.Contains(fmt.Sprint(entries), "Time off: training") {
		t.Errorf("blocked slots: %v", blocked["entry"])
	}

	if got := times(); got != "09:00,10:00,11:00,12:00" {
		t.Errorf("after the block the patient is offered %q on %s, want the morning only", got, day)
	}
	alice.screenshot("2-morning-only")
	doctor.fitsPhone()
}
