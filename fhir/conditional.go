package fhir

import (
	"context"
	"net/url"
	"sort"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
)

// conditionalMatches runs the search of a conditional create, update or delete inside tx.
// Identical conditions are serialised with a transaction lock, so two concurrent
// conditional creates cannot both see no match and both create.
func (s *Server) conditionalMatches(ctx context.Context, tx *storage.Tx, typ, rawQuery string) ([]*storage.Resource, error) {
	params, err := s.conditionParams(typ, rawQuery)
	if err != nil {
		return nil, err
	}
	if err := tx.LockKey(ctx, conditionLockKey(typ, params)); err != nil {
		return nil, err
	}
	return s.findMatches(ctx, tx, typ, params)
}

// conditionParams reads the search parameters of a condition on typ.
func (s *Server) conditionParams(typ, rawQuery string) (url.Values, error) {
	rawQuery = strings.TrimPrefix(rawQuery, typ+"?")
	rawQuery = strings.TrimPrefix(rawQuery, "?")
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "the condition %q is not a valid query string", rawQuery)
	}
	for _, p := range []string{"_format", "_pretty", "_cascade"} {
		params.Del(p)
	}
	if err := s.checkSelects(typ, params); err != nil {
		return nil, err
	}
	return params, nil
}

// conditionLockKey is the advisory lock that serialises the transactions with one condition.
func conditionLockKey(typ string, params url.Values) string {
	return "conditional:" + typ + "?" + canonicalQuery(params)
}

// checkSelects refuses a condition that selects nothing: no parameters, only result
// parameters (_count, _sort, …) or only empty values. Its search would match every
// resource of the type, and the interaction would then update or delete whichever one there is.
func (s *Server) checkSelects(typ string, params url.Values) error {
	q, err := search.Definitions().Parse(typ, params, s.parseOptions(true))
	if err != nil {
		return err
	}
	if len(q.Clauses) == 0 {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid,
			"a conditional interaction needs search parameters with values that select resources")
	}
	return nil
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
