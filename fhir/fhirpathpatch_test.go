package fhir_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

var fhirPathPatch = []string{"Content-Type", "application/fhir+json"}

// fpOp is one operation of a FHIRPath Patch: its parts as name, then value[x] key and value.
func fpOp(parts ...any) map[string]any {
	var out []any
	for i := 0; i+2 < len(parts)+1; i += 3 {
		out = append(out, map[string]any{"name": parts[i], parts[i+1].(string): parts[i+2]})
	}
	return map[string]any{"name": "operation", "part": out}
}

func fpPatch(ops ...map[string]any) string {
	list := make([]any, len(ops))
	for i, op := range ops {
		list[i] = op
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": list})
	return string(b)
}

const fpPatient = `{"resourceType":"Patient","id":"%s","identifier":[{"system":"urn:fp","value":"%s"}],"active":true,` +
	`"name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim"]}],"gender":"male","birthDate":"1974-12-25"}`

// patchedPatient resets Patient/id, applies patch and returns the status and the
// Patient as stored afterwards.
func patchedPatient(t *testing.T, id, patch string, header ...string) (int, map[string]any, []byte) {
	t.Helper()
	srv.Must(t, http.StatusCreated, "PUT", "Patient/"+id, fmt.Sprintf(fpPatient, id, id))
	r := srv.Do(t, "PATCH", "Patient/"+id, patch, append(append([]string{}, fhirPathPatch...), header...)...)
	return r.Status, srv.Must(t, http.StatusOK, "GET", "Patient/"+id, nil).JSON(t), r.Body
}

func TestFHIRPathPatchOperations(t *testing.T) {
	t.Parallel()
	humanName := map[string]any{"use": "nickname", "given": []any{"Pete"}}
	for i, c := range []struct {
		name  string
		patch string
		path  string // element of the result to compare, as a dotted path
		want  any
	}{
		{"add an element Patient does not have", fpPatch(fpOp("type", "valueCode", "add", "path", "valueString", "Patient", "name", "valueString", "hairColour", "value", "valueCode", "red")),
			"hairColour", nil}, // refused below
		{"add a choice element takes its value[x] key", fpPatch(fpOp("type", "valueCode", "add", "path", "valueString", "Patient", "name", "valueString", "deceased", "value", "valueBoolean", false)),
			"deceasedBoolean", false},
		{"add a complex value to a list", fpPatch(fpOp("type", "valueCode", "add", "path", "valueString", "Patient", "name", "valueString", "name", "value", "valueHumanName", humanName)),
			"name.2", humanName},
		{"add a backbone element as parts", fpPatch(map[string]any{"name": "operation", "part": []any{
			map[string]any{"name": "type", "valueCode": "add"}, map[string]any{"name": "path", "valueString": "Patient"},
			map[string]any{"name": "name", "valueString": "contact"},
			map[string]any{"name": "value", "part": []any{
				map[string]any{"name": "name", "valueHumanName": map[string]any{"family": "Du Marché"}},
				map[string]any{"name": "relationship", "valueCodeableConcept": map[string]any{"text": "partner"}},
			}}}}),
			"contact", []any{map[string]any{"name": map[string]any{"family": "Du Marché"}, "relationship": []any{map[string]any{"text": "partner"}}}}},
		{"insert into a list", fpPatch(fpOp("type", "valueCode", "insert", "path", "valueString", "Patient.name[0].given", "index", "valueInteger", 1, "value", "valueString", "Jacob")),
			"name.0.given", []any{"Peter", "Jacob", "James"}},
		{"insert at the end", fpPatch(fpOp("type", "valueCode", "insert", "path", "valueString", "Patient.name[0].given", "index", "valueInteger", 2, "value", "valueString", "Jacob")),
			"name.0.given", []any{"Peter", "James", "Jacob"}},
		{"delete one of a list", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.name[0].given[0]")),
			"name.0.given", []any{"James"}},
		{"delete an object found by where()", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.name.where(use='usual')")),
			"name.1", nil},
		{"delete what is not there changes nothing", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.multipleBirth")),
			"birthDate", "1974-12-25"},
		{"replace a primitive", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.birthDate", "value", "valueDate", "1975-01-01")),
			"birthDate", "1975-01-01"},
		{"replace a primitive under where()", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.name.where(use='official').family", "value", "valueString", "Chalmers-Smith")),
			"name.0.family", "Chalmers-Smith"},
		{"replace an object", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.name[1]", "value", "valueHumanName", humanName)),
			"name.1", humanName},
		{"move within a list", fpPatch(fpOp("type", "valueCode", "move", "path", "valueString", "Patient.name[0].given", "source", "valueInteger", 0, "destination", "valueInteger", 1)),
			"name.0.given", []any{"James", "Peter"}},
		{"move a list's objects", fpPatch(fpOp("type", "valueCode", "move", "path", "valueString", "Patient.name", "source", "valueInteger", 1, "destination", "valueInteger", 0)),
			"name.0.use", "usual"},
		{"several operations in order", fpPatch(
			fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.active", "value", "valueBoolean", false),
			fpOp("type", "valueCode", "add", "path", "valueString", "Patient.name[1]", "name", "valueString", "family", "value", "valueString", "Jones"),
			fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.gender")),
			"name.1.family", "Jones"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("fp-op-%d", i)
			status, got, body := patchedPatient(t, id, c.patch)
			if i == 0 {
				if status != http.StatusUnprocessableEntity {
					t.Fatalf("add of an element Patient does not have: %d %s", status, body)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			if v := dig(got, c.path); !reflect.DeepEqual(v, c.want) {
				t.Errorf("%s = %#v, want %#v (%v)", c.path, v, c.want, got)
			}
			if got["id"] != id || got["meta"].(map[string]any)["versionId"] != "2" {
				t.Errorf("id %v version %v", got["id"], got["meta"])
			}
		})
	}
}

// dig reads a dotted path of keys and list indices from a decoded resource.
func dig(v any, path string) any {
	for _, step := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[step]
		case []any:
			var i int
			fmt.Sscan(step, &i)
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func TestFHIRPathPatchRefusals(t *testing.T) {
	t.Parallel()
	for i, c := range []struct {
		name   string
		patch  string
		header []string
		status int
	}{
		{"replace of nothing", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.multipleBirth", "value", "valueBoolean", true)), nil, 422},
		{"delete of several", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.name.given")), nil, 422},
		{"replace of several", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.name", "value", "valueHumanName", map[string]any{"family": "X"})), nil, 422},
		{"add to several", fpPatch(fpOp("type", "valueCode", "add", "path", "valueString", "Patient.name", "name", "valueString", "family", "value", "valueString", "X")), nil, 422},
		{"add of a single element that exists", fpPatch(fpOp("type", "valueCode", "add", "path", "valueString", "Patient", "name", "valueString", "birthDate", "value", "valueDate", "2000-01-01")), nil, 422},
		{"insert out of range", fpPatch(fpOp("type", "valueCode", "insert", "path", "valueString", "Patient.name[0].given", "index", "valueInteger", 3, "value", "valueString", "X")), nil, 422},
		{"insert at a negative index", fpPatch(fpOp("type", "valueCode", "insert", "path", "valueString", "Patient.name[0].given", "index", "valueInteger", -1, "value", "valueString", "X")), nil, 422},
		{"insert into what is no list", fpPatch(fpOp("type", "valueCode", "insert", "path", "valueString", "Patient.birthDate", "index", "valueInteger", 0, "value", "valueDate", "2000-01-01")), nil, 422},
		{"move out of range", fpPatch(fpOp("type", "valueCode", "move", "path", "valueString", "Patient.name[0].given", "source", "valueInteger", 0, "destination", "valueInteger", 2)), nil, 422},
		{"replace the id", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.id", "value", "valueId", "other")), nil, 422},
		{"delete the id", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.id")), nil, 422},
		{"replace meta.versionId", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.meta.versionId", "value", "valueId", "9")), nil, 422},
		{"delete meta", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.meta")), nil, 422},
		{"delete the resource", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient")), nil, 422},
		{"a primitive chosen by a function", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.name.given.first()")), nil, 422},
		{"invalid result", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.gender", "value", "valueCode", "robot")), nil, 400},
		{"not FHIRPath", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.name[")), nil, 400},
		{"unknown operation type", fpPatch(fpOp("type", "valueCode", "copy", "path", "valueString", "Patient.name")), nil, 400},
		{"add without a name", fpPatch(fpOp("type", "valueCode", "add", "path", "valueString", "Patient", "value", "valueBoolean", true)), nil, 400},
		{"insert without an index", fpPatch(fpOp("type", "valueCode", "insert", "path", "valueString", "Patient.name", "value", "valueBoolean", true)), nil, 400},
		{"an unknown part", fpPatch(fpOp("type", "valueCode", "delete", "path", "valueString", "Patient.active", "where", "valueString", "x")), nil, 400},
		{"a parameter that is no operation", `{"resourceType":"Parameters","parameter":[{"name":"op","valueString":"x"}]}`, nil, 400},
		{"no operation", `{"resourceType":"Parameters"}`, nil, 400},
		{"not a Parameters", `{"resourceType":"Patient"}`, nil, 400},
		{"stale If-Match", fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.active", "value", "valueBoolean", false)), []string{"If-Match", `W/"7"`}, 412},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := fmt.Sprintf("fp-bad-%d", i)
			status, got, body := patchedPatient(t, id, c.patch, c.header...)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, body)
			}
			if !strings.Contains(string(body), "OperationOutcome") {
				t.Errorf("no OperationOutcome: %s", body)
			}
			if v := got["meta"].(map[string]any)["versionId"]; v != "1" {
				t.Errorf("a refused patch wrote version %v", v)
			}
		})
	}
	r := srv.Do(t, "PATCH", "Patient/fp-bad-0", `<Parameters/>`, "Content-Type", "application/fhir+xml")
	if r.Status != http.StatusUnsupportedMediaType {
		t.Errorf("XML FHIRPath Patch: %d, want 415", r.Status)
	}
}

func TestFHIRPathPatchIfMatchConditionalAndChoice(t *testing.T) {
	t.Parallel()
	off := fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.active", "value", "valueBoolean", false))
	status, got, body := patchedPatient(t, "fp-cond", off, "If-Match", `W/"1"`)
	if status != http.StatusOK || got["active"] != false {
		t.Fatalf("If-Match of the current version: %d %s", status, body)
	}
	// Conditional PATCH: the one Patient with the identifier.
	on := fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.active", "value", "valueBoolean", true))
	srv.Must(t, http.StatusOK, "PATCH", "Patient?identifier=urn:fp|fp-cond", on, fhirPathPatch...)
	if got := srv.Must(t, http.StatusOK, "GET", "Patient/fp-cond", nil).JSON(t); got["active"] != true {
		t.Errorf("conditional FHIRPath Patch: active %v", got["active"])
	}
	srv.Must(t, http.StatusNotFound, "PATCH", "Patient?identifier=urn:fp|nobody", on, fhirPathPatch...)

	// A choice element changes its type: valueQuantity becomes valueString.
	srv.Must(t, http.StatusCreated, "PUT", "Observation/fp-obs", `{"resourceType":"Observation","id":"fp-obs","status":"final","code":{"text":"colour"},"valueQuantity":{"value":3}}`)
	srv.Must(t, http.StatusOK, "PATCH", "Observation/fp-obs",
		fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Observation.value", "value", "valueString", "blue")), fhirPathPatch...)
	obs := srv.Must(t, http.StatusOK, "GET", "Observation/fp-obs", nil).JSON(t)
	if obs["valueString"] != "blue" || obs["valueQuantity"] != nil {
		t.Errorf("choice replaced: %v", obs)
	}
}

// A FHIRPath Patch in a transaction is the entry's resource (a Parameters); a failing
// one rolls the whole transaction back.
func TestFHIRPathPatchInTransaction(t *testing.T) {
	t.Parallel()
	srv.Must(t, http.StatusCreated, "PUT", "Patient/fp-tx", fmt.Sprintf(fpPatient, "fp-tx", "fp-tx"))
	srv.Must(t, http.StatusCreated, "PUT", "Patient/fp-tx2", fmt.Sprintf(fpPatient, "fp-tx2", "fp-tx2"))
	entry := func(patch string, id ...string) string {
		target := "fp-tx"
		if len(id) > 0 {
			target = id[0]
		}
		return `{"resource":` + patch + `,"request":{"method":"PATCH","url":"Patient/` + target + `"}}`
	}
	good := fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.birthDate", "value", "valueDate", "1980-02-02"))
	bad := fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.multipleBirth", "value", "valueBoolean", true))
	r := srv.Do(t, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[`+entry(good)+`,`+entry(bad, "fp-tx2")+`]}`)
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a transaction with a failing patch: %d %s", r.Status, r.Body)
	}
	if got := srv.Must(t, http.StatusOK, "GET", "Patient/fp-tx", nil).JSON(t); got["birthDate"] != "1974-12-25" {
		t.Fatalf("the failed transaction's first patch stayed: %v", got["birthDate"])
	}
	b := srv.Must(t, http.StatusOK, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[`+entry(good)+`]}`).JSON(t)
	if s := dig(b, "entry.0.response.status"); s != "200 OK" {
		t.Errorf("entry status %v", s)
	}
	if got := srv.Must(t, http.StatusOK, "GET", "Patient/fp-tx", nil).JSON(t); got["birthDate"] != "1980-02-02" {
		t.Errorf("birthDate after the transaction: %v", got["birthDate"])
	}
	// In a batch, each entry stands alone.
	b = srv.Must(t, http.StatusOK, "POST", "", `{"resourceType":"Bundle","type":"batch","entry":[`+entry(bad)+`]}`).JSON(t)
	if s := fmt.Sprint(dig(b, "entry.0.response.status")); !strings.HasPrefix(s, "422") {
		t.Errorf("batch entry status %v", s)
	}
}

// The update's rules and the access policy hold for a FHIRPath Patch as for any write:
// an Appointment's end may not go before its start; the IHE/Argonaut cancellation is a
// patch of the status; a patient may not patch another patient, nor patch with read scopes.
func TestFHIRPathPatchKeepsRulesAndAccess(t *testing.T) {
	t.Parallel()
	appt := `{"resourceType":"Appointment","id":"fp-appt","status":"proposed","start":"2030-01-01T09:00:00Z","end":"2030-01-01T09:30:00Z","participant":[{"status":"needs-action","type":[{"text":"x"}]}]}`
	srv.Must(t, http.StatusCreated, "PUT", "Appointment/fp-appt", appt)
	r := srv.Must(t, http.StatusUnprocessableEntity, "PATCH", "Appointment/fp-appt",
		fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Appointment.end", "value", "valueInstant", "2030-01-01T08:00:00Z")), fhirPathPatch...)
	if expression(t, r) != "Appointment.end" {
		t.Errorf("expression %q, want Appointment.end", expression(t, r))
	}
	got := srv.Must(t, http.StatusOK, "PATCH", "Appointment/fp-appt",
		fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Appointment.status", "value", "valueCode", "cancelled")), fhirPathPatch...).JSON(t)
	if got["status"] != "cancelled" {
		t.Errorf("status %v, want cancelled", got["status"])
	}

	srv.Must(t, http.StatusCreated, "PUT", "Patient/fp-alice", patient("fp-alice"))
	srv.Must(t, http.StatusCreated, "PUT", "Patient/fp-bob", patient("fp-bob"))
	alice := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "fp-alice", "patient/*.cruds")))
	aliceRead := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "fp-alice", "patient/*.rs")))
	off := fpPatch(fpOp("type", "valueCode", "replace", "path", "valueString", "Patient.active", "value", "valueBoolean", false))
	srv.Must(t, http.StatusNotFound, "PATCH", "Patient/fp-bob", off, append(append([]string{}, fhirPathPatch...), alice...)...)
	srv.Must(t, http.StatusForbidden, "PATCH", "Patient/fp-alice", off, append(append([]string{}, fhirPathPatch...), aliceRead...)...)
	srv.Must(t, http.StatusUnauthorized, "PATCH", "Patient/fp-alice", off, append(append([]string{}, fhirPathPatch...), apptest.Anonymous()...)...)
	for _, id := range []string{"fp-alice", "fp-bob"} {
		if v := srv.Must(t, http.StatusOK, "GET", "Patient/"+id, nil).JSON(t)["meta"].(map[string]any)["versionId"]; v != "1" {
			t.Errorf("Patient/%s is at version %v after refused patches", id, v)
		}
	}
	srv.Must(t, http.StatusOK, "PATCH", "Patient/fp-alice", off, append(append([]string{}, fhirPathPatch...), alice...)...)
}
