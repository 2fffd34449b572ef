package fhir_test

import (
	"net/http"
	"testing"
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
