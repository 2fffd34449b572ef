package resources

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// The visit of an appointment is its Encounter (docs/records.md): arriving or checking
// in starts it, fulfilled finishes it, and a no-show, cancellation or entered-in-error
// after arrival cancels it. The visits table holds one Encounter per appointment.

// visitStarted are the appointment statuses in which the patient is being seen.
var visitStarted = map[string]bool{"arrived": true, "checked-in": true}

// visitCancelled are the statuses that cancel a visit that was started.
var visitCancelled = map[string]bool{"noshow": true, "cancelled": true, "entered-in-error": true}

// writingAppointmentKey carries the appointment whose write is starting its visit: the
// Encounter rule checks the patient against it, as the stored version is not yet (or
// no longer) what is being written.
type writingAppointmentKey struct{}

type writingAppointment struct {
	id   string
	appt *appointment
}

// followVisit keeps the appointment's Encounter in step with its new status.
func (r *Rules) followVisit(ctx context.Context, tx *storage.Tx, id string, old, appt *appointment) error {
	if old != nil && old.Status == appt.Status {
		return nil
	}
	ctx = context.WithValue(ctx, writingAppointmentKey{}, writingAppointment{id: id, appt: appt})
	switch {
	case visitStarted[appt.Status]:
		return r.startVisit(ctx, tx, id, appt)
	case appt.Status == "fulfilled":
		return r.finishVisit(ctx, tx, id, appt)
	case visitCancelled[appt.Status]:
		return r.setVisitStatus(ctx, tx, id, "cancelled")
	}
	return nil
}

// startVisit creates the appointment's Encounter, in progress, or starts the one the
// client created for it.
func (r *Rules) startVisit(ctx context.Context, tx *storage.Tx, id string, appt *appointment) error {
	return r.openVisit(ctx, tx, id, appt, "in-progress")
}

// finishVisit finishes the appointment's Encounter. An appointment fulfilled without
// having been marked arrived still was a visit: its Encounter is created finished, from
// the appointment's start (when that is past) to now, so its records have a visit to
// name.
func (r *Rules) finishVisit(ctx context.Context, tx *storage.Tx, id string, appt *appointment) error {
	owner, err := tx.Visit(ctx, id)
	if err != nil {
		return err
	}
	if owner == "" {
		return r.openVisit(ctx, tx, id, appt, "finished")
	}
	return r.setVisitStatus(ctx, tx, id, "finished")
}

// openVisit writes the appointment's Encounter with status in-progress or finished,
// creating it or filling in the one the client created for the appointment.
func (r *Rules) openVisit(ctx context.Context, tx *storage.Tx, id string, appt *appointment, status string) error {
	fresh := storage.NewID()
	owner, err := tx.ClaimVisit(ctx, id, fresh)
	if err != nil {
		return err
	}
	var prev *storage.Resource
	if owner != fresh {
		if prev, err = tx.Lock(ctx, "Encounter", owner); err != nil {
			return err
		}
		if prev == nil || prev.Deleted {
			prev, owner = nil, fresh // a stale row: the Encounter rule moves it to the new one
		}
	}
	enc := map[string]any{}
	if prev != nil {
		if enc, err = decode(prev.Content); err != nil {
			return err
		}
		if str(enc, "status") == status {
			return nil // checking in after arriving changes nothing
		}
	}
	now := time.Now()
	if status == "finished" {
		start := now
		if !appt.Start.IsZero() && appt.Start.Before(now) {
			start = appt.Start
		}
		fillEncounter(enc, id, appt, start)
		enc["status"] = "finished"
		if period := enc["period"].(map[string]any); period["end"] == nil {
			period["end"] = formatInstant(now)
		}
	} else {
		fillEncounter(enc, id, appt, now)
	}
	_, err = r.writeThrough(ctx, tx, prev, "Encounter", owner, encode(enc))
	return err
}

// fillEncounter makes enc the in-progress visit of the appointment, keeping what the
// client already wrote in it.
func fillEncounter(enc map[string]any, apptID string, appt *appointment, now time.Time) {
	enc["resourceType"] = "Encounter"
	enc["status"] = "in-progress"
	if _, ok := enc["class"]; !ok {
		// R4 requires a class; a booked appointment is an ambulatory visit.
		enc["class"] = map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"}
	}
	if !namesReference(objects(enc, "appointment"), "Appointment/"+apptID) {
		enc["appointment"] = append(anyList(enc["appointment"]), map[string]any{"reference": "Appointment/" + apptID})
	}
	var participants, locations []any
	for _, p := range appt.Participants {
		if p.declined() || p.Ref == "" {
			continue
		}
		switch p.Type {
		case "Patient":
			if _, ok := enc["subject"]; !ok {
				enc["subject"] = map[string]any{"reference": p.Ref}
			}
		case "Practitioner", "PractitionerRole", "RelatedPerson":
			participants = append(participants, map[string]any{"individual": map[string]any{"reference": p.Ref}})
		case "Location":
			locations = append(locations, map[string]any{"location": map[string]any{"reference": p.Ref}})
		}
	}
	if _, ok := enc["participant"]; !ok && participants != nil {
		enc["participant"] = participants
	}
	if _, ok := enc["location"]; !ok && locations != nil {
		enc["location"] = locations
	}
	if _, ok := enc["serviceType"]; !ok && appt.ServiceType != nil {
		enc["serviceType"] = appt.ServiceType
	}
	period, _ := enc["period"].(map[string]any)
	if period == nil {
		period = map[string]any{}
		enc["period"] = period
	}
	if _, ok := period["start"]; !ok {
		period["start"] = formatInstant(now)
	}
}

// setVisitStatus finishes or cancels the appointment's Encounter, if it has one.
func (r *Rules) setVisitStatus(ctx context.Context, tx *storage.Tx, id, status string) error {
	owner, err := tx.Visit(ctx, id)
	if err != nil || owner == "" {
		return err
	}
	prev, err := tx.Lock(ctx, "Encounter", owner)
	if err != nil || prev == nil || prev.Deleted {
		return err
	}
	enc, err := decode(prev.Content)
	if err != nil {
		return err
	}
	if str(enc, "status") == status {
		return nil
	}
	enc["status"] = status
	if status == "finished" {
		period, _ := enc["period"].(map[string]any)
		if period == nil {
			period = map[string]any{}
			enc["period"] = period
		}
		if _, ok := period["end"]; !ok {
			period["end"] = formatInstant(time.Now())
		}
	}
	_, err = r.writeThrough(ctx, tx, prev, "Encounter", owner, encode(enc))
	return err
}

// checkEncounter keeps the visits table in step with the Encounter's appointments and
// refuses an Encounter that is not about its appointment's patient, or that names an
// appointment whose visit is another Encounter.
func (r *Rules) checkEncounter(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if doc == nil {
		return tx.DropVisits(ctx, c.ID, nil)
	}
	subject := reference(doc, "subject")
	if err := r.checkEncounterSubjectKeepsRecords(ctx, tx, c, subject); err != nil {
		return err
	}
	var appts []string
	for i, ref := range objects(doc, "appointment") {
		typ, apptID, ok := splitReference(str(ref, "reference"))
		if !ok || typ != "Appointment" {
			continue
		}
		at := fmt.Sprintf("Encounter.appointment[%d]", i)
		patients, err := r.appointmentPatients(ctx, tx, apptID)
		if err != nil {
			return err
		}
		if subject != "" && patients != nil && !contains(patients, subject) {
			return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
				fmt.Sprintf("Encounter.subject is %s but Appointment/%s is for %s: an encounter of an appointment must be about its patient",
					subject, apptID, strings.Join(patients, " or ")), at)
		}
		owner, err := tx.ClaimVisit(ctx, apptID, c.ID)
		if err != nil {
			return err
		}
		if owner != c.ID {
			other, err := tx.Lock(ctx, "Encounter", owner)
			if err != nil {
				return err
			}
			if other != nil && !other.Deleted {
				return fhirerr.Conflict(fmt.Sprintf("Appointment/%s already has its visit, Encounter/%s; an appointment has one Encounter", apptID, owner), at)
			}
			if err := tx.MoveVisit(ctx, apptID, c.ID); err != nil {
				return err
			}
		}
		appts = append(appts, apptID)
	}
	return tx.DropVisits(ctx, c.ID, appts)
}

// appointmentPatients returns the Patient references of the appointment; nil when it is
// not stored (yet: a Bundle may create it after; the reference check at commit decides).
func (r *Rules) appointmentPatients(ctx context.Context, tx *storage.Tx, id string) ([]string, error) {
	appt, err := r.appointmentForVisit(ctx, tx, id)
	if err != nil || appt == nil {
		return nil, err
	}
	patients := []string{}
	for _, p := range appt.Participants {
		if p.Type == "Patient" {
			patients = append(patients, p.Ref)
		}
	}
	if len(patients) == 0 {
		return nil, nil
	}
	return patients, nil
}

func (r *Rules) appointmentForVisit(ctx context.Context, tx *storage.Tx, id string) (*appointment, error) {
	if w, ok := ctx.Value(writingAppointmentKey{}).(writingAppointment); ok && w.id == id {
		return w.appt, nil
	}
	res, err := readLiveTx(ctx, tx, "Appointment", id)
	if err != nil || res == nil {
		return nil, err // missing or deleted: the reference check refuses it at commit
	}
	doc, err := decode(res.Content)
	if err != nil {
		return nil, err
	}
	return parseAppointment(doc)
}

func namesReference(refs []map[string]any, want string) bool {
	for _, r := range refs {
		if str(r, "reference") == want {
			return true
		}
	}
	return false
}

func anyList(v any) []any {
	l, _ := v.([]any)
	return l
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
