package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// BusyTime is a span of an actor's time that an appointment takes.
type BusyTime struct {
	ActorType string // Practitioner or Patient
	ActorID   string
	Start     time.Time
	End       time.Time
}

// TimeTaken is the refusal of SetAppointmentTimes: Wanted overlaps the time that
// another appointment already holds.
type TimeTaken struct {
	Wanted        BusyTime
	AppointmentID string    // the appointment that holds the time; "" if it vanished meanwhile
	Start, End    time.Time // the time it holds
}

func (e *TimeTaken) Error() string {
	return fmt.Sprintf("%s/%s is already taken by Appointment/%s", e.Wanted.ActorType, e.Wanted.ActorID, e.AppointmentID)
}

// SetAppointmentTimes replaces the times that appointmentID takes. The exclusion
// constraint appointment_times_no_overlap decides: if another appointment holds an
// overlapping time of the same actor, even one committed a moment ago by another server,
// nothing is inserted and a *TimeTaken is returned. A concurrent insert of an overlapping
// time makes this one wait until the other transaction ends, so two can never both pass.
func (t *Tx) SetAppointmentTimes(ctx context.Context, appointmentID string, times []BusyTime) error {
	if _, err := t.pg.Exec(ctx, `DELETE FROM appointment_times WHERE appointment_id = $1`, appointmentID); err != nil {
		return fmt.Errorf("storage: clear appointment times: %w", mapPgError(err))
	}
	return t.AddAppointmentTimes(ctx, appointmentID, times)
}

// AddAppointmentTimes is SetAppointmentTimes for an appointment that holds no time yet
// (a new one): it only inserts.
func (t *Tx) AddAppointmentTimes(ctx context.Context, appointmentID string, times []BusyTime) error {
	if len(times) == 0 {
		return nil
	}
	// A fixed order makes two transactions that want the same actors wait on each other
	// in the same order instead of deadlocking.
	times = append([]BusyTime(nil), times...)
	sort.Slice(times, func(i, j int) bool {
		if times[i].ActorType != times[j].ActorType {
			return times[i].ActorType < times[j].ActorType
		}
		return times[i].ActorID < times[j].ActorID
	})
	n := len(times)
	types, ids := make([]string, n), make([]string, n)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	for i, b := range times {
		types[i], ids[i], starts[i], ends[i] = b.ActorType, b.ActorID, b.Start, b.End
	}
	rows, err := t.pg.Query(ctx, `
		INSERT INTO appointment_times (appointment_id, actor_type, actor_id, during)
		SELECT $1, u.actor_type, u.actor_id, tstzrange(u.start_at, u.end_at)
		FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS u(actor_type, actor_id, start_at, end_at)
		ON CONFLICT DO NOTHING
		RETURNING actor_type, actor_id`, appointmentID, types, ids, starts, ends)
	if err != nil {
		return fmt.Errorf("storage: appointment times: %w", mapPgError(err))
	}
	inserted := map[[2]string]bool{}
	for rows.Next() {
		var typ, id string
		if err := rows.Scan(&typ, &id); err != nil {
			rows.Close()
			return fmt.Errorf("storage: appointment times: %w", err)
		}
		inserted[[2]string{typ, id}] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("storage: appointment times: %w", mapPgError(err))
	}
	for _, b := range times {
		if !inserted[[2]string{b.ActorType, b.ActorID}] {
			return t.timeTaken(ctx, appointmentID, b)
		}
	}
	return nil
}

// timeTaken finds which appointment holds the time that b wanted.
func (t *Tx) timeTaken(ctx context.Context, appointmentID string, b BusyTime) error {
	taken := &TimeTaken{Wanted: b}
	err := t.pg.QueryRow(ctx, `
		SELECT appointment_id, lower(during), upper(during) FROM appointment_times
		WHERE actor_type = $1 AND actor_id = $2 AND during && tstzrange($3, $4) AND appointment_id <> $5
		ORDER BY lower(during) LIMIT 1`, b.ActorType, b.ActorID, b.Start, b.End, appointmentID).
		Scan(&taken.AppointmentID, &taken.Start, &taken.End)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("storage: appointment times: %w", mapPgError(err))
	}
	return taken
}

// SlotTaken is the refusal of BookSlots: the slot is held by another appointment.
type SlotTaken struct {
	SlotID        string
	AppointmentID string
}

func (e *SlotTaken) Error() string {
	return fmt.Sprintf("Slot/%s is already booked by Appointment/%s", e.SlotID, e.AppointmentID)
}

// SlotHolder returns the appointment that holds slotID, or "".
func (t *Tx) SlotHolder(ctx context.Context, slotID string) (string, error) {
	var holder string
	err := t.pg.QueryRow(ctx, `SELECT appointment_id FROM slot_bookings WHERE slot_id = $1`, slotID).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("storage: slot holder: %w", mapPgError(err))
	}
	return holder, nil
}

// HeldSlots returns the slots that appointmentID holds.
func (t *Tx) HeldSlots(ctx context.Context, appointmentID string) ([]string, error) {
	rows, err := t.pg.Query(ctx, `SELECT slot_id FROM slot_bookings WHERE appointment_id = $1 ORDER BY slot_id`, appointmentID)
	if err != nil {
		return nil, fmt.Errorf("storage: held slots: %w", mapPgError(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("storage: held slots: %w", mapPgError(err))
	}
	return ids, nil
}

// BookSlots records that appointmentID holds slotIDs. The primary key on slot_id lets
// one appointment hold a slot; a slot held by another gives a *SlotTaken.
func (t *Tx) BookSlots(ctx context.Context, appointmentID string, slotIDs []string) error {
	for _, id := range slotIDs {
		tag, err := t.pg.Exec(ctx, `INSERT INTO slot_bookings (slot_id, appointment_id) VALUES ($1, $2) ON CONFLICT (slot_id) DO NOTHING`, id, appointmentID)
		if err != nil {
			return fmt.Errorf("storage: book slot: %w", mapPgError(err))
		}
		if tag.RowsAffected() == 1 {
			continue
		}
		holder, err := t.SlotHolder(ctx, id)
		if err != nil {
			return err
		}
		if holder != appointmentID {
			return &SlotTaken{SlotID: id, AppointmentID: holder}
		}
	}
	return nil
}

// ReleaseSlots drops the bookings of appointmentID on slotIDs.
func (t *Tx) ReleaseSlots(ctx context.Context, appointmentID string, slotIDs []string) error {
	if len(slotIDs) == 0 {
		return nil
	}
	_, err := t.pg.Exec(ctx, `DELETE FROM slot_bookings WHERE appointment_id = $1 AND slot_id = ANY($2)`, appointmentID, slotIDs)
	if err != nil {
		return fmt.Errorf("storage: release slots: %w", mapPgError(err))
	}
	return nil
}

// SetHold records (expires non-zero) or clears the expiry of a held appointment.
func (t *Tx) SetHold(ctx context.Context, appointmentID string, expires time.Time) error {
	var err error
	if expires.IsZero() {
		_, err = t.pg.Exec(ctx, `DELETE FROM appointment_holds WHERE appointment_id = $1`, appointmentID)
	} else {
		_, err = t.pg.Exec(ctx, `INSERT INTO appointment_holds (appointment_id, expires_at) VALUES ($1, $2)
			ON CONFLICT (appointment_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`, appointmentID, expires)
	}
	if err != nil {
		return fmt.Errorf("storage: hold: %w", mapPgError(err))
	}
	return nil
}

// ExpiredHolds returns up to limit held appointments whose hold expired before now.
func (t *Tx) ExpiredHolds(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := t.pg.Query(ctx, `SELECT appointment_id FROM appointment_holds WHERE expires_at <= $1
		ORDER BY expires_at LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: expired holds: %w", mapPgError(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("storage: expired holds: %w", mapPgError(err))
	}
	return ids, nil
}

// ExpiredHolds is Tx.ExpiredHolds outside a transaction, for the background sweep.
func (s *Store) ExpiredHolds(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT appointment_id FROM appointment_holds WHERE expires_at <= $1
		ORDER BY expires_at LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: expired holds: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ScheduleIndex is what $find and $generate-slots need to know of a Schedule.
type ScheduleIndex struct {
	ID          string
	Active      bool
	Actors      []string // references, e.g. Practitioner/1, PractitionerRole/2, Location/3
	Specialties []string // tokens: code and system|code
}

// SetSchedule records (s non-nil) or forgets (s nil) a schedule.
func (t *Tx) SetSchedule(ctx context.Context, id string, s *ScheduleIndex) error {
	var err error
	if s == nil {
		_, err = t.pg.Exec(ctx, `DELETE FROM schedules WHERE schedule_id = $1`, id)
	} else {
		_, err = t.pg.Exec(ctx, `INSERT INTO schedules (schedule_id, active, actors, specialties) VALUES ($1, $2, $3, $4)
			ON CONFLICT (schedule_id) DO UPDATE SET active = EXCLUDED.active, actors = EXCLUDED.actors, specialties = EXCLUDED.specialties`,
			id, s.Active, nonNil(s.Actors), nonNil(s.Specialties))
	}
	if err != nil {
		return fmt.Errorf("storage: schedule: %w", mapPgError(err))
	}
	return nil
}

// SlotIndex is a slot as the scheduling rules and $find see it.
type SlotIndex struct {
	ID           string
	ScheduleID   string
	Start, End   time.Time
	Status       string
	ServiceTypes []string // tokens: code and system|code
	Specialties  []string
}

// SlotOverlap is the refusal of SetSlot: another slot of the schedule overlaps.
type SlotOverlap struct {
	SlotID     string // the other slot; "" if it vanished meanwhile
	Start, End time.Time
}

func (e *SlotOverlap) Error() string { return "the slot overlaps Slot/" + e.SlotID }

// SetSlot records (s non-nil) or forgets (s nil) a slot. The exclusion constraint
// schedule_slots_no_overlap refuses a slot that overlaps another of its schedule: a *SlotOverlap.
func (t *Tx) SetSlot(ctx context.Context, id string, s *SlotIndex) error {
	if s != nil {
		// The common change keeps the slot's time (a booking marks it busy): update in
		// place, which needs no new overlap check.
		tag, err := t.pg.Exec(ctx, `UPDATE schedule_slots SET status = $5, service_types = $6, specialties = $7
			WHERE slot_id = $1 AND schedule_id = $2 AND during = tstzrange($3, $4)`,
			id, s.ScheduleID, s.Start, s.End, s.Status, nonNil(s.ServiceTypes), nonNil(s.Specialties))
		if err != nil {
			return fmt.Errorf("storage: slot: %w", mapPgError(err))
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
	}
	if _, err := t.pg.Exec(ctx, `DELETE FROM schedule_slots WHERE slot_id = $1`, id); err != nil {
		return fmt.Errorf("storage: slot: %w", mapPgError(err))
	}
	if s == nil {
		return nil
	}
	tag, err := t.pg.Exec(ctx, `INSERT INTO schedule_slots (slot_id, schedule_id, during, status, service_types, specialties)
		VALUES ($1, $2, tstzrange($3, $4), $5, $6, $7) ON CONFLICT DO NOTHING`,
		id, s.ScheduleID, s.Start, s.End, s.Status, nonNil(s.ServiceTypes), nonNil(s.Specialties))
	if err != nil {
		return fmt.Errorf("storage: slot: %w", mapPgError(err))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	overlap := &SlotOverlap{}
	err = t.pg.QueryRow(ctx, `SELECT slot_id, lower(during), upper(during) FROM schedule_slots
		WHERE schedule_id = $1 AND during && tstzrange($2, $3) AND slot_id <> $4 ORDER BY lower(during) LIMIT 1`,
		s.ScheduleID, s.Start, s.End, id).Scan(&overlap.SlotID, &overlap.Start, &overlap.End)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("storage: slot: %w", mapPgError(err))
	}
	return overlap
}

// ScheduleSlots returns the slots of a schedule that overlap [from, to), in time order.
func (t *Tx) ScheduleSlots(ctx context.Context, scheduleID string, from, to time.Time) ([]SlotIndex, error) {
	rows, err := t.pg.Query(ctx, `SELECT slot_id, schedule_id, lower(during), upper(during), status, service_types, specialties
		FROM schedule_slots WHERE schedule_id = $1 AND during && tstzrange($2, $3) ORDER BY lower(during)`, scheduleID, from, to)
	if err != nil {
		return nil, fmt.Errorf("storage: schedule slots: %w", mapPgError(err))
	}
	return collectSlots(rows)
}

func collectSlots(rows pgx.Rows) ([]SlotIndex, error) {
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SlotIndex, error) {
		var s SlotIndex
		err := row.Scan(&s.ID, &s.ScheduleID, &s.Start, &s.End, &s.Status, &s.ServiceTypes, &s.Specialties)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("storage: slots: %w", mapPgError(err))
	}
	return out, nil
}

// FreeSlotQuery selects open slots for $find. Each list is a condition that a slot must
// meet with any one of its values, in order of preference; an empty list does not filter.
type FreeSlotQuery struct {
	From, To     time.Time
	Actors       []string // references among the schedule's actors, e.g. Practitioner/1
	Specialties  []string // tokens of the slot's or the schedule's specialty
	ServiceTypes []string // tokens of the slot's service type
	// Places are further conditions (an organization, an address, a location): each holds
	// when a schedule actor is among its Refs, and ranks the slot by the least matching Rank.
	Places   []RankedActors
	Patients []string // patient ids: leave out slots that overlap their appointments
	// Periods, when given, keep slots that start within one of them (a coverage's period).
	Periods []Period
	Limit   int
}

// RankedActors are references that stand for one condition of $find, each with the
// preference of the value it came from (0 is the first).
type RankedActors struct {
	Refs  []string
	Ranks []int32
}

// Period is a half-open span of time [From, To).
type Period struct{ From, To time.Time }

// FreeSlot is an open slot with its schedule's actors.
type FreeSlot struct {
	SlotIndex
	Actors []string
}

// FreeSlots returns free slots of active schedules that start within [From, To) and meet
// every condition of q, by preference (specialty, service type, actor, then each of
// Places, in turn) and then earliest first, leaving out those that overlap an appointment (booked
// without a slot) of the schedule's practitioners or of the patients. total counts every
// slot that matches, beyond Limit too.
func (s *Store) FreeSlots(ctx context.Context, q FreeSlotQuery) (slots []FreeSlot, total int, err error) {
	var froms, tos []time.Time
	for _, p := range q.Periods {
		froms, tos = append(froms, p.From), append(tos, p.To)
	}
	args := []any{q.From, q.To, nonNil(q.Actors), nonNil(q.Specialties), nonNil(q.ServiceTypes), q.Limit, nonNil(q.Patients),
		nonNilTimes(froms), nonNilTimes(tos)}
	// Each place is ranked by its best matching actor. A Practitioner stands for a place
	// only in a schedule that names no PractitionerRole: the index adds a role's
	// practitioner to the actors, and the role says where it works.
	var placeRanks, placeFilters, placeOrder strings.Builder
	for i, p := range q.Places {
		args = append(args, nonNil(p.Refs), nonNilRanks(p.Ranks))
		fmt.Fprintf(&placeRanks, `,
		    (SELECT min(o.r) FROM unnest($%d::text[], $%d::int[]) AS o(a, r)
		     WHERE o.a = ANY(sc.actors) AND (o.a NOT LIKE 'Practitioner/%%'
		       OR NOT EXISTS (SELECT 1 FROM unnest(sc.actors) x WHERE x LIKE 'PractitionerRole/%%'))) AS place%d_rank`, len(args)-1, len(args), i)
		fmt.Fprintf(&placeFilters, " AND place%d_rank IS NOT NULL", i)
		fmt.Fprintf(&placeOrder, "place%d_rank, ", i)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT slot_id, schedule_id, lower(during), upper(during), status, service_types, specialties, actors, count(*) OVER ()
		FROM (
		  SELECT s.slot_id, s.schedule_id, s.during, s.status, s.service_types, s.specialties, sc.actors,
		    (SELECT min(array_position($4::text[], x)) FROM unnest(s.specialties || sc.specialties) x) AS specialty_rank,
		    (SELECT min(array_position($5::text[], x)) FROM unnest(s.service_types) x) AS service_rank,
		    (SELECT min(array_position($3::text[], x)) FROM unnest(sc.actors) x) AS actor_rank`+placeRanks.String()+`
		  FROM schedule_slots s JOIN schedules sc ON sc.schedule_id = s.schedule_id
		  WHERE s.status = 'free' AND s.during && tstzrange($1, $2) AND lower(s.during) >= $1 AND sc.active
		    AND (cardinality($8::timestamptz[]) = 0 OR EXISTS (SELECT 1 FROM unnest($8::timestamptz[], $9::timestamptz[]) AS p(f, t)
		                                                     WHERE lower(s.during) >= p.f AND lower(s.during) < p.t))
		    AND NOT EXISTS (SELECT 1 FROM appointment_times t
		                    WHERE t.during && s.during
		                      AND ((t.actor_type = 'Patient' AND t.actor_id = ANY($7::text[]))
		                        OR (t.actor_type = 'Practitioner' AND 'Practitioner/' || t.actor_id = ANY(sc.actors))))
		) f
		WHERE (cardinality($4::text[]) = 0 OR specialty_rank IS NOT NULL)
		  AND (cardinality($5::text[]) = 0 OR service_rank IS NOT NULL)
		  AND (cardinality($3::text[]) = 0 OR actor_rank IS NOT NULL)`+placeFilters.String()+`
		ORDER BY specialty_rank, service_rank, actor_rank, `+placeOrder.String()+`lower(during), slot_id
		LIMIT $6`, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("storage: free slots: %w", err)
	}
	slots, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (FreeSlot, error) {
		var f FreeSlot
		err := row.Scan(&f.ID, &f.ScheduleID, &f.Start, &f.End, &f.Status, &f.ServiceTypes, &f.Specialties, &f.Actors, &total)
		return f, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("storage: free slots: %w", err)
	}
	return slots, total, nil
}

func nonNilRanks(r []int32) []int32 {
	if r == nil {
		return []int32{}
	}
	return r
}

func nonNilTimes(t []time.Time) []time.Time {
	if t == nil {
		return []time.Time{}
	}
	return t
}

// OrganizationActors returns what stands for an organization (Organization/[id]) as a
// schedule actor: itself, its PractitionerRoles and their practitioners, the Locations
// it manages and the HealthcareServices it provides.
func (s *Store) OrganizationActors(ctx context.Context, org string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT $1::text
		UNION SELECT type || '/' || id FROM resources
		  WHERE NOT deleted AND ((type = 'PractitionerRole' AND content -> 'organization' ->> 'reference' = $1)
		     OR (type = 'Location' AND content -> 'managingOrganization' ->> 'reference' = $1)
		     OR (type = 'HealthcareService' AND content -> 'providedBy' ->> 'reference' = $1))
		UNION SELECT content -> 'practitioner' ->> 'reference' FROM resources
		  WHERE NOT deleted AND type = 'PractitionerRole' AND content -> 'organization' ->> 'reference' = $1
		    AND content -> 'practitioner' ->> 'reference' IS NOT NULL`, org)
	return collectStrings(rows, err, "organization actors")
}

// LocationActors returns what stands for a location (Location/[id]) as a schedule actor:
// itself, the PractitionerRoles (and their practitioners) and HealthcareServices given at it.
func (s *Store) LocationActors(ctx context.Context, loc string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		WITH here AS (SELECT type, id, content FROM resources
		  WHERE NOT deleted AND type IN ('PractitionerRole', 'HealthcareService')
		    AND content -> 'location' @> jsonb_build_array(jsonb_build_object('reference', $1::text)))
		SELECT $1::text
		UNION SELECT type || '/' || id FROM here
		UNION SELECT content -> 'practitioner' ->> 'reference' FROM here
		  WHERE type = 'PractitionerRole' AND content -> 'practitioner' ->> 'reference' IS NOT NULL`, loc)
	return collectStrings(rows, err, "location actors")
}

// LocationsByAddress returns the Locations (as Location/[id]) with an address part (a
// line, city, district, state, postal code, country or the text) that starts with text,
// ignoring case, as an R4 string search does.
func (s *Store) LocationsByAddress(ctx context.Context, text string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT 'Location/' || id FROM resources
		WHERE NOT deleted AND type = 'Location' AND jsonb_typeof(content -> 'address') = 'object' AND (
		  EXISTS (SELECT 1 FROM jsonb_each(content -> 'address') a(k, v)
		          WHERE a.k IN ('city', 'district', 'state', 'postalCode', 'country', 'text') AND jsonb_typeof(a.v) = 'string'
		            AND starts_with(lower(a.v #>> '{}'), lower($1)))
		  OR EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(content -> 'address' -> 'line') = 'array'
		                                                   THEN content -> 'address' -> 'line' ELSE '[]' END) l
		             WHERE jsonb_typeof(l) = 'string' AND starts_with(lower(l #>> '{}'), lower($1))))
		ORDER BY id`, text)
	return collectStrings(rows, err, "locations by address")
}

// IDsByIdentifier returns the ids of the live resources of type typ with the identifier
// system|value (any system when system is ""), at most 2: enough to tell one from many.
func (s *Store) IDsByIdentifier(ctx context.Context, typ, system, value string) ([]string, error) {
	want := `[{"value": ""}]`
	if b, err := json.Marshal([]map[string]string{{"value": value}}); err == nil {
		want = string(b)
	}
	if system != "" {
		b, _ := json.Marshal([]map[string]string{{"system": system, "value": value}})
		want = string(b)
	}
	rows, err := s.pool.Query(ctx, `SELECT id FROM resources WHERE type = $1 AND NOT deleted AND content -> 'identifier' @> $2::jsonb
		ORDER BY id LIMIT 2`, typ, want)
	return collectStrings(rows, err, "ids by identifier")
}

func collectStrings(rows pgx.Rows, err error, what string) ([]string, error) {
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", what, err)
	}
	return out, nil
}

// CoveragesOf returns the JSON of the live Coverage resources whose beneficiary is patientRef (e.g. Patient/1).
func (t *Tx) CoveragesOf(ctx context.Context, patientRef string) ([][]byte, error) {
	rows, err := t.pg.Query(ctx, `SELECT content FROM resources
		WHERE type = 'Coverage' AND NOT deleted AND content -> 'beneficiary' ->> 'reference' = $1`, patientRef)
	if err != nil {
		return nil, fmt.Errorf("storage: coverages: %w", mapPgError(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("storage: coverages: %w", mapPgError(err))
	}
	return out, nil
}

// ReferrersOfType returns the ids of live resources of type typ that refer to targetType/targetID.
func (t *Tx) ReferrersOfType(ctx context.Context, typ, targetType, targetID string) ([]string, error) {
	rows, err := t.pg.Query(ctx, `SELECT DISTINCT s.id FROM resource_links l JOIN resources s ON s.rid = l.rid
		WHERE l.target_type = $1 AND l.target_id = $2 AND s.type = $3 AND NOT s.deleted ORDER BY s.id`, targetType, targetID, typ)
	if err != nil {
		return nil, fmt.Errorf("storage: referrers: %w", mapPgError(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("storage: referrers: %w", mapPgError(err))
	}
	return ids, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// HasResources reports whether any live resource of type typ exists; seeding the demo
// clinic asks it to tell an empty database.
func (s *Store) HasResources(ctx context.Context, typ string) (bool, error) {
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM resources WHERE type = $1 AND NOT deleted)`, typ).Scan(&exists)
	if err != nil {
		return false, fmt.Errorf("storage: %w", err)
	}
	return exists, nil
}

// Exclusive runs fn holding a session advisory lock on key, so that replicas starting
// together (e.g. all seeding an empty database) take turns.
func (s *Store) Exclusive(ctx context.Context, key string, fn func() error) error {
	conn, err := s.acquire(ctx)
	if err != nil {
		return fmt.Errorf("storage: lock %q: %w", key, err)
	}
	defer conn.Release()
	// Waiting for another replica's turn (a whole seed) is not a statement that
	// statement_timeout should cut.
	if _, err := conn.Exec(ctx, `SET statement_timeout = 0`); err != nil {
		return fmt.Errorf("storage: lock %q: %w", key, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET statement_timeout`)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 1))`, key); err != nil {
		return fmt.Errorf("storage: lock %q: %w", key, err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 1))`, key)
	return fn()
}
