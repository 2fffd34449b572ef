package storage

import "context"

// writeSearchIndex replaces the search index rows of rid with those extracted from content.
// The search index arrives with the search issue (#3); until then searches read JSONB.
func (t *Tx) writeSearchIndex(ctx context.Context, rid int64, typ string, content []byte) error {
	return nil
}

// removeSearchIndex drops the search index rows of a deleted resource.
func (t *Tx) removeSearchIndex(ctx context.Context, rid int64) error {
	return nil
}
