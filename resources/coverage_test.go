package resources_test

import (
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
)

func TestCoverageRule(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 0)
	patient := func(coverages ...map[string]any) string {
		p := c.create(t, map[string]any{"resourceType": "Patient"})
		for _, cov := range coverages {
			cov["beneficiary"] = ref("Patient", p)
			c.create(t, cov)
		}
		return p
	}
	lapsed := coverage("", c.insurer, "2020-01-01", "2030-01-06") // ends the day before
	notYet := coverage("", c.insurer, "2030-01-08", "2031-01-01") // starts the day after
	cancelled := coverage("", c.insurer, "2020-01-01", "2040-01-01")
	cancelled["status"] = "cancelled"
	selfPay := coverage("", c.insurer, "2020-01-01", "2040-01-01")
	selfPay["payor"] = []any{map[string]any{"reference": "Patient/" + c.create(t, map[string]any{"resourceType": "Patient"})}}
	endsThatDay := coverage("", c.insurer, "2020-01-01", "2030-01-07")
	openEnded := coverage("", c.insurer, "2020-01-01", "")
	delete(openEnded["period"].(map[string]any), "end")

	cases := []struct {
		name    string
		patient string
		want    int
	}{
		{"no coverage", patient(), 422},
		{"lapsed", patient(lapsed), 422},
		{"not yet in force", patient(notYet), 422},
		{"cancelled", patient(cancelled), 422},
		{"paid by a person, not an organisation", patient(selfPay), 422},
		{"ends on the appointment's day", patient(endsThatDay), 201},
		{"open-ended", patient(openEnded), 201},
		{"one good among bad", patient(lapsed, openEnded), 201},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each at an hour of its own with a patient of its own
			start := at(8+i, 0)
			r := c.srv.Do(t, "POST", "Appointment", c.appointment("booked", tc.patient, 0, start, start.Add(30*60e9)))
			if r.Status != tc.want {
				t.Fatalf("%d, want %d: %s", r.Status, tc.want, r.Body)
			}
			if tc.want == 422 {
				if code, text := diagnostics(t, r); code != "business-rule" || !strings.Contains(text, "Coverage") || !strings.Contains(text, "Patient/"+tc.patient) {
					t.Errorf("refusal does not say it is the insurance: %s %s", code, text)
				}
			}
		})
	}
	// A proposed appointment needs no coverage until it is booked.
	uninsured := patient()
	id := c.create(t, c.appointment("proposed", uninsured, 1, at(8, 0), at(8, 30)))
	doc := c.read(t, "Appointment", id)
	doc["status"] = "booked"
	if r := c.update(t, doc); r.Status != 422 {
		t.Errorf("booking a proposed appointment of an uninsured patient: %d %s", r.Status, r.Body)
	}
}

// The operator's switch: with CARESLOT_REQUIRE_COVERAGE=false the rule is off.
func TestCoverageRuleSwitchedOff(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t, apptest.WithoutCoverageCheck()), 0)
	p := c.create(t, map[string]any{"resourceType": "Patient"})
	c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", p, 0, at(9, 0), at(9, 30)))
}
