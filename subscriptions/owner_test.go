package subscriptions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/subscription"
	"github.com/coder/websocket"
)

// ownerA is patient own-a as a subscription records its creator.
var ownerA = caller.Caller{Role: caller.RolePatient, Subject: "user-own-a", FHIRUser: "Patient/own-a", Patient: "own-a",
	ClientID: "own-app", Scopes: []string{"patient/*.rs"}}

func ownerAToken(t *testing.T, s *apptest.Server) string {
	return s.Token(t, smarttest.Claims{Role: caller.RolePatient, Subject: ownerA.Subject, FHIRUser: ownerA.FHIRUser,
		Patient: ownerA.Patient, ClientID: ownerA.ClientID, Scopes: ownerA.Scopes})
}

// subscribeAs stores a Subscription owned by owner, as the creating request records it
// (people_test creates them over HTTP), so that an owner's scopes can be set apart from
// what creating needs.
func subscribeAs(t *testing.T, s *apptest.Server, id string, sub map[string]any, owner caller.Caller) {
	t.Helper()
	sub["id"] = id
	body, _ := json.Marshal(sub)
	who, _ := json.Marshal(owner)
	ctx := context.Background()
	err := s.App.Store.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Write(ctx, nil, "Subscription", id, body, http.MethodPost); err != nil {
			return err
		}
		return tx.InitSubscriptionState(ctx, id, who)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func observation(id, patient string) map[string]any {
	return map[string]any{"resourceType": "Observation", "id": id, "status": "final", "code": map[string]any{"text": "weight"},
		"subject": map[string]any{"reference": "Patient/" + patient}}
}

func notified(h *hook) []string {
	var out []string
	for _, r := range h.events("event-notification") {
		out = append(out, r.Header.Get("X-Careslot-Action")+" "+r.Header.Get("X-Careslot-Resource"))
	}
	return out
}

func TestNotificationsCarryOnlyWhatTheOwnerMaySee(t *testing.T) {
	s, _ := newServer(t)
	admin := apptest.Bearer(s.Token(t, smarttest.Admin(s.URL, "user/*.*")))
	for _, id := range []string{"own-a", "own-b"} {
		p := patient("Owner")
		p["id"] = id
		s.Must(t, 201, "PUT", "Patient/"+id, p, admin...)
	}
	mine, all := newHook(t), newHook(t)
	subscribeAs(t, s, "own-sub", restHook("Observation?status=final", mine.URL, nil), ownerA)
	adminSub := s.Must(t, 201, "POST", "Subscription", restHook("Observation?status=final", all.URL, nil), admin...).JSON(t)["id"].(string)
	mine.waitEvents(t, "handshake", 1)
	all.waitEvents(t, "handshake", 1)
	waitStatus(t, s, "own-sub", "active")
	waitStatus(t, s, adminSub, "active")

	s.Must(t, 201, "PUT", "Observation/own-oa", observation("own-oa", "own-a"), admin...)
	s.Must(t, 201, "PUT", "Observation/own-ob", observation("own-ob", "own-b"), admin...)
	up := observation("own-oa", "own-a")
	up["valueString"] = "72 kg"
	s.Must(t, 200, "PUT", "Observation/own-oa", up, admin...)
	s.Must(t, 204, "DELETE", "Observation/own-ob", nil, admin...)
	s.Must(t, 204, "DELETE", "Observation/own-oa", nil, admin...)

	// The admin's subscription sees every change; once it has them all, the patient's
	// has had its chance at each (one matcher, in commit order).
	all.waitEvents(t, "event-notification", 5)
	mine.waitEvents(t, "event-notification", 3)
	time.Sleep(300 * time.Millisecond)
	want := []string{"create Observation/own-oa/_history/1", "update Observation/own-oa/_history/2", "delete Observation/own-oa/_history/3"}
	if got := notified(mine); !slices.Equal(got, want) {
		t.Errorf("patient own-a's subscription was told:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := notified(all); len(got) != 5 {
		t.Errorf("the admin's subscription was told %d changes, want 5: %v", len(got), got)
	}
	for _, r := range mine.events("event-notification") {
		if strings.Contains(string(r.Body), "own-b") {
			t.Errorf("a notification to own-a carries own-b's data: %s", r.Body)
		}
	}
}

func TestMayWatch(t *testing.T) {
	owner, _ := json.Marshal(ownerA)
	ctxOf := func(c *caller.Caller) context.Context {
		if c == nil {
			return context.Background()
		}
		return caller.With(context.Background(), *c)
	}
	sameUserOtherApp := ownerA
	sameUserOtherApp.ClientID = "another-app"
	cases := []struct {
		name  string
		c     *caller.Caller
		owner []byte
		want  bool
	}{
		{"the owner", &ownerA, owner, true},
		{"the owner through another app", &sameUserOtherApp, owner, true},
		{"another patient", &caller.Caller{Role: caller.RolePatient, Subject: "user-own-b"}, owner, false},
		{"an admin", &caller.Caller{Role: caller.RoleAdmin, Subject: "admin"}, owner, true},
		{"a backend service", &caller.Caller{Role: caller.RoleSystem, Subject: "svc"}, owner, true},
		{"no token, an owned subscription", nil, owner, false},
		{"no token, a subscription made without one", nil, nil, true},
		{"a patient, a subscription made without a token", &ownerA, nil, false},
		{"an unreadable owner", &ownerA, []byte("{"), false},
		{"an owner without a subject", &caller.Caller{Role: caller.RolePatient}, []byte(`{"role":"patient"}`), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := subscription.MayWatch(ctxOf(c.c), c.owner); got != c.want {
				t.Errorf("MayWatch = %v, want %v", got, c.want)
			}
		})
	}
}

func TestOnlyTheOwnerOrAnAdminFollowsASubscription(t *testing.T) {
	s, _ := newServer(t)
	admin := apptest.Bearer(s.Token(t, smarttest.Admin(s.URL, "user/*.*")))
	sub := restHook("Patient?family=owned", "", nil)
	sub["channel"] = map[string]any{"type": "websocket"}
	subscribeAs(t, s, "own-ws", sub, ownerA)

	other := s.Token(t, smarttest.Claims{Role: caller.RolePatient, Subject: "user-own-b", FHIRUser: "Patient/own-b", Patient: "own-b",
		Scopes: []string{"patient/*.rs"}})
	// $status and $events: an admin may; another patient may not (the policy hides it:
	// 404; 403 for a token without Subscription scopes).
	for _, op := range []string{"$status", "$events"} {
		s.Must(t, http.StatusOK, "GET", "Subscription/own-ws/"+op, nil, admin...)
		if r := s.Do(t, "GET", "Subscription/own-ws/"+op, nil, apptest.Bearer(other)...); r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
			t.Errorf("another patient's %s: %d %s", op, r.Status, r.Body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(s.URL, "http") + "/websocket"
	bind := func(token string) string {
		t.Helper()
		opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
		if token != "" {
			opts.HTTPHeader.Set("Authorization", "Bearer "+token)
		}
		c, resp, err := websocket.Dial(ctx, wsURL, opts)
		if err != nil {
			if resp != nil {
				return "refused " + resp.Status
			}
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.Write(ctx, websocket.MessageText, []byte("bind own-ws"))
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	// Without a token the upgrade gets in (for bind-with-token, bindingtoken_test.go),
	// but "bind" is refused.
	if got := bind(""); !strings.HasPrefix(got, "error without an Authorization header") {
		t.Errorf("a websocket bind without a token: %q", got)
	}
	if got := bind(other); !strings.HasPrefix(got, "error own-ws is not a known Subscription") {
		t.Errorf("a bind by another patient: %q", got)
	}
	// The refusal is audited, for an admin to see, with who asked.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.Must(t, http.StatusOK, "GET", "AuditEvent?entity=Subscription/own-ws&outcome=4&agent=Patient/own-b", nil, admin...)
		if strings.Contains(string(r.Body), "denied: a websocket bind to Subscription/own-ws") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused bind was not audited: %s", r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := bind(ownerAToken(t, s)); got != "bound own-ws" {
		t.Errorf("a bind by the owner: %q", got)
	}
	if got := bind(strings.TrimPrefix(admin[1], "Bearer ")); got != "bound own-ws" {
		t.Errorf("a bind by an admin: %q", got)
	}
}
