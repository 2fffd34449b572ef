package demoui_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/subscriptions"
	"github.com/careslot/careslot/subscriptions/brokertest"
	"github.com/chromedp/chromedp"
)

// TestLiveUpdates: the patient's and the doctor's pages follow their appointments over
// the subscriptions websocket channel (bound with a binding token, as a browser cannot
// send the Authorization header), so the doctor's approval shows on the patient's page
// within seconds with polling set to an hour; signing out deletes the Subscription.
func TestLiveUpdates(t *testing.T) {
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	u := newUIServer(t, apptest.WithSubscriptions(subscriptions.Config{AMQPURL: amqpURL, ReconnectDelay: 100 * time.Millisecond}))
	b := newBrowser(t)
	live := chromedp.WaitReady(chromedp.CSS(`body[data-live="bound"]`))
	const slow = "/?poll=3600" // no poll during the test: only the websocket can refresh

	alice := b.person(t, "alice")
	alice.signIn(u.root, "sign-in-patient", "alice")
	alice.do("follow live", chromedp.Navigate(u.root+slow), chromedp.WaitReady(chromedp.CSS("body[data-ready]")), live)
	subID := alice.eval(`sessionStorage.getItem("careslot.live")`)
	sub := u.asServer(t, "GET", "Subscription/"+subID, nil)
	if sub["criteria"] != "Appointment?patient=Patient/pat-1" || sub["channel"].(map[string]any)["type"] != "websocket" {
		t.Errorf("alice's live Subscription: %v %v", sub["criteria"], sub["channel"])
	}
	alice.pickSlot("Practitioner/dr-1", u.slot(1))
	alice.do("book", chromedp.Click(chromedp.CSS("#confirm-book")),
		chromedp.WaitVisible(chromedp.CSS(`#upcoming [data-status="pending"]`)))

	doctor := b.person(t, "dr.berg")
	doctor.signIn(u.root, "sign-in-staff", "dr.berg")
	doctor.do("follow live", chromedp.Navigate(u.root+slow), chromedp.WaitReady(chromedp.CSS("body[data-ready]")), live)
	doctor.eval(`(() => { const d = document.getElementById("doctor-date"); d.value = "` + u.day.Format("2006-01-02") + `"; d.dispatchEvent(new Event("change")); return ""; })()`)
	doctor.do("show tomorrow", chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-status="pending"]`)))
	drSub := doctor.eval(`sessionStorage.getItem("careslot.live")`)
	if got := u.asServer(t, "GET", "Subscription/"+drSub, nil)["criteria"]; got != "Appointment?actor=Practitioner/dr-1" {
		t.Errorf("the doctor's live Subscription: %v", got)
	}

	doctor.do("approve", chromedp.Click(chromedp.CSS(`#doctor-list button.btn-success`)),
		chromedp.WaitVisible(chromedp.CSS(`#doctor-list [data-status="booked"]`)))
	approved := time.Now()
	// No Refresh click: the ping refreshes the list.
	alice.do("see it booked", chromedp.WaitVisible(chromedp.CSS(`#upcoming [data-status="booked"]`)))
	if d := time.Since(approved); d > 5*time.Second {
		t.Errorf("the approval reached the patient's page after %v, want within 5 s", d)
	}
	alice.screenshot("live-booked")

	alice.do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS(`button[value="logout"]`)))
	req := httptest.NewRequest("GET", "/fhir/Subscription/"+subID, nil)
	req = req.WithContext(caller.With(req.Context(), caller.Caller{Subject: "test-seed", Role: caller.RoleSystem, Scopes: []string{"system/*.*"}}))
	rec := httptest.NewRecorder()
	u.FHIR.Handler().ServeHTTP(rec, req)
	if got := rec.Code; got != 410 && got != 404 {
		t.Errorf("alice's live Subscription after signing out: %d, want gone", got)
	}
}
