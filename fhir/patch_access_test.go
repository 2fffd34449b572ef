package fhir_test

import (
	"net/http"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

// PATCH and $validate are writes to the access rules: a patient may not patch another
// patient (it does not exist for them), a read-only token may not patch or validate a
// write, and no refusal tells whether a test operation would hold.
func TestPatchAndValidateDenials(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/jp-alice", patient("jp-alice"))
	srv.Must(t, http.StatusCreated, "PUT", "Patient/jp-bob", patient("jp-bob"))
	alice := srv.Token(t, smarttest.Patient(srv.URL, "jp-alice", "patient/*.cruds"))
	aliceRead := srv.Token(t, smarttest.Patient(srv.URL, "jp-alice", "patient/*.rs"))
	op := `[{"op":"test","path":"/gender","value":"male"},{"op":"replace","path":"/active","value":false}]`
	for _, c := range []struct {
		name, method, path, body, token string
		status                          []int
	}{
		{"patch another patient", "PATCH", "Patient/jp-bob", op, alice, []int{404}},
		{"patch with read scopes", "PATCH", "Patient/jp-alice", op, aliceRead, []int{403}},
		{"patch without a token", "PATCH", "Patient/jp-alice", op, "", []int{401}},
		{"validate update of another patient", "POST", "Patient/jp-bob/$validate", patient("jp-bob"), alice, []int{404}},
		{"validate update with read scopes", "POST", "Patient/jp-alice/$validate", patient("jp-alice"), aliceRead, []int{403}},
	} {
		t.Run(c.name, func(t *testing.T) {
			header := jsonPatch
			if c.method == "POST" {
				header = nil
			}
			auth := apptest.Anonymous()
			if c.token != "" {
				auth = apptest.Bearer(c.token)
			}
			r := srv.Do(t, c.method, c.path, c.body, append(append([]string{}, header...), auth...)...)
			ok := false
			for _, s := range c.status {
				ok = ok || r.Status == s
			}
			if !ok {
				t.Fatalf("status %d, want %v: %s", r.Status, c.status, r.Body)
			}
		})
	}
	for _, id := range []string{"jp-alice", "jp-bob"} {
		if v := srv.Must(t, http.StatusOK, "GET", "Patient/"+id, nil).JSON(t)["meta"].(map[string]any)["versionId"]; v != "1" {
			t.Errorf("Patient/%s is at version %v after refused writes", id, v)
		}
	}
	srv.Must(t, http.StatusOK, "PATCH", "Patient/jp-alice", op, append(append([]string{}, jsonPatch...), apptest.Bearer(alice)...)...)
}
