package resources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// slot is what the scheduling rules read of a Slot.
type slot struct {
	ScheduleID   string
	Status       string
	Start, End   time.Time
	ServiceTypes []string
	Specialties  []string
}

func parseSlot(body []byte) (*slot, error) {
	doc, err := decode(body)
	if err != nil {
		return nil, err
	}
	return slotOf(doc)
}

func slotOf(doc map[string]any) (*slot, error) {
	s := &slot{Status: str(doc, "status"),
		ServiceTypes: tokens(objects(doc, "serviceType")), Specialties: tokens(objects(doc, "specialty"))}
	var err error
	if s.Start, err = parseInstant(str(doc, "start")); err != nil {
		return nil, fhirerr.Unprocessable(fhirerr.CodeValue, err.Error(), "Slot.start")
	}
	if s.End, err = parseInstant(str(doc, "end")); err != nil {
		return nil, fhirerr.Unprocessable(fhirerr.CodeValue, err.Error(), "Slot.end")
	}
	if typ, id, ok := splitReference(reference(doc, "schedule")); ok && typ == "Schedule" {
		s.ScheduleID = id
	}
	return s, nil
}

// checkSlot requires a slot's end after its start, keeps the slot index that forbids
// overlapping slots in one schedule, and refuses to free, move or delete a slot that an
// appointment holds (cancel or reschedule the appointment instead).
func (r *Rules) checkSlot(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if doc == nil {
		holder, err := tx.SlotHolder(ctx, c.ID)
		if err != nil {
			return err
		}
		if holder != "" {
			return fhirerr.Conflict(fmt.Sprintf("Slot/%s is booked by Appointment/%s; cancel that appointment first", c.ID, holder))
		}
		return tx.SetSlot(ctx, c.ID, nil)
	}
	if err := checkPeriod(doc, "Slot", "start", "end"); err != nil {
		return err
	}
	s, err := slotOf(doc)
	if err != nil {
		return err
	}
	moved, rescheduled := false, false
	if old := c.Old; old != nil && !old.Deleted {
		prev, err := parseSlot(old.Content)
		moved = err != nil || !prev.Start.Equal(s.Start) || !prev.End.Equal(s.End)
		rescheduled = err == nil && prev.ScheduleID != s.ScheduleID
	}
	// Only freeing, voiding, moving a slot or giving it to another schedule can break a
	// booking; a new slot has none.
	if c.Old != nil && (moved || rescheduled || s.Status == "free" || s.Status == "entered-in-error") {
		holder, err := tx.SlotHolder(ctx, c.ID)
		if err != nil {
			return err
		}
		if holder != "" && moved {
			return fhirerr.Conflict(fmt.Sprintf("Slot/%s is booked by Appointment/%s; its time cannot change", c.ID, holder), "Slot.start")
		}
		if holder != "" && rescheduled {
			return fhirerr.Conflict(fmt.Sprintf("Slot/%s is booked by Appointment/%s; it cannot move to another schedule", c.ID, holder), "Slot.schedule")
		}
		if holder != "" {
			return fhirerr.Conflict(fmt.Sprintf("Slot/%s is booked by Appointment/%s and cannot become %s; cancel or reschedule that appointment instead",
				c.ID, holder, s.Status), "Slot.status")
		}
	}
	if s.Status == "entered-in-error" || s.ScheduleID == "" {
		return tx.SetSlot(ctx, c.ID, nil)
	}
	err = tx.SetSlot(ctx, c.ID, &storage.SlotIndex{ID: c.ID, ScheduleID: s.ScheduleID, Start: s.Start, End: s.End,
		Status: s.Status, ServiceTypes: s.ServiceTypes, Specialties: s.Specialties})
	var overlap *storage.SlotOverlap
	if errors.As(err, &overlap) {
		return fhirerr.Conflict(fmt.Sprintf("the slot %s to %s overlaps Slot/%s (%s to %s) of Schedule/%s; slots of one schedule never overlap",
			formatInstant(s.Start), formatInstant(s.End), overlap.SlotID, formatInstant(overlap.Start), formatInstant(overlap.End), s.ScheduleID), "Slot.start")
	}
	return err
}

// checkSchedule keeps the schedule index: its actors (a PractitionerRole actor also
// names its practitioner) and specialties (its own and its roles'), which $find filters on.
func (r *Rules) checkSchedule(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if doc == nil {
		return tx.SetSchedule(ctx, c.ID, nil)
	}
	idx := &storage.ScheduleIndex{ID: c.ID, Active: true, Specialties: tokens(objects(doc, "specialty"))}
	if active, ok := doc["active"].(bool); ok {
		idx.Active = active
	}
	for _, a := range objects(doc, "actor") {
		ref := str(a, "reference")
		typ, id, ok := splitReference(ref)
		if !ok {
			continue
		}
		idx.Actors = append(idx.Actors, typ+"/"+id)
		if typ != "PractitionerRole" {
			continue
		}
		role, err := r.readRole(ctx, tx, id)
		if err != nil {
			return err
		}
		if role == nil {
			continue // not written yet, e.g. later in the same transaction Bundle
		}
		if p := reference(role, "practitioner"); p != "" {
			idx.Actors = append(idx.Actors, p)
		}
		idx.Specialties = append(idx.Specialties, tokens(objects(role, "specialty"))...)
	}
	return tx.SetSchedule(ctx, c.ID, idx)
}

// readRole returns a live PractitionerRole, or nil when there is none (a dangling
// reference is refused at commit by the reference check).
func (r *Rules) readRole(ctx context.Context, tx *storage.Tx, id string) (map[string]any, error) {
	res, err := tx.Read(ctx, "PractitionerRole", id)
	if err != nil {
		if _, ok := fhirerr.As(err); ok {
			return nil, nil
		}
		return nil, err
	}
	return decode(res.Content)
}
