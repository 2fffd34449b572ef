package storage_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
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

// TestDeadlockIsConflict: two transactions that lock each other's resources, one with
// Lock (FOR UPDATE) and the other with a write referring to it (FOR SHARE), deadlock;
// whichever statement PostgreSQL aborts answers 409, so the client retries, not 500.
func TestDeadlockIsConflict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, victim := range []string{"Lock", "Write"} {
		t.Run("aborted in "+victim, func(t *testing.T) {
			a, c := "review3-dl-a-"+victim, "review3-dl-c-"+victim
			put(t, "Patient", a, `{"resourceType":"Patient"}`)
			put(t, "Patient", c, `{"resourceType":"Patient"}`)
			// The transaction that waits first and checks sooner finds the deadlock.
			lockTimeout, writeTimeout := "200ms", "10s"
			if victim == "Write" {
				lockTimeout, writeTimeout = "10s", "200ms"
			}
			locker := beginWithDeadlockTimeout(t, ctx, lockTimeout)
			defer locker.Rollback(ctx)
			writer := beginWithDeadlockTimeout(t, ctx, writeTimeout)
			defer writer.Rollback(ctx)
			if _, err := locker.Lock(ctx, "Patient", a); err != nil {
				t.Fatal(err)
			}
			prevC, err := writer.Lock(ctx, "Patient", c)
			if err != nil {
				t.Fatal(err)
			}
			locked, written := make(chan error, 1), make(chan error, 1)
			lock := func() {
				_, err := locker.Lock(ctx, "Patient", c)
				locked <- err
			}
			write := func() {
				// Patient/c now refers to a: the write locks a FOR SHARE.
				_, err := writer.Write(ctx, prevC, "Patient", c,
					[]byte(`{"resourceType":"Patient","link":[{"type":"seealso","other":{"reference":"Patient/`+a+`"}}]}`), http.MethodPut)
				written <- err
			}
			first, second := lock, write
			if victim == "Write" {
				first, second = write, lock
			}
			go first()
			waitForLockWaiters(t, 1)
			go second()
			var failed error
			var survivor chan error
			if victim == "Lock" {
				failed, survivor = <-locked, written
				locker.Rollback(ctx)
			} else {
				failed, survivor = <-written, locked
				writer.Rollback(ctx)
			}
			if fe, ok := fhirerr.As(failed); !ok || fe.Status != http.StatusConflict {
				t.Fatalf("%s aborted by a deadlock: %v, want a 409", victim, failed)
			}
			if err := <-survivor; err != nil {
				t.Fatalf("the other transaction, once the deadlock was broken: %v", err)
			}
		})
	}
}
