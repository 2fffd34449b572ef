package subscriptions

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/subscription"
)

// In-process fan-out. When RabbitMQ does not answer at start and Config.InProcessFallback
// is set, one careslot delivers from the outbox by itself, with the same guarantees on
// one node: the relay (still one replica, by its lease) matches each batch of outbox rows
// with the same matcher, records the events (subscription_events) and only then marks the
// rows sent; each subscription's worker sends the events after the last one it delivered
// (subscription_state.delivered), in order, and records each one sent, so a restart
// sends again at most the one in flight. A failure is retried after
// Config.RetryDelays (timers, not a queue); after the last the subscription goes to
// error, as with RabbitMQ. Moving to RabbitMQ once it is up needs a restart: the
// matcher then gives the events not delivered in-process to the subscriptions' queues.

// localWake lets the relay wake the in-process workers when it recorded events.
type localWake struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait is the channel closed at the next wake.
func (w *localWake) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *localWake) wake() {
	w.mu.Lock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
	w.mu.Unlock()
}

// runInProcess runs the relay, matcher, workers and scheduler without RabbitMQ.
func (s *Service) runInProcess(ctx context.Context) {
	s.inProcess.Store(true)
	for {
		err := s.store.StartLocalDelivery(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("in-process delivery cannot start; trying again", "err", err)
		pause(ctx, s.cfg.ReconnectDelay)
	}
	m := &matcher{svc: s}
	s.wg.Go(func() { s.relay.run(ctx, m) })
	s.wg.Go(func() { s.supervise(ctx) })
	s.wg.Go(func() { s.scheduler(ctx) })
}

// leadInProcess relays while it holds the lease: matched and recorded, then marked sent.
func (r *relay) leadInProcess(ctx context.Context, lease *storage.Lease, m *matcher) error {
	due := upkeepDue{check: time.Now().Add(leaseCheckEvery)}
	m.subs = nil // read again: another replica may have led meanwhile
	for ctx.Err() == nil {
		changes, err := r.store.PendingChanges(ctx, r.batch)
		if err != nil {
			return err
		}
		if len(changes) > 0 {
			if err := m.matchInProcess(ctx, changes); err != nil {
				return err
			}
			seqs := make([]int64, len(changes))
			for i, c := range changes {
				seqs[i] = c.Seq
			}
			if err := r.store.MarkDispatched(context.WithoutCancel(ctx), seqs); err != nil {
				return err
			}
			r.svc.wake.wake()
		}
		if err := r.upkeep(ctx, lease, &due); err != nil {
			return err
		}
		if len(changes) == r.batch {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.poll):
		}
	}
	return nil
}

// matchInProcess is the matcher's work on one batch without a broker: reminders kept in
// step, events recorded, nothing published (the workers read the events).
func (m *matcher) matchInProcess(ctx context.Context, changes []storage.Change) error {
	if m.match == nil {
		mt, err := m.svc.store.NewMatcher(ctx)
		if err != nil {
			return err
		}
		m.match = mt
	}
	if m.subs == nil {
		if err := m.loadAll(ctx, nil); err != nil {
			return err
		}
	}
	if err := m.svc.trackReminders(ctx, changes); err != nil {
		return err
	}
	return m.process(ctx, nil, changes)
}

// idleLook is how often an in-process worker with nothing to send looks again (status
// changes and heartbeats; new events wake it at once).
const idleLook = time.Second

// deliverInProcess is the worker of one subscription without a broker.
func (s *Service) deliverInProcess(ctx context.Context, id string) {
	w := &worker{}
	attempt := 0
	for ctx.Err() == nil {
		wake := s.wake.wait()
		wait, err := s.deliverNext(ctx, id, w, &attempt)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("in-process subscription worker failed; trying again", "subscription", id, "err", err)
			wait = s.cfg.ReconnectDelay
		}
		if wait == 0 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// deliverNext sends the subscription's next notification, if one is due, and says how
// long to wait before the next look (0: at once).
func (s *Service) deliverNext(ctx context.Context, id string, w *worker, attempt *int) (time.Duration, error) {
	stored, err := s.store.Subscription(ctx, id)
	if err != nil || stored == nil {
		return idleLook, err
	}
	if w.parsed == nil || w.version != stored.VersionID {
		sub, err := subscription.Parse(stored.Content, s.parseOptions())
		if err != nil {
			return idleLook, nil
		}
		w.parsed, w.version = sub, stored.VersionID
	}
	sub := w.parsed
	if sub.Status == subscription.StatusOff || !sub.End.IsZero() && !s.cfg.Now().Before(sub.End) {
		return idleLook, nil
	}
	delivered := int64(0)
	if stored.Delivered != nil {
		delivered = *stored.Delivered
	}
	var n notification
	switch sub.Status {
	case subscription.StatusError:
		// As RabbitMQ's worker parks them: numbered for $events, never sent.
		if delivered < stored.Events {
			return idleLook, s.store.SetDelivered(ctx, id, stored.Events)
		}
		return idleLook, nil
	case subscription.StatusRequested:
		if sub.Channel != "rest-hook" {
			return idleLook, nil // a websocket's bind makes it active
		}
		n = notification{Subscription: id, Kind: kindHandshake, Version: stored.VersionID}
	default:
		if delivered < stored.Events {
			events, err := s.store.SubscriptionEvents(ctx, id, delivered+1, 0, 1)
			if err != nil {
				return 0, err
			}
			if len(events) == 1 {
				n = notification{Subscription: id, Kind: kindEvent, Event: &events[0]}
			}
		}
		if n.Kind == "" {
			if sub.Heartbeat <= 0 || time.Since(w.lastSent) < sub.Heartbeat {
				return idleLook, nil
			}
			n = notification{Subscription: id, Kind: kindHeartbeat, At: s.cfg.Now()}
		}
	}
	sendErr := s.send(ctx, sub, stored, n)
	if sendErr == nil {
		*attempt = 0
		w.lastSent = time.Now()
		switch n.Kind {
		case kindHandshake:
			return 0, s.setStatus(ctx, id, subscription.StatusRequested, subscription.StatusActive, "")
		case kindEvent:
			return 0, s.store.SetDelivered(ctx, id, n.Event.Number)
		}
		return idleLook, nil
	}
	if ctx.Err() != nil || n.Kind == kindHeartbeat {
		w.lastSent = time.Now() // a missed heartbeat is not retried: the next one comes
		return idleLook, nil
	}
	if *attempt >= len(s.cfg.RetryDelays) {
		*attempt = 0
		msg := fmt.Sprintf("notifications failed %d times; the last: %v", len(s.cfg.RetryDelays)+1, sendErr)
		s.log.Warn("notification failed every attempt; the subscription is in error", "subscription", id, "err", sendErr)
		return idleLook, s.setStatus(ctx, id, "", subscription.StatusError, msg)
	}
	wait := s.cfg.RetryDelays[*attempt]
	*attempt++
	return wait, nil
}

// handOver gives RabbitMQ, now that it answers, what in-process delivery left: the
// events after each subscription's last delivered one, and the handshake of one still
// requested, published to its queue before the matcher adds anything.
func (m *matcher) handOver(ctx context.Context, publish func([]outgoing) error) error {
	left, err := m.svc.store.UndeliveredLocally(ctx)
	if err != nil {
		return err
	}
	for id, delivered := range left {
		ls := m.subs[id]
		var out []outgoing
		if ls != nil && ls.Status == subscription.StatusRequested && ls.Channel == "rest-hook" {
			stored, err := m.svc.store.Subscription(ctx, id)
			if err != nil {
				return err
			}
			if stored != nil {
				out = append(out, notificationMessage(notification{Subscription: id, Kind: kindHandshake, Version: stored.VersionID}))
			}
		}
		for from := delivered + 1; ls != nil; {
			events, err := m.svc.store.SubscriptionEvents(ctx, id, from, 0, 500)
			if err != nil {
				return err
			}
			for i := range events {
				out = append(out, notificationMessage(notification{Subscription: id, Kind: kindEvent, Event: &events[i]}))
			}
			if len(events) < 500 {
				break
			}
			from = events[len(events)-1].Number + 1
		}
		if err := publish(out); err != nil {
			return err
		}
		if err := m.svc.store.HandOverToBroker(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
