package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/careslot/careslot/storage/search"
)

// HistoryQuery selects versions for instance (Type and ID), type (Type) or system history.
type HistoryQuery struct {
	Type  string
	ID    string
	Since time.Time // only versions last updated at or after Since, when set
	// AtFrom and AtTo, when set, keep the versions that were current at some point in
	// [AtFrom, AtTo]: written by AtTo and not yet replaced at AtFrom (_at).
	AtFrom, AtTo time.Time
	Count        int // page size
	After        *HistoryCursor
	// Access keeps the versions of the resources the caller may see; nil keeps all.
	Access *search.Access
}

// HistoryCursor is where the next page of a history starts (exclusive); versions are
// ordered newest first by (lastUpdated, rid, versionId), so concurrent writes never shift a page.
type HistoryCursor struct {
	LastUpdated time.Time
	RID         int64
	VersionID   int
}

// HistoryEntry is one version with the method that wrote it. Created is true for a
// version that brought the resource into existence: the first, or one after a delete.
type HistoryEntry struct {
	Resource
	Method  string
	Created bool
}

// History returns a page of versions newest first, and the cursor of the next page (nil on the last).
func (s *Store) History(ctx context.Context, q HistoryQuery) ([]HistoryEntry, *HistoryCursor, error) {
	return history(ctx, s.pool, q)
}

// History is Store.History inside the transaction, so a transaction Bundle's history
// entries see its own writes.
func (t *Tx) History(ctx context.Context, q HistoryQuery) ([]HistoryEntry, *HistoryCursor, error) {
	return history(ctx, t.pg, q)
}

func history(ctx context.Context, db Querier, q HistoryQuery) ([]HistoryEntry, *HistoryCursor, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.Type != "" {
		add("type = $%d", q.Type)
	} else {
		// AuditEvents record accesses, not changes of data; AuditEvent/_history has them.
		add("type <> $%d", AuditType)
	}
	if q.ID != "" {
		add("id = $%d", q.ID)
	}
	if !q.Since.IsZero() {
		add("last_updated >= $%d", q.Since)
	}
	if !q.AtTo.IsZero() {
		add("last_updated <= $%d", q.AtTo)
		add(`NOT EXISTS (SELECT FROM resource_versions n WHERE n.rid = resource_versions.rid
			AND n.version_id = resource_versions.version_id + 1 AND n.last_updated <= $%d)`, q.AtFrom)
	}
	if q.Access != nil && !q.Access.Unrestricted(q.Type) {
		// A type history (or the system's) with types the caller may see only in part.
		rids, more := q.Access.RIDsSQL(search.Definitions(), q.Type, len(args))
		args = append(args, more...)
		where = append(where, "rid IN ("+rids+")")
	}
	if c := q.After; c != nil {
		args = append(args, c.LastUpdated, c.RID, c.VersionID)
		n := len(args)
		where = append(where, fmt.Sprintf("(last_updated, rid, version_id) < ($%d, $%d, $%d)", n-2, n-1, n))
	}
	sql := `SELECT rid, type, id, version_id, last_updated, method, content,
		version_id = 1 OR EXISTS (SELECT FROM resource_versions p WHERE p.rid = resource_versions.rid
			AND p.version_id = resource_versions.version_id - 1 AND p.method = 'DELETE')
		FROM resource_versions`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.Count+1)
	sql += fmt.Sprintf(" ORDER BY last_updated DESC, rid DESC, version_id DESC LIMIT $%d", len(args))
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("storage: history: %w", mapPgError(err))
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		var e HistoryEntry
		if err := rows.Scan(&e.RID, &e.Type, &e.ID, &e.VersionID, &e.LastUpdated, &e.Method, &e.Content, &e.Created); err != nil {
			return nil, nil, fmt.Errorf("storage: history: %w", mapPgError(err))
		}
		e.Deleted = e.Method == "DELETE"
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("storage: history: %w", mapPgError(err))
	}
	if len(out) <= q.Count {
		return out, nil, nil
	}
	if q.Count == 0 { // _count=0: no entries, and no last entry to continue after
		return nil, nil, nil
	}
	out = out[:q.Count]
	last := out[len(out)-1]
	return out, &HistoryCursor{LastUpdated: last.LastUpdated, RID: last.RID, VersionID: last.VersionID}, nil
}
