package storage

import (
	"context"
	"fmt"
)

// StartLocalDelivery hands every subscription's notifications to in-process delivery:
// the events recorded so far went to RabbitMQ, whose queues keep them, so in-process
// delivery starts after them.
func (s *Store) StartLocalDelivery(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `UPDATE subscription_state SET delivered = events WHERE delivered IS NULL`); err != nil {
		return fmt.Errorf("storage: start local delivery: %w", err)
	}
	return nil
}

// TrackLocally makes sure the given subscriptions' events are delivered in-process (a
// subscription created since StartLocalDelivery starts from its first event).
func (s *Store) TrackLocally(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE subscription_state SET delivered = 0 WHERE delivered IS NULL AND subscription_id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("storage: track local delivery: %w", err)
	}
	return nil
}

// SetDelivered records that the events of subscription up to number went out.
func (s *Store) SetDelivered(ctx context.Context, subscription string, number int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE subscription_state SET delivered = GREATEST(delivered, $2) WHERE subscription_id = $1`, subscription, number); err != nil {
		return fmt.Errorf("storage: set delivered: %w", err)
	}
	return nil
}

// UndeliveredLocally lists, per subscription delivered in-process, the number of its
// last delivered event, for RabbitMQ to take over the rest (HandOverToBroker).
func (s *Store) UndeliveredLocally(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT subscription_id, delivered FROM subscription_state WHERE delivered IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("storage: undelivered: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("storage: undelivered: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// HandOverToBroker gives the subscription's notifications back to RabbitMQ, once the
// events after its last delivered one are in its queue.
func (s *Store) HandOverToBroker(ctx context.Context, subscription string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE subscription_state SET delivered = NULL WHERE subscription_id = $1`, subscription); err != nil {
		return fmt.Errorf("storage: hand over to the broker: %w", err)
	}
	return nil
}
