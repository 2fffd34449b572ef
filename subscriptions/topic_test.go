package subscriptions_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/subscriptions/subscription"
)

// statusOf reads the SubscriptionStatus (the first entry) of a notification Bundle.
func statusOf(t *testing.T, body []byte) (bundle map[string]any, params map[string]any, events []map[string]string) {
	t.Helper()
	if err := json.Unmarshal(body, &bundle); err != nil {
		t.Fatalf("notification is not JSON: %s", body)
	}
	if bundle["resourceType"] != "Bundle" || bundle["type"] != "history" {
		t.Fatalf("a notification is a history Bundle: %s", body)
	}
	entries := bundle["entry"].([]any)
	status := entries[0].(map[string]any)["resource"].(map[string]any)
	if status["resourceType"] != "Parameters" {
		t.Fatalf("the first entry is the SubscriptionStatus Parameters: %s", body)
	}
	params = map[string]any{}
	for _, p := range status["parameter"].([]any) {
		p := p.(map[string]any)
		name := p["name"].(string)
		if name == "notification-event" {
			ev := map[string]string{}
			for _, part := range p["part"].([]any) {
				part := part.(map[string]any)
				switch part["name"] {
				case "event-number":
					ev["number"] = part["valueString"].(string)
				case "focus":
					ev["focus"] = part["valueReference"].(map[string]any)["reference"].(string)
				}
			}
			events = append(events, ev)
			continue
		}
		for k, v := range p {
			if k != "name" {
				params[name] = v
			}
		}
	}
	return bundle, params, events
}

func slotTopic(endpoint, schedule string, heartbeat int) map[string]any {
	return map[string]any{
		"resourceType": "Subscription", "status": "requested", "reason": "slots of one schedule",
		"criteria": subscription.TopicBase + "slot-availability",
		"_criteria": map[string]any{"extension": []any{map[string]any{
			"url": subscription.ExtFilterCriteria, "valueString": "Slot?schedule=Schedule/" + schedule}}},
		"channel": map[string]any{
			"extension": []any{map[string]any{"url": subscription.ExtHeartbeatPeriod, "valueUnsignedInt": heartbeat}},
			"type":      "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
			"_payload": map[string]any{"extension": []any{map[string]any{"url": subscription.ExtPayloadContent, "valueCode": "full-resource"}}},
		},
	}
}

func schedules(t *testing.T, s *apptest.Server) {
	s.Must(t, 201, "PUT", "Practitioner/dr", map[string]any{"resourceType": "Practitioner", "id": "dr"})
	for _, id := range []string{"s1", "s2"} {
		s.Must(t, 201, "PUT", "Schedule/"+id, map[string]any{"resourceType": "Schedule", "id": id, "actor": []any{map[string]any{"reference": "Practitioner/dr"}}})
	}
}

func slot(id, schedule, status string, hour int) map[string]any {
	return map[string]any{"resourceType": "Slot", "id": id, "schedule": map[string]any{"reference": "Schedule/" + schedule}, "status": status,
		"start": fmt.Sprintf("2030-01-07T%02d:00:00Z", hour), "end": fmt.Sprintf("2030-01-07T%02d:30:00Z", hour)}
}

func TestTopicHandshakeEventsHeartbeatAndCatchUp(t *testing.T) {
	s, _ := newServer(t)
	h := newHook(t)
	schedules(t, s)
	sub := s.Must(t, 201, "POST", "Subscription", slotTopic(h.URL, "s1", 1)).JSON(t)
	id := sub["id"].(string)

	hs := h.waitEvents(t, "handshake", 1)
	_, params, _ := statusOf(t, hs[0].Body)
	if params["type"] != "handshake" || params["events-since-subscription-start"] != "0" || params["topic"] != subscription.TopicBase+"slot-availability" {
		t.Errorf("handshake status: %v", params)
	}
	waitStatus(t, s, id, "active")

	s.Must(t, 201, "PUT", "Slot/a", slot("a", "s1", "free", 9)) // event 1
	s.Must(t, 201, "PUT", "Slot/b", slot("b", "s2", "free", 9)) // another schedule: filtered out
	s.Must(t, 200, "PUT", "Slot/a", slot("a", "s1", "busy", 9)) // event 2: free to busy
	changed := slot("a", "s1", "busy", 9)
	changed["comment"] = "still busy"
	s.Must(t, 200, "PUT", "Slot/a", changed)                    // no availability change: no event
	s.Must(t, 200, "PUT", "Slot/a", slot("a", "s1", "free", 9)) // event 3: free again

	got := h.waitEvents(t, "event-notification", 3)
	for i, r := range got[:3] {
		bundle, params, events := statusOf(t, r.Body)
		want := fmt.Sprint(i + 1)
		if params["type"] != "event-notification" || params["events-since-subscription-start"] != want || len(events) != 1 || events[0]["number"] != want {
			t.Errorf("notification %d: %v %v", i, params, events)
		}
		if len(events) == 1 && events[0]["focus"] != s.URL+"/Slot/a" {
			t.Errorf("focus %s", events[0]["focus"])
		}
		entries := bundle["entry"].([]any)
		if len(entries) != 2 || entries[1].(map[string]any)["resource"] == nil {
			t.Errorf("full-resource carries the slot: %s", r.Body)
		}
	}
	if len(got) > 1 {
		b, _, _ := statusOf(t, got[1].Body)
		if st := b["entry"].([]any)[1].(map[string]any)["resource"].(map[string]any)["status"]; st != "busy" {
			t.Errorf("event 2 carries the busy version, got %v", st)
		}
	}
	beats := h.waitEvents(t, "heartbeat", 1)
	if _, p, _ := statusOf(t, beats[0].Body); p["type"] != "heartbeat" {
		t.Errorf("heartbeat status: %v", p)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(h.events("event-notification")); n != 3 {
		t.Errorf("%d event notifications, want 3", n)
	}

	// $status and $events: a subscriber that was down catches up by event number.
	st := s.Must(t, 200, "GET", "Subscription/"+id+"/$status", nil).JSON(t)
	stParams := st["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["parameter"].([]any)
	found := false
	for _, p := range stParams {
		p := p.(map[string]any)
		if p["name"] == "events-since-subscription-start" && p["valueString"] == "3" {
			found = true
		}
	}
	if !found {
		t.Errorf("$status: %v", st)
	}
	r := s.Must(t, 200, "GET", "Subscription/"+id+"/$events?eventsSinceNumber=2&eventsUntilNumber=3", nil)
	_, p, events := statusOf(t, r.Body)
	if p["type"] != "query-event" || len(events) != 2 || events[0]["number"] != "2" || events[1]["number"] != "3" {
		t.Errorf("$events 2..3: %v %v", p, events)
	}
	r = s.Must(t, 200, "GET", "Subscription/"+id+"/$events?eventsSinceNumber=1&content=id-only", nil)
	b, _, events := statusOf(t, r.Body)
	if len(events) != 3 || b["entry"].([]any)[1].(map[string]any)["resource"] != nil {
		t.Errorf("$events content=id-only: %s", r.Body)
	}
	s.Must(t, 400, "GET", "Subscription/"+id+"/$events?eventsSinceNumber=x", nil)
	s.Must(t, 404, "GET", "Subscription/nope/$status", nil)
}

func TestUnsupportedSubscriptionsAreRefused(t *testing.T) {
	s, _ := newServer(t)
	h := newHook(t)
	withFilter := func(filter string) map[string]any {
		sub := slotTopic(h.URL, "s1", 0)
		sub["_criteria"] = map[string]any{"extension": []any{map[string]any{"url": subscription.ExtFilterCriteria, "valueString": filter}}}
		delete(sub["channel"].(map[string]any), "extension")
		return sub
	}
	withChannel := func(k string, v any) map[string]any {
		sub := restHook("Patient?family=x", h.URL, nil)
		sub["channel"].(map[string]any)[k] = v
		return sub
	}
	cases := map[string]struct {
		body       map[string]any
		expression string
	}{
		"unknown topic":        {restHook("https://example.org/SubscriptionTopic/nope", h.URL, nil), "Subscription.criteria"},
		"filter not allowed":   {withFilter("Slot?start=2030-01-01"), "Subscription.criteria.extension[0]"},
		"filter of other type": {withFilter("Patient?name=x"), "Subscription.criteria.extension[0]"},
		"unknown parameter":    {restHook("Patient?nosuch=x", h.URL, nil), "Subscription.criteria"},
		"chained criteria":     {restHook("Appointment?patient.name=x", h.URL, nil), "Subscription.criteria"},
		"_include criteria":    {restHook("Appointment?_include=Appointment:patient", h.URL, nil), "Subscription.criteria"},
		"email channel":        {withChannel("type", "email"), "Subscription.channel.type"},
		"xml payload":          {withChannel("payload", "application/fhir+xml"), "Subscription.channel.payload"},
		"bad header":           {withChannel("header", []string{"no colon"}), "Subscription.channel.header[0]"},
		"active on create":     {restHook("Patient?family=x", h.URL, map[string]any{"status": "active"}), "Subscription.status"},
		"payload content":      {withChannel("_payload", map[string]any{"extension": []any{map[string]any{"url": subscription.ExtPayloadContent, "valueCode": "everything"}}}), "Subscription.channel.payload"},
	}
	for name, c := range cases {
		r := s.Do(t, "POST", "Subscription", c.body)
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d, want 422: %s", name, r.Status, r.Body)
			continue
		}
		oo := r.JSON(t)
		issue := oo["issue"].([]any)[0].(map[string]any)
		if expr, _ := issue["expression"].([]any); len(expr) == 0 || expr[0] != c.expression {
			t.Errorf("%s: expression %v, want %s", name, issue["expression"], c.expression)
		}
	}
}
