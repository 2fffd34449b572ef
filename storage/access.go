package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage/search"
	"github.com/jackc/pgx/v5"
)

// Visible reports whether the resource rid, of type typ, is one the access a lets its
// caller see (nil a: every resource). A deleted resource is visible only to a caller
// who sees every resource of its type: its index rows are gone with it.
func (s *Store) Visible(ctx context.Context, a *search.Access, typ string, rid int64) (bool, error) {
	return visible(ctx, s.pool, a, typ, rid)
}

// Visible is Store.Visible inside the transaction, where it sees the transaction's own
// writes: a write is checked against the access after it is made.
func (t *Tx) Visible(ctx context.Context, a *search.Access, typ string, rid int64) (bool, error) {
	return visible(ctx, t.pg, a, typ, rid)
}

func visible(ctx context.Context, db Querier, a *search.Access, typ string, rid int64) (bool, error) {
	if a.Unrestricted(typ) {
		return true, nil
	}
	if !a.Visible(typ) {
		return false, nil
	}
	sql, args := a.VisibleSQL(search.Definitions(), typ, rid)
	var ok bool
	if err := db.QueryRow(ctx, sql, append([]any{searchMode}, args...)...).Scan(&ok); err != nil {
		return false, fmt.Errorf("storage: visible: %w", mapPgError(err))
	}
	return ok, nil
}

// ReadVisible is Read and Visible of the row read, in one query: the resource (as Read
// answers it: a deleted one with its ErrGone) and whether the access a lets its caller
// see it (false when there is none).
func (s *Store) ReadVisible(ctx context.Context, a *search.Access, typ, id string) (*Resource, bool, error) {
	return readVisible(ctx, s.pool, a, typ, id)
}

// ReadVisible is Store.ReadVisible inside the transaction.
func (t *Tx) ReadVisible(ctx context.Context, a *search.Access, typ, id string) (*Resource, bool, error) {
	return readVisible(ctx, t.pg, a, typ, id)
}

func readVisible(ctx context.Context, db Querier, a *search.Access, typ, id string) (*Resource, bool, error) {
	if a.Unrestricted(typ) || !a.Visible(typ) {
		r, err := read(ctx, db, typ, id)
		return r, r != nil && a.Unrestricted(typ), err
	}
	sql, args := a.ReadVisibleSQL(search.Definitions(), "r.rid, r.type, r.id, r.version_id, r.last_updated, r.deleted, r.content", typ, id)
	var r Resource
	var visible bool
	err := db.QueryRow(ctx, sql, append([]any{searchMode}, args...)...).
		Scan(&r.RID, &r.Type, &r.ID, &r.VersionID, &r.LastUpdated, &r.Deleted, &r.Content, &visible)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fhirerr.NotFound(fmt.Sprintf("%s/%s is not known", typ, id))
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: read: %w", mapPgError(err))
	}
	if r.Deleted {
		r.Content = nil
		return &r, visible, fhirerr.New(fhirerr.ErrGone, fhirerr.CodeDeleted, fmt.Sprintf("%s/%s was deleted", typ, id))
	}
	return &r, visible, nil
}
