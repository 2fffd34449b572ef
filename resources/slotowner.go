package resources

import (
	"context"
	"fmt"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// checkSlotOwner refuses booking a slot of another doctor's schedule: when the slot's
// Schedule names practitioners (directly or through a PractitionerRole), one of them
// must be a participant of the appointment who has not declined. A schedule of only a
// Location or HealthcareService constrains nobody.
func (r *Rules) checkSlotOwner(ctx context.Context, tx *storage.Tx, appt *appointment, slotID string, s *slot, at string) error {
	if s.ScheduleID == "" {
		return nil
	}
	res, err := tx.Read(ctx, "Schedule", s.ScheduleID)
	if err != nil {
		if _, ok := fhirerr.As(err); ok {
			return nil // a missing schedule is the reference check's refusal, at commit
		}
		return err
	}
	doc, err := decode(res.Content)
	if err != nil {
		return err
	}
	owners := map[string]bool{} // Practitioner ids the schedule belongs to
	for _, actor := range objects(doc, "actor") {
		typ, id, ok := splitReference(str(actor, "reference"))
		if !ok {
			continue
		}
		switch typ {
		case "Practitioner":
			owners[id] = true
		case "PractitionerRole":
			prac, err := r.rolePractitioner(ctx, tx, id)
			if err != nil {
				return err
			}
			if prac != "" {
				owners[prac] = true
			}
		}
	}
	if len(owners) == 0 {
		return nil
	}
	for _, p := range appt.Participants {
		if p.declined() {
			continue
		}
		switch p.Type {
		case "Practitioner":
			if owners[p.ID] {
				return nil
			}
		case "PractitionerRole":
			prac, err := r.rolePractitioner(ctx, tx, p.ID)
			if err != nil {
				return err
			}
			if owners[prac] {
				return nil
			}
		}
	}
	return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
		fmt.Sprintf("Slot/%s belongs to Schedule/%s, whose practitioner is not a participant of this appointment", slotID, s.ScheduleID), at)
}
