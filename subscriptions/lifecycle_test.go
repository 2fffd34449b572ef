package subscriptions_test

import (
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/subscriptions/brokertest"
)

// setSubscriptionStatus has a client set the Subscription's status.
func setSubscriptionStatus(t *testing.T, s *apptest.Server, id, status string) {
	t.Helper()
	sub := s.Must(t, 200, "GET", "Subscription/"+id, nil).JSON(t)
	sub["status"] = status
	delete(sub, "error")
	s.Must(t, 200, "PUT", "Subscription/"+id, sub)
}

// familyPatient is a Patient of family with id.
func familyPatient(id, family string) map[string]any {
	p := patient(family)
	p["id"] = id
	return p
}

func TestOffStopsNotificationsAndRequestedStartsThemAgainWithAHandshake(t *testing.T) {
	s, _ := newServer(t)
	h, control := newHook(t), newHook(t)
	id := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=onoff", h.URL, nil)).JSON(t)["id"].(string)
	ctl := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=onoff", control.URL, nil)).JSON(t)["id"].(string)
	waitStatus(t, s, id, "active")
	waitStatus(t, s, ctl, "active")

	s.Must(t, 201, "PUT", "Patient/onoff-1", familyPatient("onoff-1", "Onoff"))
	h.waitEvents(t, "event-notification", 1)

	// Off: the changes meanwhile reach the control, not the subscription.
	setSubscriptionStatus(t, s, id, "off")
	s.Must(t, 201, "PUT", "Patient/onoff-2", familyPatient("onoff-2", "Onoff"))
	s.Must(t, 201, "PUT", "Patient/onoff-3", familyPatient("onoff-3", "Onoff"))
	control.waitEvents(t, "event-notification", 3)
	time.Sleep(300 * time.Millisecond)
	if got := notified(h); len(got) != 1 {
		t.Fatalf("a subscription switched off was told %v", got)
	}
	if got := s.Must(t, 200, "GET", "Subscription/"+id, nil).JSON(t)["status"]; got != "off" {
		t.Errorf("the subscription switched off is %v", got)
	}

	// Requested again: a new handshake, active, and notifications again; what happened
	// while it was off is not sent.
	setSubscriptionStatus(t, s, id, "requested")
	h.waitEvents(t, "handshake", 2)
	waitStatus(t, s, id, "active")
	s.Must(t, 201, "PUT", "Patient/onoff-4", familyPatient("onoff-4", "Onoff"))
	h.waitEvents(t, "event-notification", 2)
	control.waitEvents(t, "event-notification", 4)
	time.Sleep(300 * time.Millisecond)
	want := []string{"create Patient/onoff-1/_history/1", "create Patient/onoff-4/_history/1"}
	if got := notified(h); !slices.Equal(got, want) {
		t.Errorf("the subscription was told %v, want %v", got, want)
	}
}

func TestEndTurnsASubscriptionOff(t *testing.T) {
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	clk := &clock{now: time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC)}
	cfg := testConfig(amqpURL)
	cfg.Now, cfg.ScheduleInterval = clk.Now, 20*time.Millisecond
	s := apptest.New(t, apptest.WithoutCoverageCheck(), apptest.WithSubscriptions(cfg))
	h, control := newHook(t), newHook(t)
	id := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=ending", h.URL,
		map[string]any{"end": "2030-05-01T10:00:00Z"})).JSON(t)["id"].(string)
	ctl := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=ending", control.URL, nil)).JSON(t)["id"].(string)
	waitStatus(t, s, id, "active")
	waitStatus(t, s, ctl, "active")
	s.Must(t, 201, "PUT", "Patient/ending-1", familyPatient("ending-1", "Ending"))
	h.waitEvents(t, "event-notification", 1)

	// Its end passes: careslot turns it off, and it hears nothing more.
	clk.Set(time.Date(2030, 5, 1, 10, 0, 1, 0, time.UTC))
	sub := waitStatus(t, s, id, "off")
	if sub["end"] != "2030-05-01T10:00:00Z" {
		t.Errorf("the ended subscription lost its end: %v", sub["end"])
	}
	s.Must(t, 201, "PUT", "Patient/ending-2", familyPatient("ending-2", "Ending"))
	control.waitEvents(t, "event-notification", 2)
	time.Sleep(300 * time.Millisecond)
	if got := notified(h); !slices.Equal(got, []string{"create Patient/ending-1/_history/1"}) {
		t.Errorf("the ended subscription was told %v", got)
	}
	// Asking for it again does not bring it back past its end.
	setSubscriptionStatus(t, s, id, "requested")
	time.Sleep(500 * time.Millisecond)
	if n := len(h.events("handshake")); n != 1 {
		t.Errorf("an ended subscription set to requested got %d handshakes", n)
	}
}

// closedPort is an address on loopback where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestHealthzReportsAnUnreachableBrokerWhileWritesGoOn(t *testing.T) {
	s := apptest.New(t, apptest.WithoutCoverageCheck(),
		apptest.WithSubscriptions(testConfig("amqp://guest:guest@"+closedPort(t)+"/")))
	for i := 0; i < 3; i++ {
		s.Must(t, 201, "POST", "Patient", patient("Unbrokered"))
	}
	type health struct {
		Status string `json:"status"`
		Broker string `json:"broker"`
		Relay  struct {
			Status     string  `json:"status"`
			Error      string  `json:"error"`
			Pending    int64   `json:"pending"`
			LagSeconds float64 `json:"lagSeconds"`
		} `json:"relay"`
	}
	var h health
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.HTTP.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/healthz answered %d: writes go on, careslot is degraded, not down", resp.StatusCode)
		}
		if h.Broker == "unreachable" && h.Relay.Status == "failing" && h.Relay.LagSeconds > 0.2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz with no broker: %+v", h)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if h.Status != "degraded" || h.Relay.Pending < 3 || h.Relay.Error == "" {
		t.Errorf("/healthz with no broker: %+v", h)
	}
	// Writes still succeed, and wait in the outbox.
	s.Must(t, 201, "POST", "Patient", patient("Unbrokered"))
}
