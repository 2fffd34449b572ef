package storage_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
	"github.com/jackc/pgx/v5/pgconn"
)

// beginWithDeadlockTimeout starts a transaction whose deadlock check runs after timeout,
// so a test decides which of two deadlocked transactions finds the deadlock.
func beginWithDeadlockTimeout(t *testing.T, ctx context.Context, timeout string) *storage.Tx {
	t.Helper()
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.PG().Exec(ctx, `SELECT set_config('deadlock_timeout', $1, true)`, timeout); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitForLockWaiters waits until n connections of this database wait on a lock.
func waitForLockWaiters(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d transactions wait on a lock", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeadlockIsConflict: when two transactions wait for each other, whichever statement
// PostgreSQL aborts (Lock, a write locking its reference targets, a delete waiting for
// the transactions that refer to it) answers 409, so the client retries, not 500.
func TestDeadlockIsConflict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lock := func(tx *storage.Tx, id string) error {
		_, err := tx.Lock(ctx, "Patient", id)
		return err
	}
	refer := func(tx *storage.Tx, id, target string) error {
		_, err := tx.Write(ctx, nil, "Observation", id, []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/`+target+`"}}`), http.MethodPost)
		return err
	}
	remove := func(tx *storage.Tx, id string) error {
		prev, err := tx.Lock(ctx, "Patient", id)
		if err == nil {
			_, err = tx.Delete(ctx, prev)
		}
		return err
	}
	// Each case readies the victim and the other transaction, then the victim's wait
	// begins and the other's wait closes the circle; the victim checks for the deadlock
	// first.
	cases := []struct {
		name                  string
		ready                 func(victim, other *storage.Tx, a, c string) error
		victimWait, otherWait func(victim, other *storage.Tx, a, c string) error
	}{
		{"Lock",
			func(victim, other *storage.Tx, a, c string) error {
				return errors.Join(lock(victim, a), lock(other, c))
			},
			func(victim, _ *storage.Tx, _, c string) error { return lock(victim, c) },
			func(_, other *storage.Tx, a, _ string) error { return lock(other, a) }},
		{"Write",
			func(victim, other *storage.Tx, a, c string) error {
				return errors.Join(lock(victim, a), remove(other, c))
			},
			func(victim, _ *storage.Tx, _, c string) error { return refer(victim, "review3-dl-obs-w", c) },
			func(_, other *storage.Tx, a, _ string) error { return lock(other, a) }},
		{"Delete",
			func(victim, other *storage.Tx, a, c string) error {
				return errors.Join(lock(victim, c), refer(other, "review3-dl-obs-d", a))
			},
			func(victim, _ *storage.Tx, a, _ string) error { return remove(victim, a) },
			func(_, other *storage.Tx, _, c string) error { return lock(other, c) }},
	}
	for _, tc := range cases {
		t.Run("aborted in "+tc.name, func(t *testing.T) {
			a, c := "review3-dl-a-"+tc.name, "review3-dl-c-"+tc.name
			put(t, "Patient", a, `{"resourceType":"Patient"}`)
			put(t, "Patient", c, `{"resourceType":"Patient"}`)
			victim := beginWithDeadlockTimeout(t, ctx, "200ms")
			defer victim.Rollback(ctx)
			other := beginWithDeadlockTimeout(t, ctx, "10s")
			defer other.Rollback(ctx)
			if err := tc.ready(victim, other, a, c); err != nil {
				t.Fatal(err)
			}
			aborted, survived := make(chan error, 1), make(chan error, 1)
			go func() { aborted <- tc.victimWait(victim, other, a, c) }()
			waitForLockWaiters(t, 1)
			go func() { survived <- tc.otherWait(victim, other, a, c) }()
			err := <-aborted
			victim.Rollback(ctx)
			if fe, ok := fhirerr.As(err); !ok || fe.Status() != http.StatusConflict {
				t.Fatalf("%s aborted by a deadlock: %v, want a 409", tc.name, err)
			}
			// The 409 keeps the database's error as its cause, for the log and errors.As.
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "40P01" || !errors.Is(err, fhirerr.ErrConflict) {
				t.Errorf("the 409 of a deadlock lost its cause: %v", err)
			}
			if err := <-survived; err != nil {
				t.Fatalf("the other transaction, once the deadlock was broken: %v", err)
			}
		})
	}
}
