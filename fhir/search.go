package fhir

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/gorilla/mux"
)

// searcher runs searches: the pool, or the transaction of a transaction Bundle so that
// its GET entries see its own writes.
type searcher interface {
	Search(ctx context.Context, q *search.Query) (*storage.SearchResult, error)
}

func (s *Server) searcher(ctx context.Context) searcher {
	if tx, ok := ctx.Value(txKey{}).(*storage.Tx); ok {
		return tx
	}
	return s.store
}

// maxConditionalMatches bounds the matches a conditional interaction reads: it only
// needs to tell none, one and several apart.
const maxConditionalMatches = 100

// search answers GET [type]?params and POST [type]/_search with a searchset Bundle.
func (s *Server) search(w http.ResponseWriter, r *http.Request) error {
	typ, err := s.resourceType(r)
	if err != nil {
		return err
	}
	params, err := s.searchParams(w, r)
	if err != nil {
		return err
	}
	q, err := search.Definitions().Parse(typ, params, s.parseOptions(preferStrict(r)))
	if err != nil {
		return err
	}
	if comp := mux.Vars(r)["compartment"]; comp != "" {
		if comp != typ && search.Definitions().CompartmentParams(comp, typ) == nil {
			return errorf(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, "%s is not in the %s compartment", typ, comp)
		}
		q.Compartment = &search.Compartment{Type: comp, ID: mux.Vars(r)["id"]}
	}
	d := s.rules.Decide(r.Context(), scope.Search, typ)
	if !d.Allowed {
		return fhirerr.Forbidden(d.Reason)
	}
	q.Access = d.Access
	// summarize reads _summary and _elements from the URL; a POST carries them in its body.
	view := r.Clone(r.Context())
	view.URL.RawQuery = params.Encode()
	if q.Summary == "true" {
		if _, err := summarize(view, []byte(`{}`)); err != nil {
			return err
		}
	}
	res, err := s.searcher(r.Context()).Search(r.Context(), q)
	if err != nil {
		return err
	}
	audit.Query(r.Context(), r.Method+" "+r.URL.Path+"?"+params.Encode())
	for _, list := range [][]storage.Resource{res.Matches, res.Included} {
		for i := range list {
			audit.Touch(r.Context(), list[i].Type, list[i].ID, list[i].Content)
		}
	}
	b, err := s.searchBundle(view, typ, params, q, res)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, marshal(b))
	return nil
}

// searchParams reads the parameters of a search: the URL query, and for POST _search the
// form body as well.
func (s *Server) searchParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if err := checkParamCount(r.URL.RawQuery); err != nil {
		return nil, err
	}
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "the query string is malformed: %v", err)
	}
	if r.Method != http.MethodPost {
		return params, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, errorf(fhirerr.ErrUnsupportedMediaType, fhirerr.CodeNotSupported,
				"POST _search takes application/x-www-form-urlencoded parameters, not %q", ct)
		}
	}
	body, err := s.readFormBody(w, r)
	if err != nil {
		return nil, err
	}
	if err := checkParamCount(body); err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "the form body is malformed: %v", err)
	}
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return params, nil
}

// checkParamCount refuses more than search.MaxParams parameters before they are parsed:
// net/url refuses over 10,000 as a malformed query, which would not say which limit.
func checkParamCount(query string) error {
	if n := strings.Count(query, "&") + 1; n > search.MaxParams {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeTooCostly, "the search sends %d parameters; at most %d are accepted", n, search.MaxParams)
	}
	return nil
}

// readFormBody reads a form body within the size limit (readBody wants FHIR JSON).
func (s *Server) readFormBody(w http.ResponseWriter, r *http.Request) (string, error) {
	body, err := s.readLimited(w, r)
	if err != nil {
		return "", err
	}
	return string(body), nil
}

func (s *Server) parseOptions(strict bool) search.ParseOptions {
	return search.ParseOptions{Strict: strict, BaseURL: s.cfg.BaseURL, DefaultCount: defaultCount, MaxCount: maxCount}
}

// searchBundle renders a page as a searchset Bundle.
func (s *Server) searchBundle(view *http.Request, typ string, params url.Values, q *search.Query, res *storage.SearchResult) (*Bundle, error) {
	b := &Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "searchset",
		Meta: &BundleMeta{LastUpdated: time.Now().UTC().Format(storage.LastUpdatedFormat)}}
	if res.Total >= 0 && q.Total != "none" {
		total := res.Total
		b.Total = &total
	}
	b.Link = append(b.Link, BundleLink{Relation: "self", URL: s.searchURL(searchPath(typ, q), params, "")})
	if res.Next != nil {
		b.Link = append(b.Link, BundleLink{Relation: "next", URL: s.searchURL(searchPath(typ, q), params, res.Next.Encode())})
	}
	if res.Previous != nil {
		b.Link = append(b.Link, BundleLink{Relation: "previous", URL: s.searchURL(searchPath(typ, q), params, res.Previous.Encode())})
	}
	for i := range res.Matches {
		m := &res.Matches[i]
		body, err := summarize(view, m.Content)
		if err != nil {
			return nil, err
		}
		b.Entry = append(b.Entry, BundleEntry{FullURL: s.cfg.BaseURL + "/" + m.Type + "/" + m.ID, Resource: body, Search: &EntrySearch{Mode: "match"}})
	}
	for i := range res.Included {
		inc := &res.Included[i]
		b.Entry = append(b.Entry, BundleEntry{FullURL: s.cfg.BaseURL + "/" + inc.Type + "/" + inc.ID, Resource: inc.Content, Search: &EntrySearch{Mode: "include"}})
	}
	if len(q.Ignored) > 0 {
		oo := fhirerr.Outcome{ResourceType: "OperationOutcome"}
		for _, ig := range q.Ignored {
			oo.Issue = append(oo.Issue, fhirerr.OutcomeIssue{Severity: "warning", Code: fhirerr.CodeNotSupported,
				Diagnostics: fmt.Sprintf("the parameter %s was ignored: %s", ig.Name, ig.Reason), Expression: []string{ig.Name}})
		}
		b.Entry = append(b.Entry, BundleEntry{Resource: marshal(oo), Search: &EntrySearch{Mode: "outcome"}})
	}
	return b, nil
}

// searchURL is the GET URL of a page: the search's own parameters in a stable order,
// and the page's cursor ("" for the page the client asked for).
// searchPath is the path a search's links repeat: [type], or [compartment]/[id]/[type].
func searchPath(typ string, q *search.Query) string {
	if c := q.Compartment; c != nil {
		return c.Type + "/" + c.ID + "/" + typ
	}
	return typ
}

func (s *Server) searchURL(path string, params url.Values, cursor string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k == "_cursor" && cursor != "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		for _, v := range params[k] {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
	}
	if cursor != "" {
		parts = append(parts, "_cursor="+cursor)
	}
	u := s.cfg.BaseURL + "/" + path
	if len(parts) > 0 {
		u += "?" + strings.Join(parts, "&")
	}
	return u
}

// findMatches returns the live resources of typ matching params, inside tx: the search
// of a conditional create, update or delete. Unknown parameters are refused, since
// ignoring one would widen the condition.
func (s *Server) findMatches(ctx context.Context, tx *storage.Tx, typ string, params url.Values) ([]*storage.Resource, error) {
	for _, p := range []string{"_count", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total", "_cursor"} {
		params.Del(p)
	}
	q, err := search.Definitions().Parse(typ, params, s.parseOptions(true))
	if err != nil {
		return nil, err
	}
	// Only what the caller may see can match: a hidden resource neither matches nor
	// makes a condition ambiguous.
	d := s.rules.Decide(ctx, scope.Search, typ)
	if !d.Allowed {
		return nil, fhirerr.Forbidden(d.Reason)
	}
	q.Access = d.Access
	q.Count = maxConditionalMatches
	res, err := tx.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]*storage.Resource, len(res.Matches))
	for i := range res.Matches {
		out[i] = &res.Matches[i]
	}
	return out, nil
}

// searchParamsFor lists the search parameters of typ for the CapabilityStatement.
func (s *Server) searchParamsFor(typ string) []CapabilitySearchParam {
	var out []CapabilitySearchParam
	for _, p := range search.Definitions().Params(typ) {
		out = append(out, CapabilitySearchParam{Name: p.Code, Definition: p.URL, Type: string(p.Kind), Documentation: p.Description})
	}
	return out
}

// includesFor lists the _include and _revinclude values of typ for the CapabilityStatement.
func (s *Server) includesFor(typ string) (include, revinclude []string) {
	reg := search.Definitions()
	if !reg.Searchable(typ) {
		return nil, nil
	}
	include = append(include, typ+":*")
	for _, p := range reg.Params(typ) {
		if p.Kind == search.KindReference {
			include = append(include, typ+":"+p.Code)
		}
	}
	for _, other := range reg.Types() {
		for _, p := range reg.Params(other) {
			if p.Kind == search.KindReference && (len(p.Targets) == 0 || slices.Contains(p.Targets, typ)) {
				revinclude = append(revinclude, other+":"+p.Code)
			}
		}
	}
	return include, revinclude
}
