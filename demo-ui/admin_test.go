package demoui_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestAdminDoctorsAndAudit: the admin registers a doctor with specialties and hours, who
// is then in the directory with a schedule that slots can be made from; and reads the
// audit log of one patient, filtered by action.
func TestAdminDoctorsAndAudit(t *testing.T) {
	u := newUIServer(t)
	b := newBrowser(t)

	// Alice's sign-in reads her data: audited.
	alice := b.person(t, "alice")
	alice.signIn(u.root, "sign-in-patient", "alice")

	admin := b.person(t, "admin")
	admin.signIn(u.root, "sign-in-staff", "admin")
	admin.do("register a doctor", chromedp.SendKeys(chromedp.CSS("#dreg-given"), "Hana"), chromedp.SendKeys(chromedp.CSS("#dreg-family"), "Sato"),
		chromedp.Focus(chromedp.CSS(`#dreg-specialties input[data-display="Dermatology"]`)), chromedp.KeyEvent(" "),
		chromedp.Focus(chromedp.CSS(`#dreg-specialties input[data-display="Pediatrics"]`)), chromedp.KeyEvent(" "),
		chromedp.Focus(chromedp.CSS(`#dreg-day-sat`)), chromedp.KeyEvent(" "), chromedp.Focus(chromedp.CSS(`#dreg-day-sun`)), chromedp.KeyEvent(" "), // every day
		chromedp.Focus(chromedp.CSS(`#doctor-reg-form button[type="submit"]`)), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#doctor-reg-result [data-registered-doctor]")))
	admin.screenshot("1-doctor")
	doctor := admin.eval(`document.querySelector("#doctor-reg-result [data-registered-doctor]").dataset.registeredDoctor`)
	if got := admin.eval(fmt.Sprintf(`document.querySelector('#filter-doctor option[value="%s"]') ? "listed" : "missing"`, doctor)); got != "listed" {
		t.Errorf("the new doctor is %s in the admin's doctor filter", got)
	}
	role := u.asServer(t, "GET", "PractitionerRole?practitioner="+doctor+"&specialty=http://snomed.info/sct|394582007", nil)
	if role["total"] != float64(1) || !strings.Contains(fmt.Sprint(role["entry"]), "Pediatrics") || !strings.Contains(fmt.Sprint(role["entry"]), "09:00:00") {
		t.Fatalf("the new doctor's role: %v", role)
	}
	schedule := u.asServer(t, "GET", "Schedule?actor="+doctor, nil)
	entries, _ := schedule["entry"].([]any)
	if len(entries) != 1 {
		t.Fatalf("the new doctor's schedules: %v", schedule)
	}
	sched := entries[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
	day := u.day.Format("2006-01-02")
	made := u.asServer(t, "POST", "Schedule/"+sched+"/$generate-slots?start="+day+"&end="+u.day.AddDate(0, 0, 1).Format("2006-01-02")+"&slot-length=60", nil)
	if made["total"] != float64(8) {
		t.Errorf("slots made from the new doctor's hours: %v, want 8 (09:00–17:00)", made["total"])
	}
	found := u.asServer(t, "GET", "Appointment/$find?specialty=394537008&start="+day+"&end="+u.day.AddDate(0, 0, 1).Format("2006-01-02"), nil)
	if found["total"] != float64(8) || !strings.Contains(fmt.Sprint(found["entry"]), doctor) {
		t.Errorf("$find of pediatrics finds %v", found["total"])
	}

	// The audit log: Alice's reads, not a creation of hers.
	admin.do("open the audit log", chromedp.SendKeys(chromedp.CSS("#audit-patient"), "Schmidt"))
	admin.setValue("audit-action", "R")
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Reads are stored by the audit writer within a moment: ask again until they are.
		// The button is pressed from the keyboard: a click goes to where the button was
		// when the lists above it, refreshed in the background, moved it (seen 1 in 5).
		admin.eval(`delete document.getElementById("audit-list").dataset.shown; ""`)
		admin.do("filter the audit log", chromedp.Focus(chromedp.CSS(`#audit-filter button[type="submit"]`)), chromedp.KeyEvent(kb.Enter),
			chromedp.WaitReady(chromedp.CSS(`#audit-list[data-shown*="action=R"]`)))
		if admin.eval(`String(document.querySelectorAll("#audit-list tr[data-audit]").length)`) != "0" || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	admin.screenshot("2-audit")
	rows := admin.eval(`[...document.querySelectorAll("#audit-list tr[data-audit]")].map(r => r.dataset.action + " " + r.innerText.replace(/\s+/g, " ")).join("\n")`)
	if !strings.Contains(rows, "R ") || !strings.Contains(rows, "Patient/pat-1") || !strings.Contains(rows, "Alice Schmidt") {
		t.Errorf("the audit log of Schmidt's reads:\n%s", rows)
	}
	for _, row := range strings.Split(rows, "\n") {
		if !strings.HasPrefix(row, "R ") || !strings.Contains(row, "Alice Schmidt") {
			t.Errorf("a row beside the filter (action R, patient Schmidt): %s", row)
		}
	}
	admin.setValue("audit-action", "D")
	admin.do("filter deletes", chromedp.Focus(chromedp.CSS(`#audit-filter button[type="submit"]`)), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitReady(chromedp.CSS(`#audit-list[data-shown*="action=D"] [data-count="0"]`)))
	admin.setValue("audit-action", "")
	admin.do("the whole log", chromedp.Focus(chromedp.CSS(`#audit-filter button[type="submit"]`)), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitReady(chromedp.CSS(`#audit-list[data-shown*="patient="]:not([data-shown*="action="]) tr[data-audit]`)))
	admin.fitsPhone()
}
