package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// IssueBindingToken keeps the hash of a websocket binding token for subscription id and
// caller (the smart-auth caller as JSON, nil when anonymous), valid for ttl by the
// database's clock, and returns when it expires. Expired tokens are pruned on the way.
func (s *Store) IssueBindingToken(ctx context.Context, hash []byte, subscriptionID string, caller []byte, ttl time.Duration) (time.Time, error) {
	if _, err := s.pool.Exec(ctx, `DELETE FROM ws_binding_tokens WHERE expires_at < now()`); err != nil {
		return time.Time{}, fmt.Errorf("storage: binding token: %w", err)
	}
	var expires time.Time
	err := s.pool.QueryRow(ctx, `INSERT INTO ws_binding_tokens (token_hash, subscription_id, caller, expires_at)
		VALUES ($1, $2, $3, now() + make_interval(secs => $4::float8)) RETURNING expires_at`,
		hash, subscriptionID, caller, ttl.Seconds()).Scan(&expires)
	if err != nil {
		return time.Time{}, fmt.Errorf("storage: binding token: %w", err)
	}
	return expires, nil
}

// TakeBindingToken uses up the binding token whose hash is hash: it returns the
// subscription and caller it was issued for, and ok false when it is unknown, expired or
// already used. A token is taken once, whichever replica takes it.
func (s *Store) TakeBindingToken(ctx context.Context, hash []byte) (subscriptionID string, caller []byte, ok bool, err error) {
	var expired bool
	err = s.pool.QueryRow(ctx, `DELETE FROM ws_binding_tokens WHERE token_hash = $1
		RETURNING subscription_id, caller, expires_at <= now()`, hash).Scan(&subscriptionID, &caller, &expired)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("storage: binding token: %w", err)
	}
	if expired {
		return "", nil, false, nil
	}
	return subscriptionID, caller, true, nil
}
