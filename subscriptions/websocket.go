package subscriptions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/subscriptions/subscription"
	"github.com/coder/websocket"
)

// hub holds the websocket connections bound to subscriptions on this replica: the R4
// websocket channel. A client connects, sends "bind [id]" (with an Authorization header)
// or "bind-with-token [token]" (a binding token from $get-ws-binding-token, for browsers,
// which cannot send the header) and gets "bound [id]"; then each
// notification arrives as "ping [id]" (a criteria-based subscription) or as the
// notification Bundle (a topic-based one). A requested subscription becomes active when
// a client binds it.
type hub struct {
	svc     *Service
	changed chan struct{} // a binding came or went: the supervisor looks again

	mu    sync.Mutex
	conns map[string]map[*websocket.Conn]bool
}

func newHub(svc *Service) *hub {
	return &hub{svc: svc, changed: make(chan struct{}, 1), conns: map[string]map[*websocket.Conn]bool{}}
}

func (h *hub) bound(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns[id]) > 0
}

func (h *hub) poke() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// writeTimeout bounds one message to a websocket client.
const writeTimeout = 10 * time.Second

// send writes text to every connection bound to id; it fails when none took it.
func (h *hub) send(ctx context.Context, id, text string) error {
	h.mu.Lock()
	var conns []*websocket.Conn
	for c := range h.conns[id] {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	sent := false
	for _, c := range conns {
		wctx, cancel := context.WithTimeout(ctx, writeTimeout)
		err := c.Write(wctx, websocket.MessageText, []byte(text))
		cancel()
		if err == nil {
			sent = true
		}
	}
	if !sent {
		return errors.New("no websocket client is bound to the subscription")
	}
	return nil
}

// WebsocketHandler serves the websocket channel; fhir mounts it under /fhir.
func (s *Service) WebsocketHandler() http.Handler { return http.HandlerFunc(s.hub.serve) }

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered the client already
	}
	c.SetReadLimit(4096)
	defer c.CloseNow()
	ctx := r.Context()
	// A connection let in without an access token may only bind with binding tokens,
	// and must bind its first within bindDeadline.
	tokenless := caller.TokenlessUpgrade(ctx)
	var bound []string
	defer func() {
		h.mu.Lock()
		for _, id := range bound {
			delete(h.conns[id], c)
			if len(h.conns[id]) == 0 {
				delete(h.conns, id)
			}
		}
		h.mu.Unlock()
		h.poke()
	}()
	for {
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if tokenless && len(bound) == 0 {
			rctx, cancel = context.WithTimeout(ctx, bindDeadline)
		}
		_, msg, err := c.Read(rctx)
		cancel()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimSpace(string(msg)), " ")
		arg = strings.TrimSpace(arg)
		bindCtx, id := ctx, arg
		switch strings.TrimSuffix(verb, ":") { // R5 writes "bind-with-token: <token>"
		case "bind-with-token":
			var ok bool
			if bindCtx, id, ok = h.takeToken(ctx, arg); !ok {
				c.Write(ctx, websocket.MessageText, []byte("error the binding token is unknown, expired or used"))
				c.Close(websocket.StatusPolicyViolation, "binding token refused")
				return
			}
		case "bind":
			if tokenless {
				c.Write(ctx, websocket.MessageText, []byte("error without an Authorization header, bind with \"bind-with-token [token]\" (Subscription/[id]/$get-ws-binding-token)"))
				c.Close(websocket.StatusPolicyViolation, "access token or binding token needed")
				return
			}
		default:
			id = ""
		}
		if id == "" {
			c.Write(ctx, websocket.MessageText, []byte("error expected \"bind [subscription id]\" or \"bind-with-token [token]\""))
			if tokenless {
				c.Close(websocket.StatusPolicyViolation, "binding token needed")
				return
			}
			continue
		}
		if why := h.bindable(bindCtx, id); why != "" {
			c.Write(ctx, websocket.MessageText, []byte("error "+id+" "+why))
			if tokenless {
				c.Close(websocket.StatusPolicyViolation, "cannot bind")
				return
			}
			continue
		}
		h.mu.Lock()
		if h.conns[id] == nil {
			h.conns[id] = map[*websocket.Conn]bool{}
		}
		h.conns[id][c] = true
		h.mu.Unlock()
		bound = append(bound, id)
		c.Write(ctx, websocket.MessageText, []byte("bound "+id))
		if err := h.svc.setStatus(ctx, id, subscription.StatusRequested, subscription.StatusActive, ""); err != nil {
			h.svc.log.Warn("websocket bind: cannot activate the subscription", "subscription", id, "err", err)
		}
		h.poke()
	}
}

// bindDeadline is how long a connection without an access token may wait before it binds.
const bindDeadline = 30 * time.Second

// takeToken uses up a binding token: the subscription it binds, and ctx carrying the
// caller it was issued to (whose right to follow the subscription bindable checks again).
func (h *hub) takeToken(ctx context.Context, token string) (context.Context, string, bool) {
	if token == "" {
		return ctx, "", false
	}
	id, who, ok, err := h.svc.store.TakeBindingToken(ctx, subscription.HashBindingToken(token))
	if err != nil {
		h.svc.log.Warn("websocket bind: cannot read the binding token", "err", err)
		return ctx, "", false
	}
	if !ok {
		audit.Denied(ctx, "a websocket bind with an unknown, expired or used binding token")
		return ctx, "", false
	}
	if who == nil {
		return ctx, id, true
	}
	var c caller.Caller
	if err := json.Unmarshal(who, &c); err != nil {
		return ctx, "", false
	}
	return caller.With(ctx, c), id, true
}

// bindable says why a client cannot bind id, or "".
func (h *hub) bindable(ctx context.Context, id string) string {
	stored, err := h.svc.store.Subscription(ctx, id)
	if err != nil {
		return "cannot be read now"
	}
	// Someone else's subscription is answered as a missing one: its existence is not told.
	if stored != nil && !subscription.MayWatch(ctx, stored.Owner) {
		audit.Denied(ctx, "a websocket bind to Subscription/"+id+", which is followed by its owner and admins only", "Subscription/"+id)
		stored = nil
	}
	if stored == nil {
		return "is not a known Subscription"
	}
	sub, err := subscription.Parse(stored.Content, h.svc.parseOptions())
	if err != nil || sub.Channel != "websocket" {
		return "is not a websocket subscription"
	}
	if sub.Status == subscription.StatusOff {
		return "is off"
	}
	return ""
}
