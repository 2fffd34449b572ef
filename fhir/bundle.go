package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// inBundleKey marks the requests of a Bundle's entries.
type inBundleKey struct{}

// bundle answers POST [base] with a batch or transaction Bundle.
func (s *Server) bundle(w http.ResponseWriter, r *http.Request) error {
	// A nested Bundle would run in a database transaction of its own: it could commit
	// while the outer transaction fails, or wait forever on the outer one's locks.
	if r.Context().Value(inBundleKey{}) != nil {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, "a Bundle entry cannot post another Bundle to the base")
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
			Diagnostics: "the body is not a Bundle: " + err.Error()}
	}
	if b.ResourceType != "Bundle" {
		return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: "POST to the base takes a batch or transaction Bundle", Expression: []string{"resourceType"}}
	}
	if err := checkEntries(b.Entry); err != nil {
		return err
	}
	if b.Type != "transaction" && b.Type != "batch" {
		return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: fmt.Sprintf("Bundle.type must be batch or transaction, not %q", b.Type), Expression: []string{"Bundle.type"}}
	}
	if err := s.validateEnvelope(body); err != nil {
		return err
	}
	if b.Type == "transaction" {
		return s.transaction(w, r, b.Entry)
	}
	return s.batch(w, r, b.Entry)
}

// validateEnvelope validates the Bundle as an R4 resource, so that a misspelt element
// ("entries", "ifNoneExists") is refused rather than ignored. The entries' resources are
// left out: each is validated when its entry runs.
func (s *Server) validateEnvelope(body []byte) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil { // unlike the Decoder, refuses trailing data
		return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure, Diagnostics: "the body is not one JSON object: " + err.Error()}
	}
	if raw, ok := doc["entry"]; ok {
		var entries []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &entries); err != nil {
			return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure, Diagnostics: "Bundle.entry is not a list of objects", Expression: []string{"Bundle.entry"}}
		}
		for _, e := range entries {
			delete(e, "resource")
		}
		doc["entry"] = marshal(entries)
	}
	_, err := s.validator.Validate(marshal(doc))
	return err
}

// checkEntries requires each entry to have a request with a supported method and a URL.
func checkEntries(entries []BundleEntry) error {
	for i, e := range entries {
		at := fmt.Sprintf("Bundle.entry[%d].request", i)
		if e.Request == nil {
			return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeRequired,
				Diagnostics: "every entry of a batch or transaction needs a request", Expression: []string{at}}
		}
		switch e.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
		default:
			return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeValue,
				Diagnostics: fmt.Sprintf("request.method %q is not an HTTP verb", e.Request.Method), Expression: []string{at + ".method"}}
		}
		if e.Request.URL == "" {
			return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeRequired,
				Diagnostics: "request.url is required", Expression: []string{at + ".url"}}
		}
		needsBody := e.Request.Method == http.MethodPost || e.Request.Method == http.MethodPut || e.Request.Method == http.MethodPatch
		if needsBody && len(e.Resource) == 0 {
			return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeRequired,
				Diagnostics: e.Request.Method + " entries need a resource", Expression: []string{fmt.Sprintf("Bundle.entry[%d].resource", i)}}
		}
	}
	return nil
}

// recorder captures the answer of one entry's interaction.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder                      { return &recorder{header: http.Header{}, status: http.StatusOK} }
func (rec *recorder) Header() http.Header         { return rec.header }
func (rec *recorder) Write(b []byte) (int, error) { return rec.body.Write(b) }
func (rec *recorder) WriteHeader(status int)      { rec.status = status }

// entryURL turns request.url (relative, or absolute under this server's base) into a path under /fhir.
func (s *Server) entryURL(raw string) string {
	raw = strings.TrimPrefix(raw, s.cfg.BaseURL)
	return "/fhir/" + strings.TrimPrefix(raw, "/")
}

// checkEntryPath refuses a request.url that names no interaction of this server as it
// is written: an absolute URL of another server, or a path with "//", "." or ".." that
// the router would answer with a redirect (which a transaction would count as success).
func (s *Server) checkEntryPath(raw, p string) error {
	if u, err := url.Parse(strings.TrimPrefix(raw, s.cfg.BaseURL)); err == nil && (u.IsAbs() || u.Host != "") {
		return fhirerr.Invalid(fmt.Sprintf("request.url %q is not on this server (%s)", raw, s.cfg.BaseURL))
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean != p {
		return fhirerr.Invalid(fmt.Sprintf("request.url %q is not a plain path: write it without empty, . or .. segments", raw))
	}
	return nil
}

// runEntry runs one entry's interaction through the router, with ctx carrying any transaction.
func (s *Server) runEntry(ctx context.Context, outer *http.Request, e BundleEntry) *recorder {
	rec := newRecorder()
	ctx = context.WithValue(ctx, inBundleKey{}, true)
	body, contentType := []byte(e.Resource), fhirJSON
	var err error
	if e.Request.Method == http.MethodPatch {
		body, contentType, err = patchFromBinary(e.Resource)
	}
	var req *http.Request
	if err == nil {
		req, err = http.NewRequestWithContext(ctx, e.Request.Method, s.entryURL(e.Request.URL), bytes.NewReader(body))
		if err != nil {
			err = fhirerr.Invalid(fmt.Sprintf("request.url %q is not a valid URL", e.Request.URL))
		}
	}
	if err == nil {
		if err = s.checkEntryPath(e.Request.URL, req.URL.Path); err == nil {
			err = checkFormat(req) // an entry's _format is its own: XML is 406 there too
		}
	}
	if err != nil {
		fe, _ := fhirerr.As(err)
		rec.status = fe.Status()
		rec.body.Write(fe.JSON())
		return rec
	}
	req.Header.Set("Content-Type", contentType)
	for name, v := range map[string]string{"If-Match": e.Request.IfMatch, "If-None-Match": e.Request.IfNoneMatch,
		"If-None-Exist": e.Request.IfNoneExist, "If-Modified-Since": httpDate(e.Request.IfModifiedSince), "Prefer": preferHeader(outer)} {
		if v != "" {
			req.Header.Set(name, v)
		}
	}
	// Every route is wrapped by handle: a panic in one entry is that entry's 500, not the
	// end of the whole batch.
	s.router.ServeHTTP(rec, req)
	if req.Method == http.MethodHead && rec.status < 400 {
		// HEAD answers headers only, as over HTTP; a failure keeps its OperationOutcome.
		rec.body.Reset()
	}
	return rec
}

// httpDate turns request.ifModifiedSince, a FHIR instant, into the HTTP date that the
// If-Modified-Since header takes; anything else is passed on as it is. HTTP dates have
// whole seconds: a fraction rounds down to the second before, so that a change within
// that second is not taken for no change (a needless 200 rather than a wrong 304).
func httpDate(instant string) string {
	t, err := time.Parse(time.RFC3339Nano, instant)
	if err != nil {
		return instant
	}
	if whole := t.Truncate(time.Second); !whole.Equal(t) {
		t = whole.Add(-time.Second)
	}
	return t.UTC().Format(http.TimeFormat)
}

// entryResponse turns a recorded answer into Bundle.entry.response (and resource).
func entryResponse(rec *recorder) BundleEntry {
	resp := &EntryResponse{Status: statusLine(rec.status),
		Location: rec.header.Get("Location"), Etag: rec.header.Get("ETag")}
	if lm := rec.header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			resp.LastModified = t.UTC().Format(time.RFC3339)
		}
	}
	entry := BundleEntry{Response: resp}
	if rec.body.Len() > 0 {
		body := json.RawMessage(bytes.Clone(rec.body.Bytes()))
		if rec.status >= 400 || bytes.Contains(body[:min(len(body), 64)], []byte(`"OperationOutcome"`)) && isOutcome(body) {
			resp.Outcome = body
		} else {
			entry.Resource = body
		}
	}
	return entry
}

func isOutcome(body []byte) bool {
	var head struct {
		ResourceType string `json:"resourceType"`
	}
	json.Unmarshal(body, &head)
	return head.ResourceType == "OperationOutcome"
}

// batch runs each entry on its own, in order; one entry's failure does not touch the others.
func (s *Server) batch(w http.ResponseWriter, r *http.Request, entries []BundleEntry) error {
	out := Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "batch-response"}
	for _, e := range entries {
		out.Entry = append(out.Entry, entryResponse(s.runEntry(r.Context(), r, e)))
	}
	writeJSON(w, r, http.StatusOK, marshal(out))
	return nil
}

// entryRank is an entry's place in a transaction: its method's (transactionOrder), and
// within it Binaries first, so that a DocumentReference's attachment names a Binary
// already written whatever the order of the entries (the spec leaves it open).
func entryRank(e BundleEntry) int {
	rank := 2 * transactionOrder[e.Request.Method]
	if p := strings.TrimPrefix(e.Request.URL, "/"); p != "Binary" && !strings.HasPrefix(p, "Binary/") && !strings.HasPrefix(p, "Binary?") {
		rank++
	}
	return rank
}

// transactionOrder is the processing order the spec sets: DELETE, POST, PUT/PATCH, GET/HEAD.
var transactionOrder = map[string]int{http.MethodDelete: 0, http.MethodPost: 1, http.MethodPut: 2, http.MethodPatch: 2, http.MethodGet: 3, http.MethodHead: 3}

// transaction runs every entry in one database transaction: all of them succeed, or
// nothing is stored and the first failure is the answer.
func (s *Server) transaction(w http.ResponseWriter, r *http.Request, entries []BundleEntry) error {
	ctx := r.Context()
	tx, err := s.store.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	ctx = withTx(ctx, tx)

	ids, err := s.resolveFullURLs(ctx, tx, entries)
	if err != nil {
		return err
	}
	if err := rewriteEntries(entries, ids); err != nil {
		return err
	}
	if err := checkUnresolved(entries); err != nil {
		return err
	}
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return entryRank(entries[order[a]]) < entryRank(entries[order[b]])
	})
	results := make([]BundleEntry, len(entries))
	for _, i := range order {
		e := entries[i]
		ectx := ctx
		if id := ids.assigned[i]; id != "" {
			ectx = context.WithValue(ctx, assignedIDKey{}, id)
		}
		rec := s.runEntry(ectx, r, e)
		if rec.status >= 400 {
			return entryError(i, rec)
		}
		results[i] = entryResponse(rec)
	}
	if err := tx.Commit(ctx); err != nil {
		return commitError(err, results)
	}
	out := Bundle{ResourceType: "Bundle", ID: storage.NewID(), Type: "transaction-response", Entry: results}
	writeJSON(w, r, http.StatusOK, marshal(out))
	return nil
}

// commitError points a check that failed at commit to the entry that wrote the resource.
func commitError(err error, results []BundleEntry) error {
	fe, ok := fhirerr.As(err)
	if !ok || fe.Resource == "" {
		return err
	}
	for i, e := range results {
		var head struct {
			ResourceType, ID string
		}
		if json.Unmarshal(e.Resource, &head) == nil && head.ResourceType+"/"+head.ID == fe.Resource ||
			e.Response != nil && strings.Contains(e.Response.Location, "/"+fe.Resource+"/_history/") {
			rec := newRecorder()
			rec.status = fe.Status()
			rec.body.Write(fe.JSON())
			return entryError(i, rec)
		}
	}
	return err
}

// entryError is the failure of entry i as the whole transaction's error, its paths
// rewritten from the resource to the Bundle entry.
func entryError(i int, rec *recorder) *fhirerr.Error {
	fe := &fhirerr.Error{Kind: fhirerr.KindOf(rec.status), Code: fhirerr.CodeProcessing}
	var oo fhirerr.Outcome
	if json.Unmarshal(rec.body.Bytes(), &oo) == nil && len(oo.Issue) > 0 {
		is := oo.Issue[0]
		fe.Code, fe.Diagnostics = is.Code, is.Diagnostics
		for _, p := range is.Expression {
			if j := strings.IndexByte(p, '.'); j > 0 && p[0] >= 'A' && p[0] <= 'Z' {
				p = p[j+1:]
				fe.Expression = append(fe.Expression, fmt.Sprintf("Bundle.entry[%d].resource.%s", i, p))
			} else {
				fe.Expression = append(fe.Expression, fmt.Sprintf("Bundle.entry[%d].resource", i))
			}
		}
	}
	fe.Diagnostics = fmt.Sprintf("transaction failed at entry %d: %s", i, fe.Diagnostics)
	if len(fe.Expression) == 0 {
		fe.Expression = []string{fmt.Sprintf("Bundle.entry[%d]", i)}
	}
	return fe
}

// fullURLs maps each entry's fullUrl to the "Type/id" it becomes, and remembers the ids
// assigned to POST entries ahead of their creation.
type fullURLs struct {
	refs     map[string]string // fullUrl -> Type/id
	assigned map[int]string    // entry index -> server-assigned id
}

// resolveFullURLs gives every POST entry its id now, so references to its fullUrl can be
// rewritten before anything is written. A conditional create that matches an existing
// resource maps to that resource instead. Two entries for one resource are refused.
func (s *Server) resolveFullURLs(ctx context.Context, tx *storage.Tx, entries []BundleEntry) (fullURLs, error) {
	ids := fullURLs{refs: map[string]string{}, assigned: map[int]string{}}
	if err := s.lockConditions(ctx, tx, entries); err != nil {
		return ids, err
	}
	seen := map[string]int{}
	pendingCreates := map[string]string{} // condition -> id of the first entry creating it
	fullURLAt := map[string]int{}
	for i, e := range entries {
		// bdl-7: a fullUrl names one entry, or references to it would be ambiguous.
		if j, dup := fullURLAt[e.FullURL]; dup && e.FullURL != "" {
			return ids, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeDuplicate,
				Diagnostics: fmt.Sprintf("entries %d and %d have the same fullUrl %q", j, i, e.FullURL), Expression: []string{fmt.Sprintf("Bundle.entry[%d].fullUrl", i)}}
		}
		fullURLAt[e.FullURL] = i
		parts, query := s.entryTarget(e)
		var target string
		switch {
		case e.Request.Method == http.MethodPost && len(parts) == 1:
			id := storage.NewID()
			if e.Request.IfNoneExist != "" {
				matches, err := s.conditionalMatches(ctx, tx, parts[0], e.Request.IfNoneExist)
				if err != nil {
					return ids, atEntry(i, err)
				}
				if len(matches) == 1 {
					id = matches[0].ID
				} else if len(matches) == 0 {
					// Two entries with one condition and no match yet: the first creates,
					// the second then matches it, so both stand for the same id.
					key := parts[0] + "?" + e.Request.IfNoneExist
					if first, ok := pendingCreates[key]; ok {
						id = first
					} else {
						pendingCreates[key] = id
					}
				}
			}
			ids.assigned[i] = id
			target = parts[0] + "/" + id
		case (e.Request.Method == http.MethodPut || e.Request.Method == http.MethodDelete || e.Request.Method == http.MethodPatch) && len(parts) == 2:
			target = parts[0] + "/" + parts[1]
		case e.Request.Method == http.MethodPut && len(parts) == 1 && query != "":
			// A conditional update becomes its match, or the id it will create (several
			// matches fail when the entry runs).
			matches, err := s.conditionalMatches(ctx, tx, parts[0], query)
			switch {
			case err != nil:
				return ids, atEntry(i, err)
			case len(matches) > 1:
			case len(matches) == 1:
				target = parts[0] + "/" + matches[0].ID
			default:
				id := bodyID(e.Resource)
				if id == "" {
					id = storage.NewID()
					ids.assigned[i] = id
				}
				target = parts[0] + "/" + id
			}
		case (e.Request.Method == http.MethodDelete || e.Request.Method == http.MethodPatch) && len(parts) == 1 && query != "":
			// A conditional delete or patch stands for its one match (none deletes
			// nothing or fails the patch; several fail when the entry runs).
			matches, err := s.conditionalMatches(ctx, tx, parts[0], query)
			if err != nil {
				return ids, atEntry(i, err)
			}
			if len(matches) == 1 {
				target = parts[0] + "/" + matches[0].ID
			}
		}
		if err := s.resolveConditionalReferences(ctx, tx, i, e.Resource, ids.refs); err != nil {
			return ids, err
		}
		if target == "" {
			continue
		}
		if j, dup := seen[target]; dup && overlap(entries[j].Request.Method, e.Request.Method) {
			return ids, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeDuplicate,
				Diagnostics: fmt.Sprintf("entries %d and %d both change %s", j, i, target), Expression: []string{fmt.Sprintf("Bundle.entry[%d]", i)}}
		}
		seen[target] = i
		if e.FullURL != "" {
			ids.refs[e.FullURL] = target
		}
	}
	return ids, nil
}

// entryTarget splits an entry's request.url into its path segments and query.
func (s *Server) entryTarget(e BundleEntry) (parts []string, query string) {
	path := strings.TrimPrefix(s.entryURL(e.Request.URL), "/fhir/")
	path, query, _ = strings.Cut(path, "?")
	return strings.Split(path, "/"), query
}

// lockConditions takes the locks of every condition in the Bundle (conditional creates,
// updates and deletes, conditional references) at once, in one order: taken one by one
// as the entries come, two Bundles naming the same conditions in other orders deadlock.
// A condition that is not valid is left to fail when it is resolved.
func (s *Server) lockConditions(ctx context.Context, tx *storage.Tx, entries []BundleEntry) error {
	keys := map[string]bool{}
	add := func(typ, query string) {
		if params, err := s.conditionParams(typ, query); err == nil {
			keys[conditionLockKey(typ, params)] = true
		}
	}
	for _, e := range entries {
		parts, query := s.entryTarget(e)
		switch {
		case e.Request.Method == http.MethodPost && len(parts) == 1 && e.Request.IfNoneExist != "":
			add(parts[0], e.Request.IfNoneExist)
		case (e.Request.Method == http.MethodPut || e.Request.Method == http.MethodDelete || e.Request.Method == http.MethodPatch) && len(parts) == 1 && query != "":
			add(parts[0], query)
		}
		for _, m := range conditionalReference.FindAllSubmatch(e.Resource, -1) {
			var ref string
			if json.Unmarshal([]byte(`"`+string(m[1])+`"`), &ref) == nil {
				if typ, query, _ := strings.Cut(ref, "?"); s.validator.IsResourceType(typ) {
					add(typ, query)
				}
			}
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if err := tx.LockKey(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// overlap reports whether two entries that resolved to one resource may not both run.
// A conditional create that matched changes nothing, so it may share its resource with
// another create or an update, but not with a delete, which would leave it nothing to match.
func overlap(a, b string) bool {
	post := a == http.MethodPost || b == http.MethodPost
	return !post || a == http.MethodDelete || b == http.MethodDelete
}

// conditionalReference matches a conditional reference such as Patient?identifier=x|1.
var conditionalReference = regexp.MustCompile(`"reference"\s*:\s*"([A-Z][A-Za-z]+\?[^"]+)"`)

// resolveConditionalReferences maps each conditional reference in an entry's resource to
// the one resource its search matches; none or several matches fail the transaction (412).
func (s *Server) resolveConditionalReferences(ctx context.Context, tx *storage.Tx, i int, resource json.RawMessage, refs map[string]string) error {
	for _, m := range conditionalReference.FindAllSubmatch(resource, -1) {
		var ref string
		if err := json.Unmarshal([]byte(`"`+string(m[1])+`"`), &ref); err != nil {
			continue
		}
		if _, done := refs[ref]; done {
			continue
		}
		typ, query, _ := strings.Cut(ref, "?")
		if !s.validator.IsResourceType(typ) {
			return atEntry(i, errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "conditional reference %q names an unknown type", ref))
		}
		matches, err := s.conditionalMatches(ctx, tx, typ, query)
		if err != nil {
			return atEntry(i, err)
		}
		if len(matches) != 1 {
			return atEntry(i, errorf(fhirerr.ErrPreconditionFailed, fhirerr.CodeMultipleMatches,
				"conditional reference %q matches %d resources; it must match exactly one", ref, len(matches)))
		}
		refs[ref] = typ + "/" + matches[0].ID
	}
	return nil
}

func atEntry(i int, err error) error {
	fe, ok := fhirerr.As(err)
	if !ok {
		return err
	}
	cp := *fe
	cp.Diagnostics = fmt.Sprintf("entry %d: %s", i, fe.Diagnostics)
	return &cp
}

// rewriteEntries replaces references to fullUrls (urn:uuid:… or absolute) and conditional
// references with the Type/id they resolved to: in resources, narrative links, and
// conditional request URLs.
func rewriteEntries(entries []BundleEntry, ids fullURLs) error {
	if len(ids.refs) == 0 {
		return nil
	}
	for i := range entries {
		e := &entries[i]
		if len(e.Resource) > 0 {
			dec := json.NewDecoder(bytes.NewReader(e.Resource))
			dec.UseNumber() // keep decimals exactly as sent
			var doc any
			if err := dec.Decode(&doc); err != nil {
				return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
					Diagnostics: "the resource is not JSON", Expression: []string{fmt.Sprintf("Bundle.entry[%d].resource", i)}}
			}
			doc = rewriteValue(doc, ids.refs)
			e.Resource = marshal(doc)
		}
		if strings.Contains(e.Request.URL, "?") {
			e.Request.URL = rewriteQuery(e.Request.URL, ids.refs)
		}
		if e.Request.IfNoneExist != "" {
			e.Request.IfNoneExist = rewriteQuery(e.Request.IfNoneExist, ids.refs)
		}
	}
	return nil
}

func rewriteValue(v any, refs map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if div, ok := child.(string); ok && k == "div" {
				for from, to := range refs {
					div = strings.ReplaceAll(div, `"`+from+`"`, `"`+to+`"`)
				}
				v[k] = div
				continue
			}
			v[k] = rewriteValue(child, refs)
		}
		return v
	case []any:
		for i, child := range v {
			v[i] = rewriteValue(child, refs)
		}
		return v
	case string:
		if to, ok := refs[v]; ok {
			return to
		}
		return v
	default:
		return v
	}
}

// rewriteQuery replaces fullUrls that are whole parameter values of a query string.
func rewriteQuery(raw string, refs map[string]string) string {
	path, query, hasQuery := strings.Cut(raw, "?")
	if !hasQuery {
		query, path = path, ""
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return raw
	}
	changed := false
	for k, vs := range values {
		for j, v := range vs {
			if to, ok := refs[v]; ok {
				values[k][j] = to
				changed = true
			}
		}
	}
	if !changed {
		return raw
	}
	if !hasQuery {
		return values.Encode()
	}
	return path + "?" + values.Encode()
}

// statusLine formats an HTTP status as Bundle.entry.response.status wants it.
func statusLine(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// patchFromBinary reads the patch of a PATCH entry: R4 carries a JSON Patch as a Binary
// whose data is the patch document and whose contentType says which kind it is, and a
// FHIRPath Patch as the Parameters resource itself.
func patchFromBinary(resource json.RawMessage) ([]byte, string, error) {
	var bin struct {
		ResourceType string `json:"resourceType"`
		ContentType  string `json:"contentType"`
		Data         []byte `json:"data"` // base64, decoded by encoding/json
	}
	if err := json.Unmarshal(resource, &bin); err == nil && bin.ResourceType == "Parameters" {
		return resource, fhirJSON, nil
	}
	if err := json.Unmarshal(resource, &bin); err != nil || bin.ResourceType != "Binary" {
		return nil, "", &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
			Diagnostics: "a PATCH entry's resource is a Parameters (FHIRPath Patch) or a Binary whose data is the base64 JSON Patch", Expression: []string{"Bundle.entry.resource"}}
	}
	if len(bin.Data) == 0 {
		return nil, "", &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeRequired,
			Diagnostics: "the Binary of a PATCH entry has no data", Expression: []string{"Binary.data"}}
	}
	ct := bin.ContentType
	if ct == "" {
		ct = jsonPatchType
	}
	return bin.Data, ct, nil
}
