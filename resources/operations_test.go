package resources_test

import (
	"github.com/careslot/careslot/storage/storagetest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/resources"
)

// params builds a Parameters resource from name/value pairs; a map value is a resource.
func params(pairs ...any) map[string]any {
	var list []any
	for i := 0; i+1 < len(pairs); i += 2 {
		p := map[string]any{"name": pairs[i]}
		switch v := pairs[i+1].(type) {
		case map[string]any:
			p["resource"] = v
		case int:
			p["valueInteger"] = v
		case string:
			p["valueString"] = v
		}
		list = append(list, p)
	}
	return map[string]any{"resourceType": "Parameters", "parameter": list}
}

// withRole gives doctor a PractitionerRole: cardiology, Monday and Wednesday 09:00–12:00,
// Friday 14:00–16:00, away on Wednesday 2030-01-09 from 10:00 to 11:00.
func withRole(t *testing.T, c *clinic, doctor int) string {
	t.Helper()
	return c.create(t, map[string]any{"resourceType": "PractitionerRole", "active": true,
		"practitioner": ref("Practitioner", c.doctors[doctor]),
		"specialty":    []any{map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "394579002"}}}},
		"availableTime": []any{
			map[string]any{"daysOfWeek": []any{"mon", "wed"}, "availableStartTime": "09:00:00", "availableEndTime": "12:00:00"},
			map[string]any{"daysOfWeek": []any{"fri"}, "availableStartTime": "14:00:00", "availableEndTime": "16:00:00"},
		},
		"notAvailable": []any{map[string]any{"description": "dentist", "during": map[string]any{
			"start": "2030-01-09T10:00:00Z", "end": "2030-01-09T11:00:00Z"}}},
	})
}

func bundleResources(t *testing.T, r *apptest.Response) []map[string]any {
	t.Helper()
	var out []map[string]any
	entries, _ := r.JSON(t)["entry"].([]any)
	for _, e := range entries {
		out = append(out, e.(map[string]any)["resource"].(map[string]any))
	}
	return out
}

func TestGenerateSlots(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 0)
	withRole(t, c, 0)
	week := params("start", "2030-01-07", "end", "2030-01-14", "slot-length", 30)
	made := bundleResources(t, c.srv.Must(t, 200, "POST", "Schedule/"+c.schedules[0]+"/$generate-slots", week))
	// Monday 6 + Wednesday 6 - 2 (away 10–11) + Friday 4.
	if len(made) != 14 {
		t.Fatalf("made %d slots, want 14", len(made))
	}
	var starts []string
	for _, s := range made {
		if s["status"] != "free" || s["specialty"] == nil {
			t.Errorf("slot %v", s)
		}
		starts = append(starts, s["start"].(string))
	}
	sort.Strings(starts)
	want := []string{"2030-01-07T09:00:00Z", "2030-01-07T09:30:00Z", "2030-01-07T10:00:00Z", "2030-01-07T10:30:00Z", "2030-01-07T11:00:00Z", "2030-01-07T11:30:00Z",
		"2030-01-09T09:00:00Z", "2030-01-09T09:30:00Z", "2030-01-09T11:00:00Z", "2030-01-09T11:30:00Z",
		"2030-01-11T14:00:00Z", "2030-01-11T14:30:00Z", "2030-01-11T15:00:00Z", "2030-01-11T15:30:00Z"}
	for i := range want {
		if i >= len(starts) || starts[i] != want[i] {
			t.Fatalf("slot starts %v, want %v", starts, want)
		}
	}
	// Idempotent: a second run makes nothing, an overlapping run only what is missing.
	if again := bundleResources(t, c.srv.Must(t, 200, "POST", "Schedule/"+c.schedules[0]+"/$generate-slots", week)); len(again) != 0 {
		t.Errorf("second run made %d slots", len(again))
	}
	twoWeeks := params("start", "2030-01-07", "end", "2030-01-21", "slot-length", 30)
	if more := bundleResources(t, c.srv.Must(t, 200, "POST", "Schedule/"+c.schedules[0]+"/$generate-slots", twoWeeks)); len(more) != 16 {
		t.Errorf("run over two weeks made %d new slots, want 16 (the second week, no one away)", len(more))
	}
	// A different slot length never overlaps the slots already there.
	if odd := bundleResources(t, c.srv.Must(t, 200, "POST", "Schedule/"+c.schedules[0]+"/$generate-slots",
		params("start", "2030-01-07", "end", "2030-01-21", "slot-length", 20))); len(odd) != 0 {
		t.Errorf("20-minute run over 30-minute slots made %d", len(odd))
	}
	// Concurrent runs on a fresh week make each slot once.
	done := make(chan int, 4)
	for i := 0; i < 4; i++ {
		go func() {
			r := c.srv.Do(t, "POST", "Schedule/"+c.schedules[0]+"/$generate-slots", params("start", "2030-02-04", "end", "2030-02-11", "slot-length", 30))
			n := -1
			if r.Status == 200 {
				n = len(bundleResources(t, r))
			}
			done <- n
		}()
	}
	total := 0
	for i := 0; i < 4; i++ {
		total += <-done
	}
	if total != 16 {
		t.Errorf("concurrent runs made %d slots in all, want 16", total)
	}
}

func TestGenerateSlotsRefusals(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 0)
	cases := []struct {
		name string
		path string
		body any
		want int
	}{
		{"no PractitionerRole", "Schedule/" + c.schedules[1] + "/$generate-slots", params("start", "2030-01-07", "end", "2030-01-14", "slot-length", 30), 422}, // no role
		{"unknown schedule", "Schedule/nope/$generate-slots", params("start", "2030-01-07", "end", "2030-01-14", "slot-length", 30), 404},
		{"no slot-length", "Schedule/" + c.schedules[0] + "/$generate-slots", params("start", "2030-01-07", "end", "2030-01-14"), 400},
		{"end before start", "Schedule/" + c.schedules[0] + "/$generate-slots", params("start", "2030-01-14", "end", "2030-01-07", "slot-length", 30), 400},
		{"start not a date", "Schedule/" + c.schedules[0] + "/$generate-slots", params("start", "soon", "end", "2030-01-07", "slot-length", 30), 400},
		{"slot-length 0", "Schedule/" + c.schedules[0] + "/$generate-slots", params("start", "2030-01-07", "end", "2030-01-14", "slot-length", 0), 400},
		{"unknown timezone", "Schedule/" + c.schedules[0] + "/$generate-slots", params("start", "2030-01-07", "end", "2030-01-14", "slot-length", 30, "timezone", "Mars/Base"), 400},
		{"not Parameters", "Schedule/" + c.schedules[0] + "/$generate-slots", `{"resourceType":"Patient"}`, 400},
		{"not JSON", "Schedule/" + c.schedules[0] + "/$generate-slots", `{not json`, 400},
	}
	withRole(t, c, 0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if r := c.srv.Do(t, "POST", tc.path, tc.body); r.Status != tc.want {
				t.Errorf("%s %v: %d, want %d: %s", tc.path, tc.body, r.Status, tc.want, r.Body)
			}
		})
	}
	if r := c.srv.Do(t, "GET", "Schedule/"+c.schedules[0]+"/$generate-slots?start=2030-01-07&end=2030-01-14&slot-length=30", nil); r.Status != 405 {
		t.Errorf("GET $generate-slots: %d", r.Status)
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	role := withRole(t, c, 0)
	c.srv.Must(t, 200, "POST", "Schedule/"+c.schedules[0]+"/$generate-slots", params("start", "2030-01-07", "end", "2030-01-14", "slot-length", 30))
	other := c.slot(t, 1, at(9, 0), 30) // doctor 1, no specialty
	monday := "start=2030-01-07T00:00:00Z&end=2030-01-08T00:00:00Z"

	found := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?"+monday, nil))
	if len(found) != 7 {
		t.Fatalf("Monday: %d open slots, want 7 (6 of doctor 0, 1 of doctor 1)", len(found))
	}
	byDoctor := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?"+monday+"&practitioner=Practitioner/"+c.doctors[1], nil))
	if len(byDoctor) != 1 || byDoctor[0]["slot"].([]any)[0].(map[string]any)["reference"] != "Slot/"+other {
		t.Errorf("doctor 1 on Monday: %v", byDoctor)
	}
	bySpecialty := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?"+monday+"&specialty=http://snomed.info/sct|394579002", nil))
	if len(bySpecialty) != 6 {
		t.Errorf("cardiology on Monday: %d, want 6", len(bySpecialty))
	}
	byRole := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?"+monday+"&practitioner=PractitionerRole/"+role, nil))
	if len(byRole) != 0 {
		t.Errorf("the schedule names the practitioner, not the role, yet the role found %d", len(byRole))
	}
	// A booking takes its slot out of the results, and a patient's own appointment
	// (even one with another doctor) takes out the slots it overlaps.
	p := c.patients[0]
	first := found[0]
	first["participant"] = []any{map[string]any{"actor": ref("Patient", p), "status": "accepted"}, first["participant"].([]any)[0]}
	c.srv.Must(t, 200, "POST", "Appointment/$book", params("appt-resource", first))
	c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", p, 1, at(11, 0), at(12, 0)))
	after := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?"+monday+"&patient=Patient/"+p, nil))
	// 7 - the booked one - the other 9:00 slot (the patient is busy then) - 11:00 and 11:30 of doctor 0.
	if len(after) != 3 {
		t.Errorf("after booking: %d open slots for the patient, want 3", len(after))
	}
	for _, a := range after {
		if a["status"] != "proposed" || participantStatus(a, "Patient/"+p) != "needs-action" {
			t.Errorf("offered appointment %v", a)
		}
	}
	// POST with Parameters works the same; bad input is 400.
	posted := bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$find", params("start", "2030-01-07", "end", "2030-01-08")))
	if len(posted) != 6 { // everyone's open slots: all but the booked one
		t.Errorf("POST $find: %d, want 6", len(posted))
	}
	for _, q := range []string{"end=2030-01-08", "start=2030-01-08&end=2030-01-07", "start=x&end=y", monday + "&patient=Practitioner/1", monday + "&_count=0"} {
		if r := c.srv.Do(t, "GET", "Appointment/$find?"+q, nil); r.Status != 400 {
			t.Errorf("$find?%s: %d %s", q, r.Status, r.Body)
		}
	}
}

func TestHoldAndBook(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	s := c.slot(t, 0, at(9, 0), 30)
	offer := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08&patient="+c.patients[0], nil))
	if len(offer) != 1 {
		t.Fatalf("offers: %v", offer)
	}
	held := bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$hold", params("appt-resource", offer[0])))[0]
	if held["status"] != "pending" || c.status(t, "Slot", s) != "busy-tentative" {
		t.Fatalf("hold: appointment %v, slot %s", held["status"], c.status(t, "Slot", s))
	}
	var expires time.Time
	for _, e := range held["extension"].([]any) {
		if em := e.(map[string]any); em["url"] == resources.HoldExpiresURL {
			expires, _ = time.Parse(time.RFC3339Nano, em["valueInstant"].(string))
		}
	}
	if d := time.Until(expires); d < 4*time.Minute || d > 5*time.Minute {
		t.Errorf("hold expires in %v, want 5 minutes", d)
	}
	// Nobody else can take or hold the slot meanwhile.
	rival := c.appointment("booked", c.patients[1], 0, at(9, 0), at(9, 30), s)
	if r := c.srv.Do(t, "POST", "Appointment", rival); r.Status != 409 {
		t.Errorf("booking a held slot: %d %s", r.Status, r.Body)
	}
	if r := c.srv.Do(t, "POST", "Appointment/$hold", params("appt-resource", offer[0])); r.Status != 409 {
		t.Errorf("holding a held slot: %d %s", r.Status, r.Body)
	}
	// $book by reference turns the hold into a booking.
	id := held["id"].(string)
	booked := bundleResources(t, c.srv.Must(t, 200, "POST", "Appointment/$book", params("appt-id", "Appointment/"+id)))[0]
	if booked["status"] != "booked" || booked["extension"] != nil || c.status(t, "Slot", s) != "busy" {
		t.Errorf("book: %v, slot %s", booked, c.status(t, "Slot", s))
	}
	if participantStatus(booked, "Patient/"+c.patients[0]) != "accepted" {
		t.Errorf("booked participants: %v", booked["participant"])
	}
	// Bad calls.
	for _, body := range []any{params(), params("appt-id", "Appointment/nope"), params("appt-resource", map[string]any{"resourceType": "Patient"}),
		params("appt-resource", map[string]any{"resourceType": "Appointment", "status": "fulfilled", "participant": []any{map[string]any{"status": "accepted", "actor": ref("Patient", c.patients[0])}}})} {
		if r := c.srv.Do(t, "POST", "Appointment/$book", body); r.Status < 400 || r.Status >= 500 {
			t.Errorf("$book %v: %d %s", body, r.Status, r.Body)
		}
	}
	if r := c.srv.Do(t, "GET", "Appointment/$hold", nil); r.Status != 405 {
		t.Errorf("GET $hold: %d", r.Status)
	}
}

func TestHoldExpires(t *testing.T) {
	t.Parallel()
	c := newClinic(t, apptest.New(t), 2)
	s := c.slot(t, 0, at(9, 0), 30)
	// A hold that lapses in a few seconds, as $hold makes with a shorter time. Instants
	// are written to the second, so the expiry is rounded down first and waited for
	// exactly; the margin before it keeps the test sound under the race detector.
	expires := time.Now().Add(4 * time.Second).Truncate(time.Second)
	hold := c.appointment("pending", c.patients[0], 0, at(9, 0), at(9, 30), s)
	hold["extension"] = []any{map[string]any{"url": resources.HoldExpiresURL, "valueInstant": instant(expires)}}
	id := c.create(t, hold)
	if got := c.status(t, "Slot", s); got != "busy-tentative" {
		t.Fatalf("held slot is %s", got)
	}
	rival := c.appointment("booked", c.patients[1], 0, at(9, 0), at(9, 30), s)
	if r := c.srv.Do(t, "POST", "Appointment", rival); r.Status != 409 {
		t.Fatalf("booking a live hold's slot: %d %s", r.Status, r.Body)
	}
	time.Sleep(time.Until(expires) + 200*time.Millisecond)
	// Once lapsed, the slot is offered again and the rival's booking goes through.
	if found := bundleResources(t, c.srv.Must(t, 200, "GET", "Appointment/$find?start=2030-01-07&end=2030-01-08", nil)); len(found) != 1 {
		t.Errorf("$find after the hold lapsed: %d offers", len(found))
	}
	appt := c.read(t, "Appointment", id)
	if appt["status"] != "cancelled" {
		t.Errorf("lapsed hold is %v", appt["status"])
	}
	c.srv.Must(t, 201, "POST", "Appointment", rival)
	// Booking the lapsed hold itself says why it cannot.
	if r := c.srv.Do(t, "POST", "Appointment/$book", params("appt-id", id)); r.Status != 409 {
		t.Errorf("$book of a lapsed hold: %d %s", r.Status, r.Body)
	}

	// A lapsed hold nobody looked at yet does not block a booking either.
	s2 := c.slot(t, 0, at(10, 0), 30)
	hold = c.appointment("pending", c.patients[0], 0, at(10, 0), at(10, 30), s2)
	expires = time.Now().Add(time.Second).Truncate(time.Second)
	hold["extension"] = []any{map[string]any{"url": resources.HoldExpiresURL, "valueInstant": instant(expires)}}
	c.create(t, hold)
	time.Sleep(time.Until(expires) + 200*time.Millisecond)
	c.srv.Must(t, 201, "POST", "Appointment", c.appointment("booked", c.patients[1], 0, at(10, 0), at(10, 30), s2))
}

func TestOperationDefinitionsInCapabilityStatement(t *testing.T) {
	t.Parallel()
	srv := apptest.New(t)
	cs := srv.Must(t, 200, "GET", "metadata", nil).JSON(t)
	ops := map[string]string{}
	for _, res := range cs["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		rm := res.(map[string]any)
		list, _ := rm["operation"].([]any)
		for _, op := range list {
			om := op.(map[string]any)
			ops[rm["type"].(string)+"/$"+om["name"].(string)] = om["definition"].(string)
		}
	}
	for _, name := range []string{"Schedule/$generate-slots", "Appointment/$find", "Appointment/$hold", "Appointment/$book"} {
		url, ok := ops[name]
		if !ok {
			t.Errorf("%s is not in the CapabilityStatement", name)
			continue
		}
		// The definition is stored under the operation's name, with the canonical url
		// the CapabilityStatement names.
		code := name[strings.Index(name, "$")+1:]
		def := srv.Must(t, 200, "GET", "OperationDefinition/"+code, nil).JSON(t)
		if def["url"] != url {
			t.Errorf("%s: OperationDefinition.url %v, CapabilityStatement %s", name, def["url"], url)
		}
		if def["resourceType"] != "OperationDefinition" || "$"+def["code"].(string) != name[len(name)-len(def["code"].(string))-1:] {
			t.Errorf("%s: %v", name, def)
		}
	}
}

// TestOperationDefinitionsStableAcrossServers: two servers on one database, reached by
// different base URLs, agree on the stored OperationDefinitions and do not rewrite them.
func TestOperationDefinitionsStableAcrossServers(t *testing.T) {
	t.Parallel()
	db := storagetest.NewDatabase(t)
	first := apptest.NewOnDatabase(t, db)
	second := apptest.NewOnDatabase(t, db)
	if first.URL == second.URL {
		t.Fatal("both servers have one base URL; the test needs two")
	}
	def := second.Must(t, 200, "GET", "OperationDefinition/find", nil).JSON(t)
	if v := def["meta"].(map[string]any)["versionId"]; v != "1" {
		t.Errorf("OperationDefinition/find is at version %v after a second server started, want 1", v)
	}
}
