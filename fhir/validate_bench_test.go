package fhir

import (
	"testing"

	"github.com/careslot/careslot/r4examples"
)

// BenchmarkValidatePatient measures the R4 parse and validation of a realistic Patient,
// the fixed cost every create and update pays.
func BenchmarkValidatePatient(b *testing.B) {
	body, err := r4examples.Read("Patient-example.json")
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Validate(body); err != nil {
			b.Fatal(err)
		}
	}
}
