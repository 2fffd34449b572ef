package spec_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/careslot/careslot/openapi"
	"github.com/careslot/careslot/openapi/spec"
)

// TestCheckedInDocumentIsCurrent fails when what the server serves changed and
// openapi/openapi.json was not regenerated.
func TestCheckedInDocumentIsCurrent(t *testing.T) {
	got, err := spec.Build()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, openapi.Document) {
		if os.Getenv("CARESLOT_UPDATE_OPENAPI") != "" {
			if err := os.WriteFile("../openapi.json", got, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatal("openapi/openapi.json is not what the server serves now: run `make openapi` and commit the result")
	}
}

// TestDocumentDescribesWhatIsServed checks the document's claims against the server's:
// every product type's interactions and operations, and no operation the server lacks.
func TestDocumentDescribesWhatIsServed(t *testing.T) {
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
			Schemas         map[string]any            `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	for _, want := range []struct{ path, method string }{
		{"/fhir/Patient", "post"}, {"/fhir/Patient", "get"}, {"/fhir/Patient/{id}", "get"}, {"/fhir/Patient/{id}", "put"},
		{"/fhir/Patient/{id}", "delete"}, {"/fhir/Patient/{id}/_history/{vid}", "get"}, {"/fhir/Patient/{id}/_history", "get"},
		{"/fhir/Appointment/$find", "get"}, {"/fhir/Appointment/$find", "post"}, {"/fhir/Appointment/$hold", "post"},
		{"/fhir/Appointment/$book", "post"}, {"/fhir/Schedule/{id}/$generate-slots", "post"}, {"/fhir/metadata", "get"},
		{"/fhir", "post"}, {"/auth/token", "post"}, {"/auth/authorize", "get"}, {"/fhir/.well-known/smart-configuration", "get"},
		{"/openapi.json", "get"},
	} {
		if doc.Paths[want.path][want.method] == nil {
			t.Errorf("%s %s is not described", strings.ToUpper(want.method), want.path)
		}
	}
	// $book changes data: the server refuses GET, so the document must not offer it.
	if doc.Paths["/fhir/Appointment/$book"]["get"] != nil {
		t.Error("GET $book is described, but the server refuses it")
	}
	// PATCH is served on [type]/[id] and [type]?search, and nowhere else.
	if doc.Paths["/fhir/Appointment/{id}"]["patch"] == nil || doc.Paths["/fhir/Appointment"]["patch"] == nil {
		t.Error("PATCH on Appointment is not described")
	}
	for path, item := range doc.Paths {
		if _, ok := item["patch"]; ok && (path == "/fhir" || strings.Contains(path, "$") || strings.Contains(path, "_history")) {
			t.Errorf("PATCH %s is described, but careslot serves PATCH only on [type] and [type]/[id]", path)
		}
	}
	flows, _ := doc.Components.SecuritySchemes["smart"]["flows"].(map[string]any)
	for _, flow := range []string{"authorizationCode", "clientCredentials"} {
		if flows[flow] == nil {
			t.Errorf("the smart scheme has no %s flow", flow)
		}
	}
	for _, s := range []string{"Patient", "Appointment", "Slot", "OperationOutcome", "Bundle", "Parameters", "Reference"} {
		if doc.Components.Schemas[s] == nil {
			t.Errorf("no schema %s", s)
		}
	}
}
