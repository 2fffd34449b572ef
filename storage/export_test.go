package storage

import "github.com/jackc/pgx/v5/pgxpool"

// PoolOf hands the store's pool to this package's tests, which look at tables directly.
func PoolOf(s *Store) *pgxpool.Pool { return s.pool }
