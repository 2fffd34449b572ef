package subscriptions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/subscriptions/subscription"
	"github.com/coder/websocket"
)

// bindingToken calls $get-ws-binding-token and returns its token, after checking the
// Parameters it answers.
func bindingToken(t *testing.T, s *apptest.Server, id string, header ...string) string {
	t.Helper()
	params := s.Must(t, 200, "POST", "Subscription/"+id+"/$get-ws-binding-token", nil, header...).JSON(t)
	got := map[string]any{}
	for _, p := range params["parameter"].([]any) {
		p := p.(map[string]any)
		for k, v := range p {
			if strings.HasPrefix(k, "value") {
				got[p["name"].(string)] = v
			}
		}
	}
	if got["subscription"] != id || got["websocket-url"] != "ws"+strings.TrimPrefix(s.URL, "http")+"/websocket" {
		t.Errorf("$get-ws-binding-token: %v", got)
	}
	exp, err := time.Parse(time.RFC3339, got["expiration"].(string))
	if err != nil || time.Until(exp) > 61*time.Second || time.Until(exp) < 30*time.Second {
		t.Errorf("expiration %v (%v), want about a minute from now", got["expiration"], err)
	}
	token, _ := got["token"].(string)
	if len(token) < 40 {
		t.Fatalf("token %q", token)
	}
	return token
}

// dialWithoutToken opens the websocket channel as a browser does: no Authorization header.
func dialWithoutToken(t *testing.T, ctx context.Context, s *apptest.Server) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// dialAs opens the websocket channel with the token in the Authorization header.
func dialAs(t *testing.T, ctx context.Context, s *apptest.Server, token string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/websocket",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// bind binds the socket to the subscription, failing the test unless it is bound.
func bind(t *testing.T, ctx context.Context, c *websocket.Conn, id string) {
	t.Helper()
	c.Write(ctx, websocket.MessageText, []byte("bind "+id))
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "bound "+id {
		t.Fatalf("bind: %q %v", msg, err)
	}
}

// exchange sends msg and returns the answer, and whether the server then closed.
func exchange(t *testing.T, ctx context.Context, c *websocket.Conn, msg string) (string, bool) {
	t.Helper()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read after %q: %v", msg, err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, _, err = c.Read(rctx)
	return string(got), websocket.CloseStatus(err) == websocket.StatusPolicyViolation
}

func TestABrowserBindsHerSubscriptionWithABindingToken(t *testing.T) {
	s, _ := newServer(t)
	s.Must(t, 201, "PUT", "Patient/wt-a", map[string]any{"resourceType": "Patient", "id": "wt-a"})
	s.Must(t, 201, "PUT", "Patient/wt-b", map[string]any{"resourceType": "Patient", "id": "wt-b"})
	s.Must(t, 201, "PUT", "Practitioner/dr", map[string]any{"resourceType": "Practitioner", "id": "dr"})
	a := apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "wt-a", "patient/Subscription.cruds", "patient/Appointment.rs")))
	b := apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "wt-b", "patient/Subscription.cruds", "patient/Appointment.rs")))
	admin := apptest.Bearer(s.Token(t, smarttest.Admin(s.URL, "user/*.*")))
	sub := restHook("Appointment?patient=Patient/wt-a", "", nil)
	sub["channel"] = map[string]any{"type": "websocket"}
	id := s.Must(t, 201, "POST", "Subscription", sub, a...).JSON(t)["id"].(string)
	subB := restHook("Appointment?patient=Patient/wt-b", "", nil)
	subB["channel"] = map[string]any{"type": "websocket"}
	idB := s.Must(t, 201, "POST", "Subscription", subB, b...).JSON(t)["id"].(string)
	hookID := s.Must(t, 201, "POST", "Subscription", restHook("Appointment?patient=Patient/wt-a", newHook(t).URL, nil), a...).JSON(t)["id"].(string)

	// Only the owner and admins get a token; to anyone else the subscription is not there.
	s.Must(t, 404, "POST", "Subscription/"+id+"/$get-ws-binding-token", nil, b...)
	s.Must(t, 404, "GET", "Subscription/nosuch/$get-ws-binding-token", nil, a...)
	s.Must(t, 401, "GET", "Subscription/"+id+"/$get-ws-binding-token", nil, "Authorization", "")
	s.Must(t, 422, "GET", "Subscription/"+hookID+"/$get-ws-binding-token", nil, a...)
	s.Must(t, 403, "GET", "Subscription/"+id+"/$get-ws-binding-token", nil,
		apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "wt-a", "patient/Appointment.rs")))...)
	bindingToken(t, s, id, admin...)

	// The CapabilityStatement names the operation on Subscription, and its definition is served.
	if meta := string(s.Must(t, 200, "GET", "metadata", nil).Body); !strings.Contains(meta, `"name":"get-ws-binding-token"`) {
		t.Error("the CapabilityStatement does not list $get-ws-binding-token")
	}
	s.Must(t, 200, "GET", "OperationDefinition/get-ws-binding-token", nil)
	// Without a token, only a websocket upgrade gets in, not a plain GET.
	s.Must(t, 401, "GET", "websocket", nil, "Authorization", "")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Without an Authorization header, "bind" is refused and the connection closed.
	if got, closed := exchange(t, ctx, dialWithoutToken(t, ctx, s), "bind "+id); !strings.HasPrefix(got, "error ") || !closed {
		t.Errorf("bind without a token: %q, closed %v", got, closed)
	}
	// An unknown token is refused.
	if got, closed := exchange(t, ctx, dialWithoutToken(t, ctx, s), "bind-with-token nosuch"); !strings.HasPrefix(got, "error ") || !closed {
		t.Errorf("an unknown token: %q, closed %v", got, closed)
	}
	// B's token binds B's subscription, never A's: the token names the subscription.
	tokenB := bindingToken(t, s, idB, b...)
	if got, _ := exchange(t, ctx, dialWithoutToken(t, ctx, s), "bind-with-token "+tokenB); got != "bound "+idB {
		t.Errorf("B's token: %q, want bound %s", got, idB)
	}

	token := bindingToken(t, s, id, a...)
	c := dialWithoutToken(t, ctx, s)
	c.Write(ctx, websocket.MessageText, []byte("bind-with-token: "+token)) // R5's form, with the colon
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "bound "+id {
		t.Fatalf("bind-with-token: %q %v", msg, err)
	}
	waitStatus(t, s, id, "active")
	// A used token is refused, even on another connection (single use).
	if got, closed := exchange(t, ctx, dialWithoutToken(t, ctx, s), "bind-with-token "+token); !strings.HasPrefix(got, "error ") || !closed {
		t.Errorf("a used token: %q, closed %v", got, closed)
	}
	s.Must(t, 201, "PUT", "Appointment/wt-1", apptFor("wt-1", "wt-a", "2030-03-01T10:00:00Z"))
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "ping "+id {
		t.Fatalf("after her appointment was booked: %q %v", msg, err)
	}
}

// An expired token is refused, whichever replica issued it: the expiry is the database's.
func TestAnExpiredBindingTokenIsRefused(t *testing.T) {
	s, _ := newServer(t)
	sub := restHook("Patient?family=expired", "", nil)
	sub["channel"] = map[string]any{"type": "websocket"}
	id := s.Must(t, 201, "POST", "Subscription", sub).JSON(t)["id"].(string)
	admin, _ := json.Marshal(caller.Caller{Role: caller.RoleAdmin, Subject: "admin-1"})
	issue := func(ttl time.Duration) string {
		token, hash := subscription.NewBindingToken()
		if _, err := s.App.Store.IssueBindingToken(context.Background(), hash, id, admin, ttl); err != nil {
			t.Fatal(err)
		}
		return token
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if got, closed := exchange(t, ctx, dialWithoutToken(t, ctx, s), "bind-with-token "+issue(-time.Second)); !strings.HasPrefix(got, "error ") || !closed {
		t.Errorf("an expired token: %q, closed %v", got, closed)
	}
	if got, _ := exchange(t, ctx, dialWithoutToken(t, ctx, s), "bind-with-token "+issue(time.Minute)); got != "bound "+id {
		t.Errorf("the same caller's live token: %q", got)
	}
}
