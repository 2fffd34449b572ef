package fhir_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

// TestCascadeDeleteTakesAConcurrentReferrer: a resource that refers to the target and
// commits while DELETE ?_cascade=delete waits for it is deleted with the target, not
// answered with 409 "still referenced … or delete with _cascade=delete".
func TestCascadeDeleteTakesAConcurrentReferrer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Must(t, http.StatusCreated, "PUT", "Patient/cascade-race-1", patient("cascade-race-1"))
	srv.Must(t, http.StatusCreated, "PUT", "Observation/cascade-race-old",
		`{"resourceType":"Observation","id":"cascade-race-old","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/cascade-race-1"}}`)

	// A transaction that refers to the patient and has not committed yet.
	tx, err := srv.Store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Write(ctx, nil, "Observation", "cascade-race-new",
		[]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/cascade-race-1"}}`), http.MethodPost); err != nil {
		t.Fatal(err)
	}

	done := make(chan *apptest.Response, 1)
	go func() { done <- srv.Do(t, "DELETE", "Patient/cascade-race-1?_cascade=delete", nil) }()
	waitForLockWaiters(t, ctx, 1)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.Status != http.StatusNoContent {
		t.Fatalf("cascading delete: status %d, want 204: %s", r.Status, r.Body)
	}
	for _, path := range []string{"Patient/cascade-race-1", "Observation/cascade-race-old", "Observation/cascade-race-new"} {
		srv.Must(t, http.StatusGone, "GET", path, nil)
	}
}
