package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage/search"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SearchResult is one page of a search.
type SearchResult struct {
	Matches  []Resource
	Included []Resource // _include and _revinclude resources, each once, none of them a match
	// Total is the number of matches when it was counted or is known from the page, else -1.
	Total int
	// Next and Previous are the cursors of the neighbouring pages; nil when there is none.
	Next, Previous *search.Cursor
}

// maxIncluded bounds the resources one page may include.
const maxIncluded = 1000

// Search runs q on the pool.
func (s *Store) Search(ctx context.Context, q *search.Query) (*SearchResult, error) {
	return runSearch(ctx, s.pool, q)
}

// Search runs q inside the transaction, so it sees the transaction's own writes: the
// conditional interactions and the GET entries of a transaction Bundle need that.
func (t *Tx) Search(ctx context.Context, q *search.Query) (*SearchResult, error) {
	return runSearch(ctx, t.pg, q)
}

// searchMode plans each search with its actual values (an unnamed statement): a cached
// generic plan cannot know that family LIKE 'smi%' is selective or that a date window is small.
const searchMode = pgx.QueryExecModeExec

func runSearch(ctx context.Context, db Querier, q *search.Query) (*SearchResult, error) {
	reg := search.Definitions()
	res := &SearchResult{Total: -1}
	for sp, c := range q.DateRangeKeys() {
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM search_date WHERE sp = $1 AND multi)`, sp).Scan(&c.MultiValued); err != nil {
			return nil, searchError(err)
		}
	}
	if q.Summary == "count" || q.Count == 0 || q.Total == "accurate" || q.Total == "estimate" {
		sql, args := q.CountSQL(reg)
		if err := checkArgs(args); err != nil {
			return nil, err
		}
		if err := db.QueryRow(ctx, sql, append([]any{searchMode}, args...)...).Scan(&res.Total); err != nil {
			return nil, searchError(err)
		}
		if q.Summary == "count" || q.Count == 0 {
			return res, nil
		}
	}
	sql, args := q.PageSQL(reg, q.Count+1)
	if err := checkArgs(args); err != nil {
		return nil, err
	}
	mode := searchMode
	if q.ReusablePlan() {
		// Prepared once per connection; Postgres keeps a generic plan once it costs no
		// more than the custom ones.
		mode = pgx.QueryExecModeCacheStatement
	}
	rows, err := db.Query(ctx, sql, append([]any{mode}, args...)...)
	if err != nil {
		return nil, searchError(err)
	}
	var keys [][]string
	for rows.Next() {
		var r Resource
		k := make([]string, len(q.Sort))
		dest := []any{&r.RID, &r.Type, &r.ID, &r.VersionID, &r.LastUpdated, &r.Content}
		for i := range k {
			dest = append(dest, &k[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, searchError(err)
		}
		res.Matches = append(res.Matches, r)
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, searchError(err)
	}
	more := len(res.Matches) > q.Count
	if more {
		res.Matches, keys = res.Matches[:q.Count], keys[:q.Count]
	}
	before := q.Cursor != nil && q.Cursor.Before
	if before {
		slices.Reverse(res.Matches)
		slices.Reverse(keys)
	}
	snapshot := time.Now().UTC()
	if q.Cursor != nil && !q.Cursor.Snapshot.IsZero() {
		snapshot = q.Cursor.Snapshot
	}
	at := func(i int, before bool) *search.Cursor {
		c := &search.Cursor{Keys: keys[i], RID: res.Matches[i].RID, Before: before}
		if len(q.Sort) > 0 {
			c.Snapshot = snapshot
		}
		return c
	}
	if n := len(res.Matches); n > 0 {
		// Forward: a next page exists when more rows followed; a previous one when this
		// page started from a cursor. Backward: the other way round.
		if (!before && more) || (before && q.Cursor != nil) {
			res.Next = at(n-1, false)
		}
		if (before && more) || (!before && q.Cursor != nil) {
			res.Previous = at(0, true)
		}
	}
	if res.Total < 0 && q.Cursor == nil && !more {
		res.Total = len(res.Matches)
	}
	if err := includeAll(ctx, db, reg, q, res); err != nil {
		return nil, err
	}
	return res, nil
}

// includeAll adds the _include and _revinclude resources of the page's matches, then
// follows the :iterate ones from what was added, a bounded number of rounds.
func includeAll(ctx context.Context, db Querier, reg *search.Registry, q *search.Query, res *SearchResult) error {
	if len(q.Include) == 0 && len(q.RevInclude) == 0 || len(res.Matches) == 0 {
		return nil
	}
	seen := map[int64]bool{}
	var from []int64
	for _, m := range res.Matches {
		seen[m.RID] = true
		from = append(from, m.RID)
	}
	for round := 0; round < search.MaxIncludeIterations && len(from) > 0 && len(res.Included) < maxIncluded; round++ {
		var added []int64
		run := func(sql string, args []any) error {
			rows, err := db.Query(ctx, sql, append([]any{searchMode}, args...)...)
			if err != nil {
				return searchError(err)
			}
			defer rows.Close()
			for rows.Next() {
				var r Resource
				if err := rows.Scan(&r.RID, &r.Type, &r.ID, &r.VersionID, &r.LastUpdated, &r.Content); err != nil {
					return searchError(err)
				}
				if !seen[r.RID] && len(res.Included) < maxIncluded {
					seen[r.RID] = true
					res.Included = append(res.Included, r)
					added = append(added, r.RID)
				}
			}
			return rows.Err()
		}
		for _, inc := range q.Include {
			if round > 0 && !inc.Iterate {
				continue
			}
			inc.BaseURL, inc.Access = q.BaseURL, q.Access
			sql, args := inc.IncludeSQL(reg, from, maxIncluded)
			if err := run(sql, args); err != nil {
				return err
			}
		}
		for _, inc := range q.RevInclude {
			if round > 0 && !inc.Iterate {
				continue
			}
			inc.BaseURL, inc.Access = q.BaseURL, q.Access
			sql, args := inc.RevIncludeSQL(reg, from, maxIncluded)
			if err := run(sql, args); err != nil {
				return err
			}
		}
		from = added
	}
	return nil
}

// maxBindParameters is how many values one Postgres statement can carry: the protocol
// counts them in 16 bits.
const maxBindParameters = 65535

// checkArgs refuses a search with more values than one statement can carry, which pgx
// would otherwise fail as an internal error.
func checkArgs(args []any) error {
	if len(args) > maxBindParameters {
		return fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeTooCostly,
			fmt.Sprintf("the search has too many values: it needs %d query parameters, at most %d", len(args), maxBindParameters))
	}
	return nil
}

// searchError turns a value Postgres could not read (a tampered cursor, a number out of
// range) into a 400, a search over statement_timeout into a 503 (mapPgError); anything
// else stays an internal error.
func searchError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 && pe.Code[:2] == "22" {
		return fhirerr.Invalid("a search value is out of range: " + pe.Message).WithCause(err)
	}
	return fmt.Errorf("storage: search: %w", mapPgError(err))
}
