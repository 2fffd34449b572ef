package storage

import (
	"context"
	"fmt"

	"github.com/careslot/careslot/storage/search"
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
