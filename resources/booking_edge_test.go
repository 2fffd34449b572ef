package resources_test

import (
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/resources"
)

// An appointment that names one slot twice takes it once; it used to write the slot
// twice from one stale version and answer 500.
func TestBookingNamesASlotTwice(t *testing.T) {
	t.Parallel()
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

// lapsedHold stores a hold whose expiry has passed and that nobody has swept yet.
func lapsedHold(t *testing.T, c *clinic, patient string, start time.Time) string {
	t.Helper()
	hold := c.appointment("pending", patient, 0, start, start.Add(30*time.Minute), c.slot(t, 0, start, 30))
	hold["extension"] = []any{map[string]any{"url": resources.HoldExpiresURL, "valueInstant": instant(time.Now().Add(-time.Hour))}}
	return c.create(t, hold)
}

// A booking refused for a slot that is not free is retried once after lapsed holds are
// released; the retry must refuse it too, not treat the slot as already held.
func TestRetryAfterLapsedHoldKeepsSlotChecks(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	lapsedHold(t, c, c.patients[0], at(8, 0))
	blocked := c.slot(t, 0, at(10, 0), 30)
	doc := c.read(t, "Slot", blocked)
	doc["status"] = "busy-unavailable"
	if r := c.update(t, doc); r.Status != 200 {
		t.Fatalf("block slot: %d %s", r.Status, r.Body)
	}
	r := c.srv.Do(t, "POST", "Appointment", c.appointment("booked", c.patients[1], 0, at(10, 0), at(10, 30), blocked))
	if r.Status != 409 {
		t.Fatalf("booking a busy-unavailable slot with a lapsed hold around: %d %s", r.Status, r.Body)
	}
	if _, text := diagnostics(t, r); !strings.Contains(text, "not free") {
		t.Errorf("refusal: %s", text)
	}
	// The refused booking left no trace: the slot can still be deleted.
	c.srv.Must(t, 204, "DELETE", "Slot/"+blocked, nil)

	// Another doctor's slot that is busy: refused too, not booked on the retry.
	lapsedHold(t, c, c.patients[0], at(8, 30))
	theirs := c.slot(t, 1, at(11, 0), 30)
	doc = c.read(t, "Slot", theirs)
	doc["status"] = "busy"
	if r := c.update(t, doc); r.Status != 200 {
		t.Fatalf("mark slot busy: %d %s", r.Status, r.Body)
	}
	if r := c.srv.Do(t, "POST", "Appointment", c.appointment("booked", c.patients[1], 0, at(11, 0), at(11, 30), theirs)); r.Status != 409 {
		t.Errorf("booking another doctor's busy slot with a lapsed hold around: %d %s", r.Status, r.Body)
	}
}

// A booked slot cannot be moved to another schedule (another doctor's calendar).
func TestBookedSlotKeepsItsSchedule(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	c.create(t, c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), s))
	doc := c.read(t, "Slot", s)
	doc["schedule"] = ref("Schedule", c.schedules[1])
	r := c.update(t, doc)
	if r.Status != 409 {
		t.Fatalf("moving a booked slot to another schedule: %d %s", r.Status, r.Body)
	}
	if code, text := diagnostics(t, r); code != "conflict" || !strings.Contains(text, "Slot/"+s) {
		t.Errorf("refusal: %s %s", code, text)
	}
	// A free slot may move.
	free := c.slot(t, 0, at(10, 0), 30)
	doc = c.read(t, "Slot", free)
	doc["schedule"] = ref("Schedule", c.schedules[1])
	if r := c.update(t, doc); r.Status != 200 {
		t.Errorf("moving a free slot to another schedule: %d %s", r.Status, r.Body)
	}
}

// Replacing the doctor of a booked appointment that keeps its slot would book the new
// doctor into the old doctor's slot: refused like a new booking of that slot.
func TestChangingTheDoctorKeepsSlotOwnerRule(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	id := c.create(t, c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), s))
	doc := c.read(t, "Appointment", id)
	doc["participant"].([]any)[1] = map[string]any{"actor": ref("Practitioner", c.doctors[1]), "status": "accepted"}
	r := c.update(t, doc)
	if r.Status != 422 {
		t.Fatalf("swapping the doctor of a booked slot: %d %s", r.Status, r.Body)
	}
	if code, text := diagnostics(t, r); code != "business-rule" || !strings.Contains(text, "Slot/"+s) {
		t.Errorf("refusal: %s %s", code, text)
	}
	// Adding a second doctor next to the slot's owner is fine, and so is an update that
	// leaves the doctors alone.
	doc = c.read(t, "Appointment", id)
	doc["participant"] = append(doc["participant"].([]any), map[string]any{"actor": ref("Practitioner", c.doctors[1]), "status": "accepted"})
	if r := c.update(t, doc); r.Status != 200 {
		t.Fatalf("adding a second doctor: %d %s", r.Status, r.Body)
	}
	doc = c.read(t, "Appointment", id)
	doc["status"] = "arrived"
	if r := c.update(t, doc); r.Status != 200 {
		t.Errorf("arrive: %d %s", r.Status, r.Body)
	}
}

// PostgreSQL keeps instants to the microsecond: a slot or an appointment whose end is
// after its start only by nanoseconds is an empty range there, which was a 500.
func TestEndAfterStartOnlyByNanoseconds(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	slot := map[string]any{"resourceType": "Slot", "schedule": ref("Schedule", c.schedules[0]), "status": "free",
		"start": "2030-01-07T09:00:00.0000001Z", "end": "2030-01-07T09:00:00.0000002Z"}
	if r := c.srv.Do(t, "POST", "Slot", slot); r.Status != 422 {
		t.Errorf("slot ending 100ns after it starts: %d %s", r.Status, r.Body)
	}
	appt := c.appointment("booked", c.patients[0], 0, at(10, 0), at(10, 30))
	appt["start"], appt["end"] = "2030-01-07T10:00:00.0000001Z", "2030-01-07T10:00:00.0000002Z"
	if r := c.srv.Do(t, "POST", "Appointment", appt); r.Status != 422 {
		t.Errorf("appointment ending 100ns after it starts: %d %s", r.Status, r.Body)
	}
	// A microsecond apart is a range PostgreSQL can hold.
	slot["end"] = "2030-01-07T09:00:00.0000011Z"
	c.srv.Must(t, 201, "POST", "Slot", slot)
}
