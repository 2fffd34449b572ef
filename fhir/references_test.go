package fhir_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAbsoluteReferencesToThisServer: a reference written as an absolute URL under this
// server's base is held to the same rules as the relative one, and stored as it.
func TestAbsoluteReferencesToThisServer(t *testing.T) {
	obs := func(id, ref string) string {
		return `{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"weight"},` +
			`"subject":{"reference":"` + ref + `"},"valueQuantity":{"value":80.50,"unit":"kg"}}`
	}
	r := srv.Must(t, http.StatusUnprocessableEntity, "PUT", "Observation/abs-missing", obs("abs-missing", srv.URL+"/Patient/abs-nobody"))
	if got := issue(t, r)["code"]; got != "not-found" {
		t.Errorf("absolute reference to a missing patient: code %v, want not-found", got)
	}

	srv.Must(t, http.StatusCreated, "PUT", "Patient/abs-1", patient("abs-1"))
	body := srv.Must(t, http.StatusCreated, "PUT", "Observation/abs-ok", obs("abs-ok", srv.URL+"/Patient/abs-1")).Body
	if !strings.Contains(string(body), `"reference":"Patient/abs-1"`) || !strings.Contains(string(body), `"value":80.50`) {
		t.Errorf("stored as %s, want the reference Patient/abs-1 and the value 80.50 as sent", body)
	}
	srv.Must(t, http.StatusConflict, "DELETE", "Patient/abs-1", nil) // now referenced

	elsewhere := "http://other.example.org/fhir/Patient/abs-1"
	body = srv.Must(t, http.StatusCreated, "PUT", "Observation/abs-elsewhere", obs("abs-elsewhere", elsewhere)).Body
	if !strings.Contains(string(body), elsewhere) {
		t.Errorf("a reference to another server was changed: %s", body)
	}
}
