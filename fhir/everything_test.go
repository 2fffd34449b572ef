package fhir_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

// everythingRecord writes a patient's record under ids prefixed by p: three visits a
// year apart (each with an Observation and a Condition of its day), a prescription of a
// Medication, a Coverage; the Patient names a general practitioner and an organization,
// the visits a practitioner and a location. It returns every Type/id that
// Patient/[p]/$everything should answer.
func everythingRecord(t *testing.T, p string) []string {
	t.Helper()
	put := func(typ, id, body string) string {
		t.Helper()
		srv.Must(t, http.StatusCreated, "PUT", typ+"/"+id, body)
		return typ + "/" + id
	}
	var want []string
	want = append(want,
		put("Organization", p+"-org", `{"resourceType":"Organization","id":"`+p+`-org","name":"Clinic `+p+`"}`),
		put("Practitioner", p+"-gp", `{"resourceType":"Practitioner","id":"`+p+`-gp","name":[{"family":"Gp"}]}`),
		put("Practitioner", p+"-doc", `{"resourceType":"Practitioner","id":"`+p+`-doc","name":[{"family":"Doc"}]}`),
		put("Location", p+"-room", `{"resourceType":"Location","id":"`+p+`-room","name":"Room 1"}`),
		put("Medication", p+"-med", `{"resourceType":"Medication","id":"`+p+`-med","code":{"text":"amoxicillin 500 mg"}}`),
		put("Patient", p, `{"resourceType":"Patient","id":"`+p+`","name":[{"family":"Everything"}],"generalPractitioner":[{"reference":"Practitioner/`+p+
			`-gp"}],"managingOrganization":{"reference":"Organization/`+p+`-org"}}`),
		put("Coverage", p+"-cov", `{"resourceType":"Coverage","id":"`+p+`-cov","status":"active","beneficiary":{"reference":"Patient/`+p+
			`"},"payor":[{"reference":"Organization/`+p+`-org"}]}`),
	)
	for i, day := range []string{"2024-01-10", "2024-06-10", "2025-01-10"} {
		enc := fmt.Sprintf("%s-enc%d", p, i)
		want = append(want,
			put("Encounter", enc, `{"resourceType":"Encounter","id":"`+enc+`","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},`+
				`"subject":{"reference":"Patient/`+p+`"},"participant":[{"individual":{"reference":"Practitioner/`+p+`-doc"}}],`+
				`"location":[{"location":{"reference":"Location/`+p+`-room"}}],"period":{"start":"`+day+`T09:00:00Z","end":"`+day+`T09:30:00Z"}}`),
			put("Observation", enc+"-obs", `{"resourceType":"Observation","id":"`+enc+`-obs","status":"final","code":{"text":"weight"},`+
				`"subject":{"reference":"Patient/`+p+`"},"encounter":{"reference":"Encounter/`+enc+`"},"effectiveDateTime":"`+day+`T09:10:00Z",`+
				`"valueQuantity":{"value":70,"unit":"kg"}}`),
			put("Condition", enc+"-cond", `{"resourceType":"Condition","id":"`+enc+`-cond","subject":{"reference":"Patient/`+p+`"},`+
				`"encounter":{"reference":"Encounter/`+enc+`"},"code":{"text":"cough"},"onsetDateTime":"`+day+`"}`),
		)
	}
	want = append(want, put("MedicationRequest", p+"-rx", `{"resourceType":"MedicationRequest","id":"`+p+`-rx","status":"active","intent":"order",`+
		`"medicationReference":{"reference":"Medication/`+p+`-med"},"subject":{"reference":"Patient/`+p+`"},"encounter":{"reference":"Encounter/`+p+`-enc1"},`+
		`"authoredOn":"2024-06-10"}`))
	sort.Strings(want)
	return want
}

// everythingPages walks $everything from path through its next links and returns each
// entry's Type/id in order, and the number of pages.
func everythingPages(t *testing.T, path string, header ...string) ([]string, int) {
	t.Helper()
	var got []string
	pages := 0
	for path != "" {
		pages++
		if pages > 100 {
			t.Fatalf("more than 100 pages")
		}
		b := srv.Must(t, http.StatusOK, "GET", path, nil, header...).JSON(t)
		if b["type"] != "searchset" {
			t.Fatalf("a %v Bundle, want searchset", b["type"])
		}
		entries, _ := b["entry"].([]any)
		for _, e := range entries {
			res := e.(map[string]any)["resource"].(map[string]any)
			got = append(got, fmt.Sprint(res["resourceType"], "/", res["id"]))
		}
		path = ""
		for _, l := range b["link"].([]any) {
			if l := l.(map[string]any); l["relation"] == "next" {
				path = strings.TrimPrefix(l["url"].(string), srv.URL+"/")
			}
		}
	}
	return got, pages
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func TestEverythingPagesEveryResourceOnce(t *testing.T) {
	t.Parallel()
	want := everythingRecord(t, "eva")
	other := everythingRecord(t, "evb") // another patient's record, never in eva's
	for _, count := range []int{1, 4, 7, 100} {
		got, pages := everythingPages(t, fmt.Sprintf("Patient/eva/$everything?_count=%d", count))
		if !slices.Equal(sortedCopy(got), want) {
			t.Fatalf("_count=%d: got %v\nwant %v", count, sortedCopy(got), want)
		}
		if wantPages := (len(want) + count - 1) / count; pages < wantPages || pages > wantPages+1 {
			t.Errorf("_count=%d: %d pages for %d resources", count, pages, len(want))
		}
		if got[0] != "Patient/eva" {
			t.Errorf("_count=%d: the first entry is %s, want the Patient", count, got[0])
		}
		for _, o := range other {
			if slices.Contains(got, o) {
				t.Errorf("_count=%d: %s of another patient is in the record", count, o)
			}
		}
	}
	// POST with a Parameters body answers the same.
	b := srv.Must(t, http.StatusOK, "POST", "Patient/eva/$everything",
		`{"resourceType":"Parameters","parameter":[{"name":"_count","valueInteger":1000}]}`).JSON(t)
	if n := len(b["entry"].([]any)); n != len(want) {
		t.Errorf("POST: %d entries, want %d", n, len(want))
	}
}

func TestEverythingFilters(t *testing.T) {
	t.Parallel()
	all := everythingRecord(t, "evf")
	only := func(keep func(string) bool) []string {
		var out []string
		for _, r := range all {
			if keep(r) {
				out = append(out, r)
			}
		}
		return out
	}
	typeIs := func(types ...string) func(string) bool {
		return func(r string) bool { return slices.Contains(types, strings.Split(r, "/")[0]) }
	}
	for _, c := range []struct {
		name, query string
		want        []string
	}{
		{"_type", "_type=Observation,Practitioner", only(typeIs("Observation", "Practitioner"))},
		{"_type repeated", "_type=Coverage&_type=Medication", only(typeIs("Coverage", "Medication"))},
		// The visits of 2024-06-10 alone, and what has no care date (Patient, Coverage)
		// or is referenced (Practitioner, Organization, Location, Medication).
		{"start and end", "start=2024-06-01&end=2024-12-31", only(func(r string) bool {
			return !strings.Contains(r, "-enc0") && !strings.Contains(r, "-enc2")
		})},
		{"start", "start=2025-01-01&_type=Encounter,Observation,Condition,MedicationRequest", []string{"Condition/evf-enc2-cond", "Encounter/evf-enc2", "Observation/evf-enc2-obs"}},
		{"end", "end=2024-01-31&_type=Encounter", []string{"Encounter/evf-enc0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _ := everythingPages(t, "Patient/evf/$everything?"+c.query)
			if !slices.Equal(sortedCopy(got), c.want) {
				t.Errorf("got %v\nwant %v", sortedCopy(got), c.want)
			}
		})
	}
	t.Run("_since", func(t *testing.T) {
		time.Sleep(10 * time.Millisecond)
		since := time.Now().UTC().Format(time.RFC3339Nano)
		srv.Must(t, http.StatusOK, "PATCH", "Observation/evf-enc1-obs", `[{"op":"replace","path":"/status","value":"amended"}]`, jsonPatch...)
		got, _ := everythingPages(t, "Patient/evf/$everything?_since="+url.QueryEscape(since))
		if want := []string{"Observation/evf-enc1-obs"}; !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestEverythingRefusals(t *testing.T) {
	t.Parallel()
	srv.Must(t, http.StatusCreated, "PUT", "Patient/evr", patient("evr"))
	for _, c := range []struct{ query, expression string }{
		{"foo=1", "foo"},
		{"start=yesterday", "start"},
		{"_since=2024-01-01", "_since"},
		{"_type=Slot", "_type"},
		{"_type=NoSuchType", "_type"},
		{"_count=0", "_count"},
		{"_count=x", "_count"},
		{"_cursor=garbage", "_cursor"},
	} {
		r := srv.Do(t, "GET", "Patient/evr/$everything?"+c.query, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", c.query, r.Status, r.Body)
			continue
		}
		if exp := issue(t, r)["expression"]; fmt.Sprint(exp) != "["+c.expression+"]" {
			t.Errorf("%s: expression %v, want %s", c.query, exp, c.expression)
		}
	}
	srv.Must(t, http.StatusOK, "GET", "Patient/evr/$everything?foo=1", nil, "Prefer", "handling=lenient")
	srv.Must(t, http.StatusNotFound, "GET", "Patient/evr-none/$everything", nil)
	srv.Must(t, http.StatusNoContent, "DELETE", "Patient/evr", nil)
	srv.Must(t, http.StatusGone, "GET", "Patient/evr/$everything", nil)
}

// A patient gets their own record, and another's is not there for them; what the
// policy hides from a caller is not in their $everything either.
func TestEverythingAccess(t *testing.T) {
	t.Parallel()
	want := everythingRecord(t, "evp")
	srv.Must(t, http.StatusCreated, "PUT", "Patient/evq", patient("evq"))
	own := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "evp", "patient/*.rs")))
	got, _ := everythingPages(t, "Patient/evp/$everything?_count=5", own...)
	if !slices.Equal(sortedCopy(got), want) {
		t.Errorf("the patient's own record: got %v\nwant %v", sortedCopy(got), want)
	}
	srv.Must(t, http.StatusNotFound, "GET", "Patient/evq/$everything", nil, own...)
	// Patient/$everything is the token's patient's record, paged at the type level.
	got, pages := everythingPages(t, "Patient/$everything?_count=6", own...)
	if !slices.Equal(sortedCopy(got), want) || pages < 3 {
		t.Errorf("Patient/$everything with the patient's token (%d pages): got %v\nwant %v", pages, sortedCopy(got), want)
	}
	if r := srv.Do(t, "GET", "Patient/$everything", nil); r.Status != http.StatusBadRequest {
		t.Errorf("Patient/$everything without a patient in context: %d %s", r.Status, r.Body)
	}
	// Audited like a search: an AuditEvent names the patient and the query, the refusal too.
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := string(srv.Must(t, http.StatusOK, "GET", "AuditEvent?entity=Patient/evp&subtype=operation&_count=100", nil).Body)
		refused := string(srv.Must(t, http.StatusOK, "GET", "AuditEvent?entity=Patient/evq&subtype=operation&outcome=4&_count=100", nil).Body)
		if strings.Contains(body, `"description":"GET /fhir/Patient/evp/$everything?_count=5"`) && strings.Contains(refused, "Patient/evq/$everything") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no AuditEvents of $everything: %.2000s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Scopes on Observations alone: the Patient and its Observations, nothing else.
	obsOnly := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "evp", "patient/Patient.rs", "patient/Observation.rs")))
	got, _ = everythingPages(t, "Patient/evp/$everything", obsOnly...)
	if want := []string{"Observation/evp-enc0-obs", "Observation/evp-enc1-obs", "Observation/evp-enc2-obs", "Patient/evp"}; !slices.Equal(sortedCopy(got), want) {
		t.Errorf("with Patient and Observation scopes: got %v, want %v", sortedCopy(got), want)
	}
	// Without read on Patient, no $everything at all.
	noPatient := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "evp", "patient/Observation.rs")))
	srv.Must(t, http.StatusForbidden, "GET", "Patient/evp/$everything", nil, noPatient...)
	srv.Must(t, http.StatusUnauthorized, "GET", "Patient/evp/$everything", nil, apptest.Anonymous()...)
}

func TestEverythingIsDefinedAndListed(t *testing.T) {
	t.Parallel()
	def := srv.Must(t, http.StatusOK, "GET", "OperationDefinition/everything", nil).JSON(t)
	if def["code"] != "everything" || def["instance"] != true {
		t.Errorf("OperationDefinition/everything: %v", def)
	}
	cs := srv.Must(t, http.StatusOK, "GET", "metadata", nil).Body
	if !strings.Contains(string(cs), `"name":"everything"`) {
		t.Errorf("the CapabilityStatement does not list $everything")
	}
}
