package resources

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// SlotRequest is a call of Schedule/[id]/$generate-slots.
type SlotRequest struct {
	ScheduleID  string
	Start, End  time.Time
	Length      time.Duration
	ServiceType map[string]any // a CodeableConcept to put on every slot; nil for none
	Zone        *time.Location // the zone of the roles' availableTime; nil means UTC
}

const (
	maxGeneratedSlots = 5000
	maxGenerateSpan   = 366 * 24 * time.Hour
)

// interval is a half-open span of time [from, to).
type interval struct{ from, to time.Time }

func (a interval) overlaps(b interval) bool { return a.from.Before(b.to) && b.from.Before(a.to) }

// role is what slot generation reads of a PractitionerRole.
type role struct {
	period       interval         // when the practitioner holds the role
	available    []map[string]any // availableTime
	notAvailable []interval
	specialty    []any
}

// GenerateSlots makes the free slots of a schedule between req.Start and req.End from
// the availableTime of its PractitionerRoles (the roles named as actors, or the roles of
// the practitioners named as actors) minus their notAvailable periods, within each role's
// period and the schedule's planningHorizon. It is idempotent: a slot is only made where the schedule
// has none yet, so running it twice makes nothing the second time. The schedule row is
// locked, so two concurrent calls for one schedule run one after the other.
func (r *Rules) GenerateSlots(ctx context.Context, tx *storage.Tx, req SlotRequest) ([]*storage.Resource, error) {
	if err := checkSlotRequest(req); err != nil {
		return nil, err
	}
	zone := req.Zone
	if zone == nil {
		zone = time.UTC
	}
	sched, err := tx.Lock(ctx, "Schedule", req.ScheduleID)
	if err != nil {
		return nil, err
	}
	if sched == nil || sched.Deleted {
		return nil, fhirerr.NotFound(fmt.Sprintf("Schedule/%s is not known", req.ScheduleID))
	}
	doc, err := decode(sched.Content)
	if err != nil {
		return nil, err
	}
	span := interval{req.Start, req.End}
	if h := object(doc, "planningHorizon"); h != nil {
		span = clipToPeriod(span, h, zone)
	}
	roles, err := r.scheduleRoles(ctx, tx, doc, zone)
	if err != nil {
		return nil, err
	}
	if len(roles) == 0 {
		return nil, fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
			fmt.Sprintf("Schedule/%s has no PractitionerRole with availableTime to make slots from", req.ScheduleID), "Schedule.actor")
	}
	if !span.from.Before(span.to) {
		return nil, nil
	}
	existing, err := tx.ScheduleSlots(ctx, req.ScheduleID, span.from, span.to)
	if err != nil {
		return nil, err
	}
	have := make([]interval, 0, len(existing))
	for _, s := range existing {
		have = append(have, interval{s.Start, s.End})
	}
	taken := newTakenTimes(have)
	type candidate struct {
		interval
		role *role
	}
	var made []candidate
	for _, ro := range roles {
		for _, window := range availableWindows(ro, span, zone) {
			for t := window.from; !t.Add(req.Length).After(window.to); t = t.Add(req.Length) {
				c := interval{t, t.Add(req.Length)}
				if !within(c, span) || !within(c, ro.period) || overlapsAny(c, ro.notAvailable) || taken.overlaps(c) {
					continue
				}
				taken.add(c)
				made = append(made, candidate{c, ro})
				if len(made) > maxGeneratedSlots {
					return nil, fhirerr.New(fhirerr.ErrUnprocessable, fhirerr.CodeTooCostly,
						fmt.Sprintf("one call makes at most %d slots; ask for a shorter period", maxGeneratedSlots))
				}
			}
		}
	}
	sort.Slice(made, func(i, j int) bool { return made[i].from.Before(made[j].from) })
	out := make([]*storage.Resource, 0, len(made))
	for _, c := range made {
		body := map[string]any{"resourceType": "Slot", "schedule": map[string]any{"reference": "Schedule/" + req.ScheduleID},
			"status": "free", "start": formatInstant(c.from), "end": formatInstant(c.to)}
		if req.ServiceType != nil {
			body["serviceType"] = []any{req.ServiceType}
		}
		if len(c.role.specialty) > 0 {
			body["specialty"] = c.role.specialty
		}
		res, err := r.writeThrough(ctx, tx, nil, "Slot", storage.NewID(), encode(body))
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

func checkSlotRequest(req SlotRequest) error {
	switch {
	case req.Length < time.Minute || req.Length > 24*time.Hour:
		return fhirerr.Invalid("slot-length must be between 1 minute and 24 hours")
	case !req.End.After(req.Start):
		return fhirerr.Invalid("end must be after start")
	case req.End.Sub(req.Start) > maxGenerateSpan:
		return fhirerr.Invalid("one call covers at most a year; ask for a shorter period")
	}
	return nil
}

// scheduleRoles returns the active PractitionerRoles of a schedule's actors: roles named
// directly, and the roles of practitioners named. A notAvailable date is a day in zone.
func (r *Rules) scheduleRoles(ctx context.Context, tx *storage.Tx, sched map[string]any, zone *time.Location) ([]*role, error) {
	seen := map[string]bool{}
	var ids []string
	for _, a := range objects(sched, "actor") {
		typ, id, ok := splitReference(str(a, "reference"))
		switch {
		case !ok:
		case typ == "PractitionerRole":
			ids = append(ids, id)
		case typ == "Practitioner":
			roleIDs, err := tx.ReferrersOfType(ctx, "PractitionerRole", "Practitioner", id)
			if err != nil {
				return nil, err
			}
			ids = append(ids, roleIDs...)
		}
	}
	var out []*role
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		doc, err := r.readRole(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if doc == nil || doc["active"] == false || len(objects(doc, "availableTime")) == 0 {
			continue
		}
		ro := &role{available: objects(doc, "availableTime"), period: periodInterval(object(doc, "period"), zone)}
		ro.specialty, _ = doc["specialty"].([]any)
		for _, na := range objects(doc, "notAvailable") {
			ro.notAvailable = append(ro.notAvailable, periodInterval(object(na, "during"), zone))
		}
		out = append(out, ro)
	}
	return out, nil
}

// weekdays are the R4 days-of-week codes by time.Weekday.
var weekdays = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// availableWindows lists the role's available times as concrete intervals on each day
// that span touches, in zone.
func availableWindows(ro *role, span interval, zone *time.Location) []interval {
	var out []interval
	first := span.from.In(zone)
	day := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, zone)
	for ; day.Before(span.to); day = day.AddDate(0, 0, 1) {
		for _, at := range ro.available {
			if !onDay(at, weekdays[day.Weekday()]) {
				continue
			}
			w := interval{day, day.AddDate(0, 0, 1)}
			if at["allDay"] != true {
				if s := str(at, "availableStartTime"); s != "" {
					w.from = clockOn(day, s)
				}
				if e := str(at, "availableEndTime"); e != "" {
					w.to = clockOn(day, e)
				}
			}
			if w.from.Before(w.to) {
				out = append(out, w)
			}
		}
	}
	return out
}

// onDay reports whether an availableTime applies on the day code; no daysOfWeek means every day.
func onDay(at map[string]any, code string) bool {
	days, _ := at["daysOfWeek"].([]any)
	if len(days) == 0 {
		return true
	}
	for _, d := range days {
		if d == code {
			return true
		}
	}
	return false
}

// clockOn is the R4 time hh:mm:ss on day, in day's zone.
func clockOn(day time.Time, clock string) time.Time {
	t, err := time.Parse("15:04:05", clock)
	if err != nil {
		return day
	}
	return time.Date(day.Year(), day.Month(), day.Day(), t.Hour(), t.Minute(), t.Second(), 0, day.Location())
}

// periodInterval turns an R4 Period into an interval; a missing bound is unbounded. A
// date (without a time, so without a zone) is a day in zone, where the schedule's doctors work.
func periodInterval(p map[string]any, zone *time.Location) interval {
	iv := interval{time.Unix(0, 0).AddDate(-100, 0, 0), time.Unix(0, 0).AddDate(1000, 0, 0)}
	if s := str(p, "start"); s != "" {
		if from, _, err := parseDateTimeIn(s, zone); err == nil {
			iv.from = from
		}
	}
	if e := str(p, "end"); e != "" {
		if _, to, err := parseDateTimeIn(e, zone); err == nil {
			iv.to = to
		}
	}
	return iv
}

// clipToPeriod narrows span to a Period.
func clipToPeriod(span interval, p map[string]any, zone *time.Location) interval {
	bound := periodInterval(p, zone)
	if bound.from.After(span.from) {
		span.from = bound.from
	}
	if bound.to.Before(span.to) {
		span.to = bound.to
	}
	return span
}

// within reports whether c lies inside bound.
func within(c, bound interval) bool { return !c.from.Before(bound.from) && !c.to.After(bound.to) }

func overlapsAny(c interval, list []interval) bool {
	for _, x := range list {
		if c.overlaps(x) {
			return true
		}
	}
	return false
}
