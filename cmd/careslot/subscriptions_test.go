package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/storagetest"
	"github.com/careslot/careslot/subscriptions/brokertest"
)

// fhirCall makes one FHIR request; it answers the decoded body, or an error when the server
// did not answer (it may be dead).
func fhirCall(base, method, path string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+"/"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := tokenClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	json.Unmarshal(raw, &doc)
	return resp.StatusCode, doc, nil
}

// A careslot killed (SIGKILL) in the middle of a stream of changes loses no notification:
// every change a client saw committed reaches the subscriber once a careslot runs again.
func TestNotificationsSurviveAKilledServer(t *testing.T) {
	db := storagetest.NewDatabase(t)
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	env := []string{"AMQP_URL=" + amqpURL, "CARESLOT_SUBSCRIPTION_ALLOW_PRIVATE=true"}

	var mu sync.Mutex
	notified := map[string]bool{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		notified[r.Header.Get("X-Careslot-Resource")] = true
		mu.Unlock()
	}))
	defer hook.Close()

	first := startServe(t, db, env...)
	status, sub, err := fhirCall(first.base, "POST", "Subscription", map[string]any{
		"resourceType": "Subscription", "status": "requested", "reason": "test", "criteria": "Patient?family=kill",
		"channel": map[string]any{"type": "rest-hook", "endpoint": hook.URL, "payload": "application/fhir+json"},
	})
	if err != nil || status != 201 {
		t.Fatalf("create Subscription: %d %v %v", status, sub, err)
	}
	waitActive := time.Now().Add(30 * time.Second)
	for {
		_, cur, _ := fhirCall(first.base, "GET", "Subscription/"+sub["id"].(string), nil)
		if cur["status"] == "active" {
			break
		}
		if time.Now().After(waitActive) {
			t.Fatalf("the subscription never became active: %v", cur)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var committed []string
	write := func(base string, n int) {
		for i := 0; i < n; i++ {
			status, doc, err := fhirCall(base, "POST", "Patient", map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": "Kill"}}})
			if err != nil {
				return // the server died under this request: its outcome is unknown
			}
			if status != 201 {
				t.Fatalf("create: %d %v", status, doc)
			}
			committed = append(committed, fmt.Sprintf("Patient/%s/_history/1", doc["id"]))
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); write(first.base, 1000) }()
	time.Sleep(time.Second)
	first.cmd.Process.Kill()
	<-done
	before := len(committed)

	second := startServe(t, db, env...)
	write(second.base, 20)
	if before == 0 {
		t.Fatal("no write committed before the kill; the test proves nothing")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		var missing []string
		for _, c := range committed {
			if !notified[c] {
				missing = append(missing, c)
			}
		}
		mu.Unlock()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range []*process{first, second} {
				for len(p.logs) > 0 {
					t.Log(<-p.logs)
				}
			}
			t.Fatalf("%d of %d committed changes (%d before the kill) were never notified, e.g. %s", len(missing), len(committed), before, missing[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
