package resources

import (
	"context"
	"fmt"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// HoldExpiresURL is the extension on a held (pending) Appointment that says when the hold
// lapses. $hold sets it; when it has passed, the appointment is cancelled and its slot freed.
const HoldExpiresURL = "https://careslot.dev/fhir/StructureDefinition/hold-expires"

// DefaultHoldDuration is how long $hold keeps a slot when the caller does not say.
const DefaultHoldDuration = 5 * time.Minute

// expiredHoldBatch bounds how many expired holds one booking releases on its way.
const expiredHoldBatch = 20

// releaseExpiredHolds cancels held appointments whose hold has lapsed, other than except,
// in the caller's transaction, and returns how many it looked at.
func (r *Rules) releaseExpiredHolds(ctx context.Context, tx *storage.Tx, except string) (int, error) {
	ids, err := tx.ExpiredHolds(ctx, time.Now(), expiredHoldBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if id == except {
			continue
		}
		if err := r.expireHold(ctx, tx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// expireHold cancels the held appointment id if its hold has lapsed.
func (r *Rules) expireHold(ctx context.Context, tx *storage.Tx, id string) error {
	prev, err := tx.Lock(ctx, "Appointment", id)
	if err != nil {
		return err
	}
	if prev == nil || prev.Deleted {
		return tx.SetHold(ctx, id, time.Time{})
	}
	doc, err := decode(prev.Content)
	if err != nil {
		return err
	}
	appt, err := parseAppointment(doc)
	if err != nil || appt.Status != "pending" || appt.HoldExpires.IsZero() {
		return tx.SetHold(ctx, id, time.Time{})
	}
	if appt.HoldExpires.After(time.Now()) {
		return nil // renewed meanwhile
	}
	doc["status"] = "cancelled"
	doc["cancelationReason"] = map[string]any{"text": "the hold expired before the appointment was booked"}
	_, err = r.writeThrough(ctx, tx, prev, "Appointment", id, encode(doc))
	return err
}

// ExpireHolds cancels every appointment whose hold has lapsed, each in its own
// transaction, and returns how many it cancelled. $find calls it so that lapsed holds
// show as free slots; a server may also call it periodically.
func (r *Rules) ExpireHolds(ctx context.Context, store *storage.Store) (int, error) {
	n := 0
	for {
		ids, err := store.ExpiredHolds(ctx, time.Now(), expiredHoldBatch)
		if err != nil || len(ids) == 0 {
			return n, err
		}
		for _, id := range ids {
			if err := store.InTx(ctx, func(tx *storage.Tx) error { return r.expireHold(ctx, tx, id) }); err != nil {
				return n, err
			}
			n++
		}
	}
}

// PrepareHold turns an appointment offered by $find (or any proposed appointment) into
// a hold: status pending, participants who have not answered set tentative, and an
// expiry at now+d. The result is stored through the ordinary write, whose rules take
// the slot (busy-tentative) and the participants' time, or refuse with 409.
func PrepareHold(body []byte, now time.Time, d time.Duration) ([]byte, error) {
	doc, err := decode(body)
	if err != nil {
		return nil, err
	}
	status := str(doc, "status")
	if status != "proposed" && status != "pending" {
		return nil, fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
			fmt.Sprintf("only a proposed appointment can be held; this one is %s", status), "Appointment.status")
	}
	if len(objects(doc, "slot")) == 0 {
		return nil, fhirerr.Unprocessable(fhirerr.CodeRequired, "a hold needs the slot to hold", "Appointment.slot")
	}
	doc["status"] = "pending"
	for _, p := range objects(doc, "participant") {
		if s := str(p, "status"); s == "needs-action" || s == "" {
			p["status"] = "tentative"
		}
	}
	setExtension(doc, HoldExpiresURL, map[string]any{"valueInstant": formatInstant(now.Add(d).Truncate(time.Millisecond))})
	return encode(doc), nil
}

// HoldExpiry is when the hold on a held appointment lapses; ok is false when it has none.
func HoldExpiry(body []byte) (time.Time, bool) {
	doc, err := decode(body)
	if err != nil {
		return time.Time{}, false
	}
	appt, err := parseAppointment(doc)
	if err != nil || appt.HoldExpires.IsZero() {
		return time.Time{}, false
	}
	return appt.HoldExpires, true
}

// PrepareReplaced cancels an appointment that a reschedule replaces with by (Argonaut's
// $book cancelled-appt-id). Only one that holds or may hold time can be replaced: a
// cancelled (or finished) one is 409, so two reschedules of one appointment never both
// go through.
func PrepareReplaced(body []byte, by string) ([]byte, error) {
	doc, err := decode(body)
	if err != nil {
		return nil, err
	}
	switch status := str(doc, "status"); status {
	case "proposed", "pending", "booked", "waitlist":
	default:
		return nil, fhirerr.Conflict(fmt.Sprintf("the appointment to reschedule is %s; only a proposed, pending, booked or waitlisted one can be", status),
			"cancelled-appt-id")
	}
	doc["status"] = "cancelled"
	doc["cancelationReason"] = map[string]any{"text": "rescheduled to " + by}
	removeExtension(doc, HoldExpiresURL)
	return encode(doc), nil
}

// SamePatient refuses a reschedule whose new appointment is not for a patient of the old
// one: cancelled-appt-id must not cancel somebody else's appointment.
func SamePatient(old, replacement []byte) error {
	a, err := decode(old)
	if err != nil {
		return err
	}
	b, err := decode(replacement)
	if err != nil {
		return err
	}
	olds, err := parseAppointment(a)
	if err != nil {
		return err
	}
	news, err := parseAppointment(b)
	if err != nil {
		return err
	}
	for _, p := range patientIDs(olds) {
		for _, q := range patientIDs(news) {
			if p == q {
				return nil
			}
		}
	}
	return fhirerr.Unprocessable(fhirerr.CodeBusinessRule, "cancelled-appt-id names an appointment of another patient; a reschedule keeps the patient", "cancelled-appt-id")
}

// PrepareBooking turns a proposed or held appointment into a booked one for $book:
// status booked, every participant who has not declined accepted, the hold removed.
// prev is the stored appointment when the caller books one that exists (a hold). As
// IHE ITI-117 has it, a stored appointment given with status booked is changed as
// given (rescheduled when its slot changed), and one given cancelled is cancelled.
func PrepareBooking(body []byte, prev *storage.Resource, now time.Time) ([]byte, error) {
	doc, err := decode(body)
	if err != nil {
		return nil, err
	}
	if str(doc, "status") == "cancelled" {
		if prev == nil || prev.Deleted {
			return nil, fhirerr.Unprocessable(fhirerr.CodeBusinessRule, "only a stored appointment can be cancelled; give its id", "Appointment.id")
		}
		if stored, err := decode(prev.Content); err == nil && str(stored, "status") != "cancelled" {
			removeExtension(doc, HoldExpiresURL)
			return encode(doc), nil // the life cycle rule says whether it may be cancelled
		}
		// Booking one that is cancelled already says why it cannot, below.
	}
	if prev != nil && !prev.Deleted {
		stored, err := decode(prev.Content)
		if err != nil {
			return nil, err
		}
		held, err := parseAppointment(stored)
		if err != nil {
			return nil, err
		}
		switch {
		case held.Status == "cancelled" && !held.HoldExpires.IsZero() && held.HoldExpires.After(now):
			return nil, fhirerr.Conflict(fmt.Sprintf("the hold on Appointment/%s was cancelled; find and hold a slot again", prev.ID))
		case held.Status == "cancelled" && !held.HoldExpires.IsZero():
			return nil, fhirerr.Conflict(fmt.Sprintf("the hold on Appointment/%s expired at %s; find and hold a slot again", prev.ID, formatInstant(held.HoldExpires)))
		case held.holdLapsed(now):
			return nil, fhirerr.Conflict(fmt.Sprintf("the hold on Appointment/%s expired at %s; find and hold a slot again", prev.ID, formatInstant(held.HoldExpires)))
		}
	}
	switch status := str(doc, "status"); status {
	case "proposed", "pending", "booked", "waitlist":
	default:
		return nil, fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
			fmt.Sprintf("only a proposed or held appointment can be booked, a booked one changed, or a stored one cancelled; this one is %s", status), "Appointment.status")
	}
	doc["status"] = "booked"
	for _, p := range objects(doc, "participant") {
		if str(p, "status") != "declined" {
			p["status"] = "accepted"
		}
	}
	removeExtension(doc, HoldExpiresURL)
	return encode(doc), nil
}

func setExtension(doc map[string]any, url string, value map[string]any) {
	removeExtension(doc, url)
	ext := map[string]any{"url": url}
	for k, v := range value {
		ext[k] = v
	}
	list, _ := doc["extension"].([]any)
	doc["extension"] = append(list, ext)
}

func removeExtension(doc map[string]any, url string) {
	list, _ := doc["extension"].([]any)
	var keep []any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && str(m, "url") == url {
			continue
		}
		keep = append(keep, e)
	}
	if len(keep) == 0 {
		delete(doc, "extension")
		return
	}
	doc["extension"] = keep
}
