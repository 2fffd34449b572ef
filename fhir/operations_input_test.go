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

// Text parameters of $find go to PostgreSQL, which refuses a NUL byte or invalid UTF-8:
// that was a 500.
func TestFindRefusesUnstorableText(t *testing.T) {
	for _, q := range []string{"specialty=%00", "specialty=%FF", "service-type=a%00b", "visit-type=%C3%28"} {
		r := srv.Do(t, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&"+q, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("$find?%s: %d, want 400: %.300s", q, r.Status, r.Body)
		}
	}
	srv.Must(t, http.StatusOK, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&specialty=http://snomed.info/sct%7C394579002", nil)
}

// A service-type token in a $generate-slots query becomes a Coding on every slot made;
// one that is not a valid R4 Coding (an empty system or code, a NUL byte, invalid
// UTF-8) is a 400, not slots stored invalid or a 500.
func TestGenerateSlotsRefusesInvalidServiceType(t *testing.T) {
	sch := r2Schedule(t, "r2-gen-st")
	for _, st := range []string{"%7C", "a%7C", "%7Cb", "%20", "%00", "%FF", "a%20%20b"} {
		r := srv.Do(t, "POST", "Schedule/"+sch+"/$generate-slots?start=2030-01-07&end=2030-01-08&slot-length=30&service-type="+st, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("service-type=%s: %d, want 400: %.300s", st, r.Status, r.Body)
		}
	}
	r := srv.Must(t, http.StatusOK, "POST", "Schedule/"+sch+"/$generate-slots?start=2030-01-07&end=2030-01-08&slot-length=30&service-type=http://example.org/st%7Ccheck-up", nil)
	if total := r.JSON(t)["total"]; total != float64(2) {
		t.Errorf("slots made with a valid service-type: %v, want 2", total)
	}
}
