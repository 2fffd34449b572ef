package storage_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/careslot/careslot/storage"
	"github.com/jackc/pgx/v5"
)

// idleInTransaction counts this database's connections left inside a transaction.
func idleInTransaction(t *testing.T) int {
	return count(t, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)
}

// TestTxFailedFirstStatement: when the statement sent together with BEGIN fails, the
// commit fails too, nothing is kept, and the connection goes back to the pool clean.
func TestTxFailedFirstStatement(t *testing.T) {
	ctx := context.Background()
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.PG().Exec(ctx, `INSERT INTO outbox (rid, type, id, version_id, action) VALUES (1, 'Patient', 'tx-1', 1, 'no such action')`); err == nil {
		t.Fatal("an insert breaking a CHECK constraint succeeded")
	}
	if _, err := tx.PG().Exec(ctx, `SELECT 1`); err == nil {
		t.Error("a statement after a failed one ran in an aborted transaction")
	}
	if err := tx.Commit(ctx); !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Errorf("commit after a failed statement: %v, want %v", err, pgx.ErrTxCommitRollback)
	}
	if n := idleInTransaction(t); n != 0 {
		t.Errorf("%d connections left in a transaction", n)
	}
}

// TestTxPipelinedBeginRollsBack: a write whose BEGIN travelled with it is undone by
// Rollback, and the transaction cannot be used once it is over.
func TestTxPipelinedBeginRollsBack(t *testing.T) {
	ctx := context.Background()
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Write(ctx, nil, "Patient", "tx-rolled-back", []byte(`{"resourceType":"Patient"}`), http.MethodPost); err != nil {
		t.Fatal(err)
	}
	tx.Rollback(ctx)
	tx.Rollback(ctx) // a second Rollback does nothing
	if n := count(t, `SELECT count(*) FROM resources WHERE id = 'tx-rolled-back'`); n != 0 {
		t.Error("a rolled back write was kept")
	}
	if _, err := tx.PG().Exec(ctx, `SELECT 1`); !errors.Is(err, pgx.ErrTxClosed) {
		t.Errorf("statement after Rollback: %v, want %v", err, pgx.ErrTxClosed)
	}
	if err := tx.PG().QueryRow(ctx, `SELECT 1`).Scan(new(int)); !errors.Is(err, pgx.ErrTxClosed) {
		t.Errorf("row after Rollback: %v, want %v", err, pgx.ErrTxClosed)
	}
	if n := idleInTransaction(t); n != 0 {
		t.Errorf("%d connections left in a transaction", n)
	}
}

// TestTxQueryFirst: a transaction whose first statement streams rows begins before it,
// and sees its own later writes.
func TestTxQueryFirst(t *testing.T) {
	ctx := context.Background()
	err := store.InTx(ctx, func(tx *storage.Tx) error {
		rows, err := tx.PG().Query(ctx, `SELECT txid_current()`)
		if err != nil {
			return err
		}
		var first int64
		for rows.Next() {
			rows.Scan(&first)
		}
		rows.Close()
		var second int64
		if err := tx.PG().QueryRow(ctx, `SELECT txid_current()`).Scan(&second); err != nil {
			return err
		}
		if first == 0 || first != second {
			t.Errorf("txid %d then %d: the statements ran in different transactions", first, second)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTxCommitCompletesOnceDecided: a request that goes away just as its transaction
// commits still gets a definite outcome: the COMMIT is not cut off by its context.
func TestTxCommitCompletesOnceDecided(t *testing.T) {
	ctx := context.Background()
	tx, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Write(ctx, nil, "Patient", "tx-commit-decided", []byte(`{"resourceType":"Patient"}`), http.MethodPost); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := tx.Commit(gone); err != nil {
		t.Fatalf("commit with the request gone: %v", err)
	}
	if n := count(t, `SELECT count(*) FROM resources WHERE id = 'tx-commit-decided'`); n != 1 {
		t.Error("the committed write is not there")
	}
}
