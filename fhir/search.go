package fhir

import (
	"context"
	"net/http"
	"net/url"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// search answers GET [type]?params and POST [type]/_search. The search engine comes with issue #3.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, errorf(http.StatusNotImplemented, fhirerr.CodeNotSupported, "search is not available yet"))
}

// findMatches returns the live resources of typ matching params, inside tx.
// Until the search engine lands it understands only _id.
func (s *Server) findMatches(ctx context.Context, tx *storage.Tx, typ string, params url.Values) ([]*storage.Resource, error) {
	if len(params) != 1 || len(params["_id"]) != 1 {
		return nil, errorf(http.StatusBadRequest, fhirerr.CodeNotSupported, "only _id conditions are supported until search lands")
	}
	res, err := tx.Read(ctx, typ, params.Get("_id"))
	if res == nil || err != nil {
		if fe, ok := fhirerr.As(err); ok && (fe.Status == http.StatusNotFound || fe.Status == http.StatusGone) {
			return nil, nil
		}
		return nil, err
	}
	return []*storage.Resource{res}, nil
}

// searchParamsFor lists the search parameters of typ for the CapabilityStatement.
func (s *Server) searchParamsFor(typ string) []CapabilitySearchParam { return nil }

// includesFor lists the _include and _revinclude values of typ for the CapabilityStatement.
func (s *Server) includesFor(typ string) (include, revinclude []string) { return nil, nil }
