package storage_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/storage"
)

// outboxMarker inserts an outbox row whose id is marker, as a write that a rollback must undo.
const outboxMarker = `INSERT INTO outbox (rid, type, id, version_id, action) VALUES (1, 'Patient', $1, 1, 'create')`

// TestTxFirstStatementNotSentRunsNothingOutside: when the first statement never reaches
// the server (a context already done, an argument that cannot be encoded), BEGIN did not
// run either; no later statement of the transaction may then run outside a transaction,
// where Rollback could not undo it.
func TestTxFirstStatementNotSentRunsNothingOutside(t *testing.T) {
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	failures := map[string]func(*storage.Tx) error{
		"unencodable argument": func(tx *storage.Tx) error {
			_, err := tx.PG().Exec(ctx, `SELECT $1::int`, make(chan int))
			return err
		},
		"context done, Exec": func(tx *storage.Tx) error {
			_, err := tx.PG().Exec(done, `SELECT 1`)
			return err
		},
		"context done, QueryRow": func(tx *storage.Tx) error {
			return tx.PG().QueryRow(done, `SELECT 1`).Scan(new(int))
		},
		"context done, Query": func(tx *storage.Tx) error {
			rows, err := tx.PG().Query(done, `SELECT 1`)
			if err == nil {
				rows.Close()
				err = rows.Err()
			}
			return err
		},
	}
	for name, fail := range failures {
		t.Run(name, func(t *testing.T) {
			marker := "review3-not-sent-" + name
			tx, err := store.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if err := fail(tx); err == nil {
				t.Fatal("the first statement did not fail")
			}
			// The transaction may refuse further statements; what it must not do is run
			// them outside a transaction.
			tx.PG().Exec(ctx, outboxMarker, marker)
			if err := tx.Commit(ctx); err == nil {
				t.Error("Commit of a transaction whose first statement failed succeeded")
			}
			if n := count(t, `SELECT count(*) FROM outbox WHERE id = $1`, marker); n != 0 {
				t.Error("a statement after a first statement that was never sent ran outside the transaction")
			}
		})
	}
	waitPoolIdle(t)
}

// waitPoolIdle waits until the pool has no connection acquired (the pool destroys a
// broken one in the background) and no connection of this database but the caller's is
// inside a transaction or running a statement (a closed connection's transaction ends
// when the server notices).
func waitPoolIdle(t *testing.T) {
	t.Helper()
	const busy = `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND pid <> pg_backend_pid() AND (state LIKE 'idle in transaction%' OR state = 'active')`
	deadline := time.Now().Add(5 * time.Second)
	for {
		acquired, inTx := storage.PoolOf(store).Stat().AcquiredConns(), count(t, busy)
		if acquired == 0 && inTx == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still acquired, %d in a transaction", acquired, inTx)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTxContextEndsWhileFirstStatementWaits: a first statement (pipelined with BEGIN)
// that waits on a lock until the context ends fails, and the connection never comes
// back to the pool inside a transaction.
func TestTxContextEndsWhileFirstStatementWaits(t *testing.T) {
	ctx := context.Background()
	put(t, "Patient", "review3-wait", `{"resourceType":"Patient"}`)
	holder, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Lock(ctx, "Patient", "review3-wait"); err != nil {
		t.Fatal(err)
	}

	waiter, err := store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := waiter.Lock(short, "Patient", "review3-wait"); err == nil {
		t.Fatal("Lock of a row locked elsewhere succeeded before its context ended")
	}
	if err := waiter.Commit(ctx); err == nil {
		t.Error("Commit after a statement cut short by its context succeeded")
	}
	waiter.Rollback(ctx)
	holder.Rollback(ctx)
	waitPoolIdle(t)
}

// TestInTxPanicReleasesConnection: a panic in InTx's function rolls the transaction
// back and gives the connection back.
func TestInTxPanicReleasesConnection(t *testing.T) {
	ctx := context.Background()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not reach the caller")
			}
		}()
		store.InTx(ctx, func(tx *storage.Tx) error {
			if _, err := tx.Write(ctx, nil, "Patient", "review3-panic", []byte(`{"resourceType":"Patient"}`), http.MethodPost); err != nil {
				t.Fatal(err)
			}
			panic("boom")
		})
	}()
	if n := count(t, `SELECT count(*) FROM resources WHERE id = 'review3-panic'`); n != 0 {
		t.Error("the write of a transaction that panicked was kept")
	}
	waitPoolIdle(t)
}

// TestTxCommitWithContextDone: a Commit whose context is already done answers as it
// ended - an error and nothing kept, or success and the write kept - and leaves no
// connection inside a transaction.
func TestTxCommitWithContextDone(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ id, body string }{
		// nothing to check at commit
		{"review3-commit-done-1", `{"resourceType":"Patient"}`},
		// a self-reference, checked at commit
		{"review3-commit-done-2", `{"resourceType":"Patient","link":[{"type":"seealso","other":{"reference":"Patient/review3-commit-done-2"}}]}`},
	} {
		id, body := c.id, c.body
		tx, err := store.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Write(ctx, nil, "Patient", id, []byte(body), http.MethodPost); err != nil {
			t.Fatal(err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		err = tx.Commit(done)
		kept := count(t, `SELECT count(*) FROM resources WHERE id = $1`, id) == 1
		if (err == nil) != kept {
			t.Errorf("Commit answered %v, and the write was kept: %v", err, kept)
		}
		tx.Rollback(ctx)
		waitPoolIdle(t)
	}
}
