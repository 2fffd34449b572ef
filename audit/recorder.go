package audit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/storage"
)

// Config tunes the writer; zero values get the defaults.
type Config struct {
	// Buffer is how many events may wait for the writer before Record blocks (default
	// 10000): a full buffer slows requests down rather than lose an event.
	Buffer int
	// Batch is the most events one INSERT stores (default 500).
	Batch int
	// Linger is how long the writer waits for more events before it stores a batch
	// that is not full (default 20 ms).
	Linger time.Duration
	// Pending is how often the AuditEvents of writes, stored with each write in
	// audit_pending, become searchable AuditEvents (default 250 ms).
	Pending time.Duration
}

// Recorder stores AuditEvents: those of reads, searches and refusals through a buffer
// and one writer goroutine, those of writes inside their transaction (WriteAudit, into
// audit_pending, which the same goroutine turns into AuditEvent resources).
type Recorder struct {
	store *storage.Store
	log   *slog.Logger
	cfg   Config

	mu     sync.RWMutex // Record holds it to send, Close to close the queue
	closed bool
	queue  chan Event
	done   chan struct{}
}

// NewRecorder starts the writer; Close stops it after storing every event recorded.
func NewRecorder(store *storage.Store, log *slog.Logger, cfg Config) *Recorder {
	if cfg.Buffer <= 0 {
		cfg.Buffer = 10000
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 20 * time.Millisecond
	}
	if cfg.Pending <= 0 {
		cfg.Pending = 250 * time.Millisecond
	}
	r := &Recorder{store: store, log: log, cfg: cfg, queue: make(chan Event, cfg.Buffer), done: make(chan struct{})}
	go r.write()
	return r
}

// Record queues ev for the writer. After Close it stores ev at once: an event of a
// request that outlived the shutdown is still kept.
func (r *Recorder) Record(ev Event) {
	if ev.Recorded.IsZero() {
		ev.Recorded = time.Now()
	}
	r.mu.RLock()
	if !r.closed {
		r.queue <- ev
		r.mu.RUnlock()
		return
	}
	r.mu.RUnlock()
	r.store1([]Event{ev})
}

// Close stores what is queued and stops the writer, waiting at most until ctx ends.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.queue)
	}
	r.mu.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write stores the queue in batches until it is closed and empty, and moves the
// AuditEvents of writes from audit_pending every Pending, and once more at the end.
func (r *Recorder) write() {
	defer close(r.done)
	tick := time.NewTicker(r.cfg.Pending)
	defer tick.Stop()
	defer r.movePending()
	batch := make([]Event, 0, r.cfg.Batch)
	for {
		var ev Event
		var ok bool
		select {
		case ev, ok = <-r.queue:
		case <-tick.C:
			r.movePending()
			continue
		}
		if !ok {
			return
		}
		batch = append(batch[:0], ev)
		timer := time.NewTimer(r.cfg.Linger)
	gather:
		for len(batch) < r.cfg.Batch {
			select {
			case ev, ok := <-r.queue:
				if !ok {
					break gather
				}
				batch = append(batch, ev)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		r.store1(batch)
	}
}

// movePending moves the AuditEvents of writes into AuditEvent resources until none is
// left; an error leaves them for the next time (they are safe in audit_pending).
func (r *Recorder) movePending() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		n, err := r.store.MovePendingAudit(ctx, r.cfg.Batch)
		cancel()
		if err != nil {
			r.log.Warn("audit: the AuditEvents of writes wait in audit_pending", "err", err)
			return
		}
		if n < r.cfg.Batch {
			return
		}
	}
}

// storeAttempts and storeBackoff bound how long a batch is retried while the database
// is unreachable, before its events go to the log instead.
const (
	storeAttempts = 5
	storeBackoff  = 200 * time.Millisecond
)

// store1 stores one batch, retrying; events it cannot store are logged in full, so that
// even then they are not lost.
func (r *Recorder) store1(events []Event) {
	docs := make([][]byte, len(events))
	for i, ev := range events {
		docs[i] = ev.JSON()
	}
	var err error
	for attempt := range storeAttempts {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = r.store.AppendAuditEvents(ctx, docs)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(storeBackoff << attempt)
	}
	for _, doc := range docs {
		r.log.Error("audit event not stored", "err", err, "auditEvent", string(doc))
	}
}

// WriteAudit is the storage.WriteAudit of the store: the AuditEvent of a write of an
// audited type, by the caller of ctx (or the server itself), from its address.
func (r *Recorder) WriteAudit(ctx context.Context, res *storage.Resource, action string) []byte {
	if !Covers(res.Type) {
		return nil
	}
	ev := Event{Outcome: OutcomeSuccess, Recorded: time.Now(), What: []string{res.Type + "/" + res.ID},
		Touched: []Touched{{Type: res.Type, ID: res.ID, Content: res.Content}}}
	switch action {
	case "create":
		ev.Action, ev.Interaction = ActionCreate, "create"
	case "delete":
		ev.Action, ev.Interaction = ActionDelete, "delete"
	default:
		ev.Action, ev.Interaction = ActionUpdate, "update"
	}
	ev.Caller, ev.Address = agentOf(ctx)
	return ev.JSON()
}

// agentOf is the caller of ctx and its address; a context of no request is the server's
// own work, audited as the system.
func agentOf(ctx context.Context) (*caller.Caller, string) {
	req := requestOf(ctx)
	if c, ok := caller.From(ctx); ok {
		return &c, req.address()
	}
	if req == nil {
		return &caller.Caller{Role: caller.RoleSystem}, ""
	}
	return nil, req.address()
}
