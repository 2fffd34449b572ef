package resources_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/storage"
)

// OwnerMaySee decides what a subscription's owner is told, from the owner recorded when
// it subscribed; the subscriptions package tests the delivery end to end.
func TestOwnerMaySee(t *testing.T) {
	s := apptest.New(t)
	for _, p := range []string{"nt-a", "nt-b"} {
		s.Must(t, http.StatusCreated, "PUT", "Patient/"+p, `{"resourceType":"Patient","id":"`+p+`"}`)
	}
	obs := func(id, patient string) string {
		return `{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/` + patient + `"}}`
	}
	s.Must(t, http.StatusCreated, "PUT", "Observation/nt-oa", obs("nt-oa", "nt-a"))
	s.Must(t, http.StatusCreated, "PUT", "Observation/nt-ob", obs("nt-ob", "nt-b"))
	ctx := context.Background()
	change := func(id, action string) (storage.Change, []byte) {
		r, err := s.App.Store.Read(ctx, "Observation", id)
		if err != nil {
			t.Fatal(err)
		}
		return storage.Change{RID: r.RID, Type: "Observation", ID: id, VersionID: r.VersionID, Action: action}, r.Content
	}
	owner := func(c caller.Caller) []byte {
		b, _ := json.Marshal(c)
		return b
	}
	patientA := caller.Caller{Role: caller.RolePatient, Subject: "u-a", FHIRUser: "Patient/nt-a", Patient: "nt-a", Scopes: []string{"patient/*.rs"}}
	labOnly := patientA
	labOnly.Scopes = []string{"patient/Observation.rs?category=laboratory"}
	noObservations := patientA
	noObservations.Scopes = []string{"patient/Appointment.rs"}
	practitioner := caller.Caller{Role: caller.RolePractitioner, Subject: "u-d", FHIRUser: "Practitioner/nt-d", Scopes: []string{"user/*.rs"}}
	cases := []struct {
		name   string
		owner  []byte
		id     string
		action string
		want   bool
	}{
		{"no owner: made without a token", nil, "nt-ob", "update", true},
		{"admin", owner(caller.Caller{Role: caller.RoleAdmin, Subject: "admin", Scopes: []string{"user/*.*"}}), "nt-ob", "update", true},
		{"backend service", owner(caller.Caller{Role: caller.RoleSystem, Subject: "svc", ClientID: "svc", Scopes: []string{"system/*.rs"}}), "nt-ob", "create", true},
		{"patient, own record", owner(patientA), "nt-oa", "update", true},
		{"patient, own record deleted", owner(patientA), "nt-oa", "delete", true},
		{"patient, another's record", owner(patientA), "nt-ob", "update", false},
		{"patient, another's record deleted", owner(patientA), "nt-ob", "delete", false},
		{"patient, scopes without Observation", owner(noObservations), "nt-oa", "create", false},
		{"patient, v2 scope that does not match", owner(labOnly), "nt-oa", "create", false},
		{"practitioner without an appointment with the patient", owner(practitioner), "nt-oa", "create", false},
		{"an owner that cannot be read", []byte(`{"role":`), "nt-oa", "create", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, content := change(c.id, c.action)
			got, err := s.App.Rules.OwnerMaySee(ctx, s.App.Store, c.owner, ch, content)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("OwnerMaySee = %v, want %v", got, c.want)
			}
		})
	}
}

// A patient is told of a slot that leaves the free ones (their week of free times drops
// it), not of changes to slots that were taken already.
func TestOwnerMaySeeSlots(t *testing.T) {
	s := apptest.New(t)
	s.Must(t, http.StatusCreated, "PUT", "Practitioner/nts-d", `{"resourceType":"Practitioner","id":"nts-d"}`)
	s.Must(t, http.StatusCreated, "PUT", "Schedule/nts-s", `{"resourceType":"Schedule","id":"nts-s","actor":[{"reference":"Practitioner/nts-d"}]}`)
	slot := func(status, comment string) string {
		return `{"resourceType":"Slot","id":"nts-1","schedule":{"reference":"Schedule/nts-s"},"status":"` + status +
			`","comment":"` + comment + `","start":"2030-01-07T09:00:00Z","end":"2030-01-07T09:30:00Z"}`
	}
	ctx := context.Background()
	b, _ := json.Marshal(caller.Caller{Role: caller.RolePatient, Subject: "u-a", FHIRUser: "Patient/nts-a", Patient: "nts-a", Scopes: []string{"patient/*.rs"}})
	for i, c := range []struct {
		name, status, comment string
		want                  bool
	}{
		{"opened", "free", "", true},
		{"blocked", "busy-unavailable", "", true},
		{"changed while blocked", "busy-unavailable", "holiday", false},
		{"freed again", "free", "", true},
	} {
		s.Must(t, []int{http.StatusCreated, http.StatusOK}[min(i, 1)], "PUT", "Slot/nts-1", slot(c.status, c.comment))
		r, err := s.App.Store.Read(ctx, "Slot", "nts-1")
		if err != nil {
			t.Fatal(err)
		}
		ch := storage.Change{RID: r.RID, Type: "Slot", ID: "nts-1", VersionID: r.VersionID, Action: []string{"create", "update"}[min(i, 1)]}
		got, err := s.App.Rules.OwnerMaySee(ctx, s.App.Store, b, ch, r.Content)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: OwnerMaySee = %v, want %v", c.name, got, c.want)
		}
	}
}
