package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DeadLetter is one notification parked in the dead-letter queue.
type DeadLetter struct {
	ID           string          `json:"id"`
	Subscription string          `json:"subscription"`
	Reason       string          `json:"reason"`
	ParkedAt     string          `json:"parkedAt,omitempty"`
	Attempts     int             `json:"attempts"`
	Notification json.RawMessage `json:"notification"`
}

func deadLetter(d amqp.Delivery) DeadLetter {
	s := func(k string) string { v, _ := d.Headers[k].(string); return v }
	return DeadLetter{ID: d.MessageId, Subscription: d.RoutingKey, Reason: s(headerReason), ParkedAt: s("x-careslot-parked-at"),
		Attempts: attemptOf(d) + 1, Notification: json.RawMessage(d.Body)}
}

// dlqChannel connects to amqpURL and says how many messages the dead-letter queue holds.
func dlqChannel(amqpURL string) (*amqp.Connection, *amqp.Channel, int, error) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("rabbitmq: %w", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, nil, 0, err
	}
	q, err := ch.QueueDeclarePassive(queueDead, true, false, false, false, nil)
	if err != nil {
		conn.Close()
		return nil, nil, 0, fmt.Errorf("rabbitmq: %s: %w (has careslot ever run against this broker?)", queueDead, err)
	}
	return conn, ch, q.Messages, nil
}

// ListDLQ lists up to max parked notifications without removing them (they are taken
// unacknowledged and go back when the channel closes).
func ListDLQ(ctx context.Context, amqpURL string, max int) ([]DeadLetter, error) {
	conn, ch, n, err := dlqChannel(amqpURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []DeadLetter
	for i := 0; i < n && len(out) < max && ctx.Err() == nil; i++ {
		d, ok, err := ch.Get(queueDead, false)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		out = append(out, deadLetter(d))
	}
	return out, nil
}

// ReplayDLQ gives the parked notifications of subscription ("" for every one) back to
// their subscription's queue, with their attempts counted afresh, and says how many.
// A subscription in error parks them again: set it to requested first (its handshake
// then makes it active).
func ReplayDLQ(ctx context.Context, amqpURL, subscription string) (int, error) {
	conn, ch, n, err := dlqChannel(amqpURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := ch.Confirm(false); err != nil {
		return 0, err
	}
	replayed := 0
	var skipped []amqp.Delivery
	for i := 0; i < n && ctx.Err() == nil; i++ {
		d, ok, err := ch.Get(queueDead, false)
		if err != nil {
			return replayed, err
		}
		if !ok {
			break
		}
		if subscription != "" && d.RoutingKey != subscription {
			skipped = append(skipped, d)
			continue
		}
		headers := amqp.Table{headerSubscription: d.RoutingKey}
		if err := publishConfirmed(ctx, ch, []outgoing{{exchange: exchangeDeliver, key: d.RoutingKey, msg: republished(d, headers)}}); err != nil {
			return replayed, err
		}
		if err := d.Ack(false); err != nil {
			return replayed, err
		}
		replayed++
	}
	for _, d := range skipped {
		d.Nack(false, true)
	}
	return replayed, nil
}
