package resources_test

import (
	"testing"

	"github.com/careslot/careslot/app/apptest"
)

// A needs-action answer is no answer yet: it leaves a proposed request proposed, so it
// does not take the slot or the time (only tentative or a partial acceptance does).
func TestNeedsActionAnswerLeavesRequestProposed(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	id := c.create(t, c.request("proposed", c.patients[0], 0, s))
	c.srv.Must(t, 201, "POST", "AppointmentResponse", response(id, "Practitioner/"+c.doctors[0], "needs-action"))
	if got := c.status(t, "Appointment", id); got != "proposed" {
		t.Errorf("after a needs-action answer the request is %s, want proposed", got)
	}
	if got := c.status(t, "Slot", s); got != "free" {
		t.Errorf("after a needs-action answer the slot is %s, want free", got)
	}
	c.srv.Must(t, 201, "POST", "AppointmentResponse", response(id, "Practitioner/"+c.doctors[0], "tentative"))
	if got := c.status(t, "Appointment", id); got != "pending" {
		t.Errorf("after a tentative answer the request is %s, want pending", got)
	}
}
