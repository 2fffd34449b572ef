package search_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/careslot/careslot/storage/search"
)

// TestSlotPlanAbsoluteSchedule: a Slot naming its schedule by an absolute URL
// under this server's base is a slot of that schedule for both the schedule_slots plan
// and the index tables; one naming another server's Schedule of the same id is not.
func TestSlotPlanAbsoluteSchedule(t *testing.T) {
	ctx := context.Background()
	st := ownStore(ctx, t)
	const base = "http://careslot.test/fhir"
	if err := writeThroughRules(ctx, t, st, "Practitioner", "r2-doc", map[string]any{"active": true}); err != nil {
		t.Fatal(err)
	}
	if err := writeThroughRules(ctx, t, st, "Schedule", "r2-sch", map[string]any{"active": true,
		"actor": []any{map[string]any{"reference": "Practitioner/r2-doc"}}}); err != nil {
		t.Fatal(err)
	}
	slot := func(id, schedule, start string) {
		t.Helper()
		body := map[string]any{"status": "free", "schedule": map[string]any{"reference": schedule},
			"start": start + ":00Z", "end": start + ":30Z"}
		if err := writeThroughRules(ctx, t, st, "Slot", id, body); err != nil {
			t.Fatal(err)
		}
	}
	slot("r2-rel", "Schedule/r2-sch", "2031-05-05T09:00")
	slot("r2-self", base+"/Schedule/r2-sch", "2031-05-05T10:00")
	slot("r2-far", "http://elsewhere.example/fhir/Schedule/r2-sch", "2031-05-05T11:00")
	both := []string{"r2-rel", "r2-self"}
	for raw, want := range map[string][]string{
		"schedule=Schedule/r2-sch&status=free":                                                 both,
		"schedule.actor=Practitioner/r2-doc&status=free&start=ge2031-05-05&start=lt2031-05-06": both,
		"schedule=" + base + "/Schedule/r2-sch&status=free":                                    both,
		// A start of second precision covers its whole second: 09:00:00Z starts before
		// .5 and ends after .7 of that second, though the two windows do not meet.
		"schedule=Schedule/r2-sch&status=free&start=lt2031-05-05T09:00:00.5Z&start=gt2031-05-05T09:00:00.7Z": {"r2-rel"},
	} {
		for _, generic := range []bool{false, true} {
			params, err := url.ParseQuery(raw)
			if err != nil {
				t.Fatal(err)
			}
			q, err := search.Definitions().Parse("Slot", params, search.ParseOptions{Strict: true, BaseURL: base, DefaultCount: 10, MaxCount: 100})
			if err != nil {
				t.Fatal(err)
			}
			q.Generic, q.BaseURL = generic, base
			sql, _ := q.PageSQL(search.Definitions(), q.Count+1)
			if !generic && !strings.Contains(sql, "schedule_slots") && !strings.Contains(raw, "start=lt") {
				t.Errorf("Slot?%s does not use the schedule_slots plan", raw)
			}
			res, err := st.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range res.Matches {
				got = append(got, m.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("Slot?%s (generic %v): %v, want %v", raw, generic, got, want)
			}
		}
	}
}
