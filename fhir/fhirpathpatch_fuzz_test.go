package fhir

import (
	"encoding/json"
	"testing"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// FuzzFHIRPathPatch builds a FHIRPath Patch from arbitrary parts and applies it to a
// Patient: decoding and applying never panic, every refusal is a 4xx OperationOutcome,
// and an accepted patch leaves a JSON object that is still a Patient (the write then
// validates it as any update). The seed corpus is testdata/fuzz/FuzzFHIRPathPatch.
func FuzzFHIRPathPatch(f *testing.F) {
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{validator: v}
	patient := []byte(`{"resourceType":"Patient","id":"fz","meta":{"versionId":"1","lastUpdated":"2024-01-01T00:00:00Z"},` +
		`"extension":[{"url":"http://x","valueString":"a"}],"name":[{"use":"official","family":"F","given":["A","B"],"_given":[null,{"id":"g"}]}],` +
		`"birthDate":"1970-01-01","contact":[{"name":{"family":"C"}}],"contained":[{"resourceType":"Organization","id":"o","name":"O"}]}`)
	f.Add("add", "Patient", "deceased", []byte(`true`), 0, 0)
	f.Add("insert", "Patient.name[0].given", "", []byte(`"X"`), 1, 0)
	f.Add("move", "Patient.name[0].given", "", []byte(``), 1, 0)
	f.Add("delete", "Patient.name.given[1]", "", []byte(``), 0, 0)
	f.Add("replace", "Patient.contained[0].name", "", []byte(`"P"`), 0, 0)
	f.Add("add", "Patient.name[0]", "period", []byte(`{"start":"2020"}`), 0, 0)
	f.Fuzz(func(t *testing.T, opType, path, name string, value []byte, index, destination int) {
		parts := []any{map[string]any{"name": "type", "valueCode": opType}, map[string]any{"name": "path", "valueString": path}}
		if name != "" {
			parts = append(parts, map[string]any{"name": "name", "valueString": name})
		}
		if len(value) > 0 && json.Valid(value) {
			var decoded any
			json.Unmarshal(value, &decoded)
			key := "valueBoolean"
			switch decoded.(type) {
			case string:
				key = "valueString"
			case float64:
				key = "valueDecimal"
			case map[string]any:
				key = "valuePeriod"
			case bool:
			default:
				key = ""
			}
			if key != "" {
				parts = append(parts, map[string]any{"name": "value", key: json.RawMessage(value)})
			}
		}
		parts = append(parts, map[string]any{"name": "index", "valueInteger": index}, map[string]any{"name": "source", "valueInteger": index},
			map[string]any{"name": "destination", "valueInteger": destination})
		body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "operation", "part": parts}}})
		refused := func(err error) {
			fe, ok := fhirerr.As(err)
			if !ok || fe.Status() < 400 || fe.Status() >= 500 {
				t.Fatalf("refused without a 4xx: %v", err)
			}
		}
		ops, err := s.decodeFHIRPathPatch(body)
		if err != nil {
			refused(err)
			return
		}
		out, err := fhirPathPatchFunc(ops)(patient)
		if err != nil {
			refused(err)
			return
		}
		var head struct{ ResourceType string }
		if err := json.Unmarshal(out, &head); err != nil || head.ResourceType != "Patient" {
			t.Fatalf("an applied patch left %s (%v)", out, err)
		}
		s.validator.Validate(out) // must not panic; an invalid result is refused by the write
	})
}
