package resources_test

import (
	"testing"

	"github.com/careslot/careslot/app/apptest"
)

// An appointment that names one slot twice takes it once; it used to write the slot
// twice from one stale version and answer 500.
func TestBookingNamesASlotTwice(t *testing.T) {
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	id := c.create(t, c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), s, s))
	if got := c.status(t, "Slot", s); got != "busy" {
		t.Errorf("slot named twice is %s, want busy", got)
	}
	doc := c.read(t, "Appointment", id)
	doc["status"] = "cancelled"
	if r := c.update(t, doc); r.Status != 200 {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	if got := c.status(t, "Slot", s); got != "free" {
		t.Errorf("after cancelling the slot is %s, want free", got)
	}
}
