package fhir_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A condition of result parameters only (_count, _sort, …) or of empty values selects
// nothing, so its search matched every resource of the type: DELETE Patient?_count=5
// deleted the only Patient, PUT Patient?_sort=name overwrote it. Such a condition is a 400.
func TestConditionalNeedsSelectingParameters(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-cond-only", patient("r2-cond-only"))
	for _, c := range []struct{ method, path, ifNoneExist string }{
		{"DELETE", "Patient?_count=5", ""},
		{"DELETE", "Patient?name=", ""},
		{"DELETE", "Patient?_sort=name&_summary=true", ""},
		{"PUT", "Patient?_sort=name", ""},
		{"PUT", "Patient?family=,", ""},
		{"POST", "Patient", "_count=1"},
		{"POST", "Patient", "Patient?name="},
	} {
		var body any
		if c.method != "DELETE" {
			body = patient("r2-cond-only")
		}
		r := srv.Do(t, c.method, c.path, body, "If-None-Exist", c.ifNoneExist)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s %s (If-None-Exist %q): status %d, want 400: %s", c.method, c.path, c.ifNoneExist, r.Status, r.Body)
		}
	}
	if meta(t, srv.Must(t, http.StatusOK, "GET", "Patient/r2-cond-only", nil))["versionId"] != "1" {
		t.Error("a condition that selects nothing changed Patient/r2-cond-only")
	}
}

// An entry URL the router would redirect (a path that is not clean, or an absolute URL
// of another server) was answered 301 and counted as a success: the transaction
// committed without doing the entry. It is a 400.
func TestBundleEntryURLNotOnThisServer(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-url", patient("r2-url"))
	for _, u := range []string{"Patient/../Patient/r2-url", "Patient//r2-url", "http://elsewhere.example/fhir/Patient/r2-url", "./Patient/r2-url"} {
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"` + u + `"}}]}`
		r := srv.Do(t, "POST", "", tx)
		if r.Status != http.StatusBadRequest {
			t.Errorf("transaction DELETE %s: status %d, want 400: %s", u, r.Status, r.Body)
		}
		batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"` + u + `"}}]}`
		es := entries(t, srv.Must(t, http.StatusOK, "POST", "", batch).JSON(t))
		if len(es) != 1 || status(es[0]) != "400 Bad Request" {
			t.Errorf("batch GET %s: %v", u, es)
		}
	}
	srv.Must(t, http.StatusOK, "GET", "Patient/r2-url", nil)
}

// RFC 9110 13.1.3: If-Modified-Since is ignored when If-None-Match is present. A client
// holding version 1 that revalidated with both headers got 304 when version 2 was written
// in the same second as its Last-Modified, and kept the stale version.
func TestIfNoneMatchOverridesIfModifiedSince(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-inm", patient("r2-inm"))
	v2 := srv.Must(t, http.StatusOK, "PUT", "Patient/r2-inm", patient("r2-inm"))
	lastModified := v2.Header.Get("Last-Modified")
	r := srv.Must(t, http.StatusOK, "GET", "Patient/r2-inm", nil, "If-None-Match", `W/"1"`, "If-Modified-Since", lastModified)
	if r.Header.Get("ETag") != `W/"2"` || meta(t, r)["versionId"] != "2" {
		t.Errorf("want version 2: %v %s", r.Header, r.Body)
	}
	srv.Must(t, http.StatusNotModified, "GET", "Patient/r2-inm", nil, "If-None-Match", `W/"2"`, "If-Modified-Since", lastModified)
	srv.Must(t, http.StatusNotModified, "GET", "Patient/r2-inm", nil, "If-Modified-Since", lastModified)
}

// In a query string a literal + means a space, and clients (curl, browsers, the spec's own
// examples) write _format=application/fhir+json unescaped; it was refused with 406.
func TestFormatWithUnescapedPlus(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-fmt", patient("r2-fmt"))
	for _, f := range []string{"application/fhir+json", "application/json+fhir", "application/fhir%2Bjson"} {
		srv.Must(t, http.StatusOK, "GET", "Patient/r2-fmt?_format="+f, nil)
	}
	srv.Must(t, http.StatusNotAcceptable, "GET", "Patient/r2-fmt?_format=application/fhir+xml", nil)
	srv.Must(t, http.StatusNotAcceptable, "GET", "Patient/r2-fmt?_format=application/fhir+turtle", nil)
}

// If-Match on a delete answers 412 unless it names the current version (docs/rest.md): a
// delete of an unknown resource ignored it and answered 204, and a conditional delete
// ignored it altogether, deleting a version the client had not seen.
func TestDeleteIfMatch(t *testing.T) {
	srv.Must(t, http.StatusPreconditionFailed, "DELETE", "Patient/r2-never", nil, "If-Match", `W/"1"`)
	srv.Must(t, http.StatusBadRequest, "DELETE", "Patient/r2-never", nil, "If-Match", `nonsense`)

	body := `{"resourceType":"Patient","id":"r2-cdel","identifier":[{"system":"http://example.org/r2","value":"cdel"}]}`
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-cdel", body)
	srv.Must(t, http.StatusOK, "PUT", "Patient/r2-cdel", body)
	cond := "Patient?identifier=http://example.org/r2|cdel"
	srv.Must(t, http.StatusPreconditionFailed, "DELETE", cond, nil, "If-Match", `W/"1"`)
	srv.Must(t, http.StatusOK, "GET", "Patient/r2-cdel", nil)
	srv.Must(t, http.StatusBadRequest, "DELETE", cond, nil, "If-Match", `nonsense`)
	srv.Must(t, http.StatusNoContent, "DELETE", cond, nil, "If-Match", `W/"2"`)
	srv.Must(t, http.StatusGone, "GET", "Patient/r2-cdel", nil)
	srv.Must(t, http.StatusPreconditionFailed, "DELETE", cond, nil, "If-Match", `W/"2"`)
}

// _summary=false asks for no summary, so _elements applies; the answer used to be the whole
// resource tagged SUBSETTED, a tag that tells the client elements are missing when none were.
func TestSummaryFalseWithElements(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-sumfalse", patient("r2-sumfalse"))
	body := srv.Must(t, http.StatusOK, "GET", "Patient/r2-sumfalse?_summary=false&_elements=birthDate", nil).JSON(t)
	if body["birthDate"] != "1974-12-25" || body["name"] != nil || body["gender"] != nil {
		t.Errorf("_summary=false&_elements=birthDate gave %v", body)
	}
	m, _ := body["meta"].(map[string]any)
	if !strings.Contains(fmt.Sprint(m["tag"]), "SUBSETTED") {
		t.Errorf("subsetted resource not tagged: %v", m)
	}
}

// Reads answer If-None-Match and If-Modified-Since (docs/rest.md), yet the
// CapabilityStatement said conditionalRead not-supported, so clients would not revalidate.
func TestCapabilityStatementConditionalRead(t *testing.T) {
	cs := srv.Must(t, http.StatusOK, "GET", "metadata", nil).JSON(t)
	rest := cs["rest"].([]any)[0].(map[string]any)
	for _, res := range rest["resource"].([]any) {
		res := res.(map[string]any)
		if res["conditionalRead"] != "full-support" {
			t.Errorf("%v: conditionalRead %v, want full-support", res["type"], res["conditionalRead"])
		}
	}
}

// A HEAD entry answers like HEAD over HTTP: status and headers, no resource.
func TestBatchHeadEntryHasNoResource(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-head", patient("r2-head"))
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"HEAD","url":"Patient/r2-head"}},{"request":{"method":"HEAD","url":"Patient/r2-head-never"}}]}`
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", batch).JSON(t))
	if len(es) != 2 || status(es[0]) != "200 OK" || es[0]["resource"] != nil {
		t.Fatalf("HEAD entry: %v", es)
	}
	if resp := es[0]["response"].(map[string]any); resp["etag"] != `W/"1"` {
		t.Errorf("HEAD entry etag: %v", resp)
	}
	if status(es[1]) != "404 Not Found" {
		t.Errorf("HEAD of an unknown resource: %v", es[1])
	}
}

// A path that matches no interaction was answered "is not a valid resource id" whenever
// its second segment followed a resource type, also for ids that are valid.
func TestUnknownPathWithAValidID(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-path", patient("r2-path"))
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "Patient/r2-path/_history/", http.StatusNotFound},
		{"GET", "Patient/r2-path/name/family", http.StatusNotFound},
		{"HEAD", "Patient/r2-path/_history", http.StatusMethodNotAllowed},
		{"HEAD", "_history", http.StatusMethodNotAllowed},
	} {
		r := srv.Do(t, c.method, c.path, nil)
		if r.Status != c.status {
			t.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, r.Status, c.status, r.Body)
		}
		if r.Status == http.StatusBadRequest && c.method != "HEAD" && strings.Contains(string(r.Body), "not a valid resource id") {
			t.Errorf("%s %s: %s", c.method, c.path, r.Body)
		}
	}
	r := srv.Must(t, http.StatusBadRequest, "GET", "Patient/bad_id/_history", nil)
	if !strings.Contains(string(r.Body), "not a valid resource id") {
		t.Errorf("bad id: %s", r.Body)
	}
}

// RFC 7240 lets a client send its preferences as several Prefer header fields; only the
// first was read, so return=minimal after handling=strict was ignored (and inside a
// Bundle, too).
func TestPreferInSeveralHeaderFields(t *testing.T) {
	send := func(method, path, body string) (*http.Response, []byte) {
		req, err := http.NewRequest(method, srv.URL+"/"+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Add("Prefer", "handling=strict")
		req.Header.Add("Prefer", "return=minimal")
		resp, err := srv.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := send("PUT", "Patient/r2-prefer", patient("r2-prefer"))
	if resp.StatusCode != http.StatusCreated || len(body) != 0 {
		t.Errorf("PUT with return=minimal in a second Prefer field: %d %s", resp.StatusCode, body)
	}
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"resource":` + patient("r2-prefer") + `,"request":{"method":"PUT","url":"Patient/r2-prefer"}}]}`
	resp, body = send("POST", "", batch)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"Chalmers"`) {
		t.Errorf("batch with return=minimal in a second Prefer field: %d %s", resp.StatusCode, body)
	}
	// handling=strict in the second field refuses an unknown search parameter.
	req, _ := http.NewRequest("GET", srv.URL+"/Patient?r2-unknown=1", nil)
	req.Header.Add("Prefer", "return=minimal")
	req.Header.Add("Prefer", "handling=strict")
	r, err := srv.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("strict search with handling=strict in a second Prefer field: %d", r.StatusCode)
	}
}

// R4 (transaction processing rules): resource identities resolved from conditional
// updates and deletes must not overlap. A conditional DELETE was not resolved, so with a
// PUT of the same resource the DELETE ran first and the PUT created a second Patient.
func TestTransactionConditionalDeleteOverlap(t *testing.T) {
	for _, c := range []struct{ id, put string }{
		{"r2-cdup1", `{"resource":{"resourceType":"Patient","identifier":[{"system":"http://example.org/r2","value":"r2-cdup1"}]},"request":{"method":"PUT","url":"Patient?identifier=http://example.org/r2|r2-cdup1"}}`},
		{"r2-cdup2", `{"resource":{"resourceType":"Patient","id":"r2-cdup2"},"request":{"method":"PUT","url":"Patient/r2-cdup2"}}`},
	} {
		srv.Must(t, http.StatusCreated, "PUT", "Patient/"+c.id,
			`{"resourceType":"Patient","id":"`+c.id+`","identifier":[{"system":"http://example.org/r2","value":"`+c.id+`"}]}`)
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[` + c.put + `,
		  {"request":{"method":"DELETE","url":"Patient?identifier=http://example.org/r2|` + c.id + `"}}]}`
		r := srv.Do(t, "POST", "", tx)
		if r.Status != http.StatusBadRequest || issue(t, r)["code"] != "duplicate" {
			t.Errorf("PUT and conditional DELETE of Patient/%s: %d %s", c.id, r.Status, r.Body)
		}
		if meta(t, srv.Must(t, http.StatusOK, "GET", "Patient/"+c.id, nil))["versionId"] != "1" {
			t.Errorf("the refused transaction changed Patient/%s", c.id)
		}
		b := srv.Must(t, http.StatusOK, "GET", "Patient?identifier=http://example.org/r2|"+c.id, nil).JSON(t)
		if len(entries(t, b)) != 1 {
			t.Errorf("want the one Patient, got %v", b)
		}
	}
}

// A conditional create that matched created nothing; its informational OperationOutcome
// said "created" all the same.
func TestConditionalCreateMatchOutcome(t *testing.T) {
	body := `{"resourceType":"Patient","identifier":[{"system":"http://example.org/r2","value":"r2-ccm"}]}`
	srv.Must(t, http.StatusCreated, "POST", "Patient", body, "If-None-Exist", "identifier=http://example.org/r2|r2-ccm")
	r := srv.Must(t, http.StatusOK, "POST", "Patient", body, "If-None-Exist", "identifier=http://example.org/r2|r2-ccm", "Prefer", "return=OperationOutcome")
	if d, _ := issue(t, r)["diagnostics"].(string); strings.Contains(d, "created") || !strings.Contains(d, "exists") {
		t.Errorf("outcome of a matched conditional create: %s", r.Body)
	}
}

// In JSON a primitive's id and extensions are the sibling _name (R4 json.html#primitive).
// _summary and _elements kept birthDate but dropped _birthDate, losing e.g. the birth time.
func TestSummaryKeepsPrimitiveExtensions(t *testing.T) {
	body := `{"resourceType":"Patient","id":"r2-prim","gender":"male","birthDate":"1974-12-25",
	 "_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]},
	 "_gender":{"id":"g1"},"maritalStatus":{"text":"married"}}`
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-prim", body)
	for _, q := range []string{"_summary=true", "_elements=birthDate,gender"} {
		got := srv.Must(t, http.StatusOK, "GET", "Patient/r2-prim?"+q, nil).JSON(t)
		if got["_birthDate"] == nil || got["_gender"] == nil || got["maritalStatus"] != nil {
			t.Errorf("%s: %v", q, got)
		}
	}
	got := srv.Must(t, http.StatusOK, "GET", "Patient/r2-prim?_elements=maritalStatus", nil).JSON(t)
	if got["_birthDate"] != nil || got["birthDate"] != nil {
		t.Errorf("_elements=maritalStatus: %v", got)
	}
}

// A DELETE and a conditional create that matches the same resource overlap (R4
// transaction rules). With the DELETE first in the Bundle the overlap went unnoticed: the
// create then reused the deleted id and the transaction failed with 409 "created
// concurrently; retry", a retry that can never succeed.
func TestTransactionDeleteAndConditionalCreateOverlap(t *testing.T) {
	for _, del := range []string{"Patient/r2-dcc1", "Patient?identifier=http://example.org/r2|r2-dcc2"} {
		id := "r2-dcc1"
		if strings.Contains(del, "?") {
			id = "r2-dcc2"
		}
		srv.Must(t, http.StatusCreated, "PUT", "Patient/"+id,
			`{"resourceType":"Patient","id":"`+id+`","identifier":[{"system":"http://example.org/r2","value":"`+id+`"}]}`)
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		  {"request":{"method":"DELETE","url":"` + del + `"}},
		  {"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=http://example.org/r2|` + id + `"}}]}`
		r := srv.Do(t, "POST", "", tx)
		if r.Status != http.StatusBadRequest || issue(t, r)["code"] != "duplicate" {
			t.Errorf("DELETE %s and a conditional create of it: %d %s", del, r.Status, r.Body)
		}
		srv.Must(t, http.StatusOK, "GET", "Patient/"+id, nil)
	}
}

// Bundle invariant bdl-7: fullUrl is unique. A transaction with two entries of one fullUrl
// was accepted, and every reference to it went to whichever entry came last.
func TestTransactionDuplicateFullURL(t *testing.T) {
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
	  {"fullUrl":"urn:uuid:9a4c3a8e-0000-4000-8000-00000000r2d1","resource":{"resourceType":"Patient","id":"r2-dupurl"},"request":{"method":"PUT","url":"Patient/r2-dupurl"}},
	  {"fullUrl":"urn:uuid:9a4c3a8e-0000-4000-8000-00000000r2d1","resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},
	  {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:9a4c3a8e-0000-4000-8000-00000000r2d1"}},"request":{"method":"POST","url":"Observation"}}]}`
	r := srv.Do(t, "POST", "", tx)
	if r.Status != http.StatusBadRequest || expression(t, r) != "Bundle.entry[1].fullUrl" {
		t.Errorf("duplicate fullUrl: %d %s", r.Status, r.Body)
	}
	srv.Must(t, http.StatusNotFound, "GET", "Patient/r2-dupurl", nil)
}

// The Bundle itself was never validated: a misspelt element was ignored, so "entries"
// gave an empty transaction that answered 200 having done nothing, and "ifNoneExists"
// turned a conditional create into a plain one (a duplicate). Trailing data after the
// Bundle was ignored too. The Bundle is an R4 resource and is validated like one.
func TestBundleEnvelopeIsValidated(t *testing.T) {
	for name, body := range map[string]string{
		"entries":      `{"resourceType":"Bundle","type":"transaction","entries":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}`,
		"ifNoneExists": `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient","ifNoneExists":"identifier=a|b"}}]}`,
		"trailing":     `{"resourceType":"Bundle","type":"transaction","entry":[]} trailing`,
		"bad fullUrl":  `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":5,"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}}]}`,
	} {
		r := srv.Do(t, "POST", "", body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, r.Status, r.Body)
			continue
		}
		issue(t, r)
	}
	// Every element of the R4 Bundle is still accepted.
	ok := `{"resourceType":"Bundle","id":"b1","meta":{"lastUpdated":"2024-01-01T00:00:00Z"},"identifier":{"system":"urn:x","value":"1"},
	  "type":"batch","timestamp":"2024-01-01T00:00:00Z","link":[{"relation":"self","url":"http://x"}],
	  "entry":[{"id":"e1","link":[{"relation":"alternate","url":"http://y"}],"fullUrl":"urn:uuid:5c4a4e4e-3a51-4a1e-8e0e-000000000001",
	    "resource":{"resourceType":"Patient","id":"r2-envelope"},
	    "request":{"method":"PUT","url":"Patient/r2-envelope","ifMatch":"W/\"1\"","ifNoneMatch":"*","ifModifiedSince":"2024-01-01T00:00:00Z"}}]}`
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", ok).JSON(t))
	if len(es) != 1 || status(es[0]) != "412 Precondition Failed" {
		t.Errorf("a Bundle with every element: %v", es)
	}
}

// Bundle.entry.request.ifModifiedSince is a FHIR instant, but it was passed on as the
// If-Modified-Since header, which takes an HTTP date: it never parsed and was ignored.
func TestBatchIfModifiedSinceIsAnInstant(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-ims", patient("r2-ims"))
	batch := `{"resourceType":"Bundle","type":"batch","entry":[
	  {"request":{"method":"GET","url":"Patient/r2-ims","ifModifiedSince":"2999-01-01T00:00:00Z"}},
	  {"request":{"method":"GET","url":"Patient/r2-ims","ifModifiedSince":"2000-01-01T00:00:00+01:00"}}]}`
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", batch).JSON(t))
	if len(es) != 2 || status(es[0]) != "304 Not Modified" || status(es[1]) != "200 OK" {
		t.Errorf("ifModifiedSince entries: %v", es)
	}
}

// An instant with a fraction of a second must not answer 304 for a change later in that
// same second.
func TestBatchIfModifiedSinceFraction(t *testing.T) {
	r := srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-imsf", patient("r2-imsf"))
	updated, err := time.Parse(time.RFC3339Nano, meta(t, r)["lastUpdated"].(string))
	if err != nil {
		t.Fatal(err)
	}
	before := updated.Add(-time.Microsecond).Format(time.RFC3339Nano)
	batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/r2-imsf","ifModifiedSince":"` + before + `"}}]}`
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", batch).JSON(t))
	if len(es) != 1 || status(es[0]) != "200 OK" {
		t.Errorf("ifModifiedSince %s for a version of %s: %v", before, updated.Format(time.RFC3339Nano), es)
	}
}

// A + in a query string decodes to a space, so _since=…T10:00:00+01:00 written without
// escaping arrived as "…T10:00:00 01:00" and was refused; a space can only be that +.
func TestHistorySinceWithUnescapedPlus(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/r2-since", patient("r2-since"))
	b := srv.Must(t, http.StatusOK, "GET", "Patient/r2-since/_history?_since=2000-01-01T10:00:00+01:00", nil).JSON(t)
	if len(entries(t, b)) != 1 {
		t.Errorf("_since with an unescaped +: %v", b)
	}
	b = srv.Must(t, http.StatusOK, "GET", "Patient/r2-since/_history?_at=2000-01-01T10:00:00+01:00", nil).JSON(t)
	if len(entries(t, b)) != 0 {
		t.Errorf("_at with an unescaped +: %v", b)
	}
}

// Answers hold one caller's view of patient data: browsers and proxies must not keep
// them, errors included; the CapabilityStatement may be cached.
func TestAnswersAreNotStored(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/no-store", patient("no-store"))
	for _, path := range []string{"Patient/no-store", "Patient?_id=no-store", "Patient/no-store/_history", "Patient/missing-no-store"} {
		r := srv.Do(t, "GET", path, nil)
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s (%d): Cache-Control %q, want no-store", path, r.Status, got)
		}
	}
	if got := srv.Must(t, http.StatusOK, "GET", "metadata", nil).Header.Get("Cache-Control"); got == "no-store" {
		t.Errorf("metadata: Cache-Control %q", got)
	}
}
