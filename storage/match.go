package storage

import (
	"context"
	"fmt"
	"strconv"

	"github.com/careslot/careslot/storage/search"
	"github.com/jackc/pgx/v5"
)

// Matcher tests changed resources against search queries (subscription criteria) with
// the search engine's own SQL: the resources and their index rows, extracted by the same
// definitions as at write time, go into temporary tables that shadow the real ones on a
// connection of the matcher's own (pg_temp comes first in the search path), and each
// query's WHERE runs over them. Nothing of search semantics is written twice, and a
// version that is no longer current (or a resource since deleted) is matched as it was.
type Matcher struct {
	conn *pgx.Conn
}

// MatchInput is one resource version to test. Key identifies it in the answer (the
// outbox seq: two versions of one resource can be in one batch).
type MatchInput struct {
	Key     int64
	Type    string
	ID      string
	Version int
	Content []byte
}

// matchTables are the tables a search reads, shadowed on the matcher's connection.
var matchTables = append([]string{"resources"}, indexTables...)

// NewMatcher opens the matcher's connection (taken out of the pool for good: its
// temporary tables must never serve another query) and creates its tables.
func (s *Store) NewMatcher(ctx context.Context) (*Matcher, error) {
	pc, err := s.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("storage: matcher: %w", err)
	}
	conn := pc.Hijack()
	for _, t := range matchTables {
		sql := "CREATE TEMP TABLE " + t + " (LIKE public." + t + " INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
		if _, err := conn.Exec(ctx, sql); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("storage: matcher: %w", err)
		}
	}
	return &Matcher{conn: conn}, nil
}

// Close closes the matcher's connection, and with it its tables.
func (m *Matcher) Close(ctx context.Context) { m.conn.Close(ctx) }

// matchChunk bounds the resources written by one statement.
const matchChunk = 64

// Match answers, for each query, the keys of the inputs it matches. An input whose type
// is not the query's never matches it. The whole batch is one transaction whose rows
// vanish at commit.
func (m *Matcher) Match(ctx context.Context, inputs []MatchInput, queries []*search.Query) ([][]int64, error) {
	out := make([][]int64, len(queries))
	if len(inputs) == 0 || len(queries) == 0 {
		return out, nil
	}
	reg := search.Definitions()
	err := pgx.BeginFunc(ctx, m.conn, func(tx pgx.Tx) error {
		for start := 0; start < len(inputs); start += matchChunk {
			chunk := inputs[start:min(start+matchChunk, len(inputs))]
			st := &statement{}
			for i, in := range chunk {
				cur := "cur" + strconv.Itoa(i)
				st.with(cur, `INSERT INTO resources (rid, type, id, version_id, last_updated, content)
					VALUES (`+st.param(in.Key)+`, `+st.param(in.Type)+`, `+st.param(in.ID)+`, `+st.param(in.Version)+`, now(), `+st.param(in.Content)+`) RETURNING rid`)
				if reg.Searchable(in.Type) {
					addIndex(st, cur, reg.Extract(in.Type, in.Content))
				}
			}
			if _, err := tx.Exec(ctx, st.sql("SELECT 1"), st.args...); err != nil {
				return err
			}
		}
		keys := make([]int64, len(inputs))
		for i, in := range inputs {
			keys[i] = in.Key
		}
		b := &pgx.Batch{}
		for _, q := range queries {
			sql, args := q.MatchSQL(reg, keys)
			b.Queue(sql, args...)
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		for i := range queries {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			out[i], err = pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("storage: match: %w", err)
	}
	return out, nil
}
