package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
	"github.com/jackc/pgx/v5/pgconn"
)

// A write that a deadlock aborts is run again in a new transaction, and succeeds once
// the other transaction is done: the client never sees the 409.
func TestInTxRunsADeadlockedWriteAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, c := "retry-dl-a", "retry-dl-c"
	put(t, "Patient", a, `{"resourceType":"Patient"}`)
	put(t, "Patient", c, `{"resourceType":"Patient"}`)

	other := beginWithDeadlockTimeout(t, ctx, "10s")
	defer other.Rollback(ctx)
	if _, err := other.Lock(ctx, "Patient", c); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	done := make(chan error, 1)
	go func() {
		done <- store.InTx(ctx, func(tx *storage.Tx) error {
			attempts++
			// This one checks for the deadlock first, so it is the one aborted.
			if _, err := tx.PG().Exec(ctx, `SELECT set_config('deadlock_timeout', '200ms', true)`); err != nil {
				return err
			}
			if _, err := tx.Lock(ctx, "Patient", a); err != nil {
				return err
			}
			_, err := tx.Lock(ctx, "Patient", c)
			return err
		})
	}()
	waitForLockWaiters(t, 1)
	if _, err := other.Lock(ctx, "Patient", a); err != nil {
		t.Fatalf("the other transaction: %v", err)
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("deadlocked write: %v, want success on a second attempt", err)
	}
	if attempts != 2 {
		t.Errorf("%d attempts, want 2", attempts)
	}
}

func TestInTxRetriesABoundedNumberOfTimes(t *testing.T) {
	raise := func(code string) func(*storage.Tx) error {
		return func(tx *storage.Tx) error {
			_, err := tx.PG().Exec(context.Background(), `DO $$ BEGIN RAISE EXCEPTION 'from the test' USING ERRCODE = '`+code+`'; END $$`)
			return err
		}
	}
	cases := []struct {
		name     string
		code     string
		attempts int
		conflict bool // the error that reaches the client is a 409
	}{
		{"serialization failure", "40001", 3, true},
		{"deadlock", "40P01", 3, true},
		{"unique violation", "23505", 1, false},
		{"division by zero", "22012", 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			attempts := 0
			fn := raise(tc.code)
			err := store.InTx(context.Background(), func(tx *storage.Tx) error { attempts++; return fn(tx) })
			if attempts != tc.attempts {
				t.Errorf("%d attempts, want %d", attempts, tc.attempts)
			}
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Errorf("error %v lost its cause %s", err, tc.code)
			}
			if got := errors.Is(err, fhirerr.ErrConflict); got != tc.conflict {
				t.Errorf("error %v: a 409 is %v, want %v", err, got, tc.conflict)
			}
		})
	}
}

// A caller that stops waiting is not kept waiting for the attempts left.
func TestInTxStopsRetryingWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	attempts := 0
	err := store.InTx(ctx, func(tx *storage.Tx) error {
		attempts++
		_, err := tx.PG().Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'from the test' USING ERRCODE = '40001'; END $$`)
		cancel()
		return err
	})
	if attempts != 1 || !errors.Is(err, fhirerr.ErrConflict) {
		t.Errorf("%d attempts, error %v; want 1 and a 409", attempts, err)
	}
}
