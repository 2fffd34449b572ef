package resources

import (
	"testing"

	"github.com/careslot/careslot/fhir/fhirerr"
)

var allStatuses = []string{"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow",
	"entered-in-error", "checked-in", "waitlist"}

// TestTransitions checks every pair of R4 appointment statuses against the life cycle
// written out independently here.
func TestTransitions(t *testing.T) {
	t.Parallel()
	allowed := map[[2]string]bool{}
	for _, pair := range [][2]string{
		{"proposed", "pending"}, {"proposed", "booked"}, {"proposed", "waitlist"}, {"proposed", "cancelled"}, {"proposed", "entered-in-error"},
		{"pending", "booked"}, {"pending", "waitlist"}, {"pending", "cancelled"}, {"pending", "entered-in-error"},
		{"waitlist", "proposed"}, {"waitlist", "pending"}, {"waitlist", "booked"}, {"waitlist", "cancelled"}, {"waitlist", "entered-in-error"},
		{"booked", "arrived"}, {"booked", "checked-in"}, {"booked", "cancelled"}, {"booked", "noshow"}, {"booked", "entered-in-error"},
		{"arrived", "checked-in"}, {"arrived", "fulfilled"}, {"arrived", "entered-in-error"},
		{"checked-in", "fulfilled"}, {"checked-in", "entered-in-error"},
		{"fulfilled", "entered-in-error"}, {"cancelled", "entered-in-error"}, {"noshow", "entered-in-error"},
	} {
		allowed[pair] = true
	}
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			err := checkTransition(from, to)
			want := from == to || allowed[[2]string{from, to}]
			if want && err != nil {
				t.Errorf("%s -> %s refused: %v", from, to, err)
			}
			if !want {
				fe, ok := fhirerr.As(err)
				if !ok || fe.Status() != 422 || fe.Code != fhirerr.CodeBusinessRule || fe.Expression[0] != "Appointment.status" {
					t.Errorf("%s -> %s: got %v, want a 422 business-rule at Appointment.status", from, to, err)
				}
			}
		}
	}
}
