package resources

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// needsCoverageCheck is true when the appointment starts taking time, moves, or gains a
// patient: a booking that was already checked is not checked again on every update
// (a coverage ending later must not block marking the visit arrived).
func needsCoverageCheck(old, appt *appointment) bool {
	if old == nil || !holdsTime[old.Status] || old.Start.IsZero() {
		return true
	}
	if !old.Start.Equal(appt.Start) {
		return true
	}
	return !equalSets(patientIDs(old), patientIDs(appt))
}

func patientIDs(a *appointment) []string {
	var ids []string
	for _, p := range a.Participants {
		if p.Type == "Patient" && !p.declined() {
			ids = append(ids, p.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkCoverage is the insurance rule (Config.RequireCoverage): each patient of the
// appointment needs an active Coverage whose beneficiary is the patient, whose period
// covers the appointment's start, and whose payor includes an Organization.
func (r *Rules) checkCoverage(ctx context.Context, tx *storage.Tx, appt *appointment) error {
	for _, p := range appt.Participants {
		if p.Type != "Patient" || p.declined() {
			continue
		}
		coverages, err := tx.CoveragesOf(ctx, p.Ref)
		if err != nil {
			return err
		}
		if !anyCovers(coverages, appt.Start) {
			return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
				fmt.Sprintf("%s has no active Coverage with an Organization payor whose period covers %s; "+
					"add one, or ask the operator to switch the insurance rule off (CARESLOT_REQUIRE_COVERAGE=false)",
					p.Ref, appt.Start.UTC().Format("2006-01-02")),
				fmt.Sprintf("Appointment.participant[%d].actor", p.Index))
		}
	}
	return nil
}

// anyCovers reports whether one of the Coverage resources is in force at t.
func anyCovers(coverages [][]byte, t time.Time) bool {
	for _, c := range coverages {
		doc, err := decode(c)
		if err != nil {
			continue
		}
		if coverageInForce(doc, t) {
			return true
		}
	}
	return false
}

// coverageInForce: status active, an Organization payor, and t within the period (an
// open end, or a missing period, does not limit it; a date end includes that whole day).
func coverageInForce(doc map[string]any, t time.Time) bool {
	if str(doc, "status") != "active" {
		return false
	}
	orgPayor := false
	for _, payor := range objects(doc, "payor") {
		if typ, _, ok := splitReference(str(payor, "reference")); ok && typ == "Organization" {
			orgPayor = true
		}
	}
	if !orgPayor {
		return false
	}
	period := object(doc, "period")
	if s := str(period, "start"); s != "" {
		from, _, err := parseDateTime(s)
		if err != nil || t.Before(from) {
			return false
		}
	}
	if e := str(period, "end"); e != "" {
		_, to, err := parseDateTime(e)
		if err != nil {
			return false
		}
		if _, isInstant := parseInstantOK(e); isInstant {
			return !t.After(to)
		}
		return t.Before(to)
	}
	return true
}

func parseInstantOK(s string) (time.Time, bool) {
	t, err := parseInstant(s)
	return t, err == nil
}
