package demoui_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// TestDoctorDay: the doctor declines a request, marks a no-show, sees a visit through to
// fulfilled with a note and a file that the patient then opens, and reads the week.
func TestDoctorDay(t *testing.T) {
	u := newUIServer(t)
	u.appointment(t, "request", "Patient/pat-1", 0, "pending")
	u.appointment(t, "missed", "Patient/pat-2", 1, "booked")
	u.appointment(t, "visit", "Patient/pat-3", 2, "booked")
	// Another day of the same week, without a slot: the week view lists both days.
	other := u.day.AddDate(0, 0, 1)
	if other.Weekday() == time.Monday { // u.day was a Sunday: take the Monday before instead
		other = u.day.AddDate(0, 0, -6)
	}
	ref := func(r string) map[string]any { return map[string]any{"reference": r} }
	u.seed(t, "PUT", "Appointment/other-day", map[string]any{"resourceType": "Appointment", "id": "other-day", "status": "booked",
		"start": other.Add(14 * time.Hour).Format(time.RFC3339), "end": other.Add(14*time.Hour + 30*time.Minute).Format(time.RFC3339),
		"participant": []any{map[string]any{"actor": ref("Patient/pat-2"), "status": "accepted"},
			map[string]any{"actor": ref("Practitioner/dr-1"), "status": "accepted"}}})
	b := newBrowser(t)

	doctor := b.person(t, "dr.berg")
	doctor.signIn(u.root, "sign-in-staff", "dr.berg")
	u.showDay(doctor)
	item := func(id string) string { return fmt.Sprintf(`#doctor-list [data-appointment="%s"]`, id) }
	doctor.do("decline", chromedp.Click(chromedp.CSS(item("request")+` button[aria-label^="Decline"]`)),
		chromedp.WaitVisible(chromedp.CSS(item("request")+` [data-status="cancelled"]`)))
	doctor.do("no-show", chromedp.Click(chromedp.CSS(item("missed")+` button[aria-label^="No-show"]`)),
		chromedp.WaitVisible(chromedp.CSS(item("missed")+` [data-status="noshow"]`)))
	doctor.do("arrived", chromedp.Click(chromedp.CSS(item("visit")+` button[aria-label^="Arrived"]`)),
		chromedp.WaitVisible(chromedp.CSS(item("visit")+` [data-status="arrived"]`)))
	doctor.do("fulfilled", chromedp.Click(chromedp.CSS(item("visit")+` button[aria-label^="Fulfilled"]`)),
		chromedp.WaitVisible(chromedp.CSS(item("visit")+` [data-status="fulfilled"]`)))
	for id, want := range map[string]string{"request": "cancelled", "missed": "noshow", "visit": "fulfilled"} {
		if got := u.asServer(t, "GET", "Appointment/"+id, nil); got["status"] != want {
			t.Errorf("Appointment/%s is %v, want %s", id, got["status"], want)
		}
	}
	if slot := u.asServer(t, "GET", "Slot/slot-0", nil); slot["status"] != "free" {
		t.Errorf("the declined request's slot is %v, want free", slot["status"])
	}
	doctor.screenshot("1-day")
	// (The file is stored as a Binary the note names; checked after the upload below.)

	// A note with a file: the patient opens the file and reads the very bytes sent.
	const content = "%PDF-1.4\nreferral to cardiology\n"
	file := filepath.Join(t.TempDir(), "referral.pdf")
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	doctor.do("add a note with a file", chromedp.Click(chromedp.CSS(item("visit")+` [data-add-note]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-note-form="visit"] textarea`)),
		chromedp.SendKeys(chromedp.CSS(`[data-note-form="visit"] textarea`), "Referred to cardiology."),
		chromedp.SetUploadFiles(chromedp.CSS(`[data-note-form="visit"] input[type="file"]`), []string{file}),
		chromedp.Click(chromedp.CSS(`[data-note-form="visit"] button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-note-form="visit"]`)), chromedp.WaitVisible(chromedp.CSS("#alerts .alert-success")))

	// The file is a Binary whose securityContext is the note, named by its attachment.
	notes := u.asServer(t, "GET", "DocumentReference?related=Appointment/visit", nil)
	noteEntries, _ := notes["entry"].([]any)
	if len(noteEntries) != 1 {
		t.Fatalf("the visit's notes: %v", notes)
	}
	note := noteEntries[0].(map[string]any)["resource"].(map[string]any)
	contents, _ := note["content"].([]any)
	if len(contents) != 2 {
		t.Fatalf("the note's content: %v", note["content"])
	}
	att := contents[1].(map[string]any)["attachment"].(map[string]any)
	url, _ := att["url"].(string)
	if !strings.HasPrefix(url, "Binary/") || att["size"] != float64(len(content)) || att["data"] != nil {
		t.Fatalf("the file's attachment: %v", att)
	}
	if bin := u.asServer(t, "GET", url+"?_format=json", nil); fmt.Sprint(bin["securityContext"]) != fmt.Sprint(map[string]any{"reference": "DocumentReference/" + note["id"].(string)}) {
		t.Errorf("the file's Binary: %v", bin)
	}

	// The week: both days, in order.
	doctor.do("show the week", chromedp.Click(chromedp.CSS(`label[for="span-week"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-appointment="other-day"]`)))
	days := doctor.eval(`[...document.querySelectorAll("#doctor-list section h2")].map(h => h.textContent).join(" | ")`)
	if n := strings.Count(days, "|") + 1; n != 2 {
		t.Errorf("the week lists %d days (%s), want 2", n, days)
	}
	doctor.screenshot("2-week")

	carla := b.person(t, "carla")
	carla.signIn(u.root, "sign-in-patient", "carla")
	carla.do("get the file", chromedp.WaitVisible(chromedp.CSS(`#records [data-visit="Appointment/visit"] button[data-fetch="referral.pdf"]`)),
		chromedp.Click(chromedp.CSS(`#records button[data-fetch="referral.pdf"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#records a[data-open="referral.pdf"]`)))
	// She downloads it (the page's CSP keeps even the test from reading the blob in place).
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(carla.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, BrowserContextID: chromedp.FromContext(carla.ctx).BrowserContextID, DownloadPath: downloads}); err != nil {
		t.Fatal(err)
	}
	carla.do("download the file", chromedp.Click(chromedp.CSS(`#records a[aria-label="Download referral.pdf"]`)))
	var got []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, _ = os.ReadFile(filepath.Join(downloads, "referral.pdf")); len(got) == len(content) {
			break
		}
	}
	if string(got) != content {
		t.Errorf("the patient's download of the file reads %q, want %q", got, content)
	}
	if past := carla.eval(`document.getElementById("past").innerText`); !strings.Contains(past, "fulfilled") {
		t.Errorf("Carla's past appointments read %q", past)
	}
	carla.screenshot("1-file")
}
