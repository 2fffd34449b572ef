package resources

import (
	"fmt"
	"sort"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// appointmentTransitions is the R4 Appointment life cycle: for each status, the statuses
// an update may move it to. Keeping the same status is always allowed (an update of
// other elements, or a reschedule). A request is negotiated (proposed, pending,
// waitlist), booked, then the patient arrives and checks in and the visit is fulfilled;
// up to booking it can be cancelled, a booked one can be a no-show, and anything can
// turn out to be entered-in-error, which is final.
var appointmentTransitions = map[string][]string{
	"proposed":         {"pending", "booked", "waitlist", "cancelled", "entered-in-error"},
	"pending":          {"booked", "waitlist", "cancelled", "entered-in-error"},
	"waitlist":         {"proposed", "pending", "booked", "cancelled", "entered-in-error"},
	"booked":           {"arrived", "checked-in", "cancelled", "noshow", "entered-in-error"},
	"arrived":          {"checked-in", "fulfilled", "entered-in-error"},
	"checked-in":       {"fulfilled", "entered-in-error"},
	"fulfilled":        {"entered-in-error"},
	"cancelled":        {"entered-in-error"},
	"noshow":           {"entered-in-error"},
	"entered-in-error": {},
}

// holdsTime are the statuses in which an appointment takes its participants' time:
// nobody may have two of them overlapping.
var holdsTime = map[string]bool{"pending": true, "booked": true, "arrived": true, "checked-in": true}

// holdsSlot are the statuses in which an appointment keeps the slots it references busy.
// A fulfilled appointment used its slot; only cancelling, a no-show or entered-in-error
// give a slot back.
var holdsSlot = map[string]bool{"pending": true, "booked": true, "arrived": true, "checked-in": true, "fulfilled": true}

// checkTransition refuses an update of an appointment from status from to status to
// that the life cycle does not allow: 422 naming the allowed next statuses.
func checkTransition(from, to string) error {
	if from == to {
		return nil
	}
	next, known := appointmentTransitions[from]
	if !known {
		return nil // the stored status was never valid R4; let the validator's view stand
	}
	for _, s := range next {
		if s == to {
			return nil
		}
	}
	allowed := "none: it is final"
	if len(next) > 0 {
		sorted := append([]string(nil), next...)
		sort.Strings(sorted)
		allowed = strings.Join(sorted, ", ")
	}
	return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
		fmt.Sprintf("an appointment that is %s cannot become %s; allowed next statuses: %s", from, to, allowed),
		"Appointment.status")
}
