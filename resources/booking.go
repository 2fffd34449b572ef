package resources

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// appointment is what the booking rules read of an Appointment.
type appointment struct {
	Status       string
	Start, End   time.Time // zero when the appointment has no time yet
	Slots        []string  // ids of the referenced slots
	Participants []participant
	HoldExpires  time.Time      // when a $hold lapses; zero when not held
	Coverages    []string       // Coverage ids named in supportingInformation: the ones that pay
	ServiceType  map[string]any // the first serviceType, which its visit's Encounter takes
}

// participant is one Appointment.participant.
type participant struct {
	Index    int
	Ref      string // Type/id of the actor, "" when only a type is given
	Type, ID string
	Status   string
	Required string // required (the default), optional or information-only
}

func (p participant) declined() bool { return p.Status == "declined" }

func parseAppointment(doc map[string]any) (*appointment, error) {
	a := &appointment{Status: str(doc, "status")}
	if s := str(doc, "start"); s != "" {
		var err error
		if a.Start, err = parseInstant(s); err != nil {
			return nil, fhirerr.Unprocessable(fhirerr.CodeValue, err.Error(), "Appointment.start")
		}
		if a.End, err = parseInstant(str(doc, "end")); err != nil {
			return nil, fhirerr.Unprocessable(fhirerr.CodeValue, err.Error(), "Appointment.end")
		}
	}
	for i, ref := range objects(doc, "slot") {
		_, id, ok := splitReference(str(ref, "reference"))
		if !ok {
			return nil, fhirerr.Unprocessable(fhirerr.CodeValue, "a slot must be a literal reference Slot/[id] to a slot on this server",
				fmt.Sprintf("Appointment.slot[%d]", i))
		}
		a.Slots = append(a.Slots, id)
	}
	for i, p := range objects(doc, "participant") {
		part := participant{Index: i, Ref: reference(p, "actor"), Status: str(p, "status"), Required: str(p, "required")}
		if part.Required == "" {
			part.Required = "required"
		}
		part.Type, part.ID, _ = splitReference(part.Ref)
		a.Participants = append(a.Participants, part)
	}
	if types := objects(doc, "serviceType"); len(types) > 0 {
		a.ServiceType = types[0]
	}
	for _, info := range objects(doc, "supportingInformation") {
		if typ, id, ok := splitReference(str(info, "reference")); ok && typ == "Coverage" {
			a.Coverages = append(a.Coverages, id)
		}
	}
	for _, ext := range objects(doc, "extension") {
		if str(ext, "url") == HoldExpiresURL {
			t, err := parseInstant(str(ext, "valueInstant"))
			if err != nil {
				return nil, fhirerr.Unprocessable(fhirerr.CodeValue, "the hold-expires extension needs a valueInstant", "Appointment.extension")
			}
			a.HoldExpires = t
		}
	}
	return a, nil
}

// hasActor reports whether a participant who has not declined is of type typ.
// holdLapsed reports whether a is a $hold whose time has run out.
func (a *appointment) holdLapsed(now time.Time) bool {
	return a.Status == "pending" && !a.HoldExpires.IsZero() && !a.HoldExpires.After(now)
}

func (a *appointment) hasActor(typ string) bool {
	for _, p := range a.Participants {
		if p.Type == typ && !p.declined() {
			return true
		}
	}
	return false
}

// book keeps the scheduling tables in step with an appointment that is being written:
// its slots, its participants' time and its hold. Everything here happens in the write
// transaction, so the whole change is stored or none of it. fresh means the appointment
// never existed, so it holds nothing yet. When the booking conflicts and lapsed holds
// are found and cancelled, it is tried once more: a booking never loses to a dead hold.
func (r *Rules) book(ctx context.Context, tx *storage.Tx, id string, old, appt *appointment, fresh bool) error {
	if old != nil && old.holdLapsed(time.Now()) && holdsTime[appt.Status] {
		// As $book says: a lapsed hold is gone, even before the sweep has cancelled it.
		return fhirerr.Conflict(fmt.Sprintf("the hold on Appointment/%s expired at %s; find and hold a slot again", id, formatInstant(old.HoldExpires)))
	}
	err := r.bookOnce(ctx, tx, id, old, appt, fresh)
	// Only a conflict the rules found is worth a second try here: one made from a
	// database error (a deadlock) leaves an aborted transaction, where nothing more runs.
	if !errors.Is(err, fhirerr.ErrConflict) || storage.Aborted(err) {
		return err
	}
	released, rerr := r.releaseExpiredHolds(ctx, tx, id)
	if rerr != nil {
		return rerr
	}
	if released == 0 {
		return err
	}
	// Every step below is idempotent and no statement failed, so trying again in the
	// same transaction is sound; fresh is false now, as the first try may have written.
	return r.bookOnce(ctx, tx, id, old, appt, false)
}

func (r *Rules) bookOnce(ctx context.Context, tx *storage.Tx, id string, old, appt *appointment, fresh bool) error {
	takesTime := holdsTime[appt.Status] && !appt.Start.IsZero()
	var wantSlots []string
	if holdsSlot[appt.Status] {
		wantSlots = appt.Slots
	}
	if len(wantSlots) > 0 && holdsTime[appt.Status] {
		if !appt.hasActor("Patient") {
			return fhirerr.Unprocessable(fhirerr.CodeRequired, "booking a slot needs a Patient participant", "Appointment.participant")
		}
		if !appt.hasActor("Practitioner") && !appt.hasActor("PractitionerRole") {
			return fhirerr.Unprocessable(fhirerr.CodeRequired, "booking a slot needs a Practitioner (or PractitionerRole) participant", "Appointment.participant")
		}
	}
	if takesTime && r.cfg.RequireCoverage && needsCoverageCheck(old, appt) {
		if err := r.checkCoverage(ctx, tx, appt); err != nil {
			return err
		}
	}
	if err := r.moveSlots(ctx, tx, id, appt, wantSlots, fresh, old == nil || doctorsChanged(old, appt)); err != nil {
		return err
	}
	var times []storage.BusyTime
	if takesTime {
		var err error
		if times, err = r.busyTimes(ctx, tx, appt); err != nil {
			return err
		}
	}
	setTimes := tx.SetAppointmentTimes
	if fresh {
		setTimes = tx.AddAppointmentTimes
	}
	if err := setTimes(ctx, id, times); err != nil {
		return timeConflict(err, appt)
	}
	var expires time.Time
	if appt.Status == "pending" {
		expires = appt.HoldExpires
	}
	if fresh && expires.IsZero() {
		return nil
	}
	return tx.SetHold(ctx, id, expires)
}

// doctorsChanged reports whether an update adds, removes or replaces a Practitioner or
// PractitionerRole participant (a change of their answers does not count).
func doctorsChanged(old, appt *appointment) bool {
	return !equalSets(doctorRefs(old), doctorRefs(appt))
}

func doctorRefs(a *appointment) []string {
	var refs []string
	for _, p := range a.Participants {
		if p.Type == "Practitioner" || p.Type == "PractitionerRole" {
			refs = append(refs, p.Type+"/"+p.ID)
		}
	}
	sort.Strings(refs)
	return refs
}

// releaseAppointment gives back everything a deleted appointment held.
func (r *Rules) releaseAppointment(ctx context.Context, tx *storage.Tx, id string) error {
	if err := r.moveSlots(ctx, tx, id, &appointment{}, nil, false, false); err != nil {
		return err
	}
	if err := tx.SetAppointmentTimes(ctx, id, nil); err != nil {
		return err
	}
	return tx.SetHold(ctx, id, time.Time{})
}

// busyTimes lists the time the appointment takes from each practitioner and patient in
// it who has not declined. A PractitionerRole takes its practitioner's time.
func (r *Rules) busyTimes(ctx context.Context, tx *storage.Tx, appt *appointment) ([]storage.BusyTime, error) {
	seen := map[string]bool{}
	var out []storage.BusyTime
	add := func(typ, id string) {
		if !seen[typ+"/"+id] {
			seen[typ+"/"+id] = true
			out = append(out, storage.BusyTime{ActorType: typ, ActorID: id, Start: appt.Start, End: appt.End})
		}
	}
	for _, p := range appt.Participants {
		if p.declined() {
			continue
		}
		switch p.Type {
		case "Patient", "Practitioner":
			add(p.Type, p.ID)
		case "PractitionerRole":
			prac, err := r.rolePractitioner(ctx, tx, p.ID)
			if err != nil {
				return nil, err
			}
			if prac != "" {
				add("Practitioner", prac)
			}
		}
	}
	return out, nil
}

// rolePractitioner returns the id of the practitioner of a PractitionerRole, "" if it has
// none or does not exist (the reference check at commit refuses the latter).
func (r *Rules) rolePractitioner(ctx context.Context, tx *storage.Tx, roleID string) (string, error) {
	role, err := r.readRole(ctx, tx, roleID)
	if err != nil || role == nil {
		return "", err
	}
	if typ, id, ok := splitReference(reference(role, "practitioner")); ok && typ == "Practitioner" {
		return id, nil
	}
	return "", nil
}

// timeConflict turns a *storage.TimeTaken into the 409 that says what conflicts.
func timeConflict(err error, appt *appointment) error {
	var taken *storage.TimeTaken
	if !errors.As(err, &taken) {
		return err
	}
	who := taken.Wanted.ActorType + "/" + taken.Wanted.ActorID
	at := "Appointment.participant"
	for _, p := range appt.Participants {
		if p.Ref == who {
			at = fmt.Sprintf("Appointment.participant[%d].actor", p.Index)
			break
		}
	}
	if taken.AppointmentID == "" {
		return fhirerr.Conflict(who+" was booked for an overlapping time by a concurrent request; retry", at)
	}
	return fhirerr.Conflict(fmt.Sprintf("%s is already booked from %s to %s by Appointment/%s, which overlaps %s to %s",
		who, formatInstant(taken.Start), formatInstant(taken.End), taken.AppointmentID,
		formatInstant(appt.Start), formatInstant(appt.End)), at)
}

// moveSlots makes the appointment hold exactly want: slots it held and no longer wants
// become free, wanted slots become busy (busy-tentative while pending). Each slot row is
// locked, in id order, before it is looked at, so two bookings of one slot queue up and
// the second sees the first's result; a reschedule frees and takes in one transaction.
// A fresh appointment holds no slot yet. recheckOwner runs the slot owner rule on the
// slots it keeps too: its doctors changed, and the new ones may not own them.
func (r *Rules) moveSlots(ctx context.Context, tx *storage.Tx, id string, appt *appointment, want []string, fresh, recheckOwner bool) error {
	var held []string
	if !fresh {
		var err error
		if held, err = tx.HeldSlots(ctx, id); err != nil {
			return err
		}
	}
	if len(held) == 0 && len(want) == 0 {
		return nil
	}
	wanted := map[string]int{} // slot id to its first index in Appointment.slot
	var unique []string        // want without repeats: a slot named twice is taken once
	for i, s := range want {
		if _, dup := wanted[s]; !dup {
			wanted[s] = i
			unique = append(unique, s)
		}
	}
	want = unique
	isHeld := map[string]bool{}
	for _, s := range held {
		isHeld[s] = true
	}
	all := append(append([]string(nil), held...), want...)
	sort.Strings(all)
	locked := map[string]*storage.Resource{}
	for _, s := range all {
		if _, done := locked[s]; done {
			continue
		}
		res, err := tx.Lock(ctx, "Slot", s)
		if err != nil {
			return err
		}
		locked[s] = res
	}
	var release []string
	for _, s := range held {
		if _, keep := wanted[s]; !keep {
			release = append(release, s)
		}
	}
	if err := tx.ReleaseSlots(ctx, id, release); err != nil {
		return err
	}
	for _, s := range release {
		if err := r.setSlotStatus(ctx, tx, locked[s], "free", "busy", "busy-tentative"); err != nil {
			return err
		}
	}
	target := "busy"
	if appt.Status == "pending" {
		target = "busy-tentative"
	}
	for _, s := range want {
		if err := r.takeSlot(ctx, tx, id, appt, s, locked[s], isHeld[s], recheckOwner, target, fmt.Sprintf("Appointment.slot[%d]", wanted[s])); err != nil {
			return err
		}
	}
	return nil
}

// takeSlot makes the appointment hold the locked slot res (id s) with status target;
// held says it already holds it, recheckOwner that its owner must be checked even so.
// Every check comes before the booking row is written:
// book tries again after releasing lapsed holds, and a row left by a refused first try
// would let the second take the slot as already held.
func (r *Rules) takeSlot(ctx context.Context, tx *storage.Tx, id string, appt *appointment, s string, res *storage.Resource, held, recheckOwner bool, target, at string) error {
	if res == nil || res.Deleted {
		return fhirerr.Unprocessable(fhirerr.CodeNotFound, fmt.Sprintf("Slot/%s does not exist on this server", s), at)
	}
	slot, err := parseSlot(res.Content)
	if err != nil {
		return err
	}
	if !held && slot.Status != "free" {
		holder, err := tx.SlotHolder(ctx, s)
		if err != nil {
			return err
		}
		if holder != "" && holder != id {
			return fhirerr.Conflict(fmt.Sprintf("Slot/%s is already booked by Appointment/%s", s, holder), at)
		}
		return fhirerr.Conflict(fmt.Sprintf("Slot/%s is not free (it is %s)", s, slot.Status), at)
	}
	if !held || recheckOwner {
		if err := r.checkSlotOwner(ctx, tx, appt, s, slot, at); err != nil {
			return err
		}
	}
	if !appt.Start.IsZero() && (slot.Start.Before(appt.Start) || slot.End.After(appt.End)) {
		return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
			fmt.Sprintf("Slot/%s (%s to %s) is not within the appointment's time %s to %s", s,
				formatInstant(slot.Start), formatInstant(slot.End), formatInstant(appt.Start), formatInstant(appt.End)), at)
	}
	if err := tx.BookSlots(ctx, id, []string{s}); err != nil {
		var taken *storage.SlotTaken
		if errors.As(err, &taken) {
			return fhirerr.Conflict(fmt.Sprintf("Slot/%s is already booked by Appointment/%s", s, taken.AppointmentID), at)
		}
		return err
	}
	return r.setSlotStatus(ctx, tx, res, target, "free", "busy", "busy-tentative")
}

// setSlotStatus writes the slot with status to when its status is one of from, through the
// rules, so the change has history and outbox rows like any other write.
func (r *Rules) setSlotStatus(ctx context.Context, tx *storage.Tx, res *storage.Resource, to string, from ...string) error {
	if res == nil || res.Deleted {
		return nil
	}
	doc, err := decode(res.Content)
	if err != nil {
		return err
	}
	status := str(doc, "status")
	if status == to {
		return nil
	}
	for _, f := range from {
		if status == f {
			doc["status"] = to
			_, err := r.writeThrough(ctx, tx, res, "Slot", res.ID, encode(doc))
			return err
		}
	}
	return nil
}

// writeThrough stores a change that a rule makes to another resource: the rules of that
// resource run on it, and storage gives it a version, history, links, index and outbox row.
func (r *Rules) writeThrough(ctx context.Context, tx *storage.Tx, prev *storage.Resource, typ, id string, body []byte) (*storage.Resource, error) {
	action, method := ActionUpdate, http.MethodPut
	if prev == nil || prev.Deleted {
		action, method = ActionCreate, http.MethodPost
	}
	c := &Change{Action: action, Type: typ, ID: id, Old: prev, New: body}
	if err := r.Check(ctx, tx, c); err != nil {
		return nil, err
	}
	return tx.Write(ctx, prev, typ, id, c.New, method)
}
