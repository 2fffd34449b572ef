package subscriptions_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/careslot/careslot/subscriptions"
	"github.com/careslot/careslot/subscriptions/brokertest"
)

// inProcessConfig points careslot at a broker that does not answer, with the fallback on.
func inProcessConfig(t *testing.T) subscriptions.Config {
	cfg := testConfig("amqp://guest:guest@" + closedPort(t) + "/")
	cfg.InProcessFallback = true
	return cfg
}

func healthOf(t *testing.T, s *apptest.Server) (status, broker, relay string) {
	t.Helper()
	resp, err := http.Get(s.HTTP.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Status, Broker string
		Relay          struct{ Status string }
	}
	json.NewDecoder(resp.Body).Decode(&h)
	return h.Status, h.Broker, h.Relay.Status
}

func TestWithoutABrokerAtStartNotificationsFanOutInProcess(t *testing.T) {
	s := apptest.New(t, apptest.WithoutCoverageCheck(), apptest.WithSubscriptions(inProcessConfig(t)))
	h := newHook(t)
	id := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=local", h.URL, nil)).JSON(t)["id"].(string)
	if hs := h.waitEvents(t, "handshake", 1); hs[0].Header.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("the handshake lacks the subscription's header: %v", hs[0].Header)
	}
	waitStatus(t, s, id, "active")

	for _, p := range []string{"local-1", "local-2", "local-3"} {
		s.Must(t, 201, "PUT", "Patient/"+p, familyPatient(p, "Local"))
	}
	s.Must(t, 201, "PUT", "Patient/other", familyPatient("other", "Other"))
	up := familyPatient("local-2", "Local")
	up["gender"] = "female"
	s.Must(t, 200, "PUT", "Patient/local-2", up)
	s.Must(t, 204, "DELETE", "Patient/local-1", nil)

	got := h.waitEvents(t, "event-notification", 5)
	time.Sleep(300 * time.Millisecond)
	want := []string{"create Patient/local-1/_history/1", "create Patient/local-2/_history/1", "create Patient/local-3/_history/1",
		"update Patient/local-2/_history/2", "delete Patient/local-1/_history/2"}
	if n := notified(h); !slices.Equal(n, want) {
		t.Errorf("in-process notifications:\n%s\nwant:\n%s", strings.Join(n, "\n"), strings.Join(want, "\n"))
	}
	for i, r := range got {
		if want := id + "/" + string(rune('1'+i)); r.Header.Get("X-Careslot-Event-Id") != want {
			t.Errorf("notification %d has event id %s, want %s", i, r.Header.Get("X-Careslot-Event-Id"), want)
		}
	}
	if status, broker, relay := healthOf(t, s); status != "ok" || broker != "in-process" || relay != "ok" {
		t.Errorf("/healthz in-process: %s, broker %s, relay %s", status, broker, relay)
	}
}

func TestInProcessRetriesThenErrors(t *testing.T) {
	s := apptest.New(t, apptest.WithoutCoverageCheck(), apptest.WithSubscriptions(inProcessConfig(t)))
	h := newHook(t)
	id := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=flaky", h.URL, nil)).JSON(t)["id"].(string)
	waitStatus(t, s, id, "active")

	// Down for two attempts, then back: the notification arrives, once.
	h.setStatus(http.StatusServiceUnavailable)
	s.Must(t, 201, "PUT", "Patient/flaky-1", familyPatient("flaky-1", "Flaky"))
	deadline := time.Now().Add(20 * time.Second)
	for len(h.events("event-notification")) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h.setStatus(http.StatusOK)
	waitStatus(t, s, id, "active")
	deadline = time.Now().Add(20 * time.Second)
	for accepted(h) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(400 * time.Millisecond)
	if n := accepted(h); n != 1 {
		t.Errorf("the notification was accepted %d times; want once, after the refusals", n)
	}
	before := len(h.events("event-notification"))

	// Down for good: 1 + 3 retries, then error, and nothing more is sent.
	h.setStatus(http.StatusInternalServerError)
	s.Must(t, 201, "PUT", "Patient/flaky-2", familyPatient("flaky-2", "Flaky"))
	sub := waitStatus(t, s, id, "error")
	if !strings.Contains(sub["error"].(string), "failed 4 times") {
		t.Errorf("the subscription's error: %v", sub["error"])
	}
	if n := len(h.events("event-notification")) - before; n != 4 {
		t.Errorf("%d attempts of the failing notification, want 4", n)
	}
	s.Must(t, 201, "PUT", "Patient/flaky-3", familyPatient("flaky-3", "Flaky"))
	time.Sleep(500 * time.Millisecond)
	if n := len(h.events("event-notification")) - before; n != 4 {
		t.Errorf("a subscription in error was sent more: %d attempts", n)
	}
}

// accepted counts the event notifications the hook answered with a 2xx.
func accepted(h *hook) int {
	n := 0
	for _, r := range h.events("event-notification") {
		if r.Answered < 300 {
			n++
		}
	}
	return n
}

func TestInProcessDeliveryLosesNothingAcrossARestart(t *testing.T) {
	restartMidStream(t, inProcessConfig(t), "in-process")
}

// After a restart with RabbitMQ up, it takes over what in-process delivery left.
func TestWhatInProcessDeliveryLeftGoesThroughRabbitMQAfterARestart(t *testing.T) {
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	restartMidStream(t, testConfig(amqpURL), "connected")
}

// restartMidStream delivers in-process to a slow subscriber, stops delivery mid-stream,
// and starts a second server on the database with then: every event arrives.
func restartMidStream(t *testing.T, then subscriptions.Config, broker string) {
	db := storagetest.NewDatabase(t)
	h := newHook(t)
	first := apptest.NewOnDatabase(t, db, apptest.WithoutCoverageCheck(), apptest.WithSubscriptions(inProcessConfig(t)))
	id := first.Must(t, 201, "POST", "Subscription", restHook("Patient?family=restart", h.URL, nil)).JSON(t)["id"].(string)
	waitStatus(t, first, id, "active")
	h.setDelay(150 * time.Millisecond)
	for i := 0; i < 10; i++ {
		first.Must(t, 201, "POST", "Patient", patient("Restart"))
	}
	h.waitEvents(t, "event-notification", 1)
	first.App.Subscriptions.Stop()
	if n := len(h.events("event-notification")); n >= 10 {
		t.Fatalf("the first server sent all %d notifications before it stopped: nothing was left to take over", n)
	}
	h.setDelay(0)

	second := apptest.NewOnDatabase(t, db, apptest.WithoutCoverageCheck(), apptest.WithSubscriptions(then))
	for i := 0; i < 5; i++ {
		second.Must(t, 201, "POST", "Patient", patient("Restart"))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen := map[string]bool{}
		for _, r := range h.events("event-notification") {
			if r.Header.Get("X-Careslot-Subscription") == id {
				seen[r.Header.Get("X-Careslot-Event-Id")] = true
			}
		}
		if len(seen) == 15 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 15 events arrived after the restart", len(seen))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, got, _ := healthOf(t, second); got != broker {
		t.Errorf("after the restart the broker is %s, want %s", got, broker)
	}
}
