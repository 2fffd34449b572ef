package storage_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// TestReferThenUpdateTakeTurns: two transactions that each write a resource referring to
// a patient and then update that patient (a transaction Bundle runs its POSTs before its
// PUTs) take turns; the lock a reference takes on its target must not deadlock with the
// lock of an update of that target.
func TestReferThenUpdateTakeTurns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put(t, "Patient", "review3-shared", `{"resourceType":"Patient"}`)
	results := make(chan error, 2)
	var txs []*storage.Tx
	for i := range 2 {
		tx := beginWithDeadlockTimeout(t, ctx, "100ms")
		defer tx.Rollback(ctx)
		txs = append(txs, tx)
		body := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/review3-shared"}}`
		if _, err := tx.Write(ctx, nil, "Observation", fmt.Sprintf("review3-refer-%d", i), []byte(body), http.MethodPost); err != nil {
			t.Fatal(err)
		}
	}
	for _, tx := range txs {
		go func() {
			prev, err := tx.Lock(ctx, "Patient", "review3-shared")
			if err == nil {
				_, err = tx.Write(ctx, prev, "Patient", "review3-shared", []byte(`{"resourceType":"Patient","active":true}`), http.MethodPut)
			}
			if err == nil {
				err = tx.Commit(ctx)
			}
			results <- err
		}()
	}
	for range txs {
		if err := <-results; err != nil {
			t.Errorf("a transaction that referred to and then updated the patient: %v", err)
		}
	}
	if n := count(t, `SELECT version_id FROM resources WHERE type = 'Patient' AND id = 'review3-shared'`); n != 3 {
		t.Errorf("patient at version %d, want 3", n)
	}
}

// TestDeleteWaitsForReferenceAfterLock: Lock no longer keeps a transaction from referring
// to the resource it locked, so a delete must wait for that transaction at Delete and
// then refuse, rather than leave its reference dangling.
func TestDeleteWaitsForReferenceAfterLock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put(t, "Patient", "review3-locked-then-referred", `{"resourceType":"Patient"}`)
	del, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer del.Rollback(ctx)
	prev, err := del.Lock(ctx, "Patient", "review3-locked-then-referred")
	if err != nil {
		t.Fatal(err)
	}
	refer, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer refer.Rollback(ctx)
	body := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/review3-locked-then-referred"}}`
	if _, err := refer.Write(ctx, nil, "Observation", "review3-after-lock", []byte(body), http.MethodPost); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() {
		_, err := del.Delete(ctx, prev)
		if err == nil {
			err = del.Commit(ctx)
		}
		deleted <- err
	}()
	select {
	case err := <-deleted:
		t.Fatalf("the delete finished (%v) while a transaction referring to the patient was open", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := refer.Commit(ctx); err != nil {
		t.Fatalf("commit of the referring write: %v", err)
	}
	if fe, ok := fhirerr.As(<-deleted); !ok || fe.Status() != http.StatusConflict {
		t.Fatalf("delete after the reference committed: %v, want 409", fe)
	}
	if n := count(t, `SELECT count(*) FROM resources WHERE id = 'review3-locked-then-referred' AND NOT deleted`); n != 1 {
		t.Error("the referenced patient was deleted")
	}
}
