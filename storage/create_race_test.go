package storage_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// TestConcurrentCreateOfOneID: two transactions create the same type and id. The second
// waits for the first; if the first commits, the second answers 409 and leaves nothing;
// if the first rolls back, the second creates the resource with its references.
func TestConcurrentCreateOfOneID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put(t, "Patient", "review3-race-target", `{"resourceType":"Patient"}`)
	body := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/review3-race-target"}}`)
	for _, firstCommits := range []bool{true, false} {
		name, id := "first rolls back", "review3-race-rollback"
		if firstCommits {
			name, id = "first commits", "review3-race-commit"
		}
		t.Run(name, func(t *testing.T) {
			first, err := store.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Rollback(ctx)
			if _, err := first.Write(ctx, nil, "Observation", id, body, http.MethodPost); err != nil {
				t.Fatal(err)
			}
			second := make(chan error, 1)
			go func() {
				second <- store.InTx(ctx, func(tx *storage.Tx) error {
					_, err := tx.Write(ctx, nil, "Observation", id, body, http.MethodPost)
					return err
				})
			}()
			waitForLockWaiters(t, 1)
			if firstCommits {
				if err := first.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				err := <-second
				if fe, ok := fhirerr.As(err); !ok || fe.Status() != http.StatusConflict {
					t.Fatalf("second create of the same id: %v, want 409", err)
				}
			} else {
				first.Rollback(ctx)
				if err := <-second; err != nil {
					t.Fatalf("create after the first rolled back: %v", err)
				}
			}
			if n := count(t, `SELECT count(*) FROM resource_versions WHERE id = $1`, id); n != 1 {
				t.Errorf("%d versions, want 1", n)
			}
			if n := count(t, `SELECT count(*) FROM resource_links l JOIN resources r USING (rid) WHERE r.id = $1`, id); n != 1 {
				t.Errorf("%d reference rows, want 1", n)
			}
			if n := count(t, `SELECT count(*) FROM outbox WHERE id = $1`, id); n != 1 {
				t.Errorf("%d outbox rows, want 1", n)
			}
			waitPoolIdle(t)
		})
	}
}
