package storage_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/careslot/careslot/storage/storagetest"
)

// TestSearchOverStatementTimeoutIs503: a search that runs past statement_timeout is a 503
// OperationOutcome, never a 500 or a dropped connection. Planning twenty joined
// conditions takes far longer than the 1 ms allowed here.
func TestSearchOverStatementTimeoutIs503(t *testing.T) {
	ctx := context.Background()
	short, err := storage.OpenWith(ctx, storagetest.NewDatabase(t), storage.Options{StatementTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	params := url.Values{}
	for i := 0; i < search.MaxConditions; i++ {
		params.Add("name", fmt.Sprintf("a%d", i))
	}
	q, err := search.Definitions().Parse("Patient", params, search.ParseOptions{DefaultCount: 10, MaxCount: 100})
	if err != nil {
		t.Fatal(err)
	}
	_, err = short.Search(ctx, q)
	fe, ok := fhirerr.As(err)
	if !ok || fe.Status() != 503 || fe.Code != fhirerr.CodeTooCostly {
		t.Fatalf("got %v; want 503 too-costly", err)
	}
	var timeout string
	if err := storage.PoolOf(short).QueryRow(ctx, `SHOW statement_timeout`).Scan(&timeout); err != nil || timeout != "1ms" {
		t.Errorf("statement_timeout is %q (%v), want 1ms", timeout, err)
	}
}

// TestDefaultStatementTimeout: every connection of the pool runs under the default.
func TestDefaultStatementTimeout(t *testing.T) {
	var timeout string
	if err := storage.PoolOf(store).QueryRow(context.Background(), `SHOW statement_timeout`).Scan(&timeout); err != nil || timeout != "30s" {
		t.Errorf("statement_timeout is %q (%v), want 30s", timeout, err)
	}
}

// TestCancelledContextStopsTheQuery: when a request's client goes away its context ends,
// and the query stops on the server too (pgx's default only closed the socket, which
// Postgres does not notice while a query runs).
func TestCancelledContextStopsTheQuery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	_, err := storage.PoolOf(store).Exec(ctx, `SELECT pg_sleep(20) /* cancel-me */`)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("the query ended after %s with %v; want it cancelled at once", time.Since(start), err)
	}
	var running int
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := storage.PoolOf(store).QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE query LIKE '%cancel-me%' AND state = 'active' AND pid <> pg_backend_pid()`).Scan(&running)
		if err != nil {
			t.Fatal(err)
		}
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancelled query still runs on the server")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestExclusiveWaitsPastStatementTimeout: a replica waiting for another's turn (a seed
// that takes minutes) is not cut by statement_timeout.
func TestExclusiveWaitsPastStatementTimeout(t *testing.T) {
	ctx := context.Background()
	short, err := storage.OpenWith(ctx, storagetest.NewDatabase(t), storage.Options{StatementTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	held := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- short.Exclusive(ctx, "timeout-test", func() error {
			close(held)
			time.Sleep(500 * time.Millisecond)
			return nil
		})
	}()
	<-held
	if err := short.Exclusive(ctx, "timeout-test", func() error { return nil }); err != nil {
		t.Errorf("the second turn: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("the first turn: %v", err)
	}
}
