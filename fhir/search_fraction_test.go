package fhir_test

import (
	"net/http"
	"testing"
)

// TestSearchDateFractions: a search date's fraction covers the range of its digits (.1 is
// [.1, .2)). Stored times are indexed to the millisecond (the FHIRPath engine's
// precision), so .123456 is indexed as [.123, .124).
func TestSearchDateFractions(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Observation/frac-1",
		`{"resourceType":"Observation","id":"frac-1","status":"final","code":{"text":"frac-test"},"effectiveDateTime":"2024-01-01T10:00:00.123456Z"}`)
	for _, c := range []struct {
		query string
		want  int
	}{
		{"date=eq2024-01-01T10:00:00.1Z", 1},
		{"date=gt2024-01-01T10:00:00.1Z", 0},
		{"date=eq2024-01-01T10:00:00.12Z", 1},
		{"date=eq2024-01-01T10:00:00.124Z", 0},
		{"date=eq2024-01-01T10:00:00.123Z", 1},
		{"date=lt2024-01-01T10:00:00.123457Z", 1},
		{"date=gt2024-01-01T10:00:00.123455Z", 1},
	} {
		b := srv.Must(t, http.StatusOK, "GET", "Observation?code:text=frac-test&"+c.query, nil).JSON(t)
		if got := len(entries(t, b)); got != c.want {
			t.Errorf("%s: %d matches, want %d", c.query, got, c.want)
		}
	}
}
