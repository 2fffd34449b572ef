package fhir

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// conditionalMatches runs the search of a conditional create, update or delete inside tx.
// Identical conditions are serialised with a transaction lock, so two concurrent
// conditional creates cannot both see no match and both create.
func (s *Server) conditionalMatches(ctx context.Context, tx *storage.Tx, typ, rawQuery string) ([]*storage.Resource, error) {
	rawQuery = strings.TrimPrefix(rawQuery, typ+"?")
	rawQuery = strings.TrimPrefix(rawQuery, "?")
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, fhirerr.CodeInvalid, "the condition %q is not a valid query string", rawQuery)
	}
	for _, p := range []string{"_format", "_pretty", "_cascade"} {
		params.Del(p)
	}
	if len(params) == 0 {
		return nil, errorf(http.StatusBadRequest, fhirerr.CodeInvalid, "a conditional interaction needs search parameters")
	}
	if err := tx.LockKey(ctx, "conditional:"+typ+"?"+canonicalQuery(params)); err != nil {
		return nil, err
	}
	return s.findMatches(ctx, tx, typ, params)
}

// canonicalQuery orders parameters so that the same condition always locks the same key.
func canonicalQuery(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v) + "&")
		}
	}
	return b.String()
}
