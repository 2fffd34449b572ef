package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/careslot/careslot/storage"
)

// A message redelivered into the same batch as its first delivery (after a killed
// server) gives RecordEvents one change twice: it is numbered once, and a later call
// with it again keeps that number. It used to fail the whole batch on the unique
// (subscription_id, seq) key, for ever, so nothing after it was notified.
func TestRecordEventsTakesAChangeTwiceInOneBatch(t *testing.T) {
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Microsecond)
	change := func(seq int64) storage.Change {
		return storage.Change{Seq: seq, RID: seq, Type: "Patient", ID: "dup", VersionID: 1, Action: "create", At: at}
	}
	batch := []storage.Event{
		{Subscription: "sub-dup", Change: change(101)},
		{Subscription: "sub-dup", Change: change(102)},
		{Subscription: "sub-dup", Change: change(101)},
	}
	got, err := store.RecordEvents(ctx, batch)
	if err != nil {
		t.Fatalf("a batch with one change twice: %v", err)
	}
	numbers := map[int64]int64{}
	for _, e := range got {
		if n, ok := numbers[e.Seq]; ok && n != e.Number {
			t.Fatalf("seq %d numbered %d and %d", e.Seq, n, e.Number)
		}
		numbers[e.Seq] = e.Number
	}
	if len(numbers) != 2 || numbers[101] != 1 || numbers[102] != 2 {
		t.Fatalf("numbers = %v, want seq 101 -> 1, 102 -> 2", numbers)
	}
	again, err := store.RecordEvents(ctx, []storage.Event{{Subscription: "sub-dup", Change: change(101)}, {Subscription: "sub-dup", Change: change(103)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range again {
		if (e.Seq == 101 && e.Number != 1) || (e.Seq == 103 && e.Number != 3) {
			t.Errorf("again: seq %d got number %d", e.Seq, e.Number)
		}
	}
	if n := count(t, `SELECT count(*) FROM subscription_events WHERE subscription_id = 'sub-dup'`); n != 3 {
		t.Errorf("%d events stored, want 3", n)
	}
}
