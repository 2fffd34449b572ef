package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/careslot/careslot/app/apptest"
)

// TestPathsOutsideTheAPIAreFHIRErrors: a path outside /fhir and the booking UI's files
// (also one that /fhir/.. cleans to) is a 404 OperationOutcome, not Go's plain-text page.
func TestPathsOutsideTheAPIAreFHIRErrors(t *testing.T) {
	srv := apptest.New(t)
	for _, path := range []string{"/nowhere", "/fhir/../nowhere", "/index.htm", "/vendor/", "/vendor/bootstrap/"} {
		resp, err := http.Get(srv.HTTP.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var oo struct{ ResourceType string }
		json.Unmarshal(body, &oo)
		if resp.StatusCode != http.StatusNotFound || oo.ResourceType != "OperationOutcome" {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
}
