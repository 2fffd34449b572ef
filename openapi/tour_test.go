package openapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/openapi"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

var (
	buildOnce sync.Once
	built     validator.Validator
	buildErr  error
)

// documentValidator builds the validator of openapi.json once per test binary: the
// document is large.
func documentValidator(t *testing.T) validator.Validator {
	t.Helper()
	buildOnce.Do(func() {
		doc, err := libopenapi.NewDocument(openapi.Document)
		if err != nil {
			buildErr = err
			return
		}
		v, errs := validator.NewValidator(doc)
		if len(errs) > 0 {
			buildErr = fmt.Errorf("%v", errs)
			return
		}
		built = v
	})
	if buildErr != nil {
		t.Fatalf("build the validator of openapi.json: %v", buildErr)
	}
	return built
}

// The document is valid OpenAPI 3.1 (against the specification's own schema).
func TestDocumentIsValidOpenAPI(t *testing.T) {
	ok, errs := documentValidator(t).ValidateDocument()
	if !ok {
		for _, e := range errs[:min(len(errs), 20)] {
			t.Errorf("%s: %s", e.Message, e.Reason)
		}
	}
}

// tour sends requests to a running careslot and checks each request and answer against
// the document: the path and method are described, and the status, headers and body
// match what the document says of them.
type tour struct {
	t     *testing.T
	srv   *apptest.Server
	v     validator.Validator
	token string
}

func (tr *tour) send(method, path string, body any, wantStatus int, header ...string) map[string]any {
	tr.t.Helper()
	return tr.sendChecking(true, method, path, body, wantStatus, header...)
}

// sendBad sends a request that breaks the document on purpose: only the answer is checked.
func (tr *tour) sendBad(method, path string, body any, wantStatus int, header ...string) map[string]any {
	tr.t.Helper()
	return tr.sendChecking(false, method, path, body, wantStatus, header...)
}

func (tr *tour) sendChecking(checkRequest bool, method, path string, body any, wantStatus int, header ...string) map[string]any {
	tr.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	root := strings.TrimSuffix(tr.srv.URL, "/fhir")
	req, err := http.NewRequest(method, root+path, bytes.NewReader(raw))
	if err != nil {
		tr.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", "Bearer "+tr.token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tr.t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != wantStatus {
		tr.t.Fatalf("%s %s: %d, want %d: %.500s", method, path, resp.StatusCode, wantStatus, got)
	}
	// The validator reads both bodies again.
	check, _ := http.NewRequest(method, root+path, bytes.NewReader(raw))
	check.Header = req.Header.Clone()
	resp.Body = io.NopCloser(bytes.NewReader(got))
	validate := tr.v.ValidateHttpRequestResponse
	if !checkRequest {
		validate = tr.v.ValidateHttpResponse
	}
	if ok, errs := validate(check, resp); !ok {
		for _, e := range errs {
			tr.t.Errorf("%s %s (%d): %s: %s", method, path, resp.StatusCode, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				tr.t.Errorf("    at %s: %s", se.FieldPath, se.Reason)
			}
		}
	}
	var out map[string]any
	json.Unmarshal(got, &out)
	return out
}

// A scripted tour (create a patient, read it, search, find a free slot, hold and book
// it, lose the race for it, and errors)
// validates, request and answer, against the document.
func TestTourValidatesAgainstTheDocument(t *testing.T) {
	srv := apptest.New(t)
	tr := &tour{t: t, srv: srv, v: documentValidator(t),
		token: srv.Token(t, smarttest.Claims{ClientID: "tour", Role: caller.RoleSystem, Scopes: []string{"system/*.cruds"}})}

	tr.send("GET", "/fhir/metadata", nil, http.StatusOK)
	patient := tr.send("POST", "/fhir/Patient", map[string]any{"resourceType": "Patient",
		"name": []any{map[string]any{"family": "Chalmers", "given": []string{"Peter"}}}, "gender": "male", "birthDate": "1974-12-25"}, http.StatusCreated)
	id, _ := patient["id"].(string)
	other := tr.send("POST", "/fhir/Patient", map[string]any{"resourceType": "Patient",
		"name": []any{map[string]any{"family": "Rival", "given": []string{"Rita"}}}}, http.StatusCreated)
	tr.send("GET", "/fhir/Patient/"+id, nil, http.StatusOK)
	tr.send("GET", "/fhir/Patient?family=Chalmers&_count=5", nil, http.StatusOK)
	tr.send("GET", "/fhir/Patient/"+id+"/_history", nil, http.StatusOK)

	dr := tr.send("POST", "/fhir/Practitioner", map[string]any{"resourceType": "Practitioner",
		"name": []any{map[string]any{"family": "Careful", "given": []string{"Adam"}}}}, http.StatusCreated)
	schedule := tr.send("POST", "/fhir/Schedule", map[string]any{"resourceType": "Schedule", "active": true,
		"actor": []any{map[string]any{"reference": "Practitioner/" + dr["id"].(string)}}}, http.StatusCreated)
	tr.send("POST", "/fhir/Slot", map[string]any{"resourceType": "Slot", "status": "free",
		"schedule": map[string]any{"reference": "Schedule/" + schedule["id"].(string)},
		"start":    "2030-01-07T09:00:00Z", "end": "2030-01-07T09:30:00Z"}, http.StatusCreated)
	found := tr.send("GET", "/fhir/Appointment/$find?"+url.Values{"start": {"2030-01-07"}, "end": {"2030-01-08"},
		"practitioner": {"Practitioner/" + dr["id"].(string)}}.Encode(), nil, http.StatusOK)
	if entries, _ := found["entry"].([]any); len(entries) != 1 {
		t.Errorf("$find found %d proposals, want 1", len(entries))
	}

	// Book it: the patient's insurance, $find for them, $hold, $book; then another
	// patient's $hold of the same slot is refused.
	payer := tr.send("POST", "/fhir/Organization", map[string]any{"resourceType": "Organization", "name": "Payer"}, http.StatusCreated)
	for _, who := range []string{id, other["id"].(string)} {
		tr.send("POST", "/fhir/Coverage", map[string]any{"resourceType": "Coverage", "status": "active",
			"beneficiary": map[string]any{"reference": "Patient/" + who},
			"payor":       []any{map[string]any{"reference": "Organization/" + payer["id"].(string)}}}, http.StatusCreated)
	}
	found = tr.send("GET", "/fhir/Appointment/$find?"+url.Values{"start": {"2030-01-07"}, "end": {"2030-01-08"},
		"practitioner": {"Practitioner/" + dr["id"].(string)}, "patient-reference": {"Patient/" + id}}.Encode(), nil, http.StatusOK)
	proposal := found["entry"].([]any)[0].(map[string]any)["resource"]
	held := tr.send("POST", "/fhir/Appointment/$hold", map[string]any{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "appointment-resource", "resource": proposal}}}, http.StatusOK)
	heldID := held["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
	tr.send("POST", "/fhir/Appointment/$book", map[string]any{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "appointment-reference", "valueReference": map[string]any{"reference": "Appointment/" + heldID}}}}, http.StatusOK)
	rival := map[string]any{}
	for k, v := range proposal.(map[string]any) {
		rival[k] = v
	}
	rival["participant"] = []any{
		map[string]any{"actor": map[string]any{"reference": "Patient/" + other["id"].(string)}, "status": "needs-action"},
		map[string]any{"actor": map[string]any{"reference": "Practitioner/" + dr["id"].(string)}, "status": "needs-action"},
	}
	tr.send("POST", "/fhir/Appointment/$hold", map[string]any{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "appointment-resource", "resource": rival}}}, http.StatusConflict)

	tr.send("GET", "/fhir/Patient/no-such-patient", nil, http.StatusNotFound)
	tr.sendBad("POST", "/fhir/Patient", map[string]any{"resourceType": "Patient", "birthDate": "1974-13-45"}, http.StatusBadRequest)
	tr.sendBad("GET", "/fhir/Patient?birthdate=notadate", nil, http.StatusBadRequest)
	tr.send("POST", "/fhir/Appointment/$book", map[string]any{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "appt-id", "valueUri": "Appointment/no-such-appointment"}}}, http.StatusNotFound)
	tr.send("DELETE", "/fhir/Patient/"+id, nil, http.StatusConflict) // still referenced
	gone := tr.send("POST", "/fhir/Patient", map[string]any{"resourceType": "Patient"}, http.StatusCreated)
	tr.send("DELETE", "/fhir/Patient/"+gone["id"].(string), nil, http.StatusNoContent)
	tr.send("GET", "/fhir/Patient/"+gone["id"].(string), nil, http.StatusGone)
}
