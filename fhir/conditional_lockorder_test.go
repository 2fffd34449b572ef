package fhir_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

// TestTransactionsTakeConditionLocksInOneOrder: two transaction Bundles whose conditions
// name the same two identifiers in opposite orders do not deadlock (one of them, or any
// conditional request queued behind them, answering 409 "changed concurrently").
func TestTransactionsTakeConditionLocksInOneOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const system = "http://lockorder.example/mrn"
	for _, v := range []string{"1", "2"} {
		srv.Must(t, http.StatusCreated, "POST", "Patient",
			`{"resourceType":"Patient","identifier":[{"system":"`+system+`","value":"`+v+`"}]}`)
	}
	// A conditional create of one identifier, then an observation referring to the other.
	bundle := func(create, refer string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:9d5b1f3e-0000-4000-8000-00000000000` + create + `",
			 "resource":{"resourceType":"Patient","identifier":[{"system":"` + system + `","value":"` + create + `"}]},
			 "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=` + system + `|` + create + `"}},
			{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},
			 "subject":{"reference":"Patient?identifier=` + system + `|` + refer + `"}},
			 "request":{"method":"POST","url":"Observation"}}]}`
	}
	// Hold both conditions' locks, so that each Bundle gets its first one at the same
	// moment, when this transaction ends, and then asks for the other's.
	hold, err := srv.Store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback(ctx)
	for _, v := range []string{"1", "2"} {
		key := "conditional:Patient?identifier=" + url.QueryEscape(system+"|"+v) + "&"
		if err := hold.LockKey(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	answers := make([]*apptest.Response, 2)
	for i, b := range []string{bundle("1", "2"), bundle("2", "1")} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = srv.Do(t, "POST", "", b)
		}()
	}
	waitForLockWaiters(t, ctx, 2)
	if err := hold.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, a := range answers {
		if a.Status != http.StatusOK {
			t.Errorf("Bundle %d: status %d, want 200: %s", i, a.Status, a.Body)
		}
	}
}

// waitForLockWaiters waits until n connections of the server's database wait on a lock.
func waitForLockWaiters(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := srv.DB.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests wait on a lock", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
