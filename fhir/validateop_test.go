package fhir_test

import (
	"net/http"
	"strings"
	"testing"
)

// validateAnswer is the severity and expression of the first issue of a $validate answer.
func validateAnswer(t *testing.T, r interface {
	JSON(testing.TB) map[string]any
}) (string, string) {
	t.Helper()
	oo := r.JSON(t)
	if oo["resourceType"] != "OperationOutcome" {
		t.Fatalf("want an OperationOutcome, got %v", oo)
	}
	is := oo["issue"].([]any)[0].(map[string]any)
	ex, _ := is["expression"].([]any)
	first := ""
	if len(ex) > 0 {
		first = ex[0].(string)
	}
	return is["severity"].(string), first
}

func TestValidateModes(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/val-p", patient("val-p"))
	badAppt := `{"resourceType":"Appointment","status":"proposed","start":"2030-01-01T10:00:00Z","end":"2030-01-01T09:00:00Z","participant":[{"status":"needs-action","type":[{"text":"x"}]}]}`
	params := func(mode, resource string) string {
		p := `{"resourceType":"Parameters","parameter":[{"name":"mode","valueCode":"` + mode + `"}`
		if resource != "" {
			p += `,{"name":"resource","resource":` + resource + `}`
		}
		return p + `]}`
	}
	cases := []struct {
		name, path, body string
		severity, at     string
	}{
		{"create, bare, valid", "Patient/$validate", patient("ignored"), "information", ""},
		{"create, Parameters, valid", "Patient/$validate", params("create", patient("ignored")), "information", ""},
		{"create, bad code", "Patient/$validate", strings.Replace(patient("x"), `"male"`, `"robot"`, 1), "error", "Patient.gender"},
		{"create, rule broken", "Appointment/$validate", badAppt, "error", "Appointment.end"},
		{"create, dangling reference", "Observation/$validate",
			`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/val-nobody"}}`, "error", "Observation.subject"},
		{"update, valid", "Patient/val-p/$validate", params("update", patient("val-p")), "information", ""},
		{"update, id mismatch", "Patient/val-p/$validate", params("update", patient("other")), "error", "Patient.id"},
		{"delete, free", "Patient/val-p/$validate", params("delete", ""), "information", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := srv.Must(t, http.StatusOK, "POST", c.path, c.body)
			sev, at := validateAnswer(t, r)
			if sev != c.severity || (c.at != "" && at != c.at) {
				t.Errorf("severity %s at %q, want %s at %q: %s", sev, at, c.severity, c.at, r.Body)
			}
		})
	}
	// Nothing was written: the Patient is at version 1 and no Appointment was created.
	got := srv.Must(t, http.StatusOK, "GET", "Patient/val-p", nil).JSON(t)
	if v := got["meta"].(map[string]any)["versionId"]; v != "1" {
		t.Errorf("$validate wrote version %v", v)
	}
	if n := srv.Must(t, http.StatusOK, "GET", "Patient?_id=val-p&_summary=count", nil).JSON(t)["total"]; n != float64(1) {
		t.Errorf("total %v", n)
	}
}

func TestValidateDeleteOfReferenced(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/val-ref", patient("val-ref"))
	srv.Must(t, http.StatusCreated, "PUT", "Observation/val-ref-obs",
		`{"resourceType":"Observation","id":"val-ref-obs","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/val-ref"}}`)
	r := srv.Must(t, http.StatusOK, "POST", "Patient/val-ref/$validate?mode=delete", nil)
	if sev, _ := validateAnswer(t, r); sev != "error" {
		t.Errorf("deleting a referenced Patient validated: %s", r.Body)
	}
	srv.Must(t, http.StatusOK, "GET", "Patient/val-ref", nil)
}

func TestValidateRefusals(t *testing.T) {
	for _, c := range []struct {
		name, path, body string
		status           int
	}{
		{"create on an instance", "Patient/val-x/$validate?mode=create", patient("val-x"), 400},
		{"update on the type", "Patient/$validate?mode=update", patient("val-x"), 400},
		{"unknown mode", "Patient/$validate?mode=upsert", patient("val-x"), 400},
		{"no resource", "Patient/$validate", "", 400},
		{"profile", "Patient/$validate?profile=http://x", patient("val-x"), 400},
		{"delete of nothing", "Patient/val-nobody/$validate?mode=delete", "", 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := srv.Do(t, "POST", c.path, body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			issue(t, r)
		})
	}
}
