package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestTxCommitOnlyOnce: a transaction that is over answers a further Commit with
// ErrTxClosed; it must never report success for work that was rolled back.
func TestTxCommitOnlyOnce(t *testing.T) {
	ctx := context.Background()
	t.Run("after Rollback", func(t *testing.T) {
		tx, err := store.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.PG().Exec(ctx, outboxMarker, "review3-commit-after-rollback"); err != nil {
			t.Fatal(err)
		}
		tx.Rollback(ctx)
		if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("Commit after Rollback: %v, want %v", err, pgx.ErrTxClosed)
		}
	})
	t.Run("after a failed Commit", func(t *testing.T) {
		tx, err := store.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx.PG().Exec(ctx, `SELECT 1/0`)
		if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
			t.Fatalf("first Commit: %v, want %v", err, pgx.ErrTxCommitRollback)
		}
		if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("second Commit after a failed one: %v, want %v", err, pgx.ErrTxClosed)
		}
		tx.Rollback(ctx) // after Commit, Rollback does nothing
	})
	t.Run("after a successful Commit", func(t *testing.T) {
		tx, err := store.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.PG().Exec(ctx, `SELECT 1`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("second Commit: %v, want %v", err, pgx.ErrTxClosed)
		}
	})
	if n := idleInTransaction(t); n != 0 {
		t.Errorf("%d connections left in a transaction", n)
	}
}
