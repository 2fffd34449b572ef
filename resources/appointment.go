package resources

import (
	"context"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// checkAppointment runs every rule of an Appointment change: the R4 invariants, the
// life cycle on update, then the booking (slots, coverage, no overlapping time).
func (r *Rules) checkAppointment(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if doc == nil {
		return r.releaseAppointment(ctx, tx, c.ID)
	}
	if err := checkAppointmentInvariants(doc); err != nil {
		return err
	}
	appt, err := parseAppointment(doc)
	if err != nil {
		return err
	}
	var old *appointment
	if c.Old != nil && !c.Old.Deleted {
		oldDoc, err := decode(c.Old.Content)
		if err != nil {
			return err
		}
		if old, err = parseAppointment(oldDoc); err != nil {
			return err
		}
		if err := checkTransition(old.Status, appt.Status); err != nil {
			return err
		}
	}
	if err := r.book(ctx, tx, c.ID, old, appt, c.Old == nil); err != nil {
		return err
	}
	return r.followVisit(ctx, tx, c.ID, old, appt)
}

// checkAppointmentInvariants enforces the R4 Appointment invariants:
// app-2 start and end come together, app-3 only proposed, cancelled or waitlist
// appointments may lack them, app-4 cancelationReason only when cancelled or noshow,
// and end after start.
func checkAppointmentInvariants(doc map[string]any) error {
	status, _ := doc["status"].(string)
	_, hasStart := doc["start"]
	_, hasEnd := doc["end"]
	if hasStart != hasEnd {
		return fhirerr.Unprocessable(fhirerr.CodeInvariant,
			"app-2: either start and end are specified, or neither", "Appointment.start", "Appointment.end")
	}
	if !hasStart && status != "proposed" && status != "cancelled" && status != "waitlist" {
		return fhirerr.Unprocessable(fhirerr.CodeInvariant,
			"app-3: only proposed, cancelled or waitlist appointments can be missing start/end dates", "Appointment.start")
	}
	if _, ok := doc["cancelationReason"]; ok && status != "cancelled" && status != "noshow" {
		return fhirerr.Unprocessable(fhirerr.CodeInvariant,
			"app-4: cancelationReason is only used for appointments that have been cancelled, or no-show", "Appointment.cancelationReason")
	}
	if hasStart {
		if err := checkPeriod(doc, "Appointment", "start", "end"); err != nil {
			return err
		}
	}
	return nil
}

// checkPeriod requires doc[endKey] to be a later instant than doc[startKey], by at least
// a microsecond.
func checkPeriod(doc map[string]any, typ, startKey, endKey string) error {
	start, err := instant(doc, startKey)
	if err != nil {
		return fhirerr.Unprocessable(fhirerr.CodeValue, err.Error(), typ+"."+startKey)
	}
	end, err := instant(doc, endKey)
	if err != nil {
		return fhirerr.Unprocessable(fhirerr.CodeValue, err.Error(), typ+"."+endKey)
	}
	// PostgreSQL keeps microseconds: an end later only by nanoseconds is an empty range there.
	if !end.Truncate(time.Microsecond).After(start.Truncate(time.Microsecond)) {
		return fhirerr.Unprocessable(fhirerr.CodeInvariant,
			typ+"."+endKey+" must be after "+typ+"."+startKey+" (to the microsecond)", typ+"."+endKey)
	}
	return nil
}

// instant reads an R4 instant element.
func instant(doc map[string]any, key string) (time.Time, error) {
	s, _ := doc[key].(string)
	return time.Parse(time.RFC3339Nano, s)
}
