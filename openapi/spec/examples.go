package spec

// resourceExamples are small valid request bodies of the types a clinic starts with;
// the ids they reference are examples too.
var resourceExamples = map[string]any{
	"Patient": map[string]any{"resourceType": "Patient",
		"identifier": []any{map[string]any{"system": "http://example.org/mrn", "value": "12345"}},
		"name":       []any{map[string]any{"family": "Chalmers", "given": []string{"Peter"}}},
		"gender":     "male", "birthDate": "1974-12-25",
		"telecom": []any{map[string]any{"system": "phone", "value": "(03) 5555 6473", "use": "mobile"}}},
	"Practitioner": map[string]any{"resourceType": "Practitioner",
		"name": []any{map[string]any{"family": "Careful", "given": []string{"Adam"}, "prefix": []string{"Dr"}}}},
	"Organization": map[string]any{"resourceType": "Organization", "name": "Burgers University Medical Center", "active": true},
	"Schedule": map[string]any{"resourceType": "Schedule", "active": true,
		"actor":           []any{map[string]any{"reference": "Practitioner/example"}},
		"planningHorizon": map[string]any{"start": "2026-12-01T08:00:00Z", "end": "2026-12-31T18:00:00Z"}},
	"Slot": map[string]any{"resourceType": "Slot", "schedule": map[string]any{"reference": "Schedule/example"},
		"status": "free", "start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:30:00Z"},
	"Appointment": map[string]any{"resourceType": "Appointment", "status": "booked",
		"slot":  []any{map[string]any{"reference": "Slot/example"}},
		"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:30:00Z",
		"participant": []any{
			map[string]any{"actor": map[string]any{"reference": "Patient/example"}, "status": "accepted"},
			map[string]any{"actor": map[string]any{"reference": "Practitioner/example"}, "status": "accepted"},
		}},
	"Coverage": map[string]any{"resourceType": "Coverage", "status": "active",
		"beneficiary": map[string]any{"reference": "Patient/example"},
		"payor":       []any{map[string]any{"reference": "Organization/example"}},
		"period":      map[string]any{"start": "2026-01-01", "end": "2026-12-31"}},
}

// operationExamples are Parameters bodies of the operations, by code.
var operationExamples = map[string]any{
	"find": parametersResource(
		map[string]any{"name": "start", "valueDateTime": "2026-12-01T00:00:00Z"},
		map[string]any{"name": "end", "valueDateTime": "2026-12-08T00:00:00Z"},
		map[string]any{"name": "practitioner", "valueReference": map[string]any{"reference": "Practitioner/example"}},
	),
	"hold": parametersResource(map[string]any{"name": "appointment-reference", "valueReference": map[string]any{"reference": "Appointment/example"}}),
	"book": parametersResource(map[string]any{"name": "appointment-reference", "valueReference": map[string]any{"reference": "Appointment/example"}}),
	"generate-slots": parametersResource(
		map[string]any{"name": "start", "valueDateTime": "2026-12-01T00:00:00Z"},
		map[string]any{"name": "end", "valueDateTime": "2026-12-08T00:00:00Z"},
		map[string]any{"name": "slot-length", "valueInteger": 30},
		map[string]any{"name": "timezone", "valueCode": "Europe/Amsterdam"},
	),
}

func parametersResource(ps ...any) map[string]any {
	return map[string]any{"resourceType": "Parameters", "parameter": ps}
}

// transactionExample creates a patient and their coverage together.
var transactionExample = map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
	map[string]any{"fullUrl": "urn:uuid:5b8a7c39-1c0e-4d55-9c2f-1f0c3c1d2a01",
		"resource": resourceExamples["Patient"], "request": map[string]any{"method": "POST", "url": "Patient"}},
	map[string]any{"resource": map[string]any{"resourceType": "Coverage", "status": "active",
		"beneficiary": map[string]any{"reference": "urn:uuid:5b8a7c39-1c0e-4d55-9c2f-1f0c3c1d2a01"},
		"payor":       []any{map[string]any{"reference": "Organization/example"}}},
		"request": map[string]any{"method": "POST", "url": "Coverage"}},
}}
