package search

import "testing"

// BenchmarkExtract measures the FHIRPath evaluation and row building a write pays for
// its search index, per resource.
func BenchmarkExtract(b *testing.B) {
	reg := Definitions()
	for _, c := range []struct{ typ, file string }{
		{"Patient", "Patient-example.json"},
		{"Appointment", "Appointment-example.json"},
		{"Observation", "Observation-example.json"},
		{"Slot", "Slot-1.json"},
	} {
		body := readExample(b, c.file)
		b.Run(c.typ, func(b *testing.B) {
			for b.Loop() {
				reg.Extract(c.typ, body)
			}
		})
	}
}
