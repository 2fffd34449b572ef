package storage_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// deleteIn deletes typ/id in its own transaction, returning the commit's error.
func deleteIn(ctx context.Context, typ, id string) error {
	return store.InTx(ctx, func(tx *storage.Tx) error {
		prev, err := tx.Lock(ctx, typ, id)
		if err != nil {
			return err
		}
		_, err = tx.Delete(ctx, prev)
		return err
	})
}

// TestReferenceAndDeleteRace: a write that refers to a resource and a delete of that
// resource, in concurrent transactions, never both commit, whichever goes first.
func TestReferenceAndDeleteRace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	refer := func(tx *storage.Tx, id, target string) error {
		_, err := tx.Write(ctx, nil, "Observation", id, []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/`+target+`"}}`), http.MethodPost)
		return err
	}

	t.Run("write first", func(t *testing.T) {
		put(t, "Patient", "race-1", `{"resourceType":"Patient"}`)
		tx, err := store.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if err := refer(tx, "race-obs-1", "race-1"); err != nil {
			t.Fatal(err)
		}
		deleted := make(chan error, 1)
		go func() { deleted <- deleteIn(ctx, "Patient", "race-1") }()
		select {
		case err := <-deleted:
			t.Fatalf("the delete finished (%v) while a transaction referring to the patient was open", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("commit of the referring write: %v", err)
		}
		if fe, ok := fhirerr.As(<-deleted); !ok || fe.Status() != http.StatusConflict {
			t.Fatalf("delete after the reference committed: %v, want 409", fe)
		}
	})

	t.Run("delete first", func(t *testing.T) {
		put(t, "Patient", "race-2", `{"resourceType":"Patient"}`)
		del, err := store.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer del.Rollback(ctx)
		prev, err := del.Lock(ctx, "Patient", "race-2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := del.Delete(ctx, prev); err != nil {
			t.Fatal(err)
		}
		written := make(chan error, 1)
		go func() {
			written <- store.InTx(ctx, func(tx *storage.Tx) error { return refer(tx, "race-obs-2", "race-2") })
		}()
		select {
		case err := <-written:
			t.Fatalf("the referring write finished (%v) while the delete of its target was open", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := del.Commit(ctx); err != nil {
			t.Fatalf("commit of the delete: %v", err)
		}
		if fe, ok := fhirerr.As(<-written); !ok || fe.Status() != http.StatusUnprocessableEntity {
			t.Fatalf("write referring to a patient deleted meanwhile: %v, want 422", fe)
		}
		if n := count(t, `SELECT count(*) FROM resources WHERE id = 'race-obs-2'`); n != 0 {
			t.Error("the refused write was stored")
		}
	})
}
