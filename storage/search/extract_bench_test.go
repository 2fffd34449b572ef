package search

import "testing"

// benchResources are the resources the extraction benchmarks index.
var benchResources = []struct{ typ, file string }{
	{"Patient", "Patient-example.json"},
	{"Appointment", "Appointment-example.json"},
	{"Observation", "Observation-example.json"},
	{"Slot", "Slot-1.json"},
}

// BenchmarkExtract measures the row extraction a write pays for its search index, per
// resource.
func BenchmarkExtract(b *testing.B) {
	reg := Definitions()
	for _, c := range benchResources {
		body := readExample(b, c.file)
		b.Run(c.typ, func(b *testing.B) {
			for b.Loop() {
				reg.Extract(c.typ, body)
			}
		})
	}
}

// BenchmarkExtractWithEngine is BenchmarkExtract with every expression evaluated by the
// FHIRPath engine: what Extract cost before the fast path, measured in the same run.
func BenchmarkExtractWithEngine(b *testing.B) {
	reg := Definitions()
	for _, c := range benchResources {
		body := readExample(b, c.file)
		b.Run(c.typ, func(b *testing.B) {
			for b.Loop() {
				reg.extractWithEngine(c.typ, body)
			}
		})
	}
}
