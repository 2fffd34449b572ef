package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// InitSubscriptionState records, in the transaction that creates Subscription/id, who
// created it (owner is the caller as JSON, nil when anonymous). A subscription created
// again under the id of a deleted one is a new one: it starts with no events. Updates
// never call it, so they keep the creator.
func (t *Tx) InitSubscriptionState(ctx context.Context, id string, owner []byte) error {
	if _, err := t.pg.Exec(ctx, `DELETE FROM subscription_events WHERE subscription_id = $1`, id); err != nil {
		return fmt.Errorf("storage: subscription state: %w", mapPgError(err))
	}
	if _, err := t.pg.Exec(ctx, `INSERT INTO subscription_state (subscription_id, owner) VALUES ($1, $2)
		ON CONFLICT (subscription_id) DO UPDATE SET owner = EXCLUDED.owner, events = 0, created_at = now()`, id, owner); err != nil {
		return fmt.Errorf("storage: subscription state: %w", mapPgError(err))
	}
	return nil
}

// SubscriptionOwner is the recorded creator of Subscription/id, live or deleted; found
// is false when none was recorded.
func (t *Tx) SubscriptionOwner(ctx context.Context, id string) (owner []byte, found bool, err error) {
	err = t.pg.QueryRow(ctx, `SELECT owner FROM subscription_state WHERE subscription_id = $1`, id).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: subscription owner: %w", mapPgError(err))
	}
	return owner, true, nil
}

// StoredSubscription is a live Subscription and the server's state of it.
type StoredSubscription struct {
	Resource
	Owner  []byte // the creating caller as JSON; nil when anonymous
	Events int64  // events matched so far
	// Delivered is the last event delivered in-process; nil while RabbitMQ delivers them.
	Delivered *int64
}

const selectSubscription = `SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.deleted, r.content, s.owner, COALESCE(s.events, 0), s.delivered
	FROM resources r LEFT JOIN subscription_state s ON s.subscription_id = r.id
	WHERE r.type = 'Subscription' AND NOT r.deleted`

func scanSubscription(row pgx.CollectableRow) (StoredSubscription, error) {
	var s StoredSubscription
	err := row.Scan(&s.RID, &s.Type, &s.ID, &s.VersionID, &s.LastUpdated, &s.Deleted, &s.Content, &s.Owner, &s.Events, &s.Delivered)
	return s, err
}

// Subscriptions lists every live Subscription.
func (s *Store) Subscriptions(ctx context.Context) ([]StoredSubscription, error) {
	rows, err := s.pool.Query(ctx, selectSubscription+` ORDER BY r.id`)
	if err != nil {
		return nil, fmt.Errorf("storage: subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanSubscription)
	if err != nil {
		return nil, fmt.Errorf("storage: subscriptions: %w", err)
	}
	return out, nil
}

// Subscription reads the live Subscription/id; nil when there is none (never created or deleted).
func (s *Store) Subscription(ctx context.Context, id string) (*StoredSubscription, error) {
	rows, err := s.pool.Query(ctx, selectSubscription+` AND r.id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("storage: subscription: %w", err)
	}
	sub, err := pgx.CollectExactlyOneRow(rows, scanSubscription)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: subscription: %w", err)
	}
	return &sub, nil
}

// Event is one numbered event of one subscription: the change it matched.
type Event struct {
	Subscription string
	Number       int64
	Change
}

// RecordEvents numbers the changes each subscription matched, in the order given (seq
// order), after the subscription's earlier events. A change already recorded for a
// subscription (a redelivered message) keeps its number and is answered again, so the
// caller can publish it again. A change given twice in one call (a message redelivered
// into the same batch, as after a killed server) is recorded once.
func (s *Store) RecordEvents(ctx context.Context, events []Event) ([]Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	n := len(events)
	subs, seqs, rids, types, ids := make([]string, n), make([]int64, n), make([]int64, n), make([]string, n), make([]string, n)
	versions, actions, ats := make([]int32, n), make([]string, n), make([]time.Time, n)
	for i, e := range events {
		subs[i], seqs[i], rids[i], types[i], ids[i] = e.Subscription, e.Seq, e.RID, e.Type, e.ID
		versions[i], actions[i], ats[i] = int32(e.VersionID), e.Action, e.At
	}
	rows, err := s.pool.Query(ctx, `WITH input AS (
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[])
				WITH ORDINALITY AS t(subscription_id, seq, rid, type, id, version_id, action, at, ord)),
		once AS (
			SELECT DISTINCT ON (subscription_id, seq) * FROM input ORDER BY subscription_id, seq, ord),
		fresh AS (
			SELECT i.*, row_number() OVER (PARTITION BY i.subscription_id ORDER BY i.ord) AS k FROM once i
			WHERE NOT EXISTS (SELECT 1 FROM subscription_events e WHERE e.subscription_id = i.subscription_id AND e.seq = i.seq)),
		counts AS (SELECT subscription_id, count(*) AS n FROM fresh GROUP BY subscription_id),
		bumped AS (
			INSERT INTO subscription_state AS s (subscription_id, events) SELECT subscription_id, n FROM counts ORDER BY subscription_id
			ON CONFLICT (subscription_id) DO UPDATE SET events = s.events + EXCLUDED.events
			RETURNING subscription_id, events),
		added AS (
			INSERT INTO subscription_events (subscription_id, number, seq, rid, type, id, version_id, action, at)
			SELECT f.subscription_id, b.events - c.n + f.k, f.seq, f.rid, f.type, f.id, f.version_id, f.action, f.at
			FROM fresh f JOIN counts c USING (subscription_id) JOIN bumped b USING (subscription_id)
			RETURNING subscription_id, number, seq, rid, type, id, version_id, action, at)
		SELECT * FROM added
		UNION ALL
		SELECT e.subscription_id, e.number, e.seq, e.rid, e.type, e.id, e.version_id, e.action, e.at
		FROM subscription_events e JOIN once i ON e.subscription_id = i.subscription_id AND e.seq = i.seq
		ORDER BY 1, 2`, subs, seqs, rids, types, ids, versions, actions, ats)
	if err != nil {
		return nil, fmt.Errorf("storage: record events: %w", mapPgError(err))
	}
	out, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("storage: record events: %w", mapPgError(err))
	}
	return out, nil
}

func scanEvent(row pgx.CollectableRow) (Event, error) {
	var e Event
	err := row.Scan(&e.Subscription, &e.Number, &e.Seq, &e.RID, &e.Type, &e.ID, &e.VersionID, &e.Action, &e.At)
	return e, err
}

// SubscriptionEvents lists the events of subscription numbered from since to until
// (inclusive; until 0 means no bound), at most limit, in number order.
func (s *Store) SubscriptionEvents(ctx context.Context, subscription string, since, until int64, limit int) ([]Event, error) {
	if until <= 0 {
		until = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT subscription_id, number, seq, rid, type, id, version_id, action, at
		FROM subscription_events WHERE subscription_id = $1 AND number BETWEEN $2 AND $3 ORDER BY number LIMIT $4`,
		subscription, since, until, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: subscription events: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("storage: subscription events: %w", err)
	}
	return out, nil
}

// VersionKey names one version of one resource by its rid.
type VersionKey struct {
	RID     int64
	Version int
}

// Versions reads the content of the given versions; a deletion, or a version that does
// not exist, is absent from the answer.
func (s *Store) Versions(ctx context.Context, keys []VersionKey) (map[VersionKey][]byte, error) {
	out := make(map[VersionKey][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rids, versions := make([]int64, len(keys)), make([]int32, len(keys))
	for i, k := range keys {
		rids[i], versions[i] = k.RID, int32(k.Version)
	}
	rows, err := s.pool.Query(ctx, `SELECT v.rid, v.version_id, v.content
		FROM unnest($1::bigint[], $2::int[]) AS k(rid, version_id)
		JOIN resource_versions v ON v.rid = k.rid AND v.version_id = k.version_id
		WHERE v.content IS NOT NULL`, rids, versions)
	if err != nil {
		return nil, fmt.Errorf("storage: versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k VersionKey
		var content []byte
		if err := rows.Scan(&k.RID, &k.Version, &content); err != nil {
			return nil, fmt.Errorf("storage: versions: %w", err)
		}
		out[k] = content
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storage: versions: %w", err)
	}
	return out, nil
}
