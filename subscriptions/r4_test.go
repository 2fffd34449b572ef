package subscriptions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/subscriptions"
	"github.com/careslot/careslot/subscriptions/brokertest"
)

// hook is a rest-hook endpoint that records every notification.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int           // what it answers; 200 unless set
	delay  time.Duration // how long it takes to answer
}

type received struct {
	Header   http.Header
	Body     []byte
	At       time.Time
	Answered int // the status the hook answered
}

func newHook(t *testing.T) *hook {
	h := &hook{status: http.StatusOK}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		status, delay := h.status, h.delay
		h.got = append(h.got, received{Header: r.Header.Clone(), Body: body, At: time.Now(), Answered: status})
		h.mu.Unlock()
		time.Sleep(delay)
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) setDelay(d time.Duration) {
	h.mu.Lock()
	h.delay = d
	h.mu.Unlock()
}

func (h *hook) setStatus(s int) {
	h.mu.Lock()
	h.status = s
	h.mu.Unlock()
}

// events are the notifications received so far of kind (handshake, heartbeat, event-notification).
func (h *hook) events(kind string) []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []received
	for _, r := range h.got {
		if r.Header.Get("X-Careslot-Notification") == kind {
			out = append(out, r)
		}
	}
	return out
}

func (h *hook) waitEvents(t *testing.T, kind string, n int) []received {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := h.events(kind)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s notifications arrived, want %d", len(got), kind, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testConfig delivers fast: short retries, loopback endpoints allowed.
func testConfig(amqpURL string) subscriptions.Config {
	return subscriptions.Config{AMQPURL: amqpURL, AllowPrivate: true, ReconnectDelay: 100 * time.Millisecond,
		RetryDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}}
}

func newServer(t *testing.T) (*apptest.Server, string) {
	t.Helper()
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	return apptest.New(t, apptest.WithoutCoverageCheck(), apptest.WithSubscriptions(testConfig(amqpURL))), amqpURL
}

func restHook(criteria, endpoint string, extra map[string]any) map[string]any {
	sub := map[string]any{
		"resourceType": "Subscription", "status": "requested", "reason": "test", "criteria": criteria,
		"channel": map[string]any{"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
			"header": []string{"Authorization: Bearer s3cret"}},
	}
	for k, v := range extra {
		sub[k] = v
	}
	return sub
}

func waitStatus(t *testing.T, s *apptest.Server, id, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sub := s.Must(t, 200, "GET", "Subscription/"+id, nil).JSON(t)
		if sub["status"] == want {
			return sub
		}
		if time.Now().After(deadline) {
			t.Fatalf("Subscription/%s is %v, want %s: %v", id, sub["status"], want, sub["error"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func patient(family string) map[string]any {
	return map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": family}}}
}

func TestRestHookNotifiesMatchingCreatesUpdatesAndDeletes(t *testing.T) {
	s, _ := newServer(t)
	h := newHook(t)
	sub := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=smith", h.URL, nil)).JSON(t)
	id := sub["id"].(string)
	hs := h.waitEvents(t, "handshake", 1)
	if len(hs[0].Body) != 0 || hs[0].Header.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("the R4 handshake is a ping with the subscription's headers: body %q, Authorization %q", hs[0].Body, hs[0].Header.Get("Authorization"))
	}
	waitStatus(t, s, id, "active")

	smith := s.Must(t, 201, "POST", "Patient", patient("Smith")).JSON(t)["id"].(string)
	s.Must(t, 201, "POST", "Patient", patient("Jones"))
	up := patient("Smith")
	up["id"], up["gender"] = smith, "female"
	s.Must(t, 200, "PUT", "Patient/"+smith, up)
	other := s.Must(t, 201, "POST", "Patient", patient("Smithson")).JSON(t)["id"].(string) // family=smith matches by prefix
	moved := patient("Jones")
	moved["id"] = other
	s.Must(t, 200, "PUT", "Patient/"+other, moved) // no longer matches: no notification
	s.Must(t, 204, "DELETE", "Patient/"+smith, nil)

	h.waitEvents(t, "event-notification", 4)
	time.Sleep(500 * time.Millisecond)
	got := h.events("event-notification")
	var seen []string
	for _, r := range got {
		seen = append(seen, r.Header.Get("X-Careslot-Action")+" "+r.Header.Get("X-Careslot-Resource"))
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("X-Careslot-Event-Id") == "" {
			t.Errorf("a notification lacks the subscription's header or an event id: %v", r.Header)
		}
	}
	want := []string{
		"create Patient/" + smith + "/_history/1", "update Patient/" + smith + "/_history/2",
		"create Patient/" + other + "/_history/1", "delete Patient/" + smith + "/_history/3",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("notifications:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	var body map[string]any
	if err := json.Unmarshal(got[1].Body, &body); err != nil || body["gender"] != "female" || got[1].Header.Get("Content-Type") != "application/fhir+json" {
		t.Errorf("the update's payload is the resource version: %s", got[1].Body)
	}
	if len(got[3].Body) != 0 {
		t.Errorf("a deletion carries no resource: %s", got[3].Body)
	}
}

func TestRestHookKeepsOrderPerResource(t *testing.T) {
	s, _ := newServer(t)
	h := newHook(t)
	id := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=order", h.URL, nil)).JSON(t)["id"].(string)
	waitStatus(t, s, id, "active")
	p := s.Must(t, 201, "POST", "Patient", patient("Order")).JSON(t)["id"].(string)
	for i := 0; i < 30; i++ {
		up := patient("Order")
		up["id"], up["birthDate"] = p, fmt.Sprintf("19%02d-01-01", 50+i)
		s.Must(t, 200, "PUT", "Patient/"+p, up)
	}
	got := h.waitEvents(t, "event-notification", 31)
	for i, r := range got {
		if want := fmt.Sprintf("Patient/%s/_history/%d", p, i+1); r.Header.Get("X-Careslot-Resource") != want {
			t.Fatalf("notification %d is %s, want %s", i, r.Header.Get("X-Careslot-Resource"), want)
		}
	}
}

func TestFailingEndpointIsRetriedThenSubscriptionErrorsAndDLQReplays(t *testing.T) {
	s, amqpURL := newServer(t)
	h := newHook(t)
	h.setStatus(http.StatusServiceUnavailable)
	id := s.Must(t, 201, "POST", "Subscription", restHook("Patient?family=fail", h.URL, nil)).JSON(t)["id"].(string)
	sub := waitStatus(t, s, id, "error")
	if n := len(h.events("handshake")); n != 4 {
		t.Errorf("the handshake was tried %d times, want 1 + 3 retries", n)
	}
	if msg, _ := sub["error"].(string); !strings.Contains(msg, "503") {
		t.Errorf("Subscription.error says %q; want the endpoint's answer", msg)
	}
	var parked []subscriptions.DeadLetter
	deadline := time.Now().Add(10 * time.Second)
	for len(parked) == 0 && time.Now().Before(deadline) {
		var err error
		if parked, err = subscriptions.ListDLQ(context.Background(), amqpURL, 10); err != nil {
			t.Fatal(err)
		}
	}
	if len(parked) != 1 || parked[0].Subscription != id || !strings.Contains(parked[0].Reason, "503") || parked[0].Attempts != 4 {
		t.Fatalf("dead-letter queue: %+v", parked)
	}
	// Listing does not take them away.
	if again, _ := subscriptions.ListDLQ(context.Background(), amqpURL, 10); len(again) != 1 {
		t.Fatalf("a second listing shows %d", len(again))
	}
	// The endpoint is fixed and the client asks again: a new handshake makes it active;
	// the replayed handshake of the old version is then dropped as stale.
	h.setStatus(http.StatusOK)
	sub["status"] = "requested"
	delete(sub, "error")
	s.Must(t, 200, "PUT", "Subscription/"+id, sub)
	waitStatus(t, s, id, "active")
	n, err := subscriptions.ReplayDLQ(context.Background(), amqpURL, id)
	if err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	if left, _ := subscriptions.ListDLQ(context.Background(), amqpURL, 10); len(left) != 0 {
		t.Errorf("%d still parked after the replay", len(left))
	}
}
