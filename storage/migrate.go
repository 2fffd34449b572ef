package storage

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serialises migrations across replicas.
const migrationLock = 0x636172656c6f74 // "careslot"

// Migrate applies every embedded migration not yet applied, in name order, each in its
// own transaction. Replicas starting together wait on an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	// A migration may rewrite a large table, and the lock may wait for another replica's
	// migrations: neither is bounded by the statement_timeout of requests.
	if _, err := conn.Exec(ctx, `SET statement_timeout = 0`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET statement_timeout`)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if err := refuseNewerSchema(ctx, conn, names); err != nil {
		return err
	}
	for _, path := range names {
		name := strings.TrimPrefix(path, "migrations/")
		var done bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&done); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		if done {
			continue
		}
		sql, err := migrationFiles.ReadFile(path)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

// refuseNewerSchema fails when the database holds migrations this binary does not know:
// a newer careslot migrated it, and this one would run on a schema it was not written for.
func refuseNewerSchema(ctx context.Context, conn *pgxpool.Conn, embedded []string) error {
	known := make([]string, len(embedded))
	for i, path := range embedded {
		known[i] = strings.TrimPrefix(path, "migrations/")
	}
	rows, err := conn.Query(ctx, `SELECT name FROM schema_migrations WHERE NOT name = ANY($1) ORDER BY name`, known)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	unknown, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(unknown) > 0 {
		return fmt.Errorf("migrate: the database has migrations this careslot does not know (%s): it was migrated by a newer version; run that version", strings.Join(unknown, ", "))
	}
	return nil
}
