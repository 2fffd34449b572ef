package fhir

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/subscription"
	"github.com/gorilla/mux"
)

// maxEventsPage bounds the events one $events call returns.
const maxEventsPage = 100

// SubscriptionOperations are $status and $events of the Subscriptions Backport IG: the
// state of a subscription, and its past events by number, so that a subscriber that was
// down catches up. They read what subscriptions wrote, through storage.
func (s *Server) SubscriptionOperations() []*Operation {
	return []*Operation{
		{Name: "status", Types: []string{"Subscription"}, Instance: true, Handler: s.subscriptionStatus, Needs: &Need{scope.Read, "Subscription"},
			Definition: s.operationDefinition(opMeta{Name: "status", Title: "SubscriptionStatus", Types: []string{"Subscription"}, Instance: true,
				Description: "Subscriptions Backport IG $status: the SubscriptionStatus (a Parameters resource) of a subscription: its status, topic and events-since-subscription-start.",
				Params: []opParam{
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a searchset whose one entry is the SubscriptionStatus"},
				}})},
		{Name: "events", Types: []string{"Subscription"}, Instance: true, Handler: s.subscriptionEvents, Needs: &Need{scope.Read, "Subscription"},
			Definition: s.operationDefinition(opMeta{Name: "events", Title: "SubscriptionEvents", Types: []string{"Subscription"}, Instance: true,
				Description: "Subscriptions Backport IG $events: the past events of a subscription, by event number, as a notification Bundle (type query-event); at most 100 per call.",
				Params: []opParam{
					{Name: "eventsSinceNumber", Use: "in", Min: 0, Max: "1", Type: "string", Doc: "the first event number to return (default 1)"},
					{Name: "eventsUntilNumber", Use: "in", Min: 0, Max: "1", Type: "string", Doc: "the last event number to return"},
					{Name: "content", Use: "in", Min: 0, Max: "1", Type: "code", Doc: "empty, id-only or full-resource; the subscription's own by default"},
					{Name: "return", Use: "out", Min: 1, Max: "1", Type: "Bundle", Doc: "a history Bundle: the SubscriptionStatus, then the events"},
				}})},
		{Name: "get-ws-binding-token", Types: []string{"Subscription"}, Instance: true, Handler: s.websocketBindingToken, Needs: &Need{scope.Read, "Subscription"},
			Definition: s.operationDefinition(opMeta{Name: "get-ws-binding-token", Title: "SubscriptionGetWsBindingToken", Types: []string{"Subscription"}, Instance: true, AffectsState: true,
				Description: "Subscriptions Backport IG $get-ws-binding-token: a single-use token, valid 60 seconds, with which a websocket client that cannot send an Authorization header (a browser) binds the subscription: connect to websocket-url and send \"bind-with-token <token>\". For the subscription's owner and admins.",
				Params: []opParam{
					{Name: "id", Use: "in", Min: 0, Max: "*", Type: "id", Doc: "ignored at the instance level, where careslot serves the operation"},
					{Name: "token", Use: "out", Min: 1, Max: "1", Type: "string", Doc: "the binding token: opaque, single-use"},
					{Name: "expiration", Use: "out", Min: 1, Max: "1", Type: "dateTime", Doc: "when the token stops being accepted"},
					{Name: "subscription", Use: "out", Min: 0, Max: "*", Type: "string", Doc: "the subscription the token binds"},
					{Name: "websocket-url", Use: "out", Min: 1, Max: "1", Type: "url", Doc: "where to connect"},
				}})},
	}
}

// websocketBindingToken is $get-ws-binding-token: the caller, who may follow the
// subscription, gets a token that binds it on the websocket channel as them. Only the
// token's hash is stored, in the database, so any replica takes it.
func (s *Server) websocketBindingToken(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Websocket == nil {
		return errorf(fhirerr.ErrNotFound, fhirerr.CodeNotSupported, "this server does not serve the websocket channel")
	}
	sub, _, err := s.loadSubscription(r)
	if err != nil {
		return err
	}
	if sub.Channel != "websocket" {
		return fhirerr.Unprocessable(fhirerr.CodeBusinessRule, "Subscription/"+sub.ID+" does not use the websocket channel", "Subscription.channel.type")
	}
	var who []byte
	if c, ok := caller.From(r.Context()); ok {
		who, _ = json.Marshal(c)
	}
	token, hash := subscription.NewBindingToken()
	expires, err := s.store.IssueBindingToken(r.Context(), hash, sub.ID, who, subscription.BindingTokenTTL)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, r, http.StatusOK, marshal(map[string]any{
		"resourceType": "Parameters",
		"parameter": []any{
			map[string]any{"name": "token", "valueString": token},
			map[string]any{"name": "expiration", "valueDateTime": expires.UTC().Format(time.RFC3339)},
			map[string]any{"name": "subscription", "valueString": sub.ID},
			map[string]any{"name": "websocket-url", "valueUrl": subscription.WebsocketURL(s.cfg.BaseURL)},
		},
	}))
	return nil
}

// loadSubscription reads and parses Subscription/[id] of the request, if the caller may follow it.
func (s *Server) loadSubscription(r *http.Request) (*subscription.Subscription, *storage.StoredSubscription, error) {
	id := mux.Vars(r)["id"]
	stored, err := s.store.Subscription(r.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	// Only its owner or an admin follows a subscription; to anyone else it does not exist.
	if stored != nil && !subscription.MayWatch(r.Context(), stored.Owner) {
		audit.Denied(r.Context(), "Subscription/"+id+" is followed by its owner and admins only")
		stored = nil
	}
	if stored == nil {
		return nil, nil, fhirerr.NotFound("Subscription/" + id + " is not known")
	}
	sub, err := subscription.Parse(stored.Content, subscription.Options{BaseURL: s.cfg.BaseURL, AllowPrivate: true})
	if err != nil {
		return nil, nil, err
	}
	return sub, stored, nil
}

func (s *Server) subscriptionStatus(w http.ResponseWriter, r *http.Request) error {
	sub, stored, err := s.loadSubscription(r)
	if err != nil {
		return err
	}
	status := subscription.StatusParameters(s.cfg.BaseURL, sub, subscription.TypeQueryStatus, stored.Events, nil)
	writeJSON(w, r, http.StatusOK, marshal(map[string]any{
		"resourceType": "Bundle",
		"type":         "searchset",
		"total":        1,
		"entry": []any{map[string]any{
			"fullUrl":  "urn:uuid:" + status["id"].(string),
			"resource": status,
			"search":   map[string]any{"mode": "match"},
		}},
	}))
	return nil
}

func (s *Server) subscriptionEvents(w http.ResponseWriter, r *http.Request) error {
	sub, stored, err := s.loadSubscription(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	number := func(name string, fallback int64) (int64, error) {
		v := q.Get(name)
		if v == "" {
			return fallback, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fhirerr.Invalid(name+" must be a non-negative event number", name)
		}
		return n, nil
	}
	since, err := number("eventsSinceNumber", 1)
	if err != nil {
		return err
	}
	until, err := number("eventsUntilNumber", 0)
	if err != nil {
		return err
	}
	switch c := q.Get("content"); c {
	case "":
	case subscription.ContentEmpty, subscription.ContentIDOnly, subscription.ContentFull:
		sub.Content = c
	default:
		return fhirerr.Invalid("content must be empty, id-only or full-resource", "content")
	}
	if sub.Content == "" {
		sub.Content = subscription.ContentIDOnly
	}
	events, err := s.store.SubscriptionEvents(r.Context(), sub.ID, since, until, maxEventsPage)
	if err != nil {
		return err
	}
	var contents map[storage.VersionKey][]byte
	if sub.Content == subscription.ContentFull {
		keys := make([]storage.VersionKey, len(events))
		for i, e := range events {
			keys[i] = storage.VersionKey{RID: e.RID, Version: e.VersionID}
		}
		if contents, err = s.store.Versions(r.Context(), keys); err != nil {
			return err
		}
	}
	refs := make([]subscription.EventRef, len(events))
	for i, e := range events {
		refs[i] = subscription.EventRef{Number: e.Number, At: e.At, Type: e.Type, ID: e.ID, Version: e.VersionID, Action: e.Action,
			Resource: contents[storage.VersionKey{RID: e.RID, Version: e.VersionID}]}
	}
	writeJSON(w, r, http.StatusOK, subscription.NotificationBundle(s.cfg.BaseURL, sub, subscription.TypeQueryEvent, stored.Events, refs))
	return nil
}
