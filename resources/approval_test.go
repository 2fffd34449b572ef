package resources_test

import (
	"testing"

	"github.com/careslot/careslot/app/apptest"
)

// request is a patient's request for doctor's time: the patient has accepted, the doctor has not answered.
func (c *clinic) request(status, patient string, doctor int, slot string) map[string]any {
	doc := c.appointment(status, patient, doctor, at(9, 0), at(9, 30), slot)
	doc["participant"].([]any)[1].(map[string]any)["status"] = "needs-action"
	return doc
}

func response(appt, actor, answer string) map[string]any {
	return map[string]any{"resourceType": "AppointmentResponse", "appointment": map[string]any{"reference": "Appointment/" + appt},
		"actor": map[string]any{"reference": actor}, "participantStatus": answer}
}

// participantStatus returns the status of the participant whose actor is ref.
func participantStatus(appt map[string]any, ref string) string {
	for _, p := range appt["participant"].([]any) {
		pm := p.(map[string]any)
		if a, _ := pm["actor"].(map[string]any); a != nil && a["reference"] == ref {
			s, _ := pm["status"].(string)
			return s
		}
	}
	return ""
}

func TestDoctorAcceptsRequest(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	for _, status := range []string{"proposed", "pending"} {
		id := c.create(t, c.request(status, c.patients[0], 0, s))
		wantSlot := map[string]string{"proposed": "free", "pending": "busy-tentative"}[status]
		if got := c.status(t, "Slot", s); got != wantSlot {
			t.Fatalf("%s request: slot %s, want %s", status, got, wantSlot)
		}
		doctor := "Practitioner/" + c.doctors[0]
		c.srv.Must(t, 201, "POST", "AppointmentResponse", response(id, doctor, "accepted"))
		appt := c.read(t, "Appointment", id)
		if appt["status"] != "booked" || participantStatus(appt, doctor) != "accepted" {
			t.Errorf("%s request accepted: appointment %v, doctor %s", status, appt["status"], participantStatus(appt, doctor))
		}
		if got := c.status(t, "Slot", s); got != "busy" {
			t.Errorf("%s request accepted: slot %s", status, got)
		}
		// Cancel so the next round can use the same slot.
		appt["status"] = "cancelled"
		if r := c.update(t, appt); r.Status != 200 {
			t.Fatalf("cancel: %d %s", r.Status, r.Body)
		}
	}
}

func TestDoctorDeclinesRequest(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	id := c.create(t, c.request("pending", c.patients[0], 0, s))
	c.srv.Must(t, 201, "POST", "AppointmentResponse", response(id, "Practitioner/"+c.doctors[0], "declined"))
	appt := c.read(t, "Appointment", id)
	if appt["status"] != "cancelled" || appt["cancelationReason"] == nil {
		t.Errorf("declined request: status %v, cancelationReason %v", appt["status"], appt["cancelationReason"])
	}
	if got := c.status(t, "Slot", s); got != "free" {
		t.Errorf("declined request left the slot %s", got)
	}
	// Answering a cancelled appointment is refused.
	if r := c.srv.Do(t, "POST", "AppointmentResponse", response(id, "Practitioner/"+c.doctors[0], "accepted")); r.Status != 409 {
		t.Errorf("answer to a cancelled appointment: %d %s", r.Status, r.Body)
	}
}

func TestTentativeAndPartialAnswers(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 1)
	s := c.slot(t, 0, at(9, 0), 30)
	doc := c.request("proposed", c.patients[0], 0, s)
	// A second doctor is required too.
	doc["participant"] = append(doc["participant"].([]any), map[string]any{"actor": ref("Practitioner", c.doctors[1]), "status": "needs-action"})
	id := c.create(t, doc)
	first, second := "Practitioner/"+c.doctors[0], "Practitioner/"+c.doctors[1]

	c.srv.Must(t, 201, "POST", "AppointmentResponse", response(id, first, "tentative"))
	if got := c.status(t, "Appointment", id); got != "pending" {
		t.Errorf("after a tentative answer the appointment is %s, want pending", got)
	}
	c.srv.Must(t, 201, "POST", "AppointmentResponse", response(id, first, "accepted"))
	if got := c.status(t, "Appointment", id); got != "pending" {
		t.Errorf("with one of two doctors accepted the appointment is %s, want pending", got)
	}
	c.srv.Must(t, 201, "POST", "AppointmentResponse", response(id, second, "accepted"))
	if got := c.status(t, "Appointment", id); got != "booked" {
		t.Errorf("with both doctors accepted the appointment is %s, want booked", got)
	}
	// Someone who is not a participant cannot answer.
	stranger := c.create(t, map[string]any{"resourceType": "Practitioner"})
	if r := c.srv.Do(t, "POST", "AppointmentResponse", response(id, "Practitioner/"+stranger, "accepted")); r.Status != 422 {
		t.Errorf("answer from a non-participant: %d %s", r.Status, r.Body)
	}
	// An answer to an appointment that does not exist is refused.
	if r := c.srv.Do(t, "POST", "AppointmentResponse", response("nope", first, "accepted")); r.Status != 422 && r.Status != 404 {
		t.Errorf("answer to a missing appointment: %d %s", r.Status, r.Body)
	}
}

func TestAcceptingIntoAConflictIsRefused(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	// Two proposed requests for the same doctor at the same time (the second without a
	// slot: the doctor's schedule cannot hold two at once); the second acceptance must fail.
	a := c.create(t, c.request("proposed", c.patients[0], 0, c.slot(t, 0, at(9, 0), 30)))
	second := c.request("proposed", c.patients[1], 0, "")
	delete(second, "slot")
	b := c.create(t, second)
	c.srv.Must(t, 201, "POST", "AppointmentResponse", response(a, "Practitioner/"+c.doctors[0], "accepted"))
	r := c.srv.Do(t, "POST", "AppointmentResponse", response(b, "Practitioner/"+c.doctors[0], "accepted"))
	if r.Status != 409 {
		t.Fatalf("accepting an overlapping request: %d %s", r.Status, r.Body)
	}
	if got := c.status(t, "Appointment", b); got != "proposed" {
		t.Errorf("refused acceptance changed the appointment to %s", got)
	}
}
