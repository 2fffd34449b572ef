package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Change is one outbox row: a committed create, update or delete of one resource version.
type Change struct {
	Seq       int64     `json:"seq"`
	RID       int64     `json:"rid"`
	Type      string    `json:"type"`
	ID        string    `json:"id"`
	VersionID int       `json:"versionId"`
	Action    string    `json:"action"` // create, update or delete
	At        time.Time `json:"at"`     // when the change's transaction began
}

// PendingChanges returns up to limit outbox rows not yet sent, in seq order. Two changes
// of one resource are serialised by its row lock, so their seq order is their commit
// order; the relay that holds the "relay" lease is the only reader.
func (s *Store) PendingChanges(ctx context.Context, limit int) ([]Change, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, rid, type, id, version_id, action, created_at
		FROM outbox WHERE dispatched_at IS NULL ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: pending changes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Change, error) {
		var c Change
		err := row.Scan(&c.Seq, &c.RID, &c.Type, &c.ID, &c.VersionID, &c.Action, &c.At)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: pending changes: %w", err)
	}
	return out, nil
}

// MarkDispatched records that the broker confirmed the changes with these seqs.
func (s *Store) MarkDispatched(ctx context.Context, seqs []int64) error {
	if _, err := s.pool.Exec(ctx, `UPDATE outbox SET dispatched_at = now() WHERE seq = ANY($1) AND dispatched_at IS NULL`, seqs); err != nil {
		return fmt.Errorf("storage: mark dispatched: %w", err)
	}
	return nil
}

// PruneOutbox deletes up to limit rows sent before before, and says how many went.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE seq IN (
		SELECT seq FROM outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("storage: prune outbox: %w", err)
	}
	return tag.RowsAffected(), nil
}

// OutboxLag is how far the relay is behind: how many rows wait (counted up to a cap) and
// when the oldest of them was written; Oldest is zero when none waits.
type OutboxLag struct {
	Pending int64
	Oldest  time.Time
}

// lagCountCap bounds the count of waiting rows, so that health checks stay cheap after a
// long broker outage.
const lagCountCap = 100000

// OutboxLag reads the relay's lag.
func (s *Store) OutboxLag(ctx context.Context) (OutboxLag, error) {
	var lag OutboxLag
	var oldest *time.Time
	err := s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE dispatched_at IS NULL LIMIT $1) p),
		(SELECT created_at FROM outbox WHERE dispatched_at IS NULL ORDER BY seq LIMIT 1)`, lagCountCap).Scan(&lag.Pending, &oldest)
	if err != nil {
		return lag, fmt.Errorf("storage: outbox lag: %w", err)
	}
	if oldest != nil {
		lag.Oldest = *oldest
	}
	return lag, nil
}
