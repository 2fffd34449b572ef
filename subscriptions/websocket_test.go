package subscriptions_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWebsocketBindThenPings(t *testing.T) {
	s, _ := newServer(t)
	sub := restHook("Patient?family=socket", "", nil)
	sub["channel"] = map[string]any{"type": "websocket"}
	id := s.Must(t, 201, "POST", "Subscription", sub).JSON(t)["id"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialAs(t, ctx, s, s.SystemToken)
	read := func() string {
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(msg)
	}
	c.Write(ctx, websocket.MessageText, []byte("bind nosuch"))
	if got := read(); !strings.HasPrefix(got, "error nosuch") {
		t.Errorf("binding an unknown subscription: %q", got)
	}
	bind(t, ctx, c, id)
	waitStatus(t, s, id, "active")
	s.Must(t, 201, "POST", "Patient", patient("Socket"))
	s.Must(t, 201, "POST", "Patient", patient("Other"))
	s.Must(t, 201, "POST", "Patient", patient("Socket"))
	for i := 0; i < 2; i++ {
		if got := read(); got != "ping "+id {
			t.Errorf("notification %d: %q", i, got)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer rcancel()
	if _, msg, err := c.Read(rctx); err == nil {
		t.Errorf("a third notification for two matching creates: %q", msg)
	}
}

// Deleting a subscription while its socket is bound (the booking UI's sign-out, the
// socket closing at the same moment) answers at once, and ends the binding.
func TestWebsocketDeleteWhileBound(t *testing.T) {
	s, _ := newServer(t)
	sub := restHook("Patient?family=gone", "", nil)
	sub["channel"] = map[string]any{"type": "websocket"}
	id := s.Must(t, 201, "POST", "Subscription", sub).JSON(t)["id"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialAs(t, ctx, s, s.SystemToken)
	bind(t, ctx, c, id)
	waitStatus(t, s, id, "active")
	start := time.Now()
	go c.Close(websocket.StatusNormalClosure, "signing out")
	s.Must(t, 204, "DELETE", "Subscription/"+id, nil)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("DELETE of a bound subscription took %v", took)
	}
}
