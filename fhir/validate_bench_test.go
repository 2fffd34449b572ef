package fhir

import (
	"os"
	"testing"
)

// BenchmarkValidatePatient measures the R4 parse and validation of a realistic Patient,
// the fixed cost every create and update pays.
func BenchmarkValidatePatient(b *testing.B) {
	body, err := os.ReadFile("../../shared/fhir-r4/r4-examples/Patient-example.json")
	if err != nil {
		b.Skip("shared examples not present:", err)
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
