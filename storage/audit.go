package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/careslot/careslot/storage/search"
	"github.com/jackc/pgx/v5"
)

// AuditType is the resource type of audit records.
const AuditType = "AuditEvent"

// WriteAudit makes the AuditEvent of a committed write of r (action create, update or
// delete; a deletion carries the content it deleted), or nil when the write is not
// audited. It runs inside the write's transaction, so it must not touch the database.
type WriteAudit func(ctx context.Context, r *Resource, action string) []byte

// SetWriteAudit has every later transaction audit its writes with audit: the events go
// into audit_pending with the transaction's COMMIT, so a write is never stored without
// its AuditEvent nor an AuditEvent without its write; MovePendingAudit makes them
// AuditEvent resources later, off the request's path.
func (s *Store) SetWriteAudit(audit WriteAudit) { s.writeAudit.Store(&audit) }

// audit queues the AuditEvent of a write for Commit.
func (t *Tx) audit(ctx context.Context, r *Resource, action string) {
	if t.writeAudit == nil {
		return
	}
	if doc := t.writeAudit(ctx, r, action); doc != nil {
		t.audits = append(t.audits, doc)
	}
}

// AppendAuditEvents stores AuditEvents (JSON without id and meta) as new resources, with
// their search index, in one statement. AuditEvents are append-only: no outbox row (no
// subscription is told, no audit of an audit) and no reference rows, so that an
// AuditEvent neither blocks the deletion of what it names nor needs it to exist.
func (s *Store) AppendAuditEvents(ctx context.Context, docs [][]byte) error {
	if len(docs) == 0 {
		return nil
	}
	sql, args, err := appendAuditStatement(docs)
	if err != nil {
		return err
	}
	// Through acquire: while the server is full, an AuditEvent waits rather than is lost.
	conn, err := s.acquire(ctx)
	if err != nil {
		return fmt.Errorf("storage: append audit events: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("storage: append audit events: %w", err)
	}
	return nil
}

// pendingAuditInsert is the statement that queues the AuditEvents of a transaction's
// writes: one row each, without the search index a resource needs.
const pendingAuditInsert = `INSERT INTO audit_pending (doc) SELECT d::jsonb FROM unnest($1::text[]) AS d`

func pendingAuditArgs(docs [][]byte) []any {
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = string(d)
	}
	return []any{texts}
}

// MovePendingAudit stores up to limit AuditEvents of writes (audit_pending) as AuditEvent
// resources and deletes them from audit_pending, in one transaction; it says how many it
// moved. Rows another careslot is moving are skipped.
func (s *Store) MovePendingAudit(ctx context.Context, limit int) (int, error) {
	moved := 0
	err := s.InTx(ctx, func(tx *Tx) error {
		rows, err := tx.pg.Query(ctx, `DELETE FROM audit_pending WHERE seq IN (
			SELECT seq FROM audit_pending ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING doc::text`, limit)
		if err != nil {
			return err
		}
		docs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) ([]byte, error) {
			var doc string
			err := row.Scan(&doc)
			return []byte(doc), err
		})
		if err != nil || len(docs) == 0 {
			return err
		}
		sql, args, err := appendAuditStatement(docs)
		if err != nil {
			return err
		}
		if _, err := tx.pg.Exec(ctx, sql, args...); err != nil {
			return err
		}
		moved = len(docs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("storage: move pending audit events: %w", err)
	}
	return moved, nil
}

// appendAuditStatement is the one multi-row statement that stores docs: rows of the
// current and version tables, and index rows joined to their resource by id.
func appendAuditStatement(docs [][]byte) (string, []any, error) {
	reg := search.Definitions()
	ids, times, contents := make([]string, len(docs)), make([]time.Time, len(docs)), make([]string, len(docs))
	merged := &search.Rows{}
	owners := map[string][]string{} // per index table, the id of each row's resource
	own := func(table, id string, n int) {
		for range n {
			owners[table] = append(owners[table], id)
		}
	}
	at := now()
	for i, doc := range docs {
		id := NewID()
		content, err := stampFirstVersion(doc, id, at)
		if err != nil {
			return "", nil, fmt.Errorf("storage: audit event: %w", err)
		}
		ids[i], times[i], contents[i] = id, at, string(content)
		rows := reg.Extract(AuditType, content)
		own("search_string", id, len(rows.Strings))
		own("search_token", id, len(rows.Tokens))
		own("search_reference", id, len(rows.References))
		own("search_date", id, len(rows.Dates))
		own("search_number", id, len(rows.Numbers))
		own("search_quantity", id, len(rows.Quantities))
		own("search_uri", id, len(rows.URIs))
		own("search_composite", id, len(rows.Composites))
		merged.Strings = append(merged.Strings, rows.Strings...)
		merged.Tokens = append(merged.Tokens, rows.Tokens...)
		merged.References = append(merged.References, rows.References...)
		merged.Dates = append(merged.Dates, rows.Dates...)
		merged.Numbers = append(merged.Numbers, rows.Numbers...)
		merged.Quantities = append(merged.Quantities, rows.Quantities...)
		merged.URIs = append(merged.URIs, rows.URIs...)
		merged.Composites = append(merged.Composites, rows.Composites...)
	}
	st := &statement{}
	st.with("audit", `INSERT INTO resources (type, id, version_id, last_updated, content)
		SELECT '`+AuditType+`', d.id, 1, d.at, d.content::jsonb
		FROM unnest(`+st.param(ids)+`::text[], `+st.param(times)+`::timestamptz[], `+st.param(contents)+`::text[]) AS d(id, at, content)
		RETURNING rid, id, last_updated, content`)
	st.with("audit_version", `INSERT INTO resource_versions (rid, version_id, type, id, last_updated, method, content)
		SELECT rid, 1, '`+AuditType+`', id, last_updated, 'POST', content FROM audit`)
	indexArrays(st, merged, func(table, columns string, arrays ...string) {
		cols := strings.Split(columns, ", ")
		for i, c := range cols {
			cols[i] = "v." + c
		}
		st.with("audit_"+table, "INSERT INTO "+table+" (rid, "+columns+") SELECT audit.rid, "+strings.Join(cols, ", ")+
			" FROM unnest("+st.param(owners[table])+"::text[], "+strings.Join(arrays, ", ")+") AS v(owner, "+columns+
			") JOIN audit ON audit.id = v.owner")
	})
	return st.sql("SELECT count(*) FROM audit"), st.args, nil
}
