package resources

import (
	"context"
	"fmt"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// respondable are the appointment statuses in which participants may still answer.
var respondable = map[string]bool{"proposed": true, "pending": true, "booked": true, "waitlist": true}

// checkAppointmentResponse applies a participant's answer to its appointment, in the same
// transaction: the participant's status becomes the answer; when every required
// participant has accepted, a proposed or pending appointment becomes booked (taking its
// slot and time, or 409); when a required participant declines, the appointment is
// cancelled and its slot freed; a tentative answer makes a proposed appointment pending.
func (r *Rules) checkAppointmentResponse(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if doc == nil {
		return nil // withdrawing a response does not undo its effect; answer again instead
	}
	typ, apptID, ok := splitReference(reference(doc, "appointment"))
	if !ok || typ != "Appointment" {
		return fhirerr.Unprocessable(fhirerr.CodeValue, "appointment must be a literal reference Appointment/[id]", "AppointmentResponse.appointment")
	}
	prev, err := tx.Lock(ctx, "Appointment", apptID)
	if err != nil {
		return err
	}
	if prev == nil || prev.Deleted {
		return fhirerr.Unprocessable(fhirerr.CodeNotFound, fmt.Sprintf("Appointment/%s does not exist on this server", apptID), "AppointmentResponse.appointment")
	}
	appt, err := decode(prev.Content)
	if err != nil {
		return err
	}
	before := string(encode(appt))
	status := str(appt, "status")
	answer := str(doc, "participantStatus")
	if !respondable[status] {
		return fhirerr.Conflict(fmt.Sprintf("Appointment/%s is %s; participants can answer only while it is proposed, pending, booked or waitlist", apptID, status),
			"AppointmentResponse.appointment")
	}
	part, err := respondingParticipant(appt, doc)
	if err != nil {
		return err
	}
	part["status"] = answer
	required := str(part, "required")
	if required == "" {
		required = "required"
	}
	_, hasTime := appt["start"]
	switch {
	case answer == "declined" && required == "required" && status != "cancelled":
		appt["status"] = "cancelled"
		who := reference(doc, "actor")
		if who == "" {
			who = "a required participant"
		}
		appt["cancelationReason"] = map[string]any{"text": "declined by " + who}
	case allRequiredAccepted(appt) && hasTime && status != "booked":
		appt["status"] = "booked"
	case (answer == "tentative" || answer == "accepted") && status == "proposed" && hasTime:
		// needs-action is no answer yet: it leaves a request proposed.
		appt["status"] = "pending"
	}
	after := encode(appt)
	if string(after) == before {
		return nil // the answer repeats what the appointment already says
	}
	_, err = r.writeThrough(ctx, tx, prev, "Appointment", apptID, after)
	return err
}

// respondingParticipant finds the participant an answer is from: the one with the same
// actor, or else one without an actor whose type matches (the actor is then filled in).
func respondingParticipant(appt, resp map[string]any) (map[string]any, error) {
	actor := reference(resp, "actor")
	parts := objects(appt, "participant")
	if actor != "" {
		for _, p := range parts {
			if reference(p, "actor") == actor {
				return p, nil
			}
		}
	}
	want := map[string]bool{}
	for _, t := range tokens(objects(resp, "participantType")) {
		want[t] = true
	}
	for _, p := range parts {
		if _, hasActor := p["actor"]; hasActor {
			continue
		}
		for _, t := range tokens(objects(p, "type")) {
			if want[t] {
				if actor != "" {
					p["actor"] = resp["actor"]
				}
				return p, nil
			}
		}
	}
	return nil, fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
		fmt.Sprintf("%s is not a participant of %s", orDefault(actor, "the responder"), reference(resp, "appointment")),
		"AppointmentResponse.actor")
}

// allRequiredAccepted: every participant that is required (the default) has accepted.
func allRequiredAccepted(appt map[string]any) bool {
	for _, p := range objects(appt, "participant") {
		req := str(p, "required")
		if (req == "" || req == "required") && str(p, "status") != "accepted" {
			return false
		}
	}
	return true
}

func orDefault(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
