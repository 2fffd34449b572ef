package fhir_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// jsonPatch is the Content-Type of a JSON Patch request.
var jsonPatch = []string{"Content-Type", "application/json-patch+json"}

func withHeaders(extra ...string) []string { return append(append([]string{}, jsonPatch...), extra...) }

// The RFC 6902 operations on a stored Patient: each answers 200 with the new version,
// which reads back as patched.
func TestJSONPatchOperations(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/jp-ops", patient("jp-ops"))
	r := srv.Must(t, http.StatusOK, "PATCH", "Patient/jp-ops", `[
	 {"op":"test","path":"/name/0/family","value":"Chalmers"},
	 {"op":"replace","path":"/name/0/family","value":"Chalmer"},
	 {"op":"add","path":"/name/0/given/-","value":"Jim"},
	 {"op":"remove","path":"/active"},
	 {"op":"copy","from":"/name/0","path":"/name/-"},
	 {"op":"move","from":"/birthDate","path":"/deceasedDateTime"},
	 {"op":"add","path":"/meta/tag","value":[{"system":"http://example.org","code":"patched"}]}]`, jsonPatch...)
	if r.Header.Get("ETag") != `W/"2"` {
		t.Errorf("ETag %q, want W/\"2\"", r.Header.Get("ETag"))
	}
	got := srv.Must(t, http.StatusOK, "GET", "Patient/jp-ops", nil).JSON(t)
	names := got["name"].([]any)
	first := names[0].(map[string]any)
	if first["family"] != "Chalmer" || len(first["given"].([]any)) != 3 || len(names) != 2 {
		t.Errorf("name not patched: %v", names)
	}
	if _, ok := got["active"]; ok || got["birthDate"] != nil || got["deceasedDateTime"] != "1974-12-25" {
		t.Errorf("remove/move not applied: %v", got)
	}
	meta := got["meta"].(map[string]any)
	if meta["versionId"] != "2" || meta["tag"] == nil {
		t.Errorf("meta %v: want version 2 with the tag", meta)
	}
}

// Refusals: each leaves the resource at version 1.
func TestJSONPatchRefusals(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/jp-bad", patient("jp-bad"))
	cases := []struct {
		name, path, body string
		header           []string
		status           int
		expression       string
	}{
		{"failing test op", "Patient/jp-bad", `[{"op":"test","path":"/gender","value":"female"},{"op":"replace","path":"/gender","value":"other"}]`, jsonPatch, 422, ""},
		{"test op on a missing path", "Patient/jp-bad", `[{"op":"test","path":"/deceasedBoolean","value":true}]`, jsonPatch, 422, ""},
		{"replace a missing path", "Patient/jp-bad", `[{"op":"replace","path":"/maritalStatus/text","value":"x"}]`, jsonPatch, 422, ""},
		{"index out of range", "Patient/jp-bad", `[{"op":"add","path":"/name/5","value":{"family":"X"}}]`, jsonPatch, 422, ""},
		{"change id", "Patient/jp-bad", `[{"op":"replace","path":"/id","value":"other"}]`, jsonPatch, 422, "Patient.id"},
		{"remove id", "Patient/jp-bad", `[{"op":"remove","path":"/id"}]`, jsonPatch, 422, "Patient.id"},
		{"change resourceType", "Patient/jp-bad", `[{"op":"replace","path":"/resourceType","value":"Practitioner"}]`, jsonPatch, 422, "resourceType"},
		{"replace the whole document", "Patient/jp-bad", `[{"op":"replace","path":"","value":[1]}]`, jsonPatch, 422, ""},
		{"invalid result: bad code", "Patient/jp-bad", `[{"op":"replace","path":"/gender","value":"robot"}]`, jsonPatch, 400, "Patient.gender"},
		{"invalid result: unknown element", "Patient/jp-bad", `[{"op":"add","path":"/hairColour","value":"red"}]`, jsonPatch, 400, "Patient.hairColour"},
		{"invalid result: wrong type", "Patient/jp-bad", `[{"op":"replace","path":"/active","value":"yes"}]`, jsonPatch, 400, "Patient.active"},
		{"test without a value (the library panicked)", "Patient/jp-bad", `[{"op":"test","path":""}]`, jsonPatch, 400, ""},
		{"unknown op", "Patient/jp-bad", `[{"op":"delete","path":"/active"}]`, jsonPatch, 400, ""},
		{"no path", "Patient/jp-bad", `[{"op":"remove"}]`, jsonPatch, 400, ""},
		{"add without value", "Patient/jp-bad", `[{"op":"add","path":"/active"}]`, jsonPatch, 400, ""},
		{"not an array", "Patient/jp-bad", `{"op":"remove","path":"/active"}`, jsonPatch, 400, ""},
		{"not JSON", "Patient/jp-bad", `[{"op":`, jsonPatch, 400, ""},
		{"FHIR XML body", "Patient/jp-bad", `<Parameters/>`, []string{"Content-Type", "application/fhir+xml"}, 415, ""},
		{"FHIR JSON body that is no Parameters", "Patient/jp-bad", `[]`, []string{"Content-Type", "application/fhir+json"}, 400, ""},
		{"stale If-Match", "Patient/jp-bad", `[{"op":"replace","path":"/active","value":false}]`, withHeaders("If-Match", `W/"7"`), 412, ""},
		{"unknown resource", "Patient/jp-nobody", `[{"op":"replace","path":"/active","value":false}]`, jsonPatch, 404, ""},
		{"unknown type", "Spaceship/jp-bad", `[]`, jsonPatch, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := srv.Do(t, "PATCH", c.path, c.body, c.header...)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if c.expression != "" && expression(t, r) != c.expression {
				t.Errorf("expression %q, want %q", expression(t, r), c.expression)
			}
			issue(t, r)
		})
	}
	got := srv.Must(t, http.StatusOK, "GET", "Patient/jp-bad", nil).JSON(t)
	if v := got["meta"].(map[string]any)["versionId"]; v != "1" {
		t.Errorf("a refused patch wrote version %v", v)
	}
}

// If-Match naming the current version lets the patch through; a deleted resource is 410.
func TestJSONPatchIfMatchAndDeleted(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/jp-match", patient("jp-match"))
	srv.Must(t, http.StatusOK, "PATCH", "Patient/jp-match", `[{"op":"replace","path":"/active","value":false}]`, withHeaders("If-Match", `W/"1"`)...)
	srv.Must(t, http.StatusPreconditionFailed, "PATCH", "Patient/jp-match", `[{"op":"replace","path":"/active","value":true}]`, withHeaders("If-Match", `W/"1"`)...)
	srv.Must(t, http.StatusNoContent, "DELETE", "Patient/jp-match", nil)
	srv.Must(t, http.StatusGone, "PATCH", "Patient/jp-match", `[{"op":"replace","path":"/active","value":true}]`, jsonPatch...)
}

// The rules of an update hold for a patch: an Appointment's end may not go before its start.
func TestJSONPatchKeepsRules(t *testing.T) {
	appt := `{"resourceType":"Appointment","id":"jp-appt","status":"proposed","start":"2030-01-01T09:00:00Z","end":"2030-01-01T09:30:00Z","participant":[{"status":"needs-action","type":[{"text":"x"}]}]}`
	srv.Must(t, http.StatusCreated, "PUT", "Appointment/jp-appt", appt)
	r := srv.Must(t, http.StatusUnprocessableEntity, "PATCH", "Appointment/jp-appt", `[{"op":"replace","path":"/end","value":"2030-01-01T08:00:00Z"}]`, jsonPatch...)
	if expression(t, r) != "Appointment.end" {
		t.Errorf("expression %q, want Appointment.end", expression(t, r))
	}
	// The IHE/Argonaut way to cancel: patch the status.
	got := srv.Must(t, http.StatusOK, "PATCH", "Appointment/jp-appt", `[{"op":"replace","path":"/status","value":"cancelled"}]`, jsonPatch...).JSON(t)
	if got["status"] != "cancelled" {
		t.Errorf("status %v, want cancelled", got["status"])
	}
}

// Conditional patch: one match is patched, none is 404, several 412.
func TestConditionalJSONPatch(t *testing.T) {
	for _, id := range []string{"jp-cond-1", "jp-cond-2", "jp-cond-3"} {
		body := strings.Replace(patient(id), `"active":true`, `"active":true,"identifier":[{"system":"http://jp.example","value":"`+id+`"}]`, 1)
		if id != "jp-cond-1" {
			body = strings.Replace(body, `"value":"`+id+`"`, `"value":"shared"`, 1)
		}
		srv.Must(t, http.StatusCreated, "PUT", "Patient/"+id, body)
	}
	op := `[{"op":"replace","path":"/active","value":false}]`
	got := srv.Must(t, http.StatusOK, "PATCH", "Patient?identifier=http://jp.example|jp-cond-1", op, jsonPatch...).JSON(t)
	if got["id"] != "jp-cond-1" || got["active"] != false {
		t.Errorf("conditional patch answered %v", got)
	}
	srv.Must(t, http.StatusNotFound, "PATCH", "Patient?identifier=http://jp.example|nobody", op, jsonPatch...)
	srv.Must(t, http.StatusPreconditionFailed, "PATCH", "Patient?identifier=http://jp.example|shared", op, jsonPatch...)
	srv.Must(t, http.StatusBadRequest, "PATCH", "Patient", op, jsonPatch...)
}

func binaryPatch(ops string) string {
	return fmt.Sprintf(`{"resourceType":"Binary","contentType":"application/json-patch+json","data":%q}`,
		base64.StdEncoding.EncodeToString([]byte(ops)))
}

// In a transaction, a PATCH entry carries its patch as a Binary; a failing one rolls
// back the whole transaction. In a batch, it fails alone.
func TestJSONPatchInBundles(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/jp-tx", patient("jp-tx"))
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":` + binaryPatch(`[{"op":"replace","path":"/gender","value":"female"}]`) + `,"request":{"method":"PATCH","url":"Patient/jp-tx","ifMatch":"W/\"1\""}},
	 {"resource":` + patient("jp-tx-new") + `,"request":{"method":"PUT","url":"Patient/jp-tx-new"}}]}`
	out := srv.Must(t, http.StatusOK, "POST", "", tx).JSON(t)
	if s := out["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)["status"]; !strings.HasPrefix(s.(string), "200") {
		t.Errorf("patch entry status %v", s)
	}
	if g := srv.Must(t, http.StatusOK, "GET", "Patient/jp-tx", nil).JSON(t)["gender"]; g != "female" {
		t.Errorf("gender %v after the transaction", g)
	}

	failing := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":` + patient("jp-tx-never") + `,"request":{"method":"PUT","url":"Patient/jp-tx-never"}},
	 {"resource":` + binaryPatch(`[{"op":"test","path":"/gender","value":"male"},{"op":"replace","path":"/gender","value":"other"}]`) + `,"request":{"method":"PATCH","url":"Patient/jp-tx"}}]}`
	r := srv.Must(t, http.StatusUnprocessableEntity, "POST", "", failing)
	if ex := expression(t, r); !strings.HasPrefix(ex, "Bundle.entry[1]") {
		t.Errorf("expression %q, want the PATCH entry", ex)
	}
	srv.Must(t, http.StatusNotFound, "GET", "Patient/jp-tx-never", nil)

	notBinary := `{"resourceType":"Bundle","type":"batch","entry":[
	 {"resource":` + patient("jp-tx") + `,"request":{"method":"PATCH","url":"Patient/jp-tx"}},
	 {"resource":` + binaryPatch(`[{"op":"replace","path":"/active","value":false}]`) + `,"request":{"method":"PATCH","url":"Patient/jp-tx"}}]}`
	entries := srv.Must(t, http.StatusOK, "POST", "", notBinary).JSON(t)["entry"].([]any)
	for i, want := range []string{"400", "200"} {
		if s := entries[i].(map[string]any)["response"].(map[string]any)["status"].(string); !strings.HasPrefix(s, want) {
			t.Errorf("batch entry %d: status %s, want %s", i, s, want)
		}
	}
}
