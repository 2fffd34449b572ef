package subscription

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Notification types of SubscriptionStatus.type.
const (
	TypeHandshake   = "handshake"
	TypeHeartbeat   = "heartbeat"
	TypeEvent       = "event-notification"
	TypeQueryStatus = "query-status"
	TypeQueryEvent  = "query-event"
)

// EventRef is one event as a notification tells it.
type EventRef struct {
	Number   int64
	At       time.Time
	Type, ID string
	Version  int
	Action   string // create, update or delete
	Resource []byte // the version, for full-resource; nil otherwise and for a delete
}

// StatusParameters is the SubscriptionStatus of s, in the R4 profile of the Backport IG:
// a Parameters resource.
func StatusParameters(base string, s *Subscription, typ string, eventsSinceStart int64, events []EventRef) map[string]any {
	params := []any{
		map[string]any{"name": "subscription", "valueReference": map[string]any{"reference": base + "/Subscription/" + s.ID}},
	}
	if s.Topic != nil {
		params = append(params, map[string]any{"name": "topic", "valueCanonical": s.Topic.URL})
	}
	status := s.Status
	if status == "" {
		status = StatusRequested
	}
	params = append(params,
		map[string]any{"name": "status", "valueCode": status},
		map[string]any{"name": "type", "valueCode": typ},
		map[string]any{"name": "events-since-subscription-start", "valueString": strconv.FormatInt(eventsSinceStart, 10)},
	)
	for _, e := range events {
		parts := []any{
			map[string]any{"name": "event-number", "valueString": strconv.FormatInt(e.Number, 10)},
			map[string]any{"name": "timestamp", "valueInstant": e.At.UTC().Format(time.RFC3339Nano)},
		}
		if s.Content != ContentEmpty {
			parts = append(parts, map[string]any{"name": "focus", "valueReference": map[string]any{"reference": base + "/" + e.Type + "/" + e.ID}})
		}
		params = append(params, map[string]any{"name": "notification-event", "part": parts})
	}
	if s.Status == StatusError && s.Error != "" {
		params = append(params, map[string]any{"name": "error", "valueCodeableConcept": map[string]any{"text": s.Error}})
	}
	return map[string]any{
		"resourceType": "Parameters",
		"id":           uuid.NewString(),
		"meta":         map[string]any{"profile": []string{ProfileStatus}},
		"parameter":    params,
	}
}

// NotificationBundle is a notification of the Backport IG's R4 profile: a history Bundle
// whose first entry is the SubscriptionStatus, then one entry per event as the
// subscription's payload content asks (none for empty, the URL for id-only, the resource
// too for full-resource).
func NotificationBundle(base string, s *Subscription, typ string, eventsSinceStart int64, events []EventRef) []byte {
	status := StatusParameters(base, s, typ, eventsSinceStart, events)
	entries := []any{map[string]any{
		"fullUrl":  "urn:uuid:" + status["id"].(string),
		"resource": status,
		"request":  map[string]any{"method": "GET", "url": base + "/Subscription/" + s.ID + "/$status"},
		"response": map[string]any{"status": "200"},
	}}
	if s.Content != ContentEmpty {
		for _, e := range events {
			entries = append(entries, eventEntry(base, s, e))
		}
	}
	b, _ := json.Marshal(map[string]any{
		"resourceType": "Bundle",
		"id":           uuid.NewString(),
		"meta":         map[string]any{"profile": []string{ProfileNotification}},
		"type":         "history",
		"timestamp":    time.Now().UTC().Format(time.RFC3339Nano),
		"entry":        entries,
	})
	return b
}

func eventEntry(base string, s *Subscription, e EventRef) map[string]any {
	entry := map[string]any{"fullUrl": base + "/" + e.Type + "/" + e.ID}
	switch e.Action {
	case "create":
		entry["request"] = map[string]any{"method": "POST", "url": e.Type}
		entry["response"] = map[string]any{"status": "201", "etag": `W/"` + strconv.Itoa(e.Version) + `"`}
	case "delete":
		entry["request"] = map[string]any{"method": "DELETE", "url": e.Type + "/" + e.ID}
		entry["response"] = map[string]any{"status": "204"}
	default:
		entry["request"] = map[string]any{"method": "PUT", "url": e.Type + "/" + e.ID}
		entry["response"] = map[string]any{"status": "200", "etag": `W/"` + strconv.Itoa(e.Version) + `"`}
	}
	if s.Content == ContentFull && e.Resource != nil {
		entry["resource"] = json.RawMessage(e.Resource)
	}
	return entry
}
