package resources

import (
	"context"
	"errors"
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
		coverages, err := r.payingCoverages(ctx, tx, appt, p.Ref)
		if err != nil {
			return err
		}
		if len(appt.Coverages) > 0 && !anyCovers(coverages, appt.Start) {
			return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
				fmt.Sprintf("none of the Coverages in supportingInformation is %s's, active, with an Organization payor and a period covering %s",
					p.Ref, appt.Start.UTC().Format("2006-01-02")), "Appointment.supportingInformation")
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

// payingCoverages are the Coverage resources that may pay for patient's part of the
// appointment: those it names in supportingInformation (as $find's insurance-reference
// puts them there) that are the patient's, or else any of the patient's.
func (r *Rules) payingCoverages(ctx context.Context, tx *storage.Tx, appt *appointment, patient string) ([][]byte, error) {
	if len(appt.Coverages) == 0 {
		return tx.CoveragesOf(ctx, patient)
	}
	var out [][]byte
	for _, id := range appt.Coverages {
		res, err := tx.Read(ctx, "Coverage", id)
		if errors.Is(err, fhirerr.ErrNotFound) || errors.Is(err, fhirerr.ErrGone) {
			continue // a dangling reference is refused at commit
		}
		if err != nil {
			return nil, err
		}
		if res == nil || res.Deleted {
			continue
		}
		if doc, err := decode(res.Content); err == nil && reference(doc, "beneficiary") == patient {
			out = append(out, res.Content)
		}
	}
	return out, nil
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
