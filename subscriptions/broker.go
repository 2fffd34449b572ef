package subscriptions

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The RabbitMQ topology. Changes go to a topic exchange (routing key Type.action) that
// any consumer may bind to; careslot's matcher reads them from one queue with a single
// active consumer, so changes are matched in order whatever the number of replicas.
// Notifications go through a direct exchange to one queue per subscription (routing key:
// the subscription id), so a slow or dead subscriber holds back only its own queue.
// A failed notification is republished to the retry exchange of its attempt, whose queue
// holds it for a TTL and dead-letters it back to the deliver exchange; one that failed
// every attempt goes to the dead-letter queue.
const (
	exchangeChanges = "careslot.changes"
	exchangeDeliver = "careslot.deliver"
	exchangeDead    = "careslot.dead"
	queueMatch      = "careslot.match"
	queueDead       = "careslot.dlq"
)

// retryName is the exchange and queue of the retry that waits d.
func retryName(d time.Duration) string {
	return "careslot.retry." + strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// subscriptionQueue is the queue of one subscription's notifications.
func subscriptionQueue(id string) string { return "careslot.subscription." + id }

// Message headers careslot sets.
const (
	headerAttempt      = "x-careslot-attempt"
	headerSubscription = "x-careslot-subscription"
	headerReason       = "x-careslot-reason"
)

// broker is the connection to RabbitMQ, dialled again on demand after it breaks. Each
// worker opens channels of its own on it and starts over when they close.
type broker struct {
	url     string
	retries []time.Duration

	mu   sync.Mutex
	conn *amqp.Connection
}

// connection returns the open connection, dialling (and declaring the topology) when
// there is none.
func (b *broker) connection() (*amqp.Connection, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil && !b.conn.IsClosed() {
		return b.conn, nil
	}
	conn, err := amqp.DialConfig(b.url, amqp.Config{
		Heartbeat:  5 * time.Second,
		Dial:       amqp.DefaultDial(5 * time.Second),
		Properties: amqp.Table{"connection_name": "careslot"},
	})
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: %w", err)
	}
	if err := b.declare(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("rabbitmq: declare topology: %w", err)
	}
	b.conn = conn
	return conn, nil
}

// connected reports whether the connection is up, without dialling.
func (b *broker) connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn != nil && !b.conn.IsClosed()
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil {
		b.conn.CloseDeadline(time.Now().Add(2 * time.Second))
		b.conn = nil
	}
}

// channel opens a channel; confirm puts it in publisher-confirm mode.
func (b *broker) channel(confirm bool) (*amqp.Channel, error) {
	conn, err := b.connection()
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: channel: %w", err)
	}
	if confirm {
		if err := ch.Confirm(false); err != nil {
			ch.Close()
			return nil, fmt.Errorf("rabbitmq: confirm mode: %w", err)
		}
	}
	return ch, nil
}

func (b *broker) declare(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	for _, ex := range []struct{ name, kind string }{{exchangeChanges, "topic"}, {exchangeDeliver, "direct"}, {exchangeDead, "fanout"}} {
		if err := ch.ExchangeDeclare(ex.name, ex.kind, true, false, false, false, nil); err != nil {
			return err
		}
	}
	if _, err := ch.QueueDeclare(queueMatch, true, false, false, false, amqp.Table{"x-single-active-consumer": true}); err != nil {
		return err
	}
	if err := ch.QueueBind(queueMatch, "#", exchangeChanges, false, nil); err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(queueDead, true, false, false, false, nil); err != nil {
		return err
	}
	if err := ch.QueueBind(queueDead, "", exchangeDead, false, nil); err != nil {
		return err
	}
	for _, d := range b.retries {
		name := retryName(d)
		if err := ch.ExchangeDeclare(name, "fanout", true, false, false, false, nil); err != nil {
			return err
		}
		args := amqp.Table{"x-message-ttl": d.Milliseconds(), "x-dead-letter-exchange": exchangeDeliver}
		if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
			return err
		}
		if err := ch.QueueBind(name, "", name, false, nil); err != nil {
			return err
		}
	}
	return nil
}

// declareSubscriptionQueue makes sure the queue of subscription id exists and is bound.
func declareSubscriptionQueue(ch *amqp.Channel, id string) error {
	q := subscriptionQueue(id)
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-single-active-consumer": true}); err != nil {
		return fmt.Errorf("rabbitmq: declare %s: %w", q, err)
	}
	if err := ch.QueueBind(q, id, exchangeDeliver, false, nil); err != nil {
		return fmt.Errorf("rabbitmq: bind %s: %w", q, err)
	}
	return nil
}

// outgoing is one message to publish.
type outgoing struct {
	exchange, key string
	msg           amqp.Publishing
}

// confirmTimeout bounds the wait for the broker's confirms of one batch.
const confirmTimeout = 15 * time.Second

// publishConfirmed publishes msgs on ch (in confirm mode) and returns once the broker
// confirmed every one; an error means some may not have been taken, and the caller
// publishes them again (duplicates are possible, losses are not).
func publishConfirmed(ctx context.Context, ch *amqp.Channel, msgs []outgoing) error {
	confirms := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	for _, m := range msgs {
		m.msg.DeliveryMode = amqp.Persistent
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, m.exchange, m.key, false, false, m.msg)
		if err != nil {
			return fmt.Errorf("rabbitmq: publish: %w", err)
		}
		confirms = append(confirms, dc)
	}
	wait, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	for _, dc := range confirms {
		ok, err := dc.WaitContext(wait)
		if err != nil {
			return fmt.Errorf("rabbitmq: confirm: %w", err)
		}
		if !ok {
			return fmt.Errorf("rabbitmq: the broker refused a message (nack)")
		}
	}
	return nil
}

// pause waits d or until ctx is done, and reports whether to go on.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
