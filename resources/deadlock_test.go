package resources_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

// bookIntoDeadlock sends a booking of two slots (made here) while another transaction
// takes the slots' row locks in the opposite order, so that PostgreSQL finds a deadlock
// and aborts the booking's transaction: the other one checks for deadlocks only after
// 10 s, so the booking (after the default 1 s) is the one to find it. body makes the
// request from the start of the first slot and the two slot ids.
func bookIntoDeadlock(t *testing.T, c *clinic, hour int, body func(start time.Time, first, second string) (path string, doc map[string]any)) (status int, answer []byte) {
	t.Helper()
	ctx := context.Background()
	slots := []string{c.slot(t, 0, at(hour, 0), 30), c.slot(t, 0, at(hour, 30), 30)}
	sort.Strings(slots) // the order in which a booking locks them
	path, doc := body(at(hour, 0), slots[0], slots[1])
	b, _ := json.Marshal(doc)

	other, err := c.srv.Store.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback(ctx)
	if _, err := other.PG().Exec(ctx, `SELECT set_config('deadlock_timeout', '10s', true)`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Lock(ctx, "Slot", slots[1]); err != nil {
		t.Fatal(err)
	}
	type answered struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan answered, 1)
	go func() {
		resp, err := c.srv.Client.Post(c.srv.URL+"/"+path, "application/fhir+json", bytes.NewReader(b))
		if err != nil {
			done <- answered{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- answered{resp.StatusCode, body, err}
	}()
	// The booking holds the first slot and waits for the second ...
	waitForLockWaiters(t, c.srv, 1)
	// ... which this transaction holds while it asks for the first.
	if _, err := other.Lock(ctx, "Slot", slots[0]); err != nil {
		t.Fatal(err)
	}
	other.Rollback(ctx) // the booking, if tried again, may now go on
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	return a.status, a.body
}

// waitForLockWaiters waits until n connections of the server's database wait on a lock.
func waitForLockWaiters(t *testing.T, srv *apptest.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := srv.DB.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d connections wait on a lock", waiting, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A booking whose transaction a deadlock aborted must not be tried again in that
// transaction (after releasing lapsed holds), where every statement fails: in a
// transaction Bundle, which runs once, it is the 409 that says to retry, not a 500.
func TestDeadlockedBookingInBundleIsConflict(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	status, answer := bookIntoDeadlock(t, c, 8, func(start time.Time, first, second string) (string, map[string]any) {
		appt := c.appointment("booked", c.patients[0], 0, start, start.Add(time.Hour), first, second)
		return "", map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
			map[string]any{"resource": appt, "request": map[string]any{"method": "POST", "url": "Appointment"}},
		}}
	})
	if status != http.StatusConflict {
		t.Fatalf("deadlocked booking in a transaction Bundle: %d %s", status, answer)
	}
}

// Outside a Bundle the write is one InTx, which runs a deadlocked transaction again: the
// second attempt waits for the other transaction and books.
func TestDeadlockedBookingIsRunAgain(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	status, answer := bookIntoDeadlock(t, c, 8, func(start time.Time, first, second string) (string, map[string]any) {
		return "Appointment", c.appointment("booked", c.patients[0], 0, start, start.Add(time.Hour), first, second)
	})
	if status != http.StatusCreated {
		t.Fatalf("deadlocked booking: %d %s", status, answer)
	}
}
