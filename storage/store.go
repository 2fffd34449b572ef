// Package storage keeps FHIR resources in PostgreSQL: the current version of each as
// JSONB, every version in a history table, the references between them, the search
// index and the outbox of changes, all written in one short transaction per change.
//
// It knows SQL; of HTTP only the method each version was written with (history's
// request.method), and nothing of the rules of each resource type. It must never import
// fhir (but fhir/fhirerr), resources or smartauth.
package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// defaultMaxConns is the pool size when DATABASE_URL does not set pool_max_conns.
const defaultMaxConns = 20

// Store is the careslot database. Its pool stays private: what others need of the
// database is a method here, so every SQL statement lives in this package.
type Store struct {
	pool *pgxpool.Pool
	// writeAudit audits each write in its transaction (nil audits none). Atomic: it is
	// set once the audit writer runs, and that writer already begins transactions.
	writeAudit atomic.Pointer[WriteAudit]
}

// DefaultStatementTimeout bounds every statement when Options does not say otherwise.
const DefaultStatementTimeout = 30 * time.Second

// Options are how the database is used.
type Options struct {
	// StatementTimeout is Postgres's statement_timeout for every statement but the
	// migrations (CARESLOT_STATEMENT_TIMEOUT); 0 is DefaultStatementTimeout. A statement
	// that hits it is answered 503.
	StatementTimeout time.Duration
}

// Open connects to databaseURL with the default Options and applies pending migrations.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	return OpenWith(ctx, databaseURL, Options{})
}

// OpenWith connects to databaseURL and applies pending migrations.
func OpenWith(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("storage: parse DATABASE_URL: %w", err)
	}
	// statement_timeout in DATABASE_URL stands unless Options sets one.
	if _, inURL := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !inURL || opts.StatementTimeout > 0 {
		if opts.StatementTimeout <= 0 {
			opts.StatementTimeout = DefaultStatementTimeout
		}
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	// A request whose client has gone cancels its context; pgx's default then closes the
	// socket, which Postgres does not notice while a query runs. A cancel request stops
	// the query itself, and the connection stays usable.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	// pgxpool's default (4 connections on a small machine) starves concurrent writers,
	// whose transactions wait on the network, not the CPU; pool_max_conns in the URL overrides.
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("storage: connect: %w", err)
	}
	s := &Store{pool: pool}
	// The first connection waits too while the server is full; it then serves Migrate.
	conn, err := s.acquire(ctx)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Release()
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("storage: connect: %w", err)
	}
	if err := Migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the connections.
func (s *Store) Close() { s.pool.Close() }

// Ping tells whether the database answers, for health checks.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// HasData tells whether the database holds any resource, live or deleted, of a type
// other than those ignored (e.g. what careslot writes itself at start).
func (s *Store) HasData(ctx context.Context, ignoring ...string) (bool, error) {
	var found bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM resources WHERE type <> ALL($1))`, append([]string{}, ignoring...)).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("storage: look for data: %w", err)
	}
	return found, nil
}

// Resource is one stored version of a resource. Content is its JSON with id and meta set;
// it is nil for a deleted version.
type Resource struct {
	RID         int64
	Type        string
	ID          string
	VersionID   int
	LastUpdated time.Time
	Deleted     bool
	Content     []byte
}

// Querier is what a pool and a transaction have in common, so reads work in and out of transactions.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Tx is one write transaction. References and deletions are checked when it commits,
// so that a transaction Bundle may write resources in any order.
type Tx struct {
	pg      *txConn
	written map[int64]string // "Type/id" by rid of resources whose references must resolve at commit
	deleted []int64          // rids deleted here, which nothing live may reference at commit

	writeAudit WriteAudit
	audits     [][]byte // AuditEvents of the writes, stored with the COMMIT
}

// Begin starts a write transaction.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: begin: %w", mapPgError(err))
	}
	tx := &Tx{pg: &txConn{conn: conn}}
	if audit := s.writeAudit.Load(); audit != nil {
		tx.writeAudit = *audit
	}
	return tx, nil
}

// fullServerWait bounds how long acquire waits while the server has all the connections
// it allows.
const fullServerWait = 10 * time.Second

// acquire takes a connection of the pool. When the pool must open one and the server
// refuses it for having max_connections already (every replica, tool and test process
// shares them), it waits for one of the pool's own to come back rather than fail the
// request, up to fullServerWait; then the refusal is a 503.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	deadline := time.Now().Add(fullServerWait)
	for attempt := 1; ; attempt++ {
		conn, err := s.pool.Acquire(ctx)
		if err == nil || !serverFull(err) || time.Now().After(deadline) || !pause(ctx, min(attempt, 5)) {
			return conn, err
		}
	}
}

// serverFull tells whether err is the server's refusal of a new connection for having
// as many as it allows (too_many_connections, also when only reserved slots are left).
func serverFull(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53300"
}

// maxTxAttempts bounds how often InTx runs a write that deadlocks or serialization
// failures keep aborting, before their 409 reaches the client.
const maxTxAttempts = 3

// InTx runs fn in a transaction and commits it, or rolls it back if fn or a commit check
// fails. A transaction that PostgreSQL aborted for a deadlock or a serialization failure
// did nothing, and is run again from the start, up to maxTxAttempts times in all: fn must
// expect to run more than once.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTxOnce(ctx, fn)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt == maxTxAttempts || !pause(ctx, attempt) {
			if _, ok := fhirerr.As(err); ok {
				return err
			}
			return mapPgError(err)
		}
	}
}

func (s *Store) inTxOnce(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// retryable tells whether err aborted a transaction that may succeed if run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// pause waits a few random milliseconds, more after each attempt, so that the
// transactions that just collided do not start again in step. It reports false if ctx
// ended meanwhile.
func pause(ctx context.Context, attempt int) bool {
	d := time.Duration(attempt) * (2*time.Millisecond + rand.N(8*time.Millisecond))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Commit checks references and deletions, then commits. The transaction is over either
// way: a later Commit answers pgx.ErrTxClosed, never success for what was not committed.
func (t *Tx) Commit(ctx context.Context) error {
	if t.pg.released {
		return pgx.ErrTxClosed
	}
	defer t.pg.release()
	if err := t.checkLinks(ctx); err != nil {
		t.pg.rollback(context.WithoutCancel(ctx))
		return err
	}
	if len(t.audits) > 0 {
		// The audit rows ride in the COMMIT's round trip: auditing a write costs no wait.
		if err := t.pg.commitAfter(ctx, pendingAuditInsert, pendingAuditArgs(t.audits)); err != nil {
			return fmt.Errorf("storage: commit: %w", mapPgError(err))
		}
		return nil
	}
	if err := t.pg.commit(ctx); err != nil {
		return fmt.Errorf("storage: commit: %w", mapPgError(err))
	}
	return nil
}

// CheckCommit runs the checks Commit runs (references and deletions) without
// committing: $validate asks what a commit would answer, then rolls back.
func (t *Tx) CheckCommit(ctx context.Context) error { return t.checkLinks(ctx) }

// Rollback abandons the transaction; after Commit it does nothing.
func (t *Tx) Rollback(ctx context.Context) {
	if t.pg.released {
		return
	}
	t.pg.rollback(context.WithoutCancel(ctx))
	t.pg.release()
}

// PG runs SQL in the transaction, for the SQL of other storage files and tests.
func (t *Tx) PG() Querier { return t.pg }

// mapPgError turns the database errors a client can cause into FHIR errors, which keep
// the database's error as their cause.
func mapPgError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization failure, deadlock
			return fhirerr.Conflict("the resource was changed concurrently; retry the request").WithCause(err)
		case "57014": // query_canceled: statement_timeout, or the request's context ended
			return fhirerr.New(fhirerr.ErrUnavailable, fhirerr.CodeTooCostly,
				"the request took longer than the server allows for one statement; narrow it or retry later").WithCause(err)
		case "53300": // too_many_connections
			return fhirerr.New(fhirerr.ErrUnavailable, fhirerr.CodeTransient,
				"the database has no connection free; retry later").WithCause(err)
		case "54001": // statement_too_complex (stack depth)
			return fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeTooCostly, "the request is too complex for the database").WithCause(err)
		}
	}
	return err
}

// Aborted tells whether err is PostgreSQL's refusal of a statement, after which the
// transaction runs no other statement: only a new transaction can try again.
func Aborted(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// LockKey takes a transaction-scoped advisory lock on key, serialising transactions that
// must not interleave (e.g. two conditional creates with the same condition).
func (t *Tx) LockKey(ctx context.Context, key string) error {
	if _, err := t.pg.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		return fmt.Errorf("storage: lock %q: %w", key, mapPgError(err))
	}
	return nil
}
