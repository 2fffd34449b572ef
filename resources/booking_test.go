package resources_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

func TestBookingTakesSlot(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	s := c.slot(t, 0, at(9, 0), 30)
	first := c.create(t, c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), s))
	if got := c.status(t, "Slot", s); got != "busy" {
		t.Fatalf("booked slot is %q, want busy", got)
	}
	// The rule's write of the slot is a version like any other, with an outbox row.
	if entries, _ := c.srv.Must(t, 200, "GET", "Slot/"+s+"/_history", nil).JSON(t)["entry"].([]any); len(entries) != 2 {
		t.Errorf("slot history after booking: %d versions, want 2", len(entries))
	}
	var outbox int
	if err := c.srv.DB.QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE type = 'Slot' AND id = $1`, s).Scan(&outbox); err != nil || outbox != 2 {
		t.Errorf("slot outbox rows: %d (%v), want 2", outbox, err)
	}
	r := c.srv.Do(t, "POST", "Appointment", c.appointment("booked", c.patients[1], 0, at(9, 0), at(9, 30), s))
	if r.Status != 409 {
		t.Fatalf("second booking of a slot: %d %s", r.Status, r.Body)
	}
	code, text := diagnostics(t, r)
	if code != "conflict" || !strings.Contains(text, "Slot/"+s) || !strings.Contains(text, "Appointment/"+first) {
		t.Errorf("refusal does not say what conflicts: %s %s", code, text)
	}
	// A slot that is not free (blocked by the doctor) cannot be booked either.
	blocked := c.slot(t, 0, at(10, 0), 30)
	doc := c.read(t, "Slot", blocked)
	doc["status"] = "busy-unavailable"
	if r := c.update(t, doc); r.Status != 200 {
		t.Fatalf("block slot: %d %s", r.Status, r.Body)
	}
	if r := c.srv.Do(t, "POST", "Appointment", c.appointment("booked", c.patients[1], 0, at(10, 0), at(10, 30), blocked)); r.Status != 409 {
		t.Errorf("booking a busy-unavailable slot: %d %s", r.Status, r.Body)
	}
}

func TestBookingSlotNeedsPatientAndPractitioner(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	doc := c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), s)
	doc["participant"] = doc["participant"].([]any)[:1] // the patient only
	if r := c.srv.Do(t, "POST", "Appointment", doc); r.Status != 422 {
		t.Errorf("booking without a practitioner: %d %s", r.Status, r.Body)
	}
	doc = c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), s)
	doc["participant"] = doc["participant"].([]any)[1:] // the practitioner only
	if r := c.srv.Do(t, "POST", "Appointment", doc); r.Status != 422 {
		t.Errorf("booking without a patient: %d %s", r.Status, r.Body)
	}
	if got := c.status(t, "Slot", s); got != "free" {
		t.Errorf("refused bookings left the slot %q", got)
	}
	// The slot must lie within the appointment's time.
	if r := c.srv.Do(t, "POST", "Appointment", c.appointment("booked", c.patients[0], 0, at(11, 0), at(11, 30), s)); r.Status != 422 {
		t.Errorf("booking a slot outside the appointment's time: %d %s", r.Status, r.Body)
	}
}

func TestOverlapRules(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 3)
	p0, p1, p2 := c.patients[0], c.patients[1], c.patients[2]
	base := c.create(t, c.appointment("booked", p0, 0, at(9, 0), at(10, 0)))
	cases := []struct {
		name       string
		body       map[string]any
		want       int
		mentioning string
	}{
		{"same practitioner, overlapping", c.appointment("booked", p1, 0, at(9, 30), at(10, 30)), 409, "Practitioner/" + c.doctors[0]},
		{"same practitioner, inside", c.appointment("booked", p1, 0, at(9, 15), at(9, 45)), 409, "Appointment/" + base},
		{"same practitioner, around", c.appointment("pending", p1, 0, at(8, 0), at(11, 0)), 409, "Practitioner/" + c.doctors[0]},
		{"same patient, other practitioner", c.appointment("booked", p0, 1, at(9, 45), at(10, 15)), 409, "Patient/" + p0},
		{"back-to-back after", c.appointment("booked", p1, 0, at(10, 0), at(10, 30)), 201, ""},
		{"back-to-back before", c.appointment("booked", p2, 0, at(8, 30), at(9, 0)), 201, ""},
		{"same patient back-to-back with other practitioner", c.appointment("booked", p0, 1, at(10, 0), at(10, 30)), 201, ""},
		{"proposed does not hold time", c.appointment("proposed", p1, 0, at(9, 0), at(10, 0)), 201, ""},
		{"waitlist does not hold time", c.appointment("waitlist", p1, 0, at(9, 0), at(10, 0)), 201, ""},
		{"other practitioner and patient at the same time", c.appointment("booked", p2, 1, at(9, 0), at(10, 0)), 201, ""},
	}
	// In order: a case booked stays booked for the cases after it.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.srv.Do(t, "POST", "Appointment", tc.body)
			if r.Status != tc.want {
				t.Fatalf("%d, want %d: %s", r.Status, tc.want, r.Body)
			}
			if tc.want == 409 {
				if _, text := diagnostics(t, r); !strings.Contains(text, tc.mentioning) {
					t.Errorf("refusal %q does not mention %s", text, tc.mentioning)
				}
			}
		})
	}
	// Cancelling the base appointment frees the practitioner's and the patient's time.
	doc := c.read(t, "Appointment", base)
	doc["status"] = "cancelled"
	if r := c.update(t, doc); r.Status != 200 {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", p1, 0, at(9, 15), at(9, 45)))
	// A participant who declined does not hold time: p0 is with doctor 1 at noon, and
	// an appointment with doctor 0 at noon that p0 declined still goes ahead for p2.
	c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", p0, 1, at(12, 0), at(12, 30)))
	declined := c.appointment("booked", p0, 0, at(12, 0), at(12, 30))
	declined["participant"].([]any)[0].(map[string]any)["status"] = "declined"
	declined["participant"] = append(declined["participant"].([]any), map[string]any{"actor": ref("Patient", p2), "status": "accepted"})
	c.srv.Must(t, 201, "POST", "Appointment", declined)
}

func TestLifecycleOverHTTP(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	id := c.create(t, c.appointment("proposed", c.patients[0], 0, at(9, 0), at(9, 30), s))
	if got := c.status(t, "Slot", s); got != "free" {
		t.Fatalf("a proposed appointment took the slot: %s", got)
	}
	steps := []struct {
		to       string
		want     int
		slotWant string
	}{
		{"arrived", 422, "free"},
		{"pending", 200, "busy-tentative"},
		{"proposed", 422, "busy-tentative"},
		{"booked", 200, "busy"},
		{"pending", 422, "busy"},
		{"fulfilled", 422, "busy"},
		{"arrived", 200, "busy"},
		{"cancelled", 422, "busy"},
		{"checked-in", 200, "busy"},
		{"fulfilled", 200, "busy"},
		{"booked", 422, "busy"},
		{"entered-in-error", 200, "free"},
		{"booked", 422, "free"},
		{"entered-in-error", 200, "free"},
	}
	for _, st := range steps {
		doc := c.read(t, "Appointment", id)
		from := doc["status"]
		doc["status"] = st.to
		r := c.update(t, doc)
		if r.Status != st.want {
			t.Fatalf("%s -> %s: %d, want %d: %s", from, st.to, r.Status, st.want, r.Body)
		}
		if got := c.status(t, "Slot", s); got != st.slotWant {
			t.Errorf("after %s -> %s the slot is %s, want %s", from, st.to, got, st.slotWant)
		}
	}
	// The life cycle holds inside a transaction Bundle too, and the whole Bundle fails.
	other := c.create(t, c.appointment("booked", c.patients[0], 0, at(11, 0), at(11, 30)))
	doc := c.read(t, "Appointment", other)
	doc["status"] = "proposed"
	bundle := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"resource": doc, "request": map[string]any{"method": "PUT", "url": "Appointment/" + other}},
		map[string]any{"resource": map[string]any{"resourceType": "Patient"}, "request": map[string]any{"method": "POST", "url": "Patient"}},
	}}
	if r := c.srv.Do(t, "POST", "", bundle); r.Status != 422 {
		t.Errorf("refused transition in a transaction: %d %s", r.Status, r.Body)
	}
	if got := c.status(t, "Appointment", other); got != "booked" {
		t.Errorf("after the refused transaction the appointment is %s", got)
	}
}

func TestCancelNoshowEnteredInErrorFreeSlot(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	for i, end := range []string{"cancelled", "noshow", "entered-in-error"} {
		start := at(9+i, 0)
		s := c.slot(t, 0, start, 30)
		id := c.create(t, c.appointment("booked", c.patients[0], 0, start, start.Add(30*time.Minute), s))
		doc := c.read(t, "Appointment", id)
		doc["status"] = end
		if end != "entered-in-error" {
			doc["cancelationReason"] = map[string]any{"text": "patient called"}
		}
		if r := c.update(t, doc); r.Status != 200 {
			t.Fatalf("%s: %d %s", end, r.Status, r.Body)
		}
		if got := c.status(t, "Slot", s); got != "free" {
			t.Errorf("after %s the slot is %s, want free", end, got)
		}
		// The slot and the time can be booked again.
		c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", c.patients[0], 0, start, start.Add(30*time.Minute), s))
	}
	// Deleting a booked appointment frees its slot too.
	s := c.slot(t, 0, at(14, 0), 30)
	id := c.create(t, c.appointment("booked", c.patients[0], 0, at(14, 0), at(14, 30), s))
	c.srv.Must(t, 204, "DELETE", "Appointment/"+id, nil)
	if got := c.status(t, "Slot", s); got != "free" {
		t.Errorf("after delete the slot is %s", got)
	}
}

func TestReschedule(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	a, b, taken := c.slot(t, 0, at(9, 0), 30), c.slot(t, 0, at(10, 0), 30), c.slot(t, 0, at(11, 0), 30)
	id := c.create(t, c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), a))
	c.create(t, c.appointment("booked", c.patients[1], 0, at(11, 0), at(11, 30), taken))

	// Moving to a taken slot changes nothing.
	doc := c.read(t, "Appointment", id)
	doc["slot"] = []any{ref("Slot", taken)}
	doc["start"], doc["end"] = instant(at(11, 0)), instant(at(11, 30))
	if r := c.update(t, doc); r.Status != 409 {
		t.Fatalf("reschedule onto a taken slot: %d %s", r.Status, r.Body)
	}
	if got := c.status(t, "Slot", a); got != "busy" {
		t.Errorf("failed reschedule freed the old slot: %s", got)
	}
	// Moving to a free slot frees the old one and takes the new one.
	doc = c.read(t, "Appointment", id)
	doc["slot"] = []any{ref("Slot", b)}
	doc["start"], doc["end"] = instant(at(10, 0)), instant(at(10, 30))
	if r := c.update(t, doc); r.Status != 200 {
		t.Fatalf("reschedule: %d %s", r.Status, r.Body)
	}
	if sa, sb := c.status(t, "Slot", a), c.status(t, "Slot", b); sa != "free" || sb != "busy" {
		t.Errorf("after reschedule old slot %s (want free), new slot %s (want busy)", sa, sb)
	}
	// The old time is free for someone else now.
	c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", c.patients[1], 0, at(9, 0), at(9, 30), a))
}

func TestSlotRules(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	overlapping := map[string]any{"resourceType": "Slot", "schedule": ref("Schedule", c.schedules[0]), "status": "free",
		"start": instant(at(9, 15)), "end": instant(at(9, 45))}
	r := c.srv.Do(t, "POST", "Slot", overlapping)
	if r.Status != 409 {
		t.Fatalf("overlapping slot of one schedule: %d %s", r.Status, r.Body)
	}
	if _, text := diagnostics(t, r); !strings.Contains(text, "Slot/"+s) {
		t.Errorf("refusal does not name the other slot: %s", text)
	}
	overlapping["schedule"] = ref("Schedule", c.schedules[1])
	c.srv.Must(t, 201, "POST", "Slot", overlapping) // another schedule may
	c.slot(t, 0, at(9, 30), 30)                     // back-to-back slots are fine

	c.create(t, c.appointment("booked", c.patients[0], 0, at(9, 0), at(9, 30), s))
	doc := c.read(t, "Slot", s)
	doc["status"] = "free"
	if r := c.update(t, doc); r.Status != 409 {
		t.Errorf("freeing a booked slot directly: %d %s", r.Status, r.Body)
	}
	doc = c.read(t, "Slot", s)
	doc["end"] = instant(at(9, 20))
	if r := c.update(t, doc); r.Status != 409 {
		t.Errorf("moving a booked slot: %d %s", r.Status, r.Body)
	}
}

// A patient's appointments are plain searches, and the slot changes the booking rules
// make are indexed like any write.
func TestBookingsAreSearchable(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	p := c.patients[0]
	s := c.slot(t, 0, at(11, 0), 30)
	late := c.create(t, c.appointment("booked", p, 0, at(11, 0), at(11, 30), s))
	early := c.create(t, c.appointment("booked", p, 1, at(9, 0), at(9, 30)))
	b := c.srv.Must(t, 200, "GET", "Appointment?patient=Patient/"+p+"&date=ge2030-01-07&_sort=date", nil)
	got := bundleResources(t, b)
	if len(got) != 2 || got[0]["id"] != early || got[1]["id"] != late {
		t.Errorf("upcoming appointments by date: %s", b.Body)
	}
	busy := bundleResources(t, c.srv.Must(t, 200, "GET", "Slot?schedule=Schedule/"+c.schedules[0]+"&status=busy", nil))
	if len(busy) != 1 || busy[0]["id"] != s {
		t.Errorf("busy slots of the schedule: %v", busy)
	}
}

func TestSlotMustBelongToAParticipant(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	theirs := c.slot(t, 1, at(11, 0), 30)
	// Doctor 0 cannot be booked into doctor 1's slot.
	r := c.srv.Do(t, "POST", "Appointment", c.appointment("booked", c.patients[0], 0, at(11, 0), at(11, 30), theirs))
	if r.Status != 422 {
		t.Fatalf("booking another doctor's slot: %d %s", r.Status, r.Body)
	}
	if code, text := diagnostics(t, r); code != "business-rule" || !strings.Contains(text, "Slot/"+theirs) {
		t.Errorf("refusal: %s %s", code, text)
	}
	if got := c.status(t, "Slot", theirs); got != "free" {
		t.Errorf("refused booking left the slot %s", got)
	}
	// Through a PractitionerRole of doctor 1 it is their slot.
	role := c.create(t, map[string]any{"resourceType": "PractitionerRole", "practitioner": ref("Practitioner", c.doctors[1])})
	doc := c.appointment("booked", c.patients[0], 0, at(11, 0), at(11, 30), theirs)
	doc["participant"].([]any)[1] = map[string]any{"actor": ref("PractitionerRole", role), "status": "accepted"}
	c.srv.Must(t, 201, "POST", "Appointment", doc)
	if got := c.status(t, "Slot", theirs); got != "busy" {
		t.Errorf("slot booked through the role is %s", got)
	}
}
