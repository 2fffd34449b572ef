package fhir_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// opIssue returns the first issue of an OperationOutcome answer.
func opIssue(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var oo struct {
		ResourceType string           `json:"resourceType"`
		Issue        []map[string]any `json:"issue"`
	}
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
		t.Fatalf("not an OperationOutcome: %s", body)
	}
	return oo.Issue[0]
}

// TestOperationsRefuseUnknownParameters: every operation refuses a parameter it does not
// take, in the query or in a Parameters body, with a 400 that names it; Prefer:
// handling=lenient has it ignored instead.
func TestOperationsRefuseUnknownParameters(t *testing.T) {
	sch := r2Schedule(t, "unknown-params")
	cases := []struct {
		method, path string
		lenient      int // the status once the unknown parameter is ignored
	}{
		{"POST", "Schedule/" + sch + "/$generate-slots?start=2030-01-07&end=2030-01-08&slot-length=30", http.StatusOK},
		{"GET", "Appointment/$find?start=2030-01-07&end=2030-01-08", http.StatusOK},
		{"POST", "Appointment/$hold?appointment-reference=Appointment/none", http.StatusNotFound},
		{"POST", "Appointment/$book?appointment-reference=Appointment/none", http.StatusNotFound},
		{"GET", "Subscription/none/$status", http.StatusNotFound},
		{"GET", "Subscription/none/$events", http.StatusNotFound},
	}
	for _, tc := range cases {
		sep := "?"
		if strings.Contains(tc.path, "?") {
			sep = "&"
		}
		op := tc.path[strings.Index(tc.path, "$"):]
		if i := strings.Index(op, "?"); i > 0 {
			op = op[:i]
		}
		t.Run(op, func(t *testing.T) {
			r := srv.Do(t, tc.method, tc.path+sep+"location-refrence=Location/1", nil)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("unknown query parameter: %d, want 400: %s", r.Status, r.Body)
			}
			is := opIssue(t, r.Body)
			if !strings.Contains(is["diagnostics"].(string), `"location-refrence"`) || is["code"] != "not-supported" {
				t.Errorf("the refusal does not name the parameter: %v", is)
			}
			if exp, _ := is["expression"].([]any); len(exp) != 1 || exp[0] != "location-refrence" {
				t.Errorf("expression %v, want the parameter", is["expression"])
			}
			if r := srv.Do(t, tc.method, tc.path+sep+"location-refrence=Location/1", nil, "Prefer", "handling=lenient"); r.Status != tc.lenient {
				t.Errorf("lenient: %d, want %d: %s", r.Status, tc.lenient, r.Body)
			}
		})
	}
	t.Run("in a Parameters body", func(t *testing.T) {
		body := `{"resourceType":"Parameters","parameter":[{"name":"start","valueDateTime":"2030-01-07"},
			{"name":"end","valueDateTime":"2030-01-08"},{"name":"organisation","valueReference":{"reference":"Organization/1"}}]}`
		r := srv.Do(t, "POST", "Appointment/$find", body)
		if r.Status != http.StatusBadRequest {
			t.Fatalf("unknown body parameter: %d, want 400: %s", r.Status, r.Body)
		}
		is := opIssue(t, r.Body)
		if !strings.Contains(is["diagnostics"].(string), `"organisation"`) {
			t.Errorf("the refusal does not name the parameter: %v", is)
		}
		if exp, _ := is["expression"].([]any); len(exp) != 1 || exp[0] != "Parameters.parameter[2].name" {
			t.Errorf("expression %v, want Parameters.parameter[2].name", is["expression"])
		}
		srv.Must(t, http.StatusOK, "POST", "Appointment/$find", body, "Prefer", "handling=lenient")
	})
	t.Run("general parameters", func(t *testing.T) {
		srv.Must(t, http.StatusOK, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&_format=json&_pretty=true", nil)
		if r := srv.Do(t, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&_sort=start", nil); r.Status != http.StatusBadRequest {
			t.Errorf("_sort on $find: %d, want 400", r.Status)
		}
	})
}

// TestOperationDefinitionsListTheirParameters: the OperationDefinitions the
// CapabilityStatement points at list exactly the parameters each scheduling operation
// takes (IHE ITI Scheduling's names; the aliases are documented, not listed).
func TestOperationDefinitionsListTheirParameters(t *testing.T) {
	want := map[string]string{
		"find": "in start, in end, in specialty, in visit-type, in practitioner, in organization, in location-string, in location-reference, " +
			"in patient-reference, in patient-resource, in insurance-reference, in referral-identifier, in _count, out return",
		"hold":           "in appointment-reference, in appointment-resource, out return",
		"book":           "in appointment-reference, in appointment-resource, in cancelled-appt-id, in comment, out return",
		"generate-slots": "in start, in end, in slot-length, in service-type, in timezone, out return",
	}
	cs := srv.Must(t, http.StatusOK, "GET", "metadata", nil).JSON(t)
	listed := map[string]bool{}
	for _, res := range cs["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		ops, _ := res.(map[string]any)["operation"].([]any)
		for _, op := range ops {
			listed[op.(map[string]any)["name"].(string)] = true
		}
	}
	for name, params := range want {
		if !listed[name] {
			t.Errorf("$%s is not in the CapabilityStatement", name)
		}
		var def struct {
			Parameter []struct{ Name, Use string } `json:"parameter"`
		}
		if err := json.Unmarshal(srv.Must(t, http.StatusOK, "GET", "OperationDefinition/"+name, nil).Body, &def); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range def.Parameter {
			got = append(got, p.Use+" "+p.Name)
		}
		if strings.Join(got, ", ") != params {
			t.Errorf("OperationDefinition/%s lists %s\nwant %s", name, strings.Join(got, ", "), params)
		}
	}
}
