package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage/search"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

func conflictf(format string, args ...any) error {
	return fhirerr.Conflict(fmt.Sprintf(format, args...))
}

const selectResource = `SELECT rid, type, id, version_id, last_updated, deleted, content FROM resources`

func scanResource(row pgx.Row) (*Resource, error) {
	var r Resource
	err := row.Scan(&r.RID, &r.Type, &r.ID, &r.VersionID, &r.LastUpdated, &r.Deleted, &r.Content)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		// Lock can be the statement PostgreSQL aborts to break a deadlock.
		return nil, fmt.Errorf("storage: %w", mapPgError(err))
	}
	if r.Deleted {
		r.Content = nil
	}
	return &r, nil
}

// read returns the current version, or a 404 or 410 error.
func read(ctx context.Context, q Querier, typ, id string) (*Resource, error) {
	r, err := scanResource(q.QueryRow(ctx, selectResource+` WHERE type = $1 AND id = $2`, typ, id))
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fhirerr.NotFound(fmt.Sprintf("%s/%s is not known", typ, id))
	}
	if r.Deleted {
		return r, fhirerr.New(fhirerr.ErrGone, fhirerr.CodeDeleted, fmt.Sprintf("%s/%s was deleted", typ, id))
	}
	return r, nil
}

// Read returns the current version of typ/id: 404 if it never existed, 410 if deleted
// (the returned Resource then still tells the deleted version).
func (s *Store) Read(ctx context.Context, typ, id string) (*Resource, error) {
	return read(ctx, s.pool, typ, id)
}

// Read is Store.Read inside the transaction.
func (t *Tx) Read(ctx context.Context, typ, id string) (*Resource, error) {
	return read(ctx, t.pg, typ, id)
}

func vread(ctx context.Context, q Querier, typ, id string, version int) (*Resource, error) {
	var r Resource
	var method string
	err := q.QueryRow(ctx, `SELECT rid, type, id, version_id, last_updated, method, content
		FROM resource_versions WHERE type = $1 AND id = $2 AND version_id = $3`, typ, id, version).
		Scan(&r.RID, &r.Type, &r.ID, &r.VersionID, &r.LastUpdated, &method, &r.Content)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fhirerr.NotFound(fmt.Sprintf("%s/%s has no version %d", typ, id, version))
	}
	if err != nil {
		return nil, fmt.Errorf("storage: vread: %w", mapPgError(err))
	}
	if method == http.MethodDelete {
		r.Deleted = true
		return &r, fhirerr.New(fhirerr.ErrGone, fhirerr.CodeDeleted, fmt.Sprintf("version %d of %s/%s is a deletion", version, typ, id))
	}
	return &r, nil
}

// VRead returns one version of typ/id: 404 if there is no such version, 410 if that version is a deletion.
func (s *Store) VRead(ctx context.Context, typ, id string, version int) (*Resource, error) {
	return vread(ctx, s.pool, typ, id, version)
}

// Lock returns the current row of typ/id, deleted or not, locked until the transaction
// ends; nil if it never existed.
//
// The lock is FOR NO KEY UPDATE: it serialises writers of typ/id, but not with the FOR KEY
// SHARE of transactions that refer to typ/id, so one that refers to a resource and then
// updates it (a Bundle's POSTs run before its PUTs) does not deadlock with another doing
// the same. Only Delete, which must wait for them, takes FOR UPDATE.
func (t *Tx) Lock(ctx context.Context, typ, id string) (*Resource, error) {
	return scanResource(t.pg.QueryRow(ctx, selectResource+` WHERE type = $1 AND id = $2 FOR NO KEY UPDATE`, typ, id))
}

// NewID returns a server-assigned resource id.
func NewID() string { return uuid.NewString() }

// now is the lastUpdated of a write: UTC, at the microsecond precision Postgres keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Write stores body as the next version of typ/id. prev is the row Lock returned (nil to
// create). body must be a validated resource of type typ; its id and meta are set here.
// method is POST for a create, PUT for an update. A Binary's data is stored apart
// (binary.go); a Binary without data keeps the bytes of its version before.
func (t *Tx) Write(ctx context.Context, prev *Resource, typ, id string, body []byte, method string) (*Resource, error) {
	var data []byte
	hadData := false
	if typ == "Binary" {
		// The bytes go to a blob, not into the JSON (binary.go).
		rest, bytes, err := splitBinaryData(body)
		if err != nil {
			return nil, err
		}
		body, data, hadData = rest, bytes, bytes != nil
	}
	r := &Resource{Type: typ, ID: id, VersionID: 1, LastUpdated: now()}
	if prev != nil {
		r.RID = prev.RID
		r.VersionID = prev.VersionID + 1
	}
	content, err := stampResource(body, id, r.VersionID, r.LastUpdated)
	if err != nil {
		return nil, err
	}
	r.Content = content
	links, err := ExtractLinks(typ, content)
	if err != nil {
		return nil, err
	}
	action := "update"
	if prev == nil || prev.Deleted {
		action = "create"
	}
	resolved, err := t.writeRow(ctx, r, prev == nil, method, action, links)
	if err != nil {
		return nil, err
	}
	if typ == "Binary" {
		if err := t.writeBinaryBytes(ctx, r, prev, data, hadData); err != nil {
			return nil, err
		}
	}
	t.audit(ctx, r, action)
	if !resolved {
		if t.written == nil {
			t.written = map[int64]string{}
		}
		t.written[r.RID] = typ + "/" + id
	}
	return r, nil
}

// writeRow stores the current row, the version, the references, the outbox row and the
// search index of a write in one statement: one round trip, whatever the resource.
// resolved tells whether every reference already names a live resource, now locked FOR
// KEY SHARE until commit (a Delete waits for it); if not, the check waits for commit
// (checkLinks), as the target may yet be written in the same transaction.
func (t *Tx) writeRow(ctx context.Context, r *Resource, insert bool, method, action string, links []Link) (resolved bool, err error) {
	st, sql, targets := writeStatement(r, insert, method, action, links)
	var found int
	err = t.pg.QueryRow(ctx, sql, st.args...).Scan(&r.RID, &found)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, conflictf("%s/%s was created concurrently; retry the request", r.Type, r.ID)
	}
	if err != nil {
		return false, fmt.Errorf("storage: write %s/%s: %w", r.Type, r.ID, mapPgError(err))
	}
	return found == targets, nil
}

// writeStatement is the statement of writeRow, its SQL, and how many distinct targets
// its references have (the statement answers the rid and how many of them are live).
func writeStatement(r *Resource, insert bool, method, action string, links []Link) (st *statement, sql string, targetCount int) {
	st = &statement{}
	typ, id, version, updated, content := st.param(r.Type), st.param(r.ID), st.param(r.VersionID), st.param(r.LastUpdated), st.param(r.Content)
	rid := ""
	if insert {
		st.with("cur", `INSERT INTO resources (type, id, version_id, last_updated, content)
			VALUES (`+typ+`, `+id+`, `+version+`, `+updated+`, `+content+`) ON CONFLICT (type, id) DO NOTHING RETURNING rid`)
	} else {
		rid = st.param(r.RID)
		st.with("cur", `UPDATE resources SET version_id = `+version+`, last_updated = `+updated+`, deleted = false, content = `+content+`
			WHERE rid = `+rid+` RETURNING rid`)
		st.with("drop_links", `DELETE FROM resource_links WHERE rid = `+rid)
	}
	st.with("version", `INSERT INTO resource_versions (rid, version_id, type, id, last_updated, method, content)
		SELECT rid, `+version+`, `+typ+`, `+id+`, `+updated+`, `+st.param(method)+`, `+content+` FROM cur`)
	if len(links) > 0 {
		paths, types, ids := make([]string, len(links)), make([]string, len(links)), make([]string, len(links))
		for i, l := range links {
			paths[i], types[i], ids[i] = l.Path, l.TargetType, l.TargetID
		}
		st.with("links", `INSERT INTO resource_links (rid, path, target_type, target_id)
			SELECT cur.rid, l.* FROM cur, unnest(`+st.param(paths)+`::text[], `+st.param(types)+`::text[], `+st.param(ids)+`::text[]) AS l`)
	}
	targets := distinctTargets(links)
	live := "0"
	if len(targets.types) > 0 {
		// One probe of the (type, id) key per target, as in checkLinks.
		st.with("targets", `SELECT count(*) AS live FROM unnest(`+st.param(targets.types)+`::text[], `+st.param(targets.ids)+`::text[]) AS t(type, id),
			LATERAL (SELECT FROM resources r WHERE r.type = t.type AND r.id = t.id AND NOT r.deleted FOR KEY SHARE) r`)
		live = "(SELECT live FROM targets)"
	}
	st.with("box", `INSERT INTO outbox (rid, type, id, version_id, action) SELECT rid, `+typ+`, `+id+`, `+version+`, `+st.param(action)+` FROM cur`)
	if reg := search.Definitions(); reg.Searchable(r.Type) {
		if !insert {
			dropIndex(st, rid)
		}
		addIndex(st, "cur", reg.Extract(r.Type, r.Content))
	}
	return st, st.sql("SELECT rid, " + live + " FROM cur"), len(targets.types)
}

// targetList is the distinct targets of some links, as parallel arrays.
type targetList struct{ types, ids []string }

func distinctTargets(links []Link) targetList {
	var out targetList
	seen := make(map[[2]string]bool, len(links))
	for _, l := range links {
		key := [2]string{l.TargetType, l.TargetID}
		if !seen[key] {
			seen[key] = true
			out.types, out.ids = append(out.types, l.TargetType), append(out.ids, l.TargetID)
		}
	}
	return out
}

// Delete marks prev (from Lock) deleted as a new version, drops its references and
// search index, and returns the deletion version. Deleting a deleted resource changes nothing.
func (t *Tx) Delete(ctx context.Context, prev *Resource) (*Resource, error) {
	if prev.Deleted {
		return prev, nil
	}
	r := &Resource{RID: prev.RID, Type: prev.Type, ID: prev.ID, VersionID: prev.VersionID + 1, LastUpdated: now(), Deleted: true}
	st, sql := deleteStatement(r)
	if _, err := t.pg.Exec(ctx, sql, st.args...); err != nil {
		return nil, fmt.Errorf("storage: delete %s/%s: %w", r.Type, r.ID, mapPgError(err))
	}
	t.deleted = append(t.deleted, r.RID)
	gone := *r
	gone.Content = prev.Content
	t.audit(ctx, &gone, "delete")
	return r, nil
}

// deleteStatement is the statement of Delete, which writes the deletion version r.
func deleteStatement(r *Resource) (*statement, string) {
	st := &statement{}
	rid, version, updated := st.param(r.RID), st.param(r.VersionID), st.param(r.LastUpdated)
	// FOR UPDATE waits for the transactions that refer to the resource (FOR KEY SHARE),
	// which Lock's FOR NO KEY UPDATE does not, so that the check at commit sees their
	// references; a transaction referring to it after this waits for the delete.
	st.with("locked", `SELECT rid FROM resources WHERE rid = `+rid+` FOR UPDATE`)
	st.with("cur", `UPDATE resources SET version_id = `+version+`, last_updated = `+updated+`, deleted = true
		WHERE rid = (SELECT rid FROM locked) RETURNING rid, type, id`)
	st.with("version", `INSERT INTO resource_versions (rid, version_id, type, id, last_updated, method)
		SELECT rid, `+version+`, type, id, `+updated+`, 'DELETE' FROM cur`)
	st.with("drop_links", `DELETE FROM resource_links WHERE rid = `+rid)
	dropIndex(st, rid)
	st.with("box", `INSERT INTO outbox (rid, type, id, version_id, action) SELECT rid, type, id, `+version+`, 'delete' FROM cur`)
	return st, st.sql("SELECT 1")
}

// VRead is Store.VRead inside the transaction.
func (t *Tx) VRead(ctx context.Context, typ, id string, version int) (*Resource, error) {
	return vread(ctx, t.pg, typ, id, version)
}
