package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/careslot/careslot/subscriptions/brokertest"
	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(t *testing.T) (*storage.Store, string) {
	t.Helper()
	url := storagetest.NewDatabase(t)
	store, err := storage.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	return store, url
}

// writePatient creates or updates Patient/id through storage, as a request would.
func writePatient(t *testing.T, store *storage.Store, id string) {
	t.Helper()
	err := store.InTx(context.Background(), func(tx *storage.Tx) error {
		prev, err := tx.Lock(context.Background(), "Patient", id)
		if err != nil {
			return err
		}
		_, err = tx.Write(context.Background(), prev, "Patient", id, []byte(`{"resourceType":"Patient","active":true}`), "PUT")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tap binds a queue of the test's own to the changes exchange and collects what arrives.
type tap struct {
	mu      sync.Mutex
	changes []storage.Change
}

func newTap(t *testing.T, amqpURL string) *tap {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare(exchangeChanges, "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "Patient.*", exchangeChanges, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{}
	go func() {
		for d := range deliveries {
			var c storage.Change
			if json.Unmarshal(d.Body, &c) == nil {
				tp.mu.Lock()
				tp.changes = append(tp.changes, c)
				tp.mu.Unlock()
			}
		}
	}()
	return tp
}

// waitFor waits until the tap holds every one of want seqs, and returns what arrived.
func (tp *tap) waitFor(t *testing.T, want int, timeout time.Duration) []storage.Change {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tp.mu.Lock()
		got := append([]storage.Change(nil), tp.changes...)
		tp.mu.Unlock()
		seen := map[int64]bool{}
		for _, c := range got {
			seen[c.Seq] = true
		}
		if len(seen) >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d distinct changes arrived of %d", len(seen), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkOrder fails when the first arrival of some resource's versions is out of order.
func checkOrder(t *testing.T, got []storage.Change) {
	t.Helper()
	last := map[string]int{}
	for _, c := range got {
		if c.VersionID < last[c.ID] {
			continue // a duplicate of an earlier version, after a reconnect: allowed
		}
		if c.VersionID != last[c.ID] && c.VersionID != last[c.ID]+1 {
			t.Fatalf("%s version %d arrived after version %d: out of order or a gap", c.ID, c.VersionID, last[c.ID])
		}
		last[c.ID] = c.VersionID
	}
}

func startService(t *testing.T, store *storage.Store, cfg Config) *Service {
	t.Helper()
	if cfg.ReconnectDelay == 0 {
		cfg.ReconnectDelay = 100 * time.Millisecond
	}
	s := New(cfg, store, quietLog())
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func TestRelayPublishesEveryChangeInOrder(t *testing.T) {
	store, _ := openStore(t)
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	tp := newTap(t, amqpURL)
	startService(t, store, Config{AMQPURL: amqpURL})
	for v := 0; v < 20; v++ {
		for p := 0; p < 10; p++ {
			writePatient(t, store, fmt.Sprintf("p%d", p))
		}
	}
	got := tp.waitFor(t, 200, 20*time.Second)
	checkOrder(t, got)
	if len(got) != 200 {
		t.Errorf("%d messages for 200 changes without any failure: duplicates", len(got))
	}
	// Rows are marked sent only after the confirms.
	waitUntil(t, 5*time.Second, func() bool {
		lag, err := store.OutboxLag(context.Background())
		return err == nil && lag.Pending == 0
	}, "the outbox to be marked sent")
}

func TestRelaySurvivesBrokerConnectionCut(t *testing.T) {
	store, _ := openStore(t)
	proxy := brokertest.NewProxy(t, brokertest.Addr())
	amqpURL, vhost := brokertest.NewVhost(t, proxy.Addr())
	tp := newTap(t, "amqp://guest:guest@"+brokertest.Addr()+"/"+vhost)
	svc := startService(t, store, Config{AMQPURL: amqpURL})
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Go(func() {
			for v := 0; v < 50; v++ {
				writePatient(t, store, fmt.Sprintf("p%d", p))
			}
		})
	}
	// Cut the connection mid-stream, keep the broker away a while, then let it back.
	for i := 0; i < 3; i++ {
		time.Sleep(150 * time.Millisecond)
		proxy.Refuse(true)
		proxy.Cut()
		time.Sleep(300 * time.Millisecond)
		if h := svc.Health(context.Background()); h.Broker != "unreachable" {
			t.Errorf("health says the broker is %s while it is cut off", h.Broker)
		}
		proxy.Refuse(false)
	}
	wg.Wait()
	checkOrder(t, tp.waitFor(t, 200, 30*time.Second))
}

func TestTwoRelaysPublishEachChangeOnce(t *testing.T) {
	store, dbURL := openStore(t)
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	tp := newTap(t, amqpURL)
	startService(t, store, Config{AMQPURL: amqpURL})
	second, err := storage.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	startService(t, second, Config{AMQPURL: amqpURL})
	for v := 0; v < 10; v++ {
		for p := 0; p < 10; p++ {
			writePatient(t, store, fmt.Sprintf("p%d", p))
		}
	}
	got := tp.waitFor(t, 100, 20*time.Second)
	time.Sleep(300 * time.Millisecond) // room for a double publish to show
	tp.mu.Lock()
	got = append(got[:0], tp.changes...)
	tp.mu.Unlock()
	if len(got) != 100 {
		t.Errorf("two relays published %d messages for 100 changes", len(got))
	}
	checkOrder(t, got)
}

func waitUntil(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outboxRows counts the outbox rows, and those not sent yet.
func outboxRows(t *testing.T, dbURL string) (all, unsent int) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE dispatched_at IS NULL) FROM outbox`).Scan(&all, &unsent); err != nil {
		t.Fatal(err)
	}
	return all, unsent
}

func TestSentOutboxRowsArePrunedAfterTheRetention(t *testing.T) {
	store, dbURL := openStore(t)
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	tp := newTap(t, amqpURL)
	const retention = 3 * time.Second
	startService(t, store, Config{AMQPURL: amqpURL, OutboxRetention: retention, PruneInterval: 50 * time.Millisecond})
	start := time.Now()
	for i := 0; i < 5; i++ {
		writePatient(t, store, fmt.Sprintf("pr%d", i))
	}
	tp.waitFor(t, 5, 20*time.Second)
	waitUntil(t, 20*time.Second, func() bool { _, unsent := outboxRows(t, dbURL); return unsent == 0 }, "the rows marked sent")
	// Sent, but younger than the retention: kept (an operator may still look at them).
	if all, _ := outboxRows(t, dbURL); all != 5 && time.Since(start) < retention {
		t.Fatalf("%d outbox rows within the retention, want 5", all)
	}
	// Once the retention has passed, the relay deletes them.
	waitUntil(t, 20*time.Second, func() bool { all, _ := outboxRows(t, dbURL); return all == 0 }, "the sent rows pruned")
	if time.Since(start) < retention {
		t.Errorf("sent rows were pruned after %v, before the retention of %v", time.Since(start), retention)
	}
}

func TestUnsentOutboxRowsAreNeverPruned(t *testing.T) {
	store, dbURL := openStore(t)
	ctx := context.Background()
	writePatient(t, store, "sent")
	writePatient(t, store, "unsent")
	pending, err := store.PendingChanges(ctx, 10)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending: %v %v", pending, err)
	}
	if err := store.MarkDispatched(ctx, []int64{pending[0].Seq}); err != nil {
		t.Fatal(err)
	}
	// Everything is older than this cut-off; only the sent row goes.
	n, err := store.PruneOutbox(ctx, time.Now().Add(time.Hour), pruneBatch)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d rows (%v), want 1", n, err)
	}
	if all, unsent := outboxRows(t, dbURL); all != 1 || unsent != 1 {
		t.Errorf("after pruning: %d rows, %d unsent; want the one unsent row kept", all, unsent)
	}
	left, _ := store.PendingChanges(ctx, 10)
	if len(left) != 1 || left[0].ID != "unsent" {
		t.Errorf("the row left is %+v", left)
	}
}
