package search_test

import (
	"testing"

	"github.com/careslot/careslot/storage/search"
)

func BenchmarkPatientsOf(b *testing.B) {
	obs := []byte(`{"resourceType":"Observation","id":"o1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}],"text":"weight"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-01-01T10:00:00Z","valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},"performer":[{"reference":"Practitioner/d1"}]}`)
	reg := search.Definitions()
	for b.Loop() {
		if got := reg.PatientsOf("Observation", "o1", obs); len(got) != 1 {
			b.Fatal(got)
		}
	}
}
