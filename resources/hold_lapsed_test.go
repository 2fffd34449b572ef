package resources_test

import (
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/resources"
)

// TestLapsedHoldCannotBeBookedByUpdate: once a hold has lapsed, booking it by a plain
// update is refused like $book refuses it, even before the sweep has cancelled it.
func TestLapsedHoldCannotBeBookedByUpdate(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(11, 0), 30)
	expires := time.Now().Add(time.Second).Truncate(time.Second)
	hold := c.appointment("pending", c.patients[0], 0, at(11, 0), at(11, 30), s)
	hold["extension"] = []any{map[string]any{"url": resources.HoldExpiresURL, "valueInstant": instant(expires)}}
	id := c.create(t, hold)
	time.Sleep(time.Until(expires) + 200*time.Millisecond)

	booked := c.read(t, "Appointment", id)
	booked["status"] = "booked"
	if r := c.srv.Do(t, "PUT", "Appointment/"+id, booked); r.Status != 409 {
		t.Fatalf("booking a lapsed hold by PUT: %d %s", r.Status, r.Body)
	}
	// Cancelling it is still fine.
	cancelled := c.read(t, "Appointment", id)
	cancelled["status"] = "cancelled"
	c.srv.Must(t, 200, "PUT", "Appointment/"+id, cancelled)
}

// TestBookCancelledHoldSaysCancelled: $book of a hold its client cancelled says so, not
// that it expired at a time still to come.
func TestBookCancelledHoldSaysCancelled(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(12, 0), 30)
	hold := c.appointment("pending", c.patients[0], 0, at(12, 0), at(12, 30), s)
	hold["extension"] = []any{map[string]any{"url": resources.HoldExpiresURL, "valueInstant": instant(time.Now().Add(time.Hour))}}
	id := c.create(t, hold)
	cancelled := c.read(t, "Appointment", id)
	cancelled["status"] = "cancelled"
	c.srv.Must(t, 200, "PUT", "Appointment/"+id, cancelled)
	r := c.srv.Do(t, "POST", "Appointment/$book", params("appt-id", id))
	if r.Status != 409 || !strings.Contains(string(r.Body), "was cancelled") {
		t.Errorf("$book of a cancelled hold: %d %s", r.Status, r.Body)
	}
}
