package resources_test

import (
	"sort"
	"testing"

	"github.com/careslot/careslot/app/apptest"
)

// A notAvailable day written as a date is that day where the doctor works, the zone
// $generate-slots reads availableTime in, not a UTC day: in Los Angeles a day off on
// 2030-01-09 used to leave slots from 16:00 that day and block the evening before.
func TestGenerateSlotsReadsDayOffInTheTimezone(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 0)
	c.create(t, map[string]any{"resourceType": "PractitionerRole", "active": true,
		"practitioner":  ref("Practitioner", c.doctors[0]),
		"availableTime": []any{map[string]any{"availableStartTime": "15:00:00", "availableEndTime": "18:00:00"}},
		"notAvailable": []any{map[string]any{"description": "day off", "during": map[string]any{
			"start": "2030-01-09", "end": "2030-01-09"}}},
	})
	made := bundleResources(t, c.srv.Must(t, 200, "POST", "Schedule/"+c.schedules[0]+"/$generate-slots",
		params("start", "2030-01-08T08:00:00Z", "end", "2030-01-11T08:00:00Z", "slot-length", 60, "timezone", "America/Los_Angeles")))
	var starts []string
	for _, s := range made {
		starts = append(starts, s["start"].(string))
	}
	sort.Strings(starts)
	// 15:00–18:00 PST is 23:00–02:00 UTC; the 8th and the 10th, not the 9th.
	want := []string{"2030-01-08T23:00:00Z", "2030-01-09T00:00:00Z", "2030-01-09T01:00:00Z",
		"2030-01-10T23:00:00Z", "2030-01-11T00:00:00Z", "2030-01-11T01:00:00Z"}
	if len(starts) != len(want) {
		t.Fatalf("slot starts %v, want %v", starts, want)
	}
	for i := range want {
		if starts[i] != want[i] {
			t.Fatalf("slot starts %v, want %v", starts, want)
		}
	}
}

// A Schedule written before its PractitionerRole in one transaction Bundle is still
// indexed: its slots used to be invisible to $find for good.
func TestScheduleBeforeItsRoleInOneTransaction(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 0)
	entry := func(fullURL string, res map[string]any) map[string]any {
		return map[string]any{"fullUrl": fullURL, "resource": res,
			"request": map[string]any{"method": "POST", "url": res["resourceType"]}}
	}
	role, sch := "urn:uuid:7d1f4a52-1111-4c1e-9a53-000000000001", "urn:uuid:7d1f4a52-1111-4c1e-9a53-000000000002"
	bundle := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		entry(sch, map[string]any{"resourceType": "Schedule", "actor": []any{map[string]any{"reference": role}}}),
		entry(role, map[string]any{"resourceType": "PractitionerRole", "practitioner": ref("Practitioner", c.doctors[0])}),
		entry("urn:uuid:7d1f4a52-1111-4c1e-9a53-000000000003", map[string]any{"resourceType": "Slot",
			"schedule": map[string]any{"reference": sch}, "status": "free",
			"start": instant(at(9, 0)), "end": instant(at(9, 30))}),
	}}
	c.srv.Must(t, 200, "POST", "", bundle)
	if found := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08", nil)); len(found) != 1 {
		t.Errorf("$find after the transaction: %d offers, want 1", len(found))
	}
}

// A PractitionerRole's period is when the doctor holds the role: no slots outside it
// (a doctor who left on the 8th used to keep getting slots).
func TestGenerateSlotsKeepsToTheRolePeriod(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 0)
	c.create(t, map[string]any{"resourceType": "PractitionerRole", "active": true,
		"practitioner":  ref("Practitioner", c.doctors[0]),
		"period":        map[string]any{"start": "2030-01-08", "end": "2030-01-09"},
		"availableTime": []any{map[string]any{"availableStartTime": "09:00:00", "availableEndTime": "10:00:00"}},
	})
	made := bundleResources(t, c.srv.Must(t, 200, "POST", "Schedule/"+c.schedules[0]+"/$generate-slots",
		params("start", "2030-01-07", "end", "2030-01-12", "slot-length", 60)))
	var starts []string
	for _, s := range made {
		starts = append(starts, s["start"].(string))
	}
	sort.Strings(starts)
	if len(starts) != 2 || starts[0] != "2030-01-08T09:00:00Z" || starts[1] != "2030-01-09T09:00:00Z" {
		t.Errorf("slot starts %v, want the 8th and the 9th", starts)
	}
}
