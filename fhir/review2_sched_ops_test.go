package fhir_test

import (
	"net/http"
	"testing"
)

// r2Schedule stores a doctor with a role available every day 09:00–10:00 and a schedule
// of that doctor, all with ids starting with prefix; it returns the schedule id.
func r2Schedule(t *testing.T, prefix string) string {
	t.Helper()
	srv.Must(t, http.StatusCreated, "PUT", "Practitioner/"+prefix+"-dr", `{"resourceType":"Practitioner","id":"`+prefix+`-dr"}`)
	srv.Must(t, http.StatusCreated, "PUT", "PractitionerRole/"+prefix+"-role", `{"resourceType":"PractitionerRole","id":"`+prefix+`-role",
		"practitioner":{"reference":"Practitioner/`+prefix+`-dr"},
		"availableTime":[{"availableStartTime":"09:00:00","availableEndTime":"10:00:00"}]}`)
	srv.Must(t, http.StatusCreated, "PUT", "Schedule/"+prefix+"-sch", `{"resourceType":"Schedule","id":"`+prefix+`-sch",
		"actor":[{"reference":"Practitioner/`+prefix+`-dr"}]}`)
	return prefix + "-sch"
}

// A slot-length in a query beyond what fits in a Duration used to wrap around:
// 9007199254740993 minutes made 1-minute slots instead of a 400.
func TestGenerateSlotsRefusesOverflowingLength(t *testing.T) {
	sch := r2Schedule(t, "r2-gen-len")
	for _, length := range []string{"9007199254740993", "1441", "0", "-30"} {
		r := srv.Do(t, "POST", "Schedule/"+sch+"/$generate-slots?start=2030-01-07&end=2030-01-08&slot-length="+length, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("slot-length=%s: %d, want 400: %.300s", length, r.Status, r.Body)
		}
	}
	r := srv.Must(t, http.StatusOK, "POST", "Schedule/"+sch+"/$generate-slots?start=2030-01-07&end=2030-01-08&slot-length=30", nil)
	if total := r.JSON(t)["total"]; total != float64(2) {
		t.Errorf("30-minute slots of a one-hour day: %v, want 2", total)
	}
}
