package fhir_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/careslot/careslot/fhir"
)

// FuzzJSONPatch sends arbitrary patch bytes, as a PATCH and as a PATCH entry of a
// transaction: never a 5xx; an accepted patch leaves a valid Patient with the same id,
// a refused one leaves the Patient as it was.
func FuzzJSONPatch(f *testing.F) {
	v, err := fhir.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	const id = "fuzz-jp"
	for _, seed := range []string{
		`[{"op":"replace","path":"/active","value":false}]`,
		`[{"op":"test","path":"/gender","value":"female"}]`,
		`[{"op":"copy","from":"/name","path":"/name/0/given/-"}]`,
		`[{"op":"move","from":"/name/0","path":"/name/0/given"}]`,
		`[{"op":"add","path":"/contained","value":[{"resourceType":"Patient"}]}]`,
		`[{"op":"replace","path":"","value":{"resourceType":"Patient","id":"fuzz-jp"}}]`,
		`[{"op":"remove","path":"/name/-1"}]`,
		`[{"op":"add","path":"/name/0/given/~1","value":"x"}]`,
		`[]`,
	} {
		f.Add(uint8(0), []byte(seed))
	}
	f.Add(uint8(1), []byte(`[{"op":"replace","path":"/birthDate","value":"2000-02-30"}]`))
	f.Fuzz(func(t *testing.T, route uint8, ops []byte) {
		if r := srv.Do(t, "PUT", "Patient/"+id, patient(id)); r.Status >= 300 {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		before := srv.Must(t, http.StatusOK, "GET", "Patient/"+id, nil)
		var status int
		var answer []byte
		if route%2 == 0 {
			r := srv.Do(t, "PATCH", "Patient/"+id, ops, jsonPatch...)
			status, answer = r.Status, r.Body
		} else {
			bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + binaryPatch(string(ops)) +
				`,"request":{"method":"PATCH","url":"Patient/` + id + `"}}]}`
			r := srv.Do(t, "POST", "", bundle)
			status, answer = r.Status, r.Body
		}
		if status >= 500 {
			t.Fatalf("answered %d: %s", status, answer)
		}
		after := srv.Must(t, http.StatusOK, "GET", "Patient/"+id, nil)
		if status >= 400 {
			if string(after.Body) != string(before.Body) {
				t.Fatalf("a refused patch (%d) changed the Patient:\nbefore %s\nafter  %s", status, before.Body, after.Body)
			}
			return
		}
		typ, err := v.Validate(after.Body)
		if err != nil || typ != "Patient" {
			t.Fatalf("an accepted patch stored an invalid resource (%v): %s", err, after.Body)
		}
		var head struct{ ID string }
		json.Unmarshal(after.Body, &head)
		if head.ID != id {
			t.Fatalf("an accepted patch changed the id to %q", head.ID)
		}
	})
}
