package search_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/resources"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/careslot/careslot/storage/storagetest"
)

// ownStore is a fresh database for a test that writes resources the corpus oracle does
// not know.
func ownStore(ctx context.Context, t *testing.T) *storage.Store {
	t.Helper()
	st, err := storage.Open(ctx, storagetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// writeThroughRules stores body (nil deletes) the way a FHIR write does: the rules of the
// type first (they keep schedules and schedule_slots), then storage.
func writeThroughRules(ctx context.Context, t *testing.T, st *storage.Store, typ, id string, body map[string]any) error {
	t.Helper()
	rules := resources.New(resources.Config{})
	return st.InTx(ctx, func(tx *storage.Tx) error {
		prev, err := tx.Lock(ctx, typ, id)
		if err != nil {
			return err
		}
		c := &resources.Change{Action: resources.ActionCreate, Type: typ, ID: id, Old: prev}
		if prev != nil && !prev.Deleted {
			c.Action = resources.ActionUpdate
		}
		if body == nil {
			c.Action = resources.ActionDelete
		} else {
			body["resourceType"], body["id"] = typ, id
			c.New, _ = json.Marshal(body)
		}
		if err := rules.Check(ctx, tx, c); err != nil {
			return err
		}
		if body == nil {
			_, err = tx.Delete(ctx, prev)
			return err
		}
		method := http.MethodPut
		if prev == nil {
			method = http.MethodPost
		}
		_, err = tx.Write(ctx, prev, typ, id, c.New, method)
		return err
	})
}

// TestSlotPlanMatchesGeneric is the differential test of slotplan.go: over generated
// slots (some moved, re-statused, deleted, entered-in-error, at odd time zones and
// sub-second starts, one naming its schedule by absolute URL) every query answers the
// same with the schedule_slots plan as with the index tables alone.
func TestSlotPlanMatchesGeneric(t *testing.T) {
	ctx := context.Background()
	st := ownStore(ctx, t)
	rnd := rand.New(rand.NewSource(7))
	base := time.Date(2031, 3, 3, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		if err := writeThroughRules(ctx, t, st, "Practitioner", fmt.Sprintf("sp-doc-%d", i), map[string]any{"active": true}); err != nil {
			t.Fatal(err)
		}
	}
	// sp-sch-2 has two actors; sp-sch-3 is deleted once its slots are gone.
	actors := [][]int{{0}, {1}, {1, 2}, {0}}
	for i, as := range actors {
		var list []any
		for _, a := range as {
			list = append(list, map[string]any{"reference": fmt.Sprintf("Practitioner/sp-doc-%d", a)})
		}
		if err := writeThroughRules(ctx, t, st, "Schedule", fmt.Sprintf("sp-sch-%d", i), map[string]any{"active": true, "actor": list}); err != nil {
			t.Fatal(err)
		}
	}
	statuses := []string{"free", "free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error"}
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -5*3600-1800)}
	slot := func(i, sch int, start time.Time, minutes int, status string) map[string]any {
		z := zones[i%len(zones)]
		layout := time.RFC3339
		if i%5 == 0 {
			start = start.Add(250 * time.Millisecond)
			layout = time.RFC3339Nano
		}
		return map[string]any{"status": status, "schedule": map[string]any{"reference": fmt.Sprintf("Schedule/sp-sch-%d", sch)},
			"start": start.In(z).Format(layout), "end": start.Add(time.Duration(minutes) * time.Minute).In(z).Format(layout)}
	}
	// Schedule k's slot j starts at base + j hours + k minutes: slots of one schedule never overlap.
	const perSchedule = 60
	for sch := 0; sch < 4; sch++ {
		for j := 0; j < perSchedule; j++ {
			i := sch*perSchedule + j
			start := base.Add(time.Duration(j)*time.Hour + time.Duration(sch)*time.Minute)
			if err := writeThroughRules(ctx, t, st, "Slot", fmt.Sprintf("sp-slot-%d", i), slot(i, sch, start, 15+rnd.Intn(40), statuses[rnd.Intn(len(statuses))])); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Changes: new status, moved (to a free hour past the others), deleted, deleted schedule.
	for i := 0; i < 4*perSchedule; i++ {
		id, sch := fmt.Sprintf("sp-slot-%d", i), i/perSchedule
		var err error
		switch {
		case sch == 3:
			err = writeThroughRules(ctx, t, st, "Slot", id, nil)
		case i%7 == 0:
			err = writeThroughRules(ctx, t, st, "Slot", id, slot(i, sch, base.Add(time.Duration(perSchedule+i)*time.Hour+30*time.Second), 30, "free"))
		case i%11 == 0:
			err = writeThroughRules(ctx, t, st, "Slot", id, nil)
		case i%3 == 0:
			err = writeThroughRules(ctx, t, st, "Slot", id, slot(i, sch, base.Add(time.Duration(i%perSchedule)*time.Hour+time.Duration(sch)*time.Minute), 20, statuses[rnd.Intn(len(statuses))]))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := writeThroughRules(ctx, t, st, "Schedule", "sp-sch-3", nil); err != nil {
		t.Fatal(err)
	}
	// A slot that names its schedule by an absolute URL is not in schedule_slots.
	abs := slot(1, 0, base.Add(-2*time.Hour), 30, "free")
	abs["schedule"] = map[string]any{"reference": "http://elsewhere.example/fhir/Schedule/sp-sch-0"}
	if err := writeThroughRules(ctx, t, st, "Slot", "sp-slot-absolute", abs); err != nil {
		t.Fatal(err)
	}

	instant := func() string {
		at := base.Add(time.Duration(rnd.Intn(2*perSchedule+4*perSchedule)-2)*time.Hour + time.Duration(rnd.Intn(4))*time.Minute)
		switch rnd.Intn(4) {
		case 0:
			return at.Format("2006-01-02")
		case 1:
			return at.Format("2006-01-02T15:04:05Z")
		case 2:
			return at.Add(250 * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		}
		return at.In(zones[2]).Format("2006-01-02T15:04:05-07:00")
	}
	prefixes := []string{"ge", "gt", "le", "lt", "eq", "sa", "eb", "ap", "ne"}
	anchors := []string{"schedule.actor=Practitioner/sp-doc-0", "schedule.actor=Practitioner/sp-doc-1", "schedule.actor=Practitioner/sp-doc-2",
		"schedule=Schedule/sp-sch-0", "schedule=Schedule/sp-sch-2,Schedule/sp-sch-3", "schedule.actor:Practitioner=sp-doc-1",
		"schedule:Schedule=sp-sch-0", "schedule=sp-sch-1"}
	stats := []string{"free", "busy", "free,busy-tentative", "http://hl7.org/fhir/slotstatus|free", "entered-in-error", "|busy"}
	var planned, nonEmpty int
	for n := 0; n < 300; n++ {
		parts := []string{anchors[rnd.Intn(len(anchors))]}
		if rnd.Intn(6) > 0 {
			parts = append(parts, "status="+url.QueryEscape(stats[rnd.Intn(len(stats))]))
		}
		for k := rnd.Intn(3); k > 0; k-- {
			parts = append(parts, "start="+prefixes[rnd.Intn(len(prefixes))]+url.QueryEscape(instant()))
		}
		if rnd.Intn(4) == 0 {
			parts = append(parts, "_sort=start")
		}
		raw := strings.Join(parts, "&")
		fast, usedPlan := slotSearch(ctx, t, st, raw, false)
		generic, _ := slotSearch(ctx, t, st, raw, true)
		if !slices.Equal(fast, generic) {
			t.Errorf("Slot?%s: the schedule_slots plan found %v, the index tables %v", raw, fast, generic)
		}
		if usedPlan {
			planned++
			if len(fast) > 0 {
				nonEmpty++
			}
		}
	}
	if planned < 100 || nonEmpty < 40 {
		t.Errorf("the plan was used for %d queries, %d with matches: the test compares too little", planned, nonEmpty)
	}
	t.Logf("%d of 300 queries used the schedule_slots plan, %d of them with matches", planned, nonEmpty)
}

// slotSearch returns the ids of every match of Slot?raw (in the query's order, following
// next pages of 7), and whether its SQL started from schedule_slots.
func slotSearch(ctx context.Context, t *testing.T, st *storage.Store, raw string, generic bool) ([]string, bool) {
	t.Helper()
	params, err := url.ParseQuery(raw + "&_count=7")
	if err != nil {
		t.Fatal(err)
	}
	q, err := search.Definitions().Parse("Slot", params, search.ParseOptions{Strict: true, DefaultCount: 7, MaxCount: 100})
	if err != nil {
		t.Fatalf("Slot?%s: %v", raw, err)
	}
	q.Generic = generic
	sql, _ := q.PageSQL(search.Definitions(), q.Count+1)
	used := strings.Contains(sql, "schedule_slots")
	var out []string
	for page := 0; ; page++ {
		res, err := st.Search(ctx, q)
		if err != nil {
			t.Fatalf("Slot?%s: %v", raw, err)
		}
		for _, m := range res.Matches {
			out = append(out, m.ID)
		}
		if res.Next == nil || page > 50 {
			break
		}
		q.Cursor = res.Next
	}
	if q.Sort == nil {
		slices.Sort(out)
	}
	return out, used
}

// TestReusablePlan: only the Slot plan's queries are kept prepared with one plan.
func TestReusablePlan(t *testing.T) {
	cases := []struct {
		typ, query string
		want       bool
	}{
		{"Slot", "schedule.actor=Practitioner/1&status=free&start=ge2030-01-01&start=lt2030-01-08", true},
		{"Slot", "schedule=Schedule/1&status=busy", true},
		{"Slot", "schedule.actor=Practitioner/1&start=ge2030-01-01", false},             // no status: entered-in-error slots match
		{"Slot", "schedule.actor=Practitioner/1&status=entered-in-error", false},        // not in schedule_slots
		{"Slot", "schedule.actor=Practitioner/1&status=free&service-type=57", false},    // another parameter
		{"Slot", "schedule=1&status=free", false},                                       // any type
		{"Slot", "schedule.actor=Practitioner/1&status=free&start=ne2030-01-01", false}, // no window
		{"Appointment", "date=ge2030-01-01&date=lt2030-01-02&_sort=date", false},
	}
	for _, c := range cases {
		params, _ := url.ParseQuery(c.query)
		q, err := search.Definitions().Parse(c.typ, params, search.ParseOptions{Strict: true, DefaultCount: 10, MaxCount: 100})
		if err != nil {
			t.Fatalf("%s?%s: %v", c.typ, c.query, err)
		}
		if got := q.ReusablePlan(); got != c.want {
			t.Errorf("%s?%s: ReusablePlan() = %v, want %v", c.typ, c.query, got, c.want)
		}
	}
}
