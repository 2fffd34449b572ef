package resources_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/resources"
)

// offer returns $find's proposed appointment of slot for patient.
func (c *clinic) offer(t *testing.T, patient, slot string) map[string]any {
	t.Helper()
	for _, o := range bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&patient-reference=Patient/"+patient, nil)) {
		if o["slot"].([]any)[0].(map[string]any)["reference"] == "Slot/"+slot {
			return o
		}
	}
	t.Fatalf("$find offers no appointment of Slot/%s to Patient/%s", slot, patient)
	return nil
}

// bookedOf returns the ids of the patient's booked appointments.
func (c *clinic) bookedOf(t *testing.T, patient string) []string {
	t.Helper()
	var ids []string
	for _, a := range bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment?patient=Patient/"+patient+"&status=booked", nil)) {
		ids = append(ids, a["id"].(string))
	}
	return ids
}

// slotStatuses returns the status of each slot, in order.
func (c *clinic) slotStatuses(t *testing.T, slots ...string) []string {
	t.Helper()
	var out []string
	for _, s := range slots {
		out = append(out, c.status(t, "Slot", s))
	}
	return out
}

// bookOne books $find's offer of slot for patient and returns the appointment.
func (c *clinic) bookOne(t *testing.T, patient, slot string) map[string]any {
	t.Helper()
	return bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$book", params("appointment-resource", c.offer(t, patient, slot))))[0]
}

// bookRefusal checks an ITI-117 refusal: a searchset Bundle holding only a fatal
// OperationOutcome, with the status want.
func bookRefusal(t *testing.T, r *apptest.Response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("$book: %d, want %d: %s", r.Status, want, r.Body)
	}
	b := r.JSON(t)
	entries, _ := b["entry"].([]any)
	if b["resourceType"] != "Bundle" || b["type"] != "searchset" || len(entries) != 1 {
		t.Fatalf("$book refusal is not a searchset Bundle of one entry: %s", r.Body)
	}
	e := entries[0].(map[string]any)
	oo := e["resource"].(map[string]any)
	issue := oo["issue"].([]any)[0].(map[string]any)
	if oo["resourceType"] != "OperationOutcome" || issue["severity"] != "fatal" || e["search"].(map[string]any)["mode"] != "outcome" {
		t.Errorf("$book refusal entry: %v", e)
	}
}

// TestRescheduleArgonaut: $book of a new offer with cancelled-appt-id books it and
// cancels the old appointment, freeing its slot, in one transaction; when the new slot
// is taken meanwhile, or the old appointment cannot be replaced, nothing changes.
func TestRescheduleArgonaut(t *testing.T) {
	c := newClinic(t, apptest.New(t), 2)
	p := c.patients[0]
	a, b, d := c.slot(t, 0, at(9, 0), 30), c.slot(t, 0, at(10, 0), 30), c.slot(t, 0, at(11, 0), 30)
	old := c.bookOne(t, p, a)["id"].(string)

	moved := bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$book",
		params("appointment-resource", c.offer(t, p, b), "cancelled-appt-id", "Appointment/"+old)))[0]
	if moved["status"] != "booked" {
		t.Fatalf("rescheduled appointment: %v", moved)
	}
	cancelled := c.read(t, "Appointment", old)
	if cancelled["status"] != "cancelled" || !strings.Contains(cancelled["cancelationReason"].(map[string]any)["text"].(string), moved["id"].(string)) {
		t.Errorf("the old appointment: %v", cancelled)
	}
	if got := c.slotStatuses(t, a, b, d); strings.Join(got, ",") != "free,busy,free" {
		t.Errorf("slots a, b, d after the reschedule: %v", got)
	}
	if got := c.bookedOf(t, p); len(got) != 1 || got[0] != moved["id"] {
		t.Errorf("booked appointments of the patient: %v, want only %s", got, moved["id"])
	}

	// The new slot is taken by somebody else between $find and $book: nothing changes.
	offerD := c.offer(t, p, d)
	c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", c.patients[1], 0, at(11, 0), at(11, 30), d))
	bookRefusal(t, c.srv.Do(t, "POST", "Appointment/$book", params("appointment-resource", offerD, "cancelled-appt-id", "Appointment/"+moved["id"].(string))), http.StatusConflict)
	if c.status(t, "Appointment", moved["id"].(string)) != "booked" || c.status(t, "Slot", b) != "busy" {
		t.Errorf("a refused reschedule cancelled the appointment or freed its slot")
	}
	if got := c.bookedOf(t, p); len(got) != 1 {
		t.Errorf("booked appointments of the patient after a refused reschedule: %v", got)
	}

	// An appointment cancelled already cannot be replaced again, nor can another patient's.
	e := c.slot(t, 0, at(12, 0), 30)
	bookRefusal(t, c.srv.Do(t, "POST", "Appointment/$book", params("appointment-resource", c.offer(t, p, e), "cancelled-appt-id", "Appointment/"+old)), http.StatusConflict)
	bookRefusal(t, c.srv.Do(t, "POST", "Appointment/$book", params("appointment-resource", c.offer(t, c.patients[1], e), "cancelled-appt-id", "Appointment/"+moved["id"].(string))), http.StatusUnprocessableEntity)
	if r := c.srv.Do(t, "POST", "Appointment/$book", params("appointment-resource", c.offer(t, p, e), "cancelled-appt-id", "Appointment/nothing")); r.Status != 404 {
		t.Errorf("rescheduling an unknown appointment: %d %s", r.Status, r.Body)
	}
	if got := c.slotStatuses(t, b, e); strings.Join(got, ",") != "busy,free" || c.status(t, "Appointment", moved["id"].(string)) != "booked" {
		t.Errorf("refused reschedules changed something: slots %v", got)
	}
}

// TestRescheduleIHE: ITI-117's way, $book of the stored appointment as changed (status
// booked, another slot) moves it; if the new slot is taken, nothing changes. Given
// cancelled, it is cancelled and its slot freed.
func TestRescheduleIHE(t *testing.T) {
	c := newClinic(t, apptest.New(t), 2)
	p := c.patients[0]
	a, b, d := c.slot(t, 0, at(9, 0), 30), c.slot(t, 0, at(10, 0), 30), c.slot(t, 0, at(11, 0), 30)
	appt := c.bookOne(t, p, a)
	id := appt["id"].(string)
	moveTo := func(slot string, hour int) map[string]any {
		changed := c.read(t, "Appointment", id)
		changed["slot"] = []any{ref("Slot", slot)}
		changed["start"], changed["end"] = instant(at(hour, 0)), instant(at(hour, 30))
		return changed
	}
	moved := bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$book", params("appointment-resource", moveTo(b, 10))))[0]
	if moved["id"] != id || moved["status"] != "booked" || moved["start"] != instant(at(10, 0)) {
		t.Fatalf("modified appointment: %v", moved)
	}
	if got := c.slotStatuses(t, a, b); strings.Join(got, ",") != "free,busy" {
		t.Errorf("slots a, b after the change: %v", got)
	}
	c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", c.patients[1], 0, at(11, 0), at(11, 30), d))
	bookRefusal(t, c.srv.Do(t, "POST", "Appointment/$book", params("appointment-resource", moveTo(d, 11))), http.StatusConflict)
	if got := c.read(t, "Appointment", id); got["start"] != instant(at(10, 0)) || c.status(t, "Slot", b) != "busy" {
		t.Errorf("a refused change moved the appointment: %v", got)
	}
	if got := c.bookedOf(t, p); len(got) != 1 || got[0] != id {
		t.Errorf("booked appointments of the patient: %v", got)
	}
	cancel := c.read(t, "Appointment", id)
	cancel["status"] = "cancelled"
	done := bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$book", params("appointment-resource", cancel, "comment", "patient called")))[0]
	if done["status"] != "cancelled" || done["comment"] != "patient called" || c.status(t, "Slot", b) != "free" {
		t.Errorf("cancel by $book: %v, slot %s", done, c.status(t, "Slot", b))
	}
	if got := c.bookedOf(t, p); len(got) != 0 {
		t.Errorf("booked appointments after the cancel: %v", got)
	}
}

// TestConcurrentReschedulesOfOneAppointment: eight reschedules of one appointment to
// eight different slots at once: exactly one goes through; the patient has one booked
// appointment, the old slot is free and exactly one new slot busy.
func TestConcurrentReschedulesOfOneAppointment(t *testing.T) {
	c := newClinic(t, apptest.New(t), 1)
	p := c.patients[0]
	a := c.slot(t, 0, at(8, 0), 30)
	old := c.bookOne(t, p, a)["id"].(string)
	var slots []string
	var offers []map[string]any
	for i := 0; i < 8; i++ {
		s := c.slot(t, i%2, at(9+i, 0), 30)
		slots = append(slots, s)
		offers = append(offers, c.offer(t, p, s))
	}
	statuses := make([]int, len(offers))
	var wg sync.WaitGroup
	for i, o := range offers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = c.srv.Do(t, "POST", "Appointment/$book", params("appointment-resource", o, "cancelled-appt-id", "Appointment/"+old)).Status
		}()
	}
	wg.Wait()
	won, busy := 0, 0
	for i, st := range statuses {
		switch st {
		case 200:
			won++
		case 409:
		default:
			t.Errorf("reschedule %d: %d", i, st)
		}
	}
	for _, s := range slots {
		if c.status(t, "Slot", s) == "busy" {
			busy++
		}
	}
	if won != 1 || busy != 1 || c.status(t, "Slot", a) != "free" || c.status(t, "Appointment", old) != "cancelled" {
		t.Errorf("%d reschedules went through and %d new slots are busy (want 1 and 1); old slot %s", won, busy, c.status(t, "Slot", a))
	}
	if got := c.bookedOf(t, p); len(got) != 1 {
		t.Errorf("booked appointments of the patient: %v, want one", got)
	}
}

// TestHoldAnswersAndRefusals: ITI-116's shapes. A hold is a searchset Bundle with the
// pending Appointment and an Expires header at the hold's expiry; a slot no longer
// available is an OperationOutcome, fatal, not-found.
func TestHoldAnswersAndRefusals(t *testing.T) {
	c := newClinic(t, apptest.New(t), 2)
	s := c.slot(t, 0, at(9, 0), 30)
	offer := c.offer(t, c.patients[0], s)
	r := c.srv.Must(t, 200, "POST", "Appointment/$hold", params("appointment-resource", offer))
	b := r.JSON(t)
	held := bundleResources(t, r)
	if b["type"] != "searchset" || b["total"] != float64(1) || len(held) != 1 || held[0]["status"] != "pending" {
		t.Fatalf("$hold answer: %s", r.Body)
	}
	expires, ok := resources.HoldExpiry(mustJSON(t, held[0]))
	header, err := http.ParseTime(r.Header.Get("Expires"))
	if !ok || err != nil || !header.Equal(expires.Truncate(time.Second)) {
		t.Errorf("Expires %q, hold-expires %v", r.Header.Get("Expires"), expires)
	}
	if d := time.Until(expires); d < 4*time.Minute || d > 5*time.Minute {
		t.Errorf("the default hold lasts %v, want 5 minutes", d)
	}
	r = c.srv.Do(t, "POST", "Appointment/$hold", params("appointment-resource", c.appointment("proposed", c.patients[1], 0, at(9, 0), at(9, 30), s)))
	if r.Status != http.StatusConflict {
		t.Fatalf("holding a held slot: %d %s", r.Status, r.Body)
	}
	issue := r.JSON(t)["issue"].([]any)[0].(map[string]any)
	if issue["severity"] != "fatal" || issue["code"] != "not-found" {
		t.Errorf("unavailable hold: %v, want fatal not-found", issue)
	}
	// By reference to a stored proposed appointment, and refusals of bad calls.
	proposed := c.create(t, c.appointment("proposed", c.patients[1], 1, at(9, 0), at(9, 30), c.slot(t, 1, at(9, 0), 30)))
	if got := bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$hold", params("appointment-reference", "Appointment/"+proposed)))[0]; got["id"] != proposed {
		t.Errorf("hold by reference: %v", got)
	}
	r = c.srv.Do(t, "POST", "Appointment/$hold", params("appointment-reference", "Appointment/"+proposed, "appointment-resource", offer))
	if r.Status != 400 || r.JSON(t)["issue"].([]any)[0].(map[string]any)["severity"] != "fatal" {
		t.Errorf("both appointment parameters: %d %s", r.Status, r.Body)
	}
}

// TestHoldTTLConfigured: with CARESLOT_HOLD_TTL (here 2 s) a hold lasts that long, says
// so, and lapses: the slot is offered again and the hold cannot be booked.
func TestHoldTTLConfigured(t *testing.T) {
	c := newClinic(t, apptest.New(t, apptest.WithHoldTTL(2*time.Second)), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	r := c.srv.Must(t, 200, "POST", "Appointment/$hold", params("appointment-resource", c.offer(t, c.patients[0], s)))
	held := bundleResources(t, r)[0]
	expires, _ := resources.HoldExpiry(mustJSON(t, held))
	if d := time.Until(expires); d <= 0 || d > 2*time.Second {
		t.Fatalf("a 2 s hold expires in %v", d)
	}
	if _, err := http.ParseTime(r.Header.Get("Expires")); err != nil {
		t.Errorf("Expires %q: %v", r.Header.Get("Expires"), err)
	}
	if c.status(t, "Slot", s) != "busy-tentative" {
		t.Fatalf("held slot is %s", c.status(t, "Slot", s))
	}
	time.Sleep(time.Until(expires) + 300*time.Millisecond)
	if found := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08", nil)); len(found) != 1 {
		t.Errorf("$find after the hold lapsed: %d offers, want the slot again", len(found))
	}
	if got := c.status(t, "Appointment", held["id"].(string)); got != "cancelled" {
		t.Errorf("lapsed hold is %s", got)
	}
	bookRefusal(t, c.srv.Do(t, "POST", "Appointment/$book", params("appointment-reference", "Appointment/"+held["id"].(string))), http.StatusConflict)
}
