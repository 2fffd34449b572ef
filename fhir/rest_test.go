package fhir_test

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/careslot/careslot/app/apptest"
)

// srv is the careslot every test in this package talks to; tests use their own ids.
var srv *apptest.Server

func TestMain(m *testing.M) {
	os.Exit(runWithServer(m))
}

func runWithServer(m *testing.M) int {
	s, stop, err := apptest.Start(apptest.WithoutCoverageCheck())
	if err != nil {
		fmt.Fprintln(os.Stderr, "start careslot:", err)
		return 1
	}
	defer stop()
	srv = s
	return m.Run()
}

const patientJSON = `{"resourceType":"Patient","id":"%s","active":true,"name":[{"family":"Chalmers","given":["Peter","James"]}],"gender":"male","birthDate":"1974-12-25"}`

func patient(id string) string { return fmt.Sprintf(patientJSON, id) }

// issue returns the first OperationOutcome issue of a response.
func issue(t *testing.T, r *apptest.Response) map[string]any {
	t.Helper()
	oo := r.JSON(t)
	if oo["resourceType"] != "OperationOutcome" {
		t.Fatalf("want an OperationOutcome, got %s", r.Body)
	}
	issues, _ := oo["issue"].([]any)
	if len(issues) == 0 {
		t.Fatalf("OperationOutcome without issues: %s", r.Body)
	}
	return issues[0].(map[string]any)
}

// expression returns the first expression of the first issue.
func expression(t *testing.T, r *apptest.Response) string {
	t.Helper()
	ex, _ := issue(t, r)["expression"].([]any)
	if len(ex) == 0 {
		t.Fatalf("issue without expression: %s", r.Body)
	}
	return ex[0].(string)
}

func meta(t *testing.T, r *apptest.Response) map[string]any {
	t.Helper()
	m, _ := r.JSON(t)["meta"].(map[string]any)
	if m == nil {
		t.Fatalf("no meta in %s", r.Body)
	}
	return m
}

func TestCreateAssignsIDAndVersion(t *testing.T) {
	r := srv.Must(t, http.StatusCreated, "POST", "Patient", patient("client-chosen"))
	body := r.JSON(t)
	id, _ := body["id"].(string)
	if id == "" || id == "client-chosen" {
		t.Fatalf("create must assign a server id, got %q", id)
	}
	if got := meta(t, r)["versionId"]; got != "1" {
		t.Errorf("versionId = %v, want 1", got)
	}
	if got := r.Header.Get("ETag"); got != `W/"1"` {
		t.Errorf("ETag = %q", got)
	}
	if want := srv.URL + "/Patient/" + id + "/_history/1"; r.Header.Get("Location") != want {
		t.Errorf("Location = %q, want %q", r.Header.Get("Location"), want)
	}
	read := srv.Must(t, http.StatusOK, "GET", "Patient/"+id, nil)
	if read.Header.Get("Last-Modified") == "" || read.Header.Get("ETag") != `W/"1"` {
		t.Errorf("read headers: %v", read.Header)
	}
	if read.JSON(t)["birthDate"] != "1974-12-25" {
		t.Errorf("read back %s", read.Body)
	}
}

func TestReadErrors(t *testing.T) {
	cases := []struct {
		path   string
		status int
		code   string
	}{
		{"Patient/never-existed", http.StatusNotFound, "not-found"},
		{"Patient/bad_id!", http.StatusBadRequest, "invalid"},
		{"Patient/" + strings.Repeat("a", 65), http.StatusBadRequest, "invalid"},
		{"NotAType/1", http.StatusNotFound, "not-supported"},
		{"Patient/x/_history/99", http.StatusNotFound, "not-found"},
	}
	for _, c := range cases {
		r := srv.Do(t, "GET", c.path, nil)
		if r.Status != c.status {
			t.Errorf("GET %s: status %d, want %d: %s", c.path, r.Status, c.status, r.Body)
			continue
		}
		if got := issue(t, r)["code"]; got != c.code {
			t.Errorf("GET %s: code %v, want %s", c.path, got, c.code)
		}
	}
}

func TestUpdateVersionsAndVread(t *testing.T) {
	r := srv.Must(t, http.StatusCreated, "PUT", "Patient/upd-1", patient("upd-1"))
	if meta(t, r)["versionId"] != "1" {
		t.Fatalf("create-on-update: %s", r.Body)
	}
	changed := strings.Replace(patient("upd-1"), "Chalmers", "Windsor", 1)
	r = srv.Must(t, http.StatusOK, "PUT", "Patient/upd-1", changed)
	if meta(t, r)["versionId"] != "2" || r.Header.Get("ETag") != `W/"2"` {
		t.Fatalf("update: %s %v", r.Body, r.Header)
	}
	v1 := srv.Must(t, http.StatusOK, "GET", "Patient/upd-1/_history/1", nil)
	if !strings.Contains(string(v1.Body), "Chalmers") {
		t.Errorf("vread 1 = %s", v1.Body)
	}
	v2 := srv.Must(t, http.StatusOK, "GET", "Patient/upd-1/_history/2", nil)
	if !strings.Contains(string(v2.Body), "Windsor") {
		t.Errorf("vread 2 = %s", v2.Body)
	}
	srv.Must(t, http.StatusNotFound, "GET", "Patient/upd-1/_history/3", nil)
}

func TestUpdateRefusals(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/upd-2", patient("upd-2"))
	r := srv.Must(t, http.StatusBadRequest, "PUT", "Patient/upd-2", patient("other"))
	if expression(t, r) != "Patient.id" {
		t.Errorf("id mismatch expression: %s", r.Body)
	}
	r = srv.Must(t, http.StatusPreconditionFailed, "PUT", "Patient/upd-2", patient("upd-2"), "If-Match", `W/"7"`)
	if issue(t, r)["code"] != "conflict" {
		t.Errorf("stale If-Match: %s", r.Body)
	}
	srv.Must(t, http.StatusOK, "PUT", "Patient/upd-2", patient("upd-2"), "If-Match", `W/"1"`)
	srv.Must(t, http.StatusBadRequest, "PUT", "Patient/upd-2", patient("upd-2"), "If-Match", `nonsense`)
	// The stored resource is untouched by the refusals: version 2 is the only change.
	if meta(t, srv.Must(t, http.StatusOK, "GET", "Patient/upd-2", nil))["versionId"] != "2" {
		t.Error("a refused update changed the resource")
	}
}

func TestDeleteIsSoftAndVersioned(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/del-1", patient("del-1"))
	r := srv.Must(t, http.StatusNoContent, "DELETE", "Patient/del-1", nil)
	if r.Header.Get("ETag") != `W/"2"` {
		t.Errorf("delete ETag = %q", r.Header.Get("ETag"))
	}
	gone := srv.Must(t, http.StatusGone, "GET", "Patient/del-1", nil)
	if issue(t, gone)["code"] != "deleted" {
		t.Errorf("410 body: %s", gone.Body)
	}
	srv.Must(t, http.StatusGone, "GET", "Patient/del-1/_history/2", nil)
	srv.Must(t, http.StatusOK, "GET", "Patient/del-1/_history/1", nil)
	// Deleting again, or deleting what never existed, is not an error.
	srv.Must(t, http.StatusNoContent, "DELETE", "Patient/del-1", nil)
	srv.Must(t, http.StatusNoContent, "DELETE", "Patient/never-was", nil)
	// An update after a delete re-creates it as version 3.
	r = srv.Must(t, http.StatusCreated, "PUT", "Patient/del-1", patient("del-1"))
	if meta(t, r)["versionId"] != "3" {
		t.Errorf("re-create version: %s", r.Body)
	}
}

func TestReferencesMustResolve(t *testing.T) {
	obs := `{"resourceType":"Observation","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/ref-missing"}}`
	r := srv.Must(t, http.StatusUnprocessableEntity, "POST", "Observation", obs)
	if expression(t, r) != "Observation.subject" {
		t.Errorf("dangling reference expression: %s", r.Body)
	}
	srv.Must(t, http.StatusCreated, "PUT", "Patient/ref-missing", patient("ref-missing"))
	srv.Must(t, http.StatusCreated, "POST", "Observation", obs)
}

func TestDeleteReferencedRefusedUnlessCascade(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/ref-1", patient("ref-1"))
	obs := `{"resourceType":"Observation","id":"obs-ref-1","status":"final","code":{"text":"weight"},"subject":{"reference":"Patient/ref-1"}}`
	srv.Must(t, http.StatusCreated, "PUT", "Observation/obs-ref-1", obs)
	r := srv.Must(t, http.StatusConflict, "DELETE", "Patient/ref-1", nil)
	if !strings.Contains(issue(t, r)["diagnostics"].(string), "Observation/obs-ref-1") {
		t.Errorf("409 should name the referrer: %s", r.Body)
	}
	srv.Must(t, http.StatusOK, "GET", "Patient/ref-1", nil)
	srv.Must(t, http.StatusBadRequest, "DELETE", "Patient/ref-1?_cascade=yes", nil)
	srv.Must(t, http.StatusNoContent, "DELETE", "Patient/ref-1?_cascade=delete", nil)
	srv.Must(t, http.StatusGone, "GET", "Observation/obs-ref-1", nil)
	srv.Must(t, http.StatusGone, "GET", "Patient/ref-1", nil)
}

func TestBadInputIs4xx(t *testing.T) {
	cases := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		expression               string
	}{
		{"not json", "POST", "Patient", `{"resourceType":`, nil, 400, ""},
		{"array", "POST", "Patient", `[1,2]`, nil, 400, ""},
		{"empty", "POST", "Patient", ``, nil, 400, ""},
		{"no resourceType", "POST", "Patient", `{"active":true}`, nil, 400, "resourceType"},
		{"unknown element", "POST", "Patient", `{"resourceType":"Patient","hairColour":"red"}`, nil, 400, "Patient.hairColour"},
		{"wrong type", "POST", "Patient", `{"resourceType":"Patient","active":"yes"}`, nil, 400, "Patient.active"},
		{"bad date", "POST", "Patient", `{"resourceType":"Patient","birthDate":"1974-13-40"}`, nil, 400, "Patient.birthDate"},
		{"bad code", "POST", "Patient", `{"resourceType":"Patient","gender":"robot"}`, nil, 400, "Patient.gender"},
		{"missing required", "POST", "Observation", `{"resourceType":"Observation","status":"final"}`, nil, 422, "Observation"},
		{"type mismatch", "POST", "Patient", `{"resourceType":"Practitioner"}`, nil, 400, "resourceType"},
		{"unknown type in body", "POST", "Patient", `{"resourceType":"Spaceship"}`, nil, 400, "resourceType"},
		{"xml content type", "POST", "Patient", `<Patient/>`, []string{"Content-Type", "application/fhir+xml"}, 415, ""},
		{"xml format", "GET", "metadata?_format=xml", ``, nil, 406, ""},
		{"xml accept", "GET", "metadata", ``, []string{"Accept", "application/fhir+xml"}, 406, ""},
		{"patch of fhir+xml", "PATCH", "Patient/x", `<Parameters/>`, []string{"Content-Type", "application/fhir+xml"}, 415, ""},
		{"appointment end before start", "POST", "Appointment", `{"resourceType":"Appointment","status":"proposed","start":"2030-01-01T10:00:00Z","end":"2030-01-01T09:00:00Z","participant":[{"status":"needs-action","type":[{"text":"x"}]}]}`, nil, 422, "Appointment.end"},
		{"appointment start without end", "POST", "Appointment", `{"resourceType":"Appointment","status":"proposed","start":"2030-01-01T10:00:00Z","participant":[{"status":"needs-action","type":[{"text":"x"}]}]}`, nil, 422, "Appointment.start"},
		{"deep nesting", "POST", "Patient", `{"resourceType":"Patient","extension":[` + strings.Repeat(`{"url":"http://x","extension":[`, 200) + strings.Repeat(`]}`, 200) + `]}`, nil, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := srv.Do(t, c.method, c.path, c.body, c.header...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.expression != "" && expression(t, r) != c.expression {
				t.Errorf("expression %q, want %q", expression(t, r), c.expression)
			}
			if c.expression == "" {
				issue(t, r) // still an OperationOutcome
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	big := `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + strings.Repeat("x", 17<<20) + `</div>"}}`
	r := srv.Must(t, http.StatusRequestEntityTooLarge, "POST", "Patient", big)
	if issue(t, r)["code"] != "too-long" {
		t.Errorf("413 body: %s", r.Body)
	}
}

func TestPreferReturn(t *testing.T) {
	r := srv.Must(t, http.StatusCreated, "POST", "Patient", patient("x"), "Prefer", "return=minimal")
	if len(r.Body) != 0 || r.Header.Get("Location") == "" {
		t.Errorf("minimal: body %q, Location %q", r.Body, r.Header.Get("Location"))
	}
	r = srv.Must(t, http.StatusCreated, "POST", "Patient", patient("x"), "Prefer", "return=OperationOutcome")
	if issue(t, r)["severity"] != "information" {
		t.Errorf("OperationOutcome preference: %s", r.Body)
	}
	r = srv.Must(t, http.StatusCreated, "POST", "Patient", patient("x"), "Prefer", "return=representation")
	if r.JSON(t)["resourceType"] != "Patient" {
		t.Errorf("representation: %s", r.Body)
	}
}

func TestPrettyAndFormat(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/pretty", patient("pretty"))
	r := srv.Must(t, http.StatusOK, "GET", "Patient/pretty?_pretty=true&_format=json", nil)
	if !strings.Contains(string(r.Body), "\n  ") {
		t.Errorf("_pretty=true is not indented: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("Content-Type %q", ct)
	}
	srv.Must(t, http.StatusOK, "GET", "Patient/pretty?_format=application/fhir%2Bjson", nil)
}

func TestConditionalRead(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/cread", patient("cread"))
	srv.Must(t, http.StatusNotModified, "GET", "Patient/cread", nil, "If-None-Match", `W/"1"`)
	head := srv.Must(t, http.StatusOK, "HEAD", "Patient/cread", nil)
	if head.Header.Get("ETag") != `W/"1"` || len(head.Body) != 0 {
		t.Errorf("HEAD: ETag %q, body %q", head.Header.Get("ETag"), head.Body)
	}
	srv.Must(t, http.StatusOK, "GET", "Patient/cread", nil, "If-None-Match", `W/"0"`)
}

func TestElements(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/elements", patient("elements"))
	body := srv.Must(t, http.StatusOK, "GET", "Patient/elements?_elements=birthDate", nil).JSON(t)
	if body["birthDate"] != "1974-12-25" || body["name"] != nil || body["id"] != "elements" {
		t.Errorf("_elements=birthDate gave %v", body)
	}
	if !strings.Contains(fmt.Sprint(body["meta"]), "SUBSETTED") {
		t.Errorf("subsetted resource not tagged: %v", body["meta"])
	}
}

func TestHistoryPagingAndSince(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/hist", patient("hist"))
	for i := 0; i < 4; i++ {
		srv.Must(t, http.StatusOK, "PUT", "Patient/hist", strings.Replace(patient("hist"), "Peter", fmt.Sprint("Peter", i), 1))
	}
	srv.Must(t, http.StatusNoContent, "DELETE", "Patient/hist", nil)
	// Six versions, newest first, two a page, no repeats.
	var versions []string
	next := "Patient/hist/_history?_count=2"
	for next != "" {
		b := srv.Must(t, http.StatusOK, "GET", next, nil).JSON(t)
		if b["type"] != "history" {
			t.Fatalf("history Bundle type %v", b["type"])
		}
		entries, _ := b["entry"].([]any)
		if len(entries) > 2 {
			t.Fatalf("page of %d entries for _count=2", len(entries))
		}
		for _, e := range entries {
			resp := e.(map[string]any)["response"].(map[string]any)
			versions = append(versions, resp["etag"].(string))
		}
		next = ""
		for _, l := range b["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = strings.TrimPrefix(l.(map[string]any)["url"].(string), srv.URL+"/")
			}
		}
	}
	want := []string{`W/"6"`, `W/"5"`, `W/"4"`, `W/"3"`, `W/"2"`, `W/"1"`}
	if fmt.Sprint(versions) != fmt.Sprint(want) {
		t.Errorf("history versions %v, want %v", versions, want)
	}
	srv.Must(t, http.StatusNotFound, "GET", "Patient/never-hist/_history", nil)
	srv.Must(t, http.StatusBadRequest, "GET", "Patient/_history?_since=yesterday", nil)
	b := srv.Must(t, http.StatusOK, "GET", "Patient/_history?_since=2999-01-01", nil).JSON(t)
	if b["entry"] != nil {
		t.Errorf("_since in the future returned entries")
	}
	b = srv.Must(t, http.StatusOK, "GET", "_history?_count=1", nil).JSON(t)
	if len(b["entry"].([]any)) != 1 {
		t.Errorf("system history _count=1: %v", b["entry"])
	}
}

func TestConditionalCreateUpdateDelete(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/cond-1", patient("cond-1"))
	// If-None-Exist that matches answers the existing resource without creating one.
	r := srv.Must(t, http.StatusOK, "POST", "Patient", patient("x"), "If-None-Exist", "_id=cond-1")
	if r.JSON(t)["id"] != "cond-1" {
		t.Errorf("conditional create matched %s", r.Body)
	}
	srv.Must(t, http.StatusCreated, "POST", "Patient", patient("x"), "If-None-Exist", "_id=cond-none")
	// Conditional update of the match.
	r = srv.Must(t, http.StatusOK, "PUT", "Patient?_id=cond-1", strings.Replace(patient(""), `"id":"",`, "", 1))
	if meta(t, r)["versionId"] != "2" {
		t.Errorf("conditional update: %s", r.Body)
	}
	// No match: creates with the body's id.
	srv.Must(t, http.StatusCreated, "PUT", "Patient?_id=cond-2", patient("cond-2"))
	srv.Must(t, http.StatusOK, "GET", "Patient/cond-2", nil)
	// Conditional delete.
	srv.Must(t, http.StatusNoContent, "DELETE", "Patient?_id=cond-2", nil)
	srv.Must(t, http.StatusGone, "GET", "Patient/cond-2", nil)
	srv.Must(t, http.StatusBadRequest, "DELETE", "Patient", nil)
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/race", patient("race"))
	const n = 20
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	// All race with If-Match of version 1: exactly one may win.
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := strings.Replace(patient("race"), "Peter", fmt.Sprint("Racer", i), 1)
			statuses <- srv.Do(t, "PUT", "Patient/race", body, "If-Match", `W/"1"`).Status
		}(i)
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusPreconditionFailed] != n-1 {
		t.Fatalf("If-Match race: %v, want one 200 and %d 412", count, n-1)
	}
	// Without If-Match every write lands as its own version, none lost.
	var wg2 sync.WaitGroup
	for i := 0; i < n; i++ {
		wg2.Add(1)
		go func(i int) {
			defer wg2.Done()
			body := strings.Replace(patient("race"), "Peter", fmt.Sprint("Free", i), 1)
			srv.Must(t, http.StatusOK, "PUT", "Patient/race", body)
		}(i)
	}
	wg2.Wait()
	if v := meta(t, srv.Must(t, http.StatusOK, "GET", "Patient/race", nil))["versionId"]; v != fmt.Sprint(n+2) {
		t.Fatalf("after %d concurrent updates the version is %v, want %d", n, v, n+2)
	}
	hist := srv.Must(t, http.StatusOK, "GET", "Patient/race/_history?_count=100", nil).JSON(t)
	seen := map[string]bool{}
	for _, e := range hist["entry"].([]any) {
		res := e.(map[string]any)["resource"].(map[string]any)
		given := res["name"].([]any)[0].(map[string]any)["given"].([]any)[0].(string)
		seen[given] = true
	}
	for i := 0; i < n; i++ {
		if !seen[fmt.Sprint("Free", i)] {
			t.Errorf("write Free%d is missing from the history", i)
		}
	}
}

func TestMetadata(t *testing.T) {
	cs := srv.Must(t, http.StatusOK, "GET", "metadata", nil).JSON(t)
	if cs["resourceType"] != "CapabilityStatement" || cs["fhirVersion"] != "4.0.1" || cs["kind"] != "instance" {
		t.Fatalf("metadata: %v", cs)
	}
	rest := cs["rest"].([]any)[0].(map[string]any)
	types := map[string]bool{}
	for _, r := range rest["resource"].([]any) {
		types[r.(map[string]any)["type"].(string)] = true
	}
	for _, want := range []string{"Patient", "Appointment", "Slot", "Schedule", "Coverage", "AuditEvent", "Subscription", "Binary"} {
		if !types[want] {
			t.Errorf("CapabilityStatement lacks %s", want)
		}
	}
}

func TestSummary(t *testing.T) {
	body := `{"resourceType":"Patient","id":"summary","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Peter</div>"},
	 "name":[{"family":"Chalmers"}],"gender":"male","deceasedBoolean":false,"maritalStatus":{"text":"married"},
	 "contact":[{"name":{"family":"Du Marché"}}],"communication":[{"language":{"text":"French"}}]}`
	srv.Must(t, http.StatusCreated, "PUT", "Patient/summary", body)
	keys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	}
	cases := map[string]string{
		// isSummary elements of R4 Patient: name, gender, deceased[x] are; text, maritalStatus, contact, communication are not.
		"true": "deceasedBoolean,gender,id,meta,name,resourceType",
		// The narrative (and the mandatory elements: Patient has none).
		"text":  "id,meta,resourceType,text",
		"data":  "communication,contact,deceasedBoolean,gender,id,maritalStatus,meta,name,resourceType",
		"false": "communication,contact,deceasedBoolean,gender,id,maritalStatus,meta,name,resourceType,text",
	}
	for summary, want := range cases {
		got := srv.Must(t, http.StatusOK, "GET", "Patient/summary?_summary="+summary, nil).JSON(t)
		if keys(got) != want {
			t.Errorf("_summary=%s kept %s, want %s", summary, keys(got), want)
		}
		if tagged := strings.Contains(fmt.Sprint(got["meta"]), "SUBSETTED"); tagged != (summary != "false") {
			t.Errorf("_summary=%s: SUBSETTED tag present = %v", summary, tagged)
		}
	}
	// _summary=text keeps an Appointment's mandatory status and participant.
	appt := `{"resourceType":"Appointment","id":"summary-appt","status":"proposed","description":"x","participant":[{"status":"needs-action","type":[{"text":"x"}]}]}`
	srv.Must(t, http.StatusCreated, "PUT", "Appointment/summary-appt", appt)
	got := srv.Must(t, http.StatusOK, "GET", "Appointment/summary-appt?_summary=text", nil).JSON(t)
	if keys(got) != "id,meta,participant,resourceType,status" {
		t.Errorf("Appointment _summary=text kept %s", keys(got))
	}
	srv.Must(t, http.StatusBadRequest, "GET", "Patient/summary?_summary=everything", nil)
	// In search too.
	b := srv.Must(t, http.StatusOK, "GET", "Patient?_id=summary&_summary=true", nil).JSON(t)
	res := b["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	if keys(res) != cases["true"] {
		t.Errorf("search _summary=true kept %s", keys(res))
	}
}

// TestElementsKeepMandatory: _elements also keeps the elements the resource cannot be
// valid without (Observation.status and code), as R4 search.html#elements says servers should.
func TestElementsKeepMandatory(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Observation/elements-mandatory",
		`{"resourceType":"Observation","id":"elements-mandatory","status":"final","code":{"text":"weight"},"valueString":"80 kg","issued":"2024-01-01T10:00:00Z"}`)
	body := srv.Must(t, http.StatusOK, "GET", "Observation/elements-mandatory?_elements=valueString", nil).JSON(t)
	for _, k := range []string{"status", "code", "valueString"} {
		if _, ok := body[k]; !ok {
			t.Errorf("_elements=valueString dropped %s: %v", k, body)
		}
	}
	if _, ok := body["issued"]; ok {
		t.Errorf("_elements=valueString kept issued: %v", body)
	}
}
