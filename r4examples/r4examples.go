// Package r4examples holds the official FHIR R4 example instances, so that the tests and
// benchmarks that check careslot against the specification's own examples run from the
// repository alone (see SOURCES.md for where they come from and their licence).
//
// Only tests and benchmarks import it; the server never does.
package r4examples

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
)

// EnvDir names the variable that points the tests at another folder of examples, one
// resource a .json file, instead of the set vendored here.
const EnvDir = "CARESLOT_R4_EXAMPLES"

// Count is how many examples the vendored set holds: every instance of
// hl7.fhir.r4.examples 4.0.1 but the conformance and terminology resources.
const Count = 703

//go:embed examples/*.json
var vendored embed.FS

// Example is one example file.
type Example struct {
	File string // the file name, Type-id.json
	Type string // resourceType, as the content says
	ID   string // id, as the content says
	Body []byte
}

// Source names where the examples are read from: the folder in CARESLOT_R4_EXAMPLES, or
// the vendored set.
func Source() string {
	if dir := os.Getenv(EnvDir); dir != "" {
		return dir
	}
	return "r4examples/examples (vendored)"
}

func examples() fs.FS {
	if dir := os.Getenv(EnvDir); dir != "" {
		return os.DirFS(dir)
	}
	sub, _ := fs.Sub(vendored, "examples") // cannot fail: the folder is embedded
	return sub
}

// Read returns the example in the file name, e.g. "Patient-example.json".
func Read(name string) ([]byte, error) {
	b, err := fs.ReadFile(examples(), name)
	if err != nil {
		return nil, fmt.Errorf("r4examples: %s: %w", Source(), err)
	}
	return b, nil
}

// All returns every example, sorted by file name. It fails when there is none, so a test
// over the examples can never pass by looking at nothing.
func All() ([]Example, error) {
	fsys := examples()
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("r4examples: %s: %w", Source(), err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("r4examples: no *.json examples in %s", Source())
	}
	sort.Strings(names)
	out := make([]Example, 0, len(names))
	for _, name := range names {
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("r4examples: %s: %w", Source(), err)
		}
		var head struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if err := json.Unmarshal(body, &head); err != nil {
			return nil, fmt.Errorf("r4examples: %s: %w", path.Join(Source(), name), err)
		}
		out = append(out, Example{File: name, Type: head.ResourceType, ID: head.ID, Body: body})
	}
	return out, nil
}
