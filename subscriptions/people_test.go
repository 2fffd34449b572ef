package subscriptions_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

// apptFor is a booked Appointment of Patient/patient with Practitioner/dr.
func apptFor(id, patient, start string) map[string]any {
	a := appointment(id, "booked", start)
	a["participant"].([]any)[0] = map[string]any{"actor": map[string]any{"reference": "Patient/" + patient}, "status": "accepted"}
	return a
}

// idsOf are the ids of a searchset's entries.
func idsOf(t *testing.T, r *apptest.Response) []string {
	t.Helper()
	var b struct {
		Entry []struct {
			Resource struct {
				ID string `json:"id"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("not a Bundle: %s", r.Body)
	}
	var ids []string
	for _, e := range b.Entry {
		ids = append(ids, e.Resource.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestPatientsAndPractitionersManageOnlyTheirOwnSubscriptions(t *testing.T) {
	s, _ := newServer(t)
	for _, id := range []string{"pp-a", "pp-b"} {
		s.Must(t, 201, "PUT", "Patient/"+id, map[string]any{"resourceType": "Patient", "id": id})
	}
	s.Must(t, 201, "PUT", "Practitioner/pp-dr", map[string]any{"resourceType": "Practitioner", "id": "pp-dr"})
	h := newHook(t)
	a := apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "pp-a", "patient/Subscription.cruds", "patient/Appointment.rs")))
	aOtherApp := apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "pp-a", "patient/*.rs")))
	b := apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "pp-b", "patient/*.cruds")))
	dr := apptest.Bearer(s.Token(t, smarttest.Practitioner(s.URL, "pp-dr", "", "user/*.cruds")))
	admin := apptest.Bearer(s.Token(t, smarttest.Admin(s.URL, "user/*.*")))
	aReadOnly := apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "pp-a", "patient/Subscription.rs")))
	aNoScope := apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "pp-a", "patient/Appointment.rs")))
	noLaunch := apptest.Bearer(s.Token(t, smarttest.Practitioner(s.URL, "pp-dr", "", "patient/Subscription.cruds")))

	// Patient A and the practitioner each create one; the owner is whoever created it.
	subA := s.Must(t, 201, "POST", "Subscription", restHook("Appointment?patient=Patient/pp-a", h.URL, nil), a...).JSON(t)["id"].(string)
	subDr := s.Must(t, 201, "POST", "Subscription", restHook("Appointment?practitioner=Practitioner/pp-dr", h.URL, nil), dr...).JSON(t)["id"].(string)
	subAdmin := s.Must(t, 201, "POST", "Subscription", restHook("Appointment?status=booked", h.URL, nil), admin...).JSON(t)["id"].(string)
	stored, err := s.Store.Subscription(context.Background(), subA)
	var owner struct{ Subject, FHIRUser string }
	if err != nil || stored == nil || json.Unmarshal(stored.Owner, &owner) != nil || owner.FHIRUser != "Patient/pp-a" || owner.Subject == "" {
		t.Fatalf("the owner of a patient's subscription: %v %+v", err, stored)
	}
	waitStatus(t, s, subA, "active")

	// Each sees their own, through any app of theirs; the admin sees all.
	s.Must(t, 200, "GET", "Subscription/"+subA, nil, a...)
	s.Must(t, 200, "GET", "Subscription/"+subA, nil, aOtherApp...)
	s.Must(t, 200, "GET", "Subscription/"+subA+"/_history/1", nil, a...)
	s.Must(t, 200, "GET", "Subscription/"+subDr, nil, dr...)
	for _, c := range []struct {
		name string
		who  []string
		want []string
	}{
		{"patient A", a, []string{subA}},
		{"patient B", b, nil},
		{"the practitioner", dr, []string{subDr}},
		{"the admin", admin, []string{subA, subAdmin, subDr}},
	} {
		want := slices.Clone(c.want)
		slices.Sort(want)
		if got := idsOf(t, s.Must(t, 200, "GET", "Subscription", nil, c.who...)); !slices.Equal(got, want) {
			t.Errorf("%s searches Subscriptions: %v, want %v", c.name, got, want)
		}
		got := idsOf(t, s.Must(t, 200, "GET", "Subscription/_history", nil, c.who...))
		if got = slices.Compact(got); !slices.Equal(got, want) {
			t.Errorf("%s reads the Subscription history: %v, want %v", c.name, got, want)
		}
	}

	before := s.Must(t, 200, "GET", "Subscription/"+subA, nil, a...).JSON(t)["meta"].(map[string]any)["versionId"]

	// Every denial: the subscription of another is as missing as one that does not exist.
	other := restHook("Appointment?patient=Patient/pp-a", h.URL, nil)
	other["id"] = subA
	denials := []struct {
		name         string
		method, path string
		body         any
		who          []string
		want         int
	}{
		{"another patient reads it", "GET", "Subscription/" + subA, nil, b, 404},
		{"another patient vreads it", "GET", "Subscription/" + subA + "/_history/1", nil, b, 404},
		{"another patient reads its history", "GET", "Subscription/" + subA + "/_history", nil, b, 404},
		{"another patient updates it", "PUT", "Subscription/" + subA, other, b, 404},
		{"another patient deletes it", "DELETE", "Subscription/" + subA, nil, b, 404},
		{"another patient asks its $status", "GET", "Subscription/" + subA + "/$status", nil, b, 404},
		{"another patient asks its $events", "GET", "Subscription/" + subA + "/$events", nil, b, 404},
		{"the practitioner reads a patient's", "GET", "Subscription/" + subA, nil, dr, 404},
		{"the practitioner deletes a patient's", "DELETE", "Subscription/" + subA, nil, dr, 404},
		{"a patient reads the admin's", "GET", "Subscription/" + subAdmin, nil, a, 404},
		{"a patient reads the practitioner's", "GET", "Subscription/" + subDr, nil, a, 404},
		{"the owner with read-only scopes updates", "PUT", "Subscription/" + subA, other, aReadOnly, 403},
		{"the owner with read-only scopes deletes", "DELETE", "Subscription/" + subA, nil, aReadOnly, 403},
		{"a token without Subscription scopes creates", "POST", "Subscription", restHook("Appointment?patient=Patient/pp-a", h.URL, nil), aNoScope, 403},
		{"a token without Subscription scopes searches", "GET", "Subscription", nil, aNoScope, 403},
		{"patient/ scopes without a launch patient", "POST", "Subscription", restHook("Appointment?patient=Patient/pp-a", h.URL, nil), noLaunch, 403},
		{"a patient sets it active", "POST", "Subscription", restHook("Appointment?patient=Patient/pp-a", h.URL, map[string]any{"status": "active"}), a, 422},
	}
	for _, d := range denials {
		if r := s.Do(t, d.method, d.path, d.body, d.who...); r.Status != d.want {
			t.Errorf("%s: %d, want %d: %s", d.name, r.Status, d.want, r.Body)
		}
	}
	if r := s.Do(t, "GET", "Subscription/"+subA, nil, b...); !strings.Contains(string(r.Body), "Subscription/"+subA+" is not known") {
		t.Errorf("another's subscription is not refused as a missing one: %s", r.Body)
	}
	// The refused writes changed nothing.
	if got := s.Must(t, 200, "GET", "Subscription/"+subA, nil, a...).JSON(t); got["meta"].(map[string]any)["versionId"] != before || got["status"] != "active" {
		t.Errorf("after the refusals: %v", got)
	}

	// The owner updates and deletes theirs; an admin's update keeps the owner.
	mine := s.Must(t, 200, "GET", "Subscription/"+subA, nil, a...).JSON(t)
	mine["status"] = "off"
	s.Must(t, 200, "PUT", "Subscription/"+subA, mine, a...)
	mine = s.Must(t, 200, "GET", "Subscription/"+subA, nil, admin...).JSON(t)
	mine["reason"] = "checked by the clinic"
	s.Must(t, 200, "PUT", "Subscription/"+subA, mine, admin...)
	s.Must(t, 200, "GET", "Subscription/"+subA, nil, a...)
	s.Must(t, 204, "DELETE", "Subscription/"+subA, nil, a...)
	s.Must(t, 204, "DELETE", "Subscription/"+subDr, nil, dr...)

	// Another patient may not take over the id of a deleted one (its history is A's).
	if r := s.Do(t, "PUT", "Subscription/"+subA, other, b...); r.Status != http.StatusConflict {
		t.Errorf("patient B re-creates A's deleted Subscription/%s: %d %s", subA, r.Status, r.Body)
	}
	if r := s.Do(t, "GET", "Subscription/"+subA+"/_history/1", nil, b...); r.Status != 404 {
		t.Errorf("patient B reads the deleted subscription's history: %d", r.Status)
	}
	// A may, and it starts afresh.
	s.Must(t, 201, "PUT", "Subscription/"+subA, other, a...)
}

func TestAPatientSubscribingToAnotherPatientsAppointmentsHearsNothingOfThem(t *testing.T) {
	s, _ := newServer(t)
	for _, id := range []string{"nb-a", "nb-b"} {
		s.Must(t, 201, "PUT", "Patient/"+id, map[string]any{"resourceType": "Patient", "id": id})
	}
	s.Must(t, 201, "PUT", "Practitioner/dr", map[string]any{"resourceType": "Practitioner", "id": "dr"})
	a := apptest.Bearer(s.Token(t, smarttest.Patient(s.URL, "nb-a", "patient/*.cruds")))
	nosy, booked, control := newHook(t), newHook(t), newHook(t)
	// Patient A asks for B's appointments, and for every booked one; the admin's
	// subscription to B's is the control.
	nosyID := s.Must(t, 201, "POST", "Subscription", restHook("Appointment?patient=Patient/nb-b", nosy.URL, nil), a...).JSON(t)["id"].(string)
	bookedID := s.Must(t, 201, "POST", "Subscription", restHook("Appointment?status=booked", booked.URL, nil), a...).JSON(t)["id"].(string)
	controlID := s.Must(t, 201, "POST", "Subscription", restHook("Appointment?patient=Patient/nb-b", control.URL, nil)).JSON(t)["id"].(string)
	for _, id := range []string{nosyID, bookedID, controlID} {
		waitStatus(t, s, id, "active")
	}

	s.Must(t, 201, "PUT", "Appointment/nb-b1", apptFor("nb-b1", "nb-b", "2030-03-01T10:00:00Z"))
	s.Must(t, 201, "PUT", "Appointment/nb-a1", apptFor("nb-a1", "nb-a", "2030-03-01T11:00:00Z"))
	cancelled := apptFor("nb-b1", "nb-b", "2030-03-01T10:00:00Z")
	cancelled["status"] = "cancelled"
	s.Must(t, 200, "PUT", "Appointment/nb-b1", cancelled)
	s.Must(t, 201, "PUT", "Appointment/nb-b2", apptFor("nb-b2", "nb-b", "2030-03-02T10:00:00Z"))
	s.Must(t, 204, "DELETE", "Appointment/nb-b2", nil)

	// The control hears all four changes of B's; by then the matcher, which takes the
	// changes in order, has judged every one for A's subscriptions too.
	control.waitEvents(t, "event-notification", 4)
	booked.waitEvents(t, "event-notification", 1)
	time.Sleep(300 * time.Millisecond)
	if got := notified(nosy); len(got) != 0 {
		t.Errorf("patient A's subscription to B's appointments was told: %v", got)
	}
	if got, want := notified(booked), []string{"create Appointment/nb-a1/_history/1"}; !slices.Equal(got, want) {
		t.Errorf("patient A's subscription to booked appointments was told %v, want %v", got, want)
	}
	for _, h := range []*hook{nosy, booked} {
		for _, r := range h.got {
			if strings.Contains(string(r.Body), "nb-b") {
				t.Errorf("a notification to A carries B's data: %s", r.Body)
			}
		}
	}
	// Nor can $events tell of B's: no event was recorded for A.
	if st, err := s.Store.Subscription(context.Background(), nosyID); err != nil || st.Events != 0 {
		t.Errorf("A's subscription to B's appointments recorded events: %v %+v", err, st)
	}
}

func TestAPatientFollowsHerOwnSubscriptionOverTheWebsocket(t *testing.T) {
	s, _ := newServer(t)
	s.Must(t, 201, "PUT", "Patient/ws-a", map[string]any{"resourceType": "Patient", "id": "ws-a"})
	s.Must(t, 201, "PUT", "Practitioner/dr", map[string]any{"resourceType": "Practitioner", "id": "dr"})
	raw := s.Token(t, smarttest.Patient(s.URL, "ws-a", "patient/*.cruds"))
	sub := restHook("Appointment?patient=Patient/ws-a", "", nil)
	sub["channel"] = map[string]any{"type": "websocket"}
	id := s.Must(t, 201, "POST", "Subscription", sub, apptest.Bearer(raw)...).JSON(t)["id"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialAs(t, ctx, s, raw)
	bind(t, ctx, c, id)
	waitStatus(t, s, id, "active")
	s.Must(t, 201, "PUT", "Appointment/ws-1", apptFor("ws-1", "ws-a", "2030-03-01T10:00:00Z"))
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "ping "+id {
		t.Fatalf("after her appointment was booked: %q %v", msg, err)
	}
}
