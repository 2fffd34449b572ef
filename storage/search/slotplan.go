// The Slot search plan: a doctor's free slots in a week start from the scheduling table
// schedule_slots (its GiST index on (schedule_id, during)) instead of probing each of
// the schedule's hundreds of slots in the index tables for its status and start.

package search

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// slotCandidates is, for a Slot search anchored on its schedule, the SELECT of the rids
// of a small superset of its matches, taken from schedule_slots, and the clauses that
// this SELECT already decides (covered); the caller tests the other clauses on the
// candidates through the index tables as usual.
//
// It relies on the scheduling rules (package resources), which keep schedule_slots in
// step with every Slot write in the write's transaction (every write path runs them):
// each live Slot whose status is not entered-in-error and whose schedule is a relative
// Schedule/id reference has a row with that schedule id, its [start, end) and its
// status. So the plan is used only when the query itself excludes every other slot:
//   - a schedule clause: Schedule/id values or a chain through schedule (schedule.actor=…),
//     which a slot can only match through a Schedule target. Slots that name their
//     schedule by an absolute URL (not in the table) come from the index instead. The
//     candidate's schedule must also be the one its Slot.schedule index row names, so the
//     clause is decided here (covered);
//   - a status clause whose codes are all given and none is entered-in-error; bare codes
//     are decided by the table's status (covered), system|code is tested on the index;
//   - optionally start clauses, always tested on the index (a stored start has its own
//     precision); an instant has at least second precision, so a start that matches lies
//     less than a second before the searched window, which bounds the candidates;
//   - nothing else (other parameters, modifiers, _id, _has) and not Query.Generic.
//
// TestSlotPlanMatchesGeneric compares this plan with the index tables alone.
func (b *builder) slotCandidates(q *Query) (sql string, covered map[*Clause]bool, ok bool) {
	schedules, statuses, span, ok := slotPlanClauses(q)
	if !ok {
		return "", nil, false
	}
	// The schedules the clauses allow, once for both branches below.
	var ids []string
	for _, c := range schedules {
		ids = append(ids, b.scheduleIDs(c))
	}
	b.with = append(b.with, "slot_schedules AS MATERIALIZED (SELECT t.id FROM resources t WHERE t.type = 'Schedule' AND NOT t.deleted AND "+
		strings.Join(ids, " AND ")+")")
	within := []string{"s.schedule_id IN (SELECT id FROM slot_schedules)"}
	for _, c := range statuses {
		var codes []string
		for _, v := range c.Values {
			codes = append(codes, v.(TokenValue).Code)
		}
		within = append(within, "s.status = ANY("+b.arg(codes)+"::text[])")
	}
	if span != [2]time.Time{MinTime, MaxTime} {
		// A start S matches only if [S, S + its precision) overlaps the span, and an
		// instant has at least second precision, so S > span[0] - 1s: then the slot
		// [S, end) overlaps the span widened by a second.
		lo, hi := "NULL", "NULL"
		if span[0].After(MinTime) {
			lo = b.arg(span[0].Add(-time.Second)) + "::timestamptz"
		}
		if span[1].Before(MaxTime) {
			hi = b.arg(span[1]) + "::timestamptz"
		}
		within = append(within, fmt.Sprintf("s.during && tstzrange(%s, %s, '[]')", lo, hi))
	}
	covered = map[*Clause]bool{}
	for _, c := range schedules {
		covered[c] = true
	}
	absolute := []string{"u.sp = " + b.arg("Slot.schedule"), "u.url <> ''", b.local("u"), "u.target_type = 'Schedule'",
		`u.target_id COLLATE "default" IN (SELECT id FROM slot_schedules)`}
	for _, c := range statuses {
		// A bare code matches a slot whose status is that code, which is what the
		// candidate's status says; a system|code is still tested on the index, and so is
		// the status of a slot that is not in schedule_slots.
		covered[c] = !slices.ContainsFunc(c.Values, func(v Value) bool { return v.(TokenValue).HasSystem })
		if covered[c] {
			sub, _ := b.indexSubquery(c)
			absolute = append(absolute, "u.rid IN ("+sub+")")
		}
	}
	// The slot's own Slot.schedule index row must name the schedule that the candidate's
	// row names: with the conditions on that schedule above, this is the schedule clause
	// itself, so it is not tested again (a chain would cost a join per candidate).
	return "SELECT c.rid FROM (SELECT r.rid, s.schedule_id FROM schedule_slots s" +
		" JOIN resources r ON r.type = 'Slot' AND r.id = s.slot_id AND NOT r.deleted WHERE " + strings.Join(within, " AND ") +
		" UNION ALL SELECT u.rid, u.target_id COLLATE \"default\" FROM search_reference u WHERE " + strings.Join(absolute, " AND ") + ") c" +
		" WHERE EXISTS (SELECT 1 FROM search_reference v WHERE v.rid = c.rid AND v.sp = " + b.arg("Slot.schedule") +
		" AND v.target_type = 'Schedule' AND v.target_id = c.schedule_id COLLATE \"C\")", covered, true
}

// slotPlanClauses sorts the clauses of a query that slotCandidates answers, with the
// window every match's start overlaps; ok is false for any other query.
func slotPlanClauses(q *Query) (schedules, statuses []*Clause, span [2]time.Time, ok bool) {
	span = [2]time.Time{MinTime, MaxTime}
	if q.Type != "Slot" || q.Generic {
		return nil, nil, span, false
	}
	for _, c := range q.Clauses {
		switch {
		case c.Param == nil || c.Missing != nil || c.Has != nil:
			return nil, nil, span, false
		case c.Param.Code == "schedule" && scheduleClause(c):
			schedules = append(schedules, c)
		case c.Param.Code == "status" && statusClause(c):
			statuses = append(statuses, c)
		case c.Param.Code == "start" && c.Modifier == "" && len(c.Chain) == 0:
			for _, cl := range append([]*Clause{c}, c.Also...) {
				if len(cl.Values) != 1 {
					return nil, nil, span, false
				}
				w, ok := window(cl.Values[0].(DateValue))
				if !ok {
					return nil, nil, span, false
				}
				span = intersect(span, w)
			}
		default:
			return nil, nil, span, false
		}
	}
	// Start windows that do not meet bound no candidates: a start of second precision
	// can begin before .5 of its second and end after .7 of it (start=lt…:00.5Z&start=gt…:00.7Z).
	return schedules, statuses, span, len(schedules) > 0 && len(statuses) > 0 && !span[0].After(span[1])
}

// ReusablePlan tells that one plan serves the page query of q whatever its values, so
// package storage may keep it prepared instead of planning each search: the Slot plan
// always starts from the schedules and the (schedule_id, during) index, and its planning
// cost more than its execution.
func (q *Query) ReusablePlan() bool {
	_, _, _, ok := slotPlanClauses(q)
	return ok
}

// scheduleClause: Slot.schedule=Schedule/id, or a chain through it.
func scheduleClause(c *Clause) bool {
	if len(c.Chain) > 0 {
		for _, inner := range c.Chain {
			if inner.Type != "Schedule" {
				return false
			}
		}
		return true
	}
	if c.Modifier != "" {
		return false
	}
	for _, v := range c.Values {
		r, ok := v.(ReferenceValue)
		if !ok || r.URL != "" || r.ID == "" || r.Type != "Schedule" {
			return false
		}
	}
	return len(c.Values) > 0
}

// statusClause: status=code[,code] (any system), none of them entered-in-error, which
// schedule_slots leaves out.
func statusClause(c *Clause) bool {
	if c.Modifier != "" || len(c.Values) == 0 {
		return false
	}
	for _, v := range c.Values {
		t, ok := v.(TokenValue)
		if !ok || t.Code == "" || t.Code == "entered-in-error" || t.TypeSystem != "" || t.TypeCode != "" {
			return false
		}
	}
	return true
}

// scheduleIDs is the condition of a schedule clause on the Schedule t.
func (b *builder) scheduleIDs(c *Clause) string {
	if len(c.Chain) == 0 {
		var ids []string
		for _, v := range c.Values {
			ids = append(ids, v.(ReferenceValue).ID)
		}
		return "t.id = ANY(" + b.arg(ids) + "::text[])"
	}
	var ors []string
	for _, inner := range c.Chain {
		ors = append(ors, b.clause(inner, "t"))
	}
	return or(ors)
}

func intersect(a, b [2]time.Time) [2]time.Time {
	if b[0].After(a[0]) {
		a[0] = b[0]
	}
	if b[1].Before(a[1]) {
		a[1] = b[1]
	}
	return a
}
