package search

import "testing"

func TestChoiceKeys(t *testing.T) {
	for in, want := range map[string]string{
		"(Observation.value as Quantity)":             "(Observation.valueQuantity)",
		"Condition.onset.as(dateTime)":                "Condition.onsetDateTime",
		"(Observation.value as CodeableConcept).text": "(Observation.valueCodeableConcept).text",
		"value.as(Quantity)":                          "valueQuantity",
		"Patient.name.family":                         "Patient.name.family",
	} {
		if got := choiceKeys(in); got != want {
			t.Errorf("choiceKeys(%q) = %q, want %q", in, got, want)
		}
	}
	// Condition examples carry onsetDateTime, onsetString and onsetAge.
	reg := Definitions()
	rows := reg.Extract("Condition", readExample(t, "Condition-f202.json"))
	found := false
	for _, q := range rows.Quantities {
		if q.SP == "Condition.onset-age" {
			found = true
		}
	}
	if !found {
		t.Errorf("Condition-f202 onsetAge not indexed: %+v", rows.Quantities)
	}
	rows = reg.Extract("Condition", readExample(t, "Condition-example2.json"))
	wantString(t, rows, "Condition.onset-info", "approximately november 2012", "approximately November 2012")
}
