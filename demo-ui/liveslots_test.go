package demoui_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/subscriptions"
	"github.com/careslot/careslot/subscriptions/brokertest"
	"github.com/chromedp/chromedp"
)

// TestLiveSlots: a patient's week of a doctor's free times follows that doctor's Slots
// over the websocket channel (a second Subscription, Slot?schedule=…), so a slot the
// doctor opens appears, and one taken disappears, within seconds with polling set to an
// hour; signing out deletes that Subscription too.
func TestLiveSlots(t *testing.T) {
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	u := newUIServer(t, apptest.WithSubscriptions(subscriptions.Config{AMQPURL: amqpURL, ReconnectDelay: 100 * time.Millisecond}))
	b := newBrowser(t)
	button := func(start time.Time) string {
		return fmt.Sprintf(`#slots button[data-start="%s"]`, start.UTC().Format("2006-01-02T15:04:05.000Z"))
	}

	alice := b.person(t, "alice")
	alice.signIn(u.root, "sign-in-patient", "alice")
	alice.do("open the page", chromedp.Navigate(u.root+"/?poll=3600"), chromedp.WaitReady(chromedp.CSS("body[data-ready]")))
	alice.pickSlot("Practitioner/dr-1", u.slot(2))
	alice.do("follow dr-1's slots", chromedp.Click(chromedp.CSS("#confirm-cancel")),
		chromedp.WaitReady(chromedp.CSS(`body[data-live-slots="bound"]`)))
	subID := alice.eval(`sessionStorage.getItem("careslot.live-slots")`)
	if got := u.asServer(t, "GET", "Subscription/"+subID, nil)["criteria"]; got != "Slot?schedule=Schedule/sch-1" {
		t.Errorf("alice's Slot Subscription: %v", got)
	}

	// Another doctor's week points the same Subscription at her schedule (PUT), and back.
	criteria := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := u.asServer(t, "GET", "Subscription/"+subID, nil)["criteria"]
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("alice's Slot Subscription: %v, want %s", got, want)
			}
		}
	}
	alice.do("choose dr-2", chromedp.Click(chromedp.CSS(`#doctors [data-doctor="Practitioner/dr-2"]`)))
	criteria("Slot?schedule=Schedule/sch-2")
	alice.do("choose dr-1 again", chromedp.Click(chromedp.CSS(`#doctors [data-doctor="Practitioner/dr-1"]`)), waitIdle("#slots"))
	criteria("Slot?schedule=Schedule/sch-1")
	if got := alice.eval(`sessionStorage.getItem("careslot.live-slots")`); got != subID {
		t.Errorf("a second Slot Subscription %s, want %s changed in place", got, subID)
	}

	// The doctor opens a slot: it appears without a click.
	opened := u.slot(6)
	u.seed(t, "PUT", "Slot/slot-6", map[string]any{"resourceType": "Slot", "id": "slot-6",
		"schedule": map[string]any{"reference": "Schedule/sch-1"}, "status": "free",
		"start": opened.Format(time.RFC3339), "end": opened.Add(30 * time.Minute).Format(time.RFC3339)})
	at := time.Now()
	alice.do("see the new slot", chromedp.WaitVisible(chromedp.CSS(button(opened))))
	if d := time.Since(at); d > 5*time.Second {
		t.Errorf("the opened slot reached the week after %v, want within 5 s", d)
	}

	// The doctor blocks a slot on show: it disappears without a click.
	blocked := u.slot(2)
	u.seed(t, "PUT", "Slot/slot-2", map[string]any{"resourceType": "Slot", "id": "slot-2",
		"schedule": map[string]any{"reference": "Schedule/sch-1"}, "status": "busy-unavailable",
		"start": blocked.Format(time.RFC3339), "end": blocked.Add(30 * time.Minute).Format(time.RFC3339)})
	at = time.Now()
	alice.do("see the slot gone", chromedp.WaitNotPresent(chromedp.CSS(button(blocked))))
	if d := time.Since(at); d > 5*time.Second {
		t.Errorf("the blocked slot left the week after %v, want within 5 s", d)
	}

	alice.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS(`button[value="logout"]`)))
	req := httptest.NewRequest("GET", "/fhir/Subscription/"+subID, nil)
	req = req.WithContext(caller.With(req.Context(), caller.Caller{Subject: "test-seed", Role: caller.RoleSystem, Scopes: []string{"system/*.*"}}))
	rec := httptest.NewRecorder()
	u.FHIR.Handler().ServeHTTP(rec, req)
	if got := rec.Code; got != 410 && got != 404 {
		t.Errorf("alice's Slot Subscription after signing out: %d, want gone", got)
	}
}
