package subscriptions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/subscription"
	amqp "github.com/rabbitmq/amqp091-go"
)

// supervise keeps one delivery worker per subscription that can be delivered from this
// replica: every rest-hook subscription, and the websocket ones a client bound here.
// Every replica runs workers; each queue has a single active consumer, so a
// subscription's notifications go out one at a time, in order, from one replica.
func (s *Service) supervise(ctx context.Context) {
	workers := map[string]context.CancelFunc{}
	defer func() {
		for _, stop := range workers {
			stop()
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		want, err := s.deliverable(ctx)
		if err == nil {
			for id, stop := range workers {
				if !want[id] {
					stop()
					delete(workers, id)
				}
			}
			for id := range want {
				if workers[id] == nil {
					wctx, stop := context.WithCancel(ctx)
					workers[id] = stop
					if s.inProcess.Load() {
						s.wg.Go(func() { s.deliverInProcess(wctx, id) })
					} else {
						s.wg.Go(func() { s.deliverLoop(wctx, id) })
					}
				}
			}
		} else if ctx.Err() == nil {
			s.log.Warn("subscription workers: cannot list subscriptions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.hub.changed:
		}
	}
}

// deliverable lists the subscriptions this replica runs a worker for.
func (s *Service) deliverable(ctx context.Context) (map[string]bool, error) {
	all, err := s.store.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	want := map[string]bool{}
	for _, st := range all {
		sub, err := subscription.Parse(st.Content, s.parseOptions())
		if err != nil || sub.Status == subscription.StatusOff || !sub.End.IsZero() && !now.Before(sub.End) {
			continue
		}
		if sub.Channel == "rest-hook" || s.hub.bound(sub.ID) {
			want[sub.ID] = true
		}
	}
	return want, nil
}

func (s *Service) parseOptions() subscription.Options {
	return subscription.Options{BaseURL: s.cfg.BaseURL, AllowPrivate: s.cfg.AllowPrivate}
}

func (s *Service) deliverLoop(ctx context.Context, id string) {
	for ctx.Err() == nil {
		if err := s.consumeSubscription(ctx, id); err != nil && ctx.Err() == nil {
			s.log.Warn("subscription worker stopped; starting over", "subscription", id, "err", err)
			pause(ctx, s.cfg.ReconnectDelay)
		}
	}
}

func (s *Service) consumeSubscription(ctx context.Context, id string) error {
	ch, err := s.broker.channel(true)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := declareSubscriptionQueue(ch, id); err != nil {
		return err
	}
	// One notification at a time: the next waits until this one is delivered, retried
	// later, or parked.
	if err := ch.Qos(1, 0, false); err != nil {
		return err
	}
	deliveries, err := ch.ConsumeWithContext(ctx, subscriptionQueue(id), "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("rabbitmq: consume the queue of Subscription/%s: %w", id, err)
	}
	w := &worker{}
	for d := range deliveries {
		if err := s.handle(ctx, ch, id, d, w); err != nil {
			d.Nack(false, true)
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("rabbitmq: the consumer was closed")
}

// handle delivers one notification, or schedules its retry, or parks it; an error means
// it was not dealt with (and goes back to the queue).
// worker is what one subscription's consumer remembers between notifications.
type worker struct {
	lastSent time.Time // to send heartbeats only when idle
	// parsed is the subscription as of version: read again only when it changes.
	parsed  *subscription.Subscription
	version int
	// stored is the subscription as read at readAt: an event notification uses it for
	// up to storedFresh rather than reading it again (a query per notification was
	// half the worker's time); handshakes and heartbeats always read it.
	stored *storage.StoredSubscription
	readAt time.Time
}

// storedFresh is how long a worker trusts its copy of the subscription for events: an
// off, error or delete takes at most this long to reach a notification already matched
// (the matcher stops matching at once, in commit order).
const storedFresh = 250 * time.Millisecond

func (s *Service) handle(ctx context.Context, ch *amqp.Channel, id string, d amqp.Delivery, w *worker) error {
	var n notification
	if err := json.Unmarshal(d.Body, &n); err != nil {
		return s.park(ctx, ch, d, "unreadable message: "+err.Error())
	}
	stored := w.stored
	if stored == nil || n.Kind != kindEvent || time.Since(w.readAt) > storedFresh {
		var err error
		if stored, err = s.store.Subscription(ctx, id); err != nil {
			return err
		}
		w.stored, w.readAt = stored, time.Now()
	}
	if stored == nil {
		return d.Ack(false) // deleted: nothing to deliver to
	}
	if w.parsed == nil || w.version != stored.VersionID {
		sub, err := subscription.Parse(stored.Content, s.parseOptions())
		if err != nil {
			return s.park(ctx, ch, d, "the Subscription cannot be read: "+err.Error())
		}
		w.parsed, w.version = sub, stored.VersionID
	}
	sub := w.parsed
	if sub.Status == subscription.StatusOff || !sub.End.IsZero() && !s.cfg.Now().Before(sub.End) {
		return d.Ack(false) // switched off or ended: notifications stop
	}
	switch n.Kind {
	case kindHandshake:
		if sub.Status != subscription.StatusRequested || stored.VersionID != n.Version {
			return d.Ack(false) // a later version took over
		}
	default:
		if n.Kind == kindHeartbeat && (sub.Status != subscription.StatusActive || time.Since(w.lastSent) < sub.Heartbeat/2) {
			return d.Ack(false) // a heartbeat only says "nothing happened" while nothing is sent
		}
		switch sub.Status {
		case subscription.StatusError:
			return s.park(ctx, ch, d, "the subscription is in error: "+sub.Error)
		case subscription.StatusRequested:
			return s.retry(ctx, ch, d, sub, stored, errors.New("the subscription waits for its handshake"))
		}
	}
	sendErr := s.send(ctx, sub, stored, n)
	if sendErr == nil {
		w.lastSent = time.Now()
		if n.Kind == kindHandshake {
			w.stored = nil // it changes now
			if err := s.setStatus(ctx, id, subscription.StatusRequested, subscription.StatusActive, ""); err != nil {
				return err
			}
		}
		return d.Ack(false)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	w.stored = nil // a retry may put it in error
	return s.retry(ctx, ch, d, sub, stored, sendErr)
}

func attemptOf(d amqp.Delivery) int {
	switch v := d.Headers[headerAttempt].(type) {
	case int32:
		return int(v)
	case int64:
		return int(v)
	case int:
		return v
	}
	return 0
}

// retry republishes the notification to the retry queue of its attempt, which gives it
// back to the subscription's queue after the delay; after the last attempt it is parked
// and the subscription goes to error.
func (s *Service) retry(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, sub *subscription.Subscription, stored *storage.StoredSubscription, cause error) error {
	attempt := attemptOf(d)
	if attempt >= len(s.cfg.RetryDelays) {
		if err := s.park(ctx, ch, d, cause.Error()); err != nil {
			return err
		}
		msg := fmt.Sprintf("notifications failed %d times; the last: %v", attempt+1, cause)
		return s.setStatus(ctx, sub.ID, "", subscription.StatusError, msg)
	}
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	headers[headerAttempt] = int32(attempt + 1)
	headers[headerReason] = cause.Error()
	name := retryName(s.cfg.RetryDelays[attempt])
	if err := publishConfirmed(ctx, ch, []outgoing{{exchange: name, key: sub.ID, msg: republished(d, headers)}}); err != nil {
		return err
	}
	return d.Ack(false)
}

// park moves the notification to the dead-letter queue, with why.
func (s *Service) park(ctx context.Context, ch *amqp.Channel, d amqp.Delivery, reason string) error {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	headers[headerReason] = reason
	headers["x-careslot-parked-at"] = time.Now().UTC().Format(time.RFC3339)
	if err := publishConfirmed(ctx, ch, []outgoing{{exchange: exchangeDead, key: d.RoutingKey, msg: republished(d, headers)}}); err != nil {
		return err
	}
	s.log.Warn("notification parked in the dead-letter queue", "id", d.MessageId, "reason", reason)
	return d.Ack(false)
}

func republished(d amqp.Delivery, headers amqp.Table) amqp.Publishing {
	return amqp.Publishing{ContentType: d.ContentType, MessageId: d.MessageId, Timestamp: d.Timestamp, Headers: headers, Body: d.Body}
}

// setStatus writes the Subscription's status (and error, "" to clear it) as a new
// version, if it is still from (any, when from is "").
func (s *Service) setStatus(ctx context.Context, id, from, to, errText string) error {
	return s.store.InTx(context.WithoutCancel(ctx), func(tx *storage.Tx) error {
		prev, err := tx.Lock(ctx, "Subscription", id)
		if err != nil || prev == nil || prev.Deleted {
			return err
		}
		var doc map[string]any
		if err := json.Unmarshal(prev.Content, &doc); err != nil {
			return err
		}
		cur, _ := doc["status"].(string)
		curErr, _ := doc["error"].(string)
		if from != "" && cur != from || cur == to && curErr == errText {
			return nil
		}
		doc["status"] = to
		if errText == "" {
			delete(doc, "error")
		} else {
			doc["error"] = errText
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		_, err = tx.Write(ctx, prev, "Subscription", id, body, http.MethodPut)
		return err
	})
}

// send delivers one notification over the subscription's channel.
func (s *Service) send(ctx context.Context, sub *subscription.Subscription, stored *storage.StoredSubscription, n notification) error {
	body, err := s.body(ctx, sub, stored, n)
	if err != nil {
		return err
	}
	if sub.Channel == "websocket" {
		text := "ping " + sub.ID
		if sub.TopicBased() {
			text = string(body)
		}
		return s.hub.send(ctx, sub.ID, text)
	}
	timeout := s.cfg.DeliveryTimeout
	if sub.Timeout > 0 {
		timeout = sub.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, h := range sub.Headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("X-Careslot-Subscription", sub.ID)
	req.Header.Set("X-Careslot-Notification", n.Kind)
	req.Header.Set("X-Careslot-Event-Id", n.id())
	if n.Event != nil {
		req.Header.Set("X-Careslot-Resource", n.Event.Type+"/"+n.Event.ID+"/_history/"+fmt.Sprint(n.Event.VersionID))
		req.Header.Set("X-Careslot-Action", n.Event.Action)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return nil
}

// body is what a notification carries: for a topic-based subscription a notification
// Bundle; for a criteria-based one the resource (when channel.payload is set, and not for
// a delete or a handshake), else nothing (a ping).
func (s *Service) body(ctx context.Context, sub *subscription.Subscription, stored *storage.StoredSubscription, n notification) ([]byte, error) {
	var content []byte
	if n.Event != nil && n.Event.Action != "delete" && (sub.TopicBased() && sub.Content == subscription.ContentFull || !sub.TopicBased() && sub.Payload != "") {
		key := storage.VersionKey{RID: n.Event.RID, Version: n.Event.VersionID}
		versions, err := s.store.Versions(ctx, []storage.VersionKey{key})
		if err != nil {
			return nil, err
		}
		content = versions[key]
	}
	if !sub.TopicBased() {
		return content, nil
	}
	switch n.Kind {
	case kindEvent:
		e := n.Event
		ref := subscription.EventRef{Number: e.Number, At: e.At, Type: e.Type, ID: e.ID, Version: e.VersionID, Action: e.Action, Resource: content}
		return subscription.NotificationBundle(s.cfg.BaseURL, sub, subscription.TypeEvent, e.Number, []subscription.EventRef{ref}), nil
	case kindHandshake:
		return subscription.NotificationBundle(s.cfg.BaseURL, sub, subscription.TypeHandshake, stored.Events, nil), nil
	default:
		return subscription.NotificationBundle(s.cfg.BaseURL, sub, subscription.TypeHeartbeat, stored.Events, nil), nil
	}
}

// newClient is the HTTP client of rest-hook notifications: no proxy from the environment,
// no redirects, and every connection checked against private addresses after DNS.
func newClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: subscription.Control(allowPrivate)}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
