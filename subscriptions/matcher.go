package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/careslot/careslot/subscriptions/subscription"
	amqp "github.com/rabbitmq/amqp091-go"
)

// matcher reads the changes queue (one active consumer in the cluster), tests each change
// against the live subscriptions, numbers the events, and publishes one notification
// message per event to the subscription's queue; the changes are acked only after that.
type matcher struct {
	svc   *Service
	match *storage.Matcher
	subs  map[string]*liveSubscription
}

// liveSubscription is a parsed Subscription and the server's state of it.
type liveSubscription struct {
	*subscription.Subscription
	Owner []byte
}

// matchBatch bounds the changes matched together.
const matchBatch = 256

func (m *matcher) run(ctx context.Context) {
	for ctx.Err() == nil {
		if err := m.consume(ctx); err != nil && ctx.Err() == nil {
			m.svc.log.Warn("subscription matcher stopped; starting over", "err", err)
			pause(ctx, m.svc.cfg.ReconnectDelay)
		}
	}
	if m.match != nil {
		m.match.Close(context.Background())
	}
}

func (m *matcher) consume(ctx context.Context) error {
	if m.match == nil {
		mt, err := m.svc.store.NewMatcher(ctx)
		if err != nil {
			return err
		}
		m.match = mt
	}
	ch, err := m.svc.broker.channel(true)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.Qos(matchBatch, 0, false); err != nil {
		return err
	}
	deliveries, err := ch.ConsumeWithContext(ctx, queueMatch, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("rabbitmq: consume %s: %w", queueMatch, err)
	}
	// The subscriptions are read when this consumer becomes active, and kept up to date
	// from the Subscription changes in the stream itself, in order.
	m.subs = nil
	for {
		batch, ok := collect(ctx, deliveries, matchBatch)
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("rabbitmq: the changes consumer was closed")
		}
		if m.subs == nil {
			if err := m.loadAll(ctx, ch); err != nil {
				return err
			}
		}
		changes := make([]storage.Change, 0, len(batch))
		for _, d := range batch {
			var c storage.Change
			if err := json.Unmarshal(d.Body, &c); err != nil {
				m.svc.log.Error("dropping an unreadable change message", "id", d.MessageId, "err", err)
				continue
			}
			changes = append(changes, c)
		}
		if err := m.svc.trackReminders(ctx, changes); err != nil {
			batch[len(batch)-1].Nack(true, true)
			return err
		}
		if err := m.process(ctx, ch, changes); err != nil {
			batch[len(batch)-1].Nack(true, true)
			return err
		}
		if err := batch[len(batch)-1].Ack(true); err != nil {
			return err
		}
	}
}

// collect waits for one delivery, then takes whatever else is already there, up to max.
func collect(ctx context.Context, deliveries <-chan amqp.Delivery, max int) ([]amqp.Delivery, bool) {
	var batch []amqp.Delivery
	select {
	case <-ctx.Done():
		return nil, false
	case d, ok := <-deliveries:
		if !ok {
			return nil, false
		}
		batch = append(batch, d)
	}
	// A short wait gathers a batch: every subscription's criteria run once per batch,
	// whatever its size.
	linger := time.NewTimer(10 * time.Millisecond)
	defer linger.Stop()
	for len(batch) < max {
		select {
		case d, ok := <-deliveries:
			if !ok {
				return batch, true
			}
			batch = append(batch, d)
		case <-linger.C:
			return batch, true
		}
	}
	return batch, true
}

func (m *matcher) parse(s storage.StoredSubscription) (*liveSubscription, error) {
	p, err := subscription.Parse(s.Content, subscription.Options{BaseURL: m.svc.cfg.BaseURL, AllowPrivate: m.svc.cfg.AllowPrivate})
	if err != nil {
		return nil, err
	}
	return &liveSubscription{Subscription: p, Owner: s.Owner}, nil
}

// loadAll reads every subscription and makes sure its queue exists (a broker that lost
// its data would otherwise drop their notifications unrouted), then gives RabbitMQ what
// in-process delivery left undelivered. ch is nil in-process.
func (m *matcher) loadAll(ctx context.Context, ch *amqp.Channel) error {
	all, err := m.svc.store.Subscriptions(ctx)
	if err != nil {
		return err
	}
	m.subs = map[string]*liveSubscription{}
	for _, s := range all {
		if ls, err := m.parse(s); err == nil {
			if ch != nil {
				if err := declareSubscriptionQueue(ch, s.ID); err != nil {
					return err
				}
			}
			m.subs[s.ID] = ls
		} else {
			m.svc.log.Warn("a stored Subscription cannot be read; it gets no notifications", "subscription", s.ID, "err", err)
		}
	}
	if ch == nil {
		return nil
	}
	return m.handOver(ctx, func(out []outgoing) error { return publishConfirmed(ctx, ch, out) })
}

// watching reports whether sub gets events now: it was requested (its events wait for the
// handshake), is active, or is in error (events are numbered for $events, not sent).
func (s *liveSubscription) watching(now time.Time) bool {
	switch s.Status {
	case subscription.StatusRequested, subscription.StatusActive, subscription.StatusError:
		return s.End.IsZero() || now.Before(s.End)
	}
	return false
}

// process matches one batch of changes, records the events and publishes them.
func (m *matcher) process(ctx context.Context, ch *amqp.Channel, changes []storage.Change) error {
	var out []outgoing
	// Subscriptions first take in their own changes, in stream order, as they come.
	type pending struct {
		change storage.Change
		subs   []*liveSubscription
	}
	var work []pending
	now := m.svc.cfg.Now()
	for _, c := range changes {
		if c.Type == "Subscription" {
			msgs, err := m.subscriptionChanged(ctx, ch, c)
			if err != nil {
				return err
			}
			out = append(out, msgs...)
		}
		var cands []*liveSubscription
		for _, s := range m.subs {
			if s.ResourceType() == c.Type && s.watching(now) {
				cands = append(cands, s)
			}
		}
		if len(cands) > 0 {
			slices.SortFunc(cands, func(a, b *liveSubscription) int { return compareStrings(a.ID, b.ID) })
			work = append(work, pending{c, cands})
		}
	}
	if len(work) > 0 {
		// The versions matched: the new one, and the one before for a delete (matched
		// as it was) and for topics that compare (status changed).
		var keys []storage.VersionKey
		for _, w := range work {
			if w.change.Action != "delete" {
				keys = append(keys, storage.VersionKey{RID: w.change.RID, Version: w.change.VersionID})
			}
			if w.change.VersionID > 1 && (w.change.Action == "delete" || anyTopic(w.subs)) {
				keys = append(keys, storage.VersionKey{RID: w.change.RID, Version: w.change.VersionID - 1})
			}
		}
		contents, err := m.svc.store.Versions(ctx, keys)
		if err != nil {
			return err
		}
		var inputs []storage.MatchInput
		var queries []*search.Query
		index := map[*search.Query]int{}
		addQuery := func(q *search.Query) {
			if _, ok := index[q]; !ok {
				index[q] = len(queries)
				queries = append(queries, q)
			}
		}
		for _, w := range work {
			cur := contents[storage.VersionKey{RID: w.change.RID, Version: w.change.VersionID}]
			if w.change.Action == "delete" {
				cur = contents[storage.VersionKey{RID: w.change.RID, Version: w.change.VersionID - 1}]
			}
			if cur != nil {
				inputs = append(inputs, storage.MatchInput{Key: w.change.Seq, Type: w.change.Type, ID: w.change.ID, Version: w.change.VersionID, Content: cur})
			}
			for _, s := range w.subs {
				if s.Query != nil {
					addQuery(s.Query)
				}
				for _, f := range s.Filters {
					addQuery(f)
				}
			}
		}
		matched, err := m.match.Match(ctx, inputs, queries)
		if err != nil {
			return err
		}
		hits := make([]map[int64]bool, len(matched))
		for i, keys := range matched {
			hits[i] = map[int64]bool{}
			for _, k := range keys {
				hits[i][k] = true
			}
		}
		var events []storage.Event
		for _, w := range work {
			seq := w.change.Seq
			var prev, cur map[string]any
			for _, s := range w.subs {
				ok := true
				if s.Query != nil {
					ok = hits[index[s.Query]][seq]
				} else {
					if prev == nil && cur == nil {
						prev = decode(contents[storage.VersionKey{RID: w.change.RID, Version: w.change.VersionID - 1}])
						if w.change.Action != "delete" {
							cur = decode(contents[storage.VersionKey{RID: w.change.RID, Version: w.change.VersionID}])
						}
						if w.change.Action == "create" {
							prev = nil
						}
					}
					ok = s.Topic.Fires(w.change.Action, prev, cur)
					for _, f := range s.Filters {
						ok = ok && hits[index[f]][seq]
					}
				}
				if !ok {
					continue
				}
				content := contents[storage.VersionKey{RID: w.change.RID, Version: w.change.VersionID}]
				if w.change.Action == "delete" {
					content = contents[storage.VersionKey{RID: w.change.RID, Version: w.change.VersionID - 1}]
				}
				visible, err := m.svc.visible(ctx, s, w.change, content)
				if err != nil {
					return err
				}
				if visible {
					events = append(events, storage.Event{Subscription: s.ID, Change: w.change})
				}
			}
		}
		recorded, err := m.svc.store.RecordEvents(ctx, events)
		if err != nil {
			return err
		}
		if ch == nil {
			// In-process: the workers send what is recorded, from their subscription's
			// last delivered event on.
			var ids []string
			for _, e := range recorded {
				if !slices.Contains(ids, e.Subscription) {
					ids = append(ids, e.Subscription)
				}
			}
			return m.svc.store.TrackLocally(ctx, ids)
		}
		for _, e := range recorded {
			if s := m.subs[e.Subscription]; s != nil && s.Status != subscription.StatusError {
				out = append(out, notificationMessage(notification{Subscription: e.Subscription, Kind: kindEvent, Event: &e}))
			}
		}
	}
	return publishConfirmed(ctx, ch, out)
}

func anyTopic(subs []*liveSubscription) bool {
	for _, s := range subs {
		if s.TopicBased() {
			return true
		}
	}
	return false
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func decode(content []byte) map[string]any {
	if content == nil {
		return nil
	}
	var doc map[string]any
	if json.Unmarshal(content, &doc) != nil {
		return nil
	}
	return doc
}

// subscriptionChanged takes in a change of a Subscription: it is read again, its queue
// is made (or deleted with it), and a requested one gets its handshake.
func (m *matcher) subscriptionChanged(ctx context.Context, ch *amqp.Channel, c storage.Change) ([]outgoing, error) {
	stored, err := m.svc.store.Subscription(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		delete(m.subs, c.ID)
		if c.Action == "delete" && ch != nil {
			if _, err := ch.QueueDelete(subscriptionQueue(c.ID), false, false, false); err != nil {
				return nil, fmt.Errorf("rabbitmq: delete the queue of Subscription/%s: %w", c.ID, err)
			}
		}
		return nil, nil
	}
	ls, err := m.parse(*stored)
	if err != nil {
		delete(m.subs, c.ID)
		return nil, nil
	}
	m.subs[c.ID] = ls
	if ch == nil {
		return nil, nil // in-process: the worker sends the handshake
	}
	if err := declareSubscriptionQueue(ch, c.ID); err != nil {
		return nil, err
	}
	// The handshake goes once per version that asked for it; a later version that asks
	// again comes later in the stream.
	if ls.Status == subscription.StatusRequested && stored.VersionID == c.VersionID && ls.Channel == "rest-hook" {
		return []outgoing{notificationMessage(notification{Subscription: c.ID, Kind: kindHandshake, Version: c.VersionID})}, nil
	}
	return nil, nil
}

// Kinds of notification messages.
const (
	kindHandshake = "handshake"
	kindHeartbeat = "heartbeat"
	kindEvent     = "event-notification"
)

// notification is one message of a subscription's queue.
type notification struct {
	Subscription string         `json:"subscription"`
	Kind         string         `json:"kind"`
	Version      int            `json:"version,omitempty"` // of the Subscription, for a handshake
	Event        *storage.Event `json:"event,omitempty"`
	At           time.Time      `json:"at,omitempty"`
}

// id is the message id a subscriber can drop duplicates by.
func (n notification) id() string {
	switch n.Kind {
	case kindEvent:
		return n.Subscription + "/" + strconv.FormatInt(n.Event.Number, 10)
	case kindHandshake:
		return n.Subscription + "/handshake/" + strconv.Itoa(n.Version)
	}
	return n.Subscription + "/heartbeat/" + strconv.FormatInt(n.At.UnixMilli(), 10)
}

func notificationMessage(n notification) outgoing {
	body, _ := json.Marshal(n)
	return outgoing{exchange: exchangeDeliver, key: n.Subscription, msg: amqp.Publishing{
		ContentType: "application/json", MessageId: n.id(), Timestamp: time.Now(), Body: body,
		Headers: amqp.Table{headerSubscription: n.Subscription},
	}}
}
