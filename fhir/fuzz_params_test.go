package fhir

// Fuzz test of the operation parameters parser ($find, $hold, $book, $generate-slots).
// `go test` runs the seed corpus in testdata/fuzz/FuzzParameters; `make fuzz` runs it
// with -fuzz for a while.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// operationParamNames are the parameters the scheduling operations read.
var operationParamNames = []string{"start", "end", "slot-length", "slotLength", "service-type", "visit-type", "timezone",
	"practitioner", "provider", "specialty", "patient", "_count", "appt-id", "appointment-reference"}

// FuzzParameters: an operation call with any query string and any body either gives its
// parameters or is refused with a 4xx *fhirerr.Error; so does every read of them that
// the operations make, and a resource parameter is always valid JSON.
func FuzzParameters(f *testing.F) {
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{cfg: Config{BaseURL: "http://fuzz.example/fhir", MaxBodyBytes: 1 << 20}, validator: v}
	f.Add("", []byte(`{"resourceType":"Parameters","parameter":[{"name":"start","valueDate":"2030-01-07"},`+
		`{"name":"end","valueDateTime":"2030-01-14T00:00:00Z"},{"name":"slot-length","valueInteger":30}]}`))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		r, err := http.NewRequest(http.MethodPost, "http://fuzz.example/fhir/Appointment/$find?"+query, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		r.Header.Set("Content-Type", "application/fhir+json")
		p, err := s.readParams(httptest.NewRecorder(), r)
		if err != nil {
			requireClientError(t, err)
			return
		}
		for _, name := range operationParamNames {
			if _, err := p.get(name); err != nil {
				requireClientError(t, err)
			}
			if _, err := p.instant(name, false); err != nil {
				requireClientError(t, err)
			}
		}
		if _, _, err := p.period(); err != nil {
			requireClientError(t, err)
		}
		if _, _, err := p.first("slot-length", "slotLength"); err != nil {
			requireClientError(t, err)
		}
		raw, err := p.resource("appt-resource", "appointment-resource")
		if err != nil {
			requireClientError(t, err)
		} else if raw != nil && !json.Valid(raw) {
			t.Fatalf("the resource parameter is not JSON: %s", raw)
		}
	})
}

// requireClientError fails unless err is a 4xx *fhirerr.Error with a code and a diagnostic.
func requireClientError(t *testing.T, err error) {
	t.Helper()
	fe, ok := fhirerr.As(err)
	if !ok {
		t.Fatalf("refused with %T, not a *fhirerr.Error: %v", err, err)
	}
	if fe.Status() < 400 || fe.Status() > 499 || fe.Code == "" || strings.TrimSpace(fe.Diagnostics) == "" {
		t.Fatalf("refusal is not a 4xx with a code and a diagnostic: %+v", fe)
	}
}

// TestDurationMinutes: a Duration parameter is a whole number of minutes or a 400, never
// a silently truncated or overflowed one (90 s was 1 minute, 1e300 min was -2^63).
func TestDurationMinutes(t *testing.T) {
	for _, c := range []struct{ value, unit, want string }{
		{"30", "min", "30"},
		{"0.5", "h", "30"},
		{"1.1", "h", "66"},
		{"7200", "s", "120"},
		{"-15", "min", "-15"},
		{"90", "s", ""},
		{"0.25", "min", ""},
		{"1e300", "min", ""},
		{"2147483648", "min", ""},
		{"1e10", "h", ""},
	} {
		got, err := durationMinutes(c.value, c.unit)
		if c.want == "" && err == nil {
			t.Errorf("%s %s: %s minutes, want an error", c.value, c.unit, got)
		}
		if c.want != "" && (err != nil || got != c.want) {
			t.Errorf("%s %s: %s, %v; want %s minutes", c.value, c.unit, got, err, c.want)
		}
	}
}
