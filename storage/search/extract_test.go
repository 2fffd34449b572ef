package search

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/r4examples"
)

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := r4examples.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allExamples is every official example; the test fails when there is none.
func allExamples(t testing.TB) []r4examples.Example {
	t.Helper()
	all, err := r4examples.All()
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestExtractKnownValues checks index values against what the official examples say,
// read by hand from the example files.
func TestExtractKnownValues(t *testing.T) {
	reg := Definitions()
	pat := reg.Extract("Patient", readExample(t, "Patient-example.json"))
	wantString(t, pat, "Patient.family", "chalmers", "Chalmers")
	wantString(t, pat, "Patient.given", "peter", "Peter")
	wantString(t, pat, "Patient.address-city", "pleasantville", "PleasantVille")
	wantToken(t, pat, TokenRow{SP: "Patient.identifier", System: "urn:oid:1.2.36.146.595.217.0.1", Code: "12345"})
	wantToken(t, pat, TokenRow{SP: "Patient.identifier:of-type", System: "http://terminology.hl7.org/CodeSystem/v2-0203", Code: "MR", Text: "12345"})
	wantToken(t, pat, TokenRow{SP: "Patient.gender", Code: "male"})
	wantToken(t, pat, TokenRow{SP: "Patient.active", Code: "true"})
	wantToken(t, pat, TokenRow{SP: "Patient.phone", System: "phone", Code: "(03) 5555 6473"})
	wantRef(t, pat, ReferenceRow{SP: "Patient.organization", Type: "Organization", ID: "1"})
	wantDate(t, pat, "Patient.birthdate", "1974-12-25T00:00:00Z", "1974-12-25T23:59:59.999999Z")

	appt := reg.Extract("Appointment", readExample(t, "Appointment-example.json"))
	wantRef(t, appt, ReferenceRow{SP: "Appointment.patient", Type: "Patient", ID: "example"})
	wantRef(t, appt, ReferenceRow{SP: "Appointment.practitioner", Type: "Practitioner", ID: "example"})
	wantRef(t, appt, ReferenceRow{SP: "Appointment.actor", Type: "Patient", ID: "example"})
	wantRef(t, appt, ReferenceRow{SP: "Appointment.location", Type: "Location", ID: "1"})
	for _, r := range appt.References {
		if r.SP == "Appointment.patient" && r.Type != "Patient" {
			t.Errorf("Appointment.patient indexes a %s: where(resolve() is Patient) not applied", r.Type)
		}
	}
	wantDate(t, appt, "Appointment.date", "2013-12-10T09:00:00Z", "2013-12-10T09:00:00.999999Z")
	wantToken(t, appt, TokenRow{SP: "Appointment.status", Code: "booked"})

	obs := reg.Extract("Observation", readExample(t, "Observation-example.json"))
	wantToken(t, obs, TokenRow{SP: "Observation.code", System: "http://loinc.org", Code: "29463-7", Text: "body weight"})
	found := false
	for _, q := range obs.Quantities {
		if q.SP == "Observation.value-quantity" && q.Low == "185" && q.Code == "[lb_av]" && q.System == "http://unitsofmeasure.org" {
			found = true
		}
	}
	if !found {
		t.Errorf("Observation.value-quantity 185 [lb_av] missing: %+v", obs.Quantities)
	}
	found = false
	for _, c := range obs.Composites {
		if c.SP == "Observation.code-value-quantity" && c.C1Code == "29463-7" && c.C2Low != nil && *c.C2Low == "185" {
			found = true
		}
	}
	if !found {
		t.Errorf("Observation.code-value-quantity (29463-7, 185) missing: %+v", obs.Composites)
	}
	wantDate(t, obs, "Observation.date", "2016-03-28T00:00:00Z", "2016-03-28T23:59:59.999999Z")
}

// TestExtractEveryExample runs extraction over every official example of the product
// types: it must not panic, and the common _tag/_profile/_security rows must carry the type.
func TestExtractEveryExample(t *testing.T) {
	reg := Definitions()
	n := 0
	for _, e := range allExamples(t) {
		if !reg.Searchable(e.Type) {
			continue
		}
		rows := reg.Extract(e.Type, e.Body)
		for _, r := range rows.Tokens {
			if !strings.HasPrefix(r.SP, e.Type+".") {
				t.Errorf("%s: token row %q is not of its type", e.File, r.SP)
			}
		}
		n++
	}
	if n < 150 {
		t.Errorf("only %d examples of the product types were indexed", n)
	}
}

func wantString(t *testing.T, rows *Rows, sp, value, exact string) {
	t.Helper()
	if !slices.Contains(rows.Strings, StringRow{SP: sp, Value: value, Exact: exact}) {
		t.Errorf("missing string %s=%q (%q); have %v", sp, value, exact, filter(rows.Strings, func(r StringRow) bool { return r.SP == sp }))
	}
}

func wantToken(t *testing.T, rows *Rows, want TokenRow) {
	t.Helper()
	for _, r := range rows.Tokens {
		if r.SP == want.SP && r.System == want.System && r.Code == want.Code && (want.Text == "" || r.Text == want.Text) {
			return
		}
	}
	t.Errorf("missing token %+v; have %v", want, filter(rows.Tokens, func(r TokenRow) bool { return r.SP == want.SP }))
}

func wantRef(t *testing.T, rows *Rows, want ReferenceRow) {
	t.Helper()
	for _, r := range rows.References {
		if r.SP == want.SP && r.Type == want.Type && r.ID == want.ID {
			return
		}
	}
	t.Errorf("missing reference %+v; have %v", want, filter(rows.References, func(r ReferenceRow) bool { return r.SP == want.SP }))
}

func wantDate(t *testing.T, rows *Rows, sp, low, high string) {
	t.Helper()
	l, _ := time.Parse(time.RFC3339Nano, low)
	h, _ := time.Parse(time.RFC3339Nano, high)
	for _, r := range rows.Dates {
		if r.SP == sp && r.Low.Equal(l) && r.High.Equal(h) {
			return
		}
	}
	t.Errorf("missing date %s [%s, %s]; have %v", sp, low, high, filter(rows.Dates, func(r DateRow) bool { return r.SP == sp }))
}

func filter[T any](in []T, keep func(T) bool) []T {
	var out []T
	for _, v := range in {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
