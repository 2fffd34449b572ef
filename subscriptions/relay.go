package subscriptions

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/careslot/careslot/storage"
	amqp "github.com/rabbitmq/amqp091-go"
)

// relay publishes the outbox to the changes exchange. Only the replica that holds the
// "relay" lease runs it, so changes go out once and in seq order (the commit order of
// each resource); rows are marked sent only after the broker confirmed them.
type relay struct {
	store     *storage.Store
	broker    *broker
	svc       *Service
	batch     int
	poll      time.Duration
	retention time.Duration

	mu        sync.Mutex
	leading   bool
	lastError string
	lastCycle time.Time
}

// run relays while this replica holds the lease; with inProcess, to that matcher
// directly (inprocess.go) rather than to RabbitMQ.
func (r *relay) run(ctx context.Context, inProcess *matcher) {
	for ctx.Err() == nil {
		lease, err := r.store.TryLease(ctx, "relay")
		if err != nil || lease == nil {
			if err != nil && ctx.Err() == nil {
				r.failed(err)
			}
			pause(ctx, time.Second)
			continue
		}
		r.setLeading(true)
		if inProcess != nil {
			err = r.leadInProcess(ctx, lease, inProcess)
		} else {
			err = r.lead(ctx, lease)
		}
		r.setLeading(false)
		lease.Release(ctx)
		if err != nil && ctx.Err() == nil {
			r.failed(err)
			r.svc.log.Warn("outbox relay stopped; starting over", "err", err)
			pause(ctx, r.svc.cfg.ReconnectDelay)
		}
	}
}

func (r *relay) setLeading(v bool) {
	r.mu.Lock()
	r.leading = v
	r.mu.Unlock()
}

func (r *relay) failed(err error) {
	r.mu.Lock()
	r.lastError = err.Error()
	r.mu.Unlock()
}

func (r *relay) cycled() {
	r.mu.Lock()
	r.lastError = ""
	r.lastCycle = time.Now()
	r.mu.Unlock()
}

// lead relays while it holds the lease; it returns on the first error.
func (r *relay) lead(ctx context.Context, lease *storage.Lease) error {
	ch, err := r.broker.channel(true)
	if err != nil {
		return err
	}
	defer ch.Close()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	due := upkeepDue{check: time.Now().Add(leaseCheckEvery)}
	for ctx.Err() == nil {
		changes, err := r.store.PendingChanges(ctx, r.batch)
		if err != nil {
			return err
		}
		if len(changes) > 0 {
			if err := r.publish(ctx, ch, changes); err != nil {
				return err
			}
		}
		if err := r.upkeep(ctx, lease, &due); err != nil {
			return err
		}
		if len(changes) == r.batch {
			continue // more are waiting
		}
		select {
		case <-ctx.Done():
		case e := <-closed:
			return e
		case <-time.After(r.poll):
		}
	}
	return nil
}

// changeMessage is how a change travels: the row of the outbox, never the resource (the
// matcher reads the version it needs).
func changeMessage(c storage.Change) outgoing {
	body, _ := json.Marshal(c)
	return outgoing{exchange: exchangeChanges, key: c.Type + "." + c.Action, msg: amqp.Publishing{
		ContentType: "application/json", MessageId: "change-" + strconv.FormatInt(c.Seq, 10), Timestamp: c.At, Body: body,
	}}
}

func (r *relay) publish(ctx context.Context, ch *amqp.Channel, changes []storage.Change) error {
	msgs := make([]outgoing, len(changes))
	seqs := make([]int64, len(changes))
	for i, c := range changes {
		msgs[i], seqs[i] = changeMessage(c), c.Seq
	}
	if err := publishConfirmed(ctx, ch, msgs); err != nil {
		return err
	}
	// The rows are marked even if ctx ended meanwhile: the broker has them.
	return r.store.MarkDispatched(context.WithoutCancel(ctx), seqs)
}

// pruneBatch bounds the rows one prune statement deletes.
const pruneBatch = 5000

// leaseCheckEvery is how often the leading relay confirms it still holds its lease.
const leaseCheckEvery = 5 * time.Second

// upkeepDue is when the relay next prunes sent rows and next checks its lease.
type upkeepDue struct{ prune, check time.Time }

// upkeep is the end of each relay cycle, with a broker or in-process: it counts the
// cycle, prunes sent outbox rows when due and confirms the lease when due.
func (r *relay) upkeep(ctx context.Context, lease *storage.Lease, due *upkeepDue) error {
	r.cycled()
	if time.Now().After(due.prune) {
		due.prune = time.Now().Add(r.svc.cfg.PruneInterval)
		if err := r.prune(ctx); err != nil {
			return err
		}
	}
	if time.Now().After(due.check) {
		due.check = time.Now().Add(leaseCheckEvery)
		return lease.Check(ctx)
	}
	return nil
}

func (r *relay) prune(ctx context.Context) error {
	before := time.Now().Add(-r.retention)
	for {
		n, err := r.store.PruneOutbox(ctx, before, pruneBatch)
		if err != nil || n < pruneBatch {
			return err
		}
	}
}
