package storage

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Lease is a cluster-wide exclusive right to run one job (the outbox relay, the
// reminder scheduler): a session advisory lock held on a connection of its own. If the
// process dies, its connection closes and PostgreSQL frees the lock for another replica.
type Lease struct {
	conn *pgxpool.Conn
	key  string
}

// TryLease takes the lease named name, or returns nil when another session holds it.
func (s *Store) TryLease(ctx context.Context, name string) (*Lease, error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: lease %s: %w", name, err)
	}
	key := "careslot.lease." + name
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&got); err != nil {
		conn.Release()
		return nil, fmt.Errorf("storage: lease %s: %w", name, err)
	}
	if !got {
		conn.Release()
		return nil, nil
	}
	return &Lease{conn: conn, key: key}, nil
}

// Check answers an error when the lease's connection is gone, and with it the lock.
func (l *Lease) Check(ctx context.Context) error {
	if err := l.conn.Ping(ctx); err != nil {
		return fmt.Errorf("storage: lease %s lost: %w", l.key, err)
	}
	return nil
}

// Release gives the lease up. A connection whose unlock failed is closed, which frees it.
func (l *Lease) Release(ctx context.Context) {
	if _, err := l.conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, l.key); err != nil {
		l.conn.Conn().Close(context.WithoutCancel(ctx))
	}
	l.conn.Release()
}
