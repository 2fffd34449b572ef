// Command gendefs turns the official R4 SearchParameter and CompartmentDefinition
// resources into the compact definitions.json that package search embeds, keeping only
// careslot's product types and the common parameters. It runs at `go generate` time, from
// the official definitions vendored in r4-definitions/ (see its SOURCES.md).
//
//	go run ./gendefs -in gendefs/r4-definitions -out definitions.json   # in storage/search
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// productTypes are the types issue 3 indexes, and Communication (the reminders of issue
// 10); every other type is stored but not searchable.
var productTypes = []string{
	"Patient", "Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService",
	"Schedule", "Slot", "Appointment", "AppointmentResponse", "Coverage", "Encounter",
	"DocumentReference", "Condition", "Observation", "MedicationRequest", "Procedure",
	"DiagnosticReport", "AllergyIntolerance", "AuditEvent", "Subscription", "Communication",
}

// commonParams are the Resource-level parameters careslot supports on every type.
var commonParams = map[string]bool{"_id": true, "_lastUpdated": true, "_tag": true, "_profile": true, "_security": true, "_source": true}

type searchParameter struct {
	URL         string   `json:"url"`
	Code        string   `json:"code"`
	Base        []string `json:"base"`
	Type        string   `json:"type"`
	Expression  string   `json:"expression"`
	Description string   `json:"description"`
	Target      []string `json:"target"`
	Component   []struct {
		Definition string `json:"definition"`
		Expression string `json:"expression"`
	} `json:"component"`
}

// Output shapes: mirrored by the loader in package search.
type part struct {
	Expr    string `json:"expr"`
	RefType string `json:"refType,omitempty"`
}

type component struct {
	Code string `json:"code"`
	Kind string `json:"kind"`
	Expr string `json:"expr"`
}

type param struct {
	Resource    string      `json:"resource"`
	Code        string      `json:"code"`
	Kind        string      `json:"kind"`
	URL         string      `json:"url"`
	Description string      `json:"description,omitempty"`
	Parts       []part      `json:"parts,omitempty"`
	Targets     []string    `json:"targets,omitempty"`
	Components  []component `json:"components,omitempty"`
}

type output struct {
	Params []param `json:"params"`
	// Compartments: compartment type -> resource type -> parameters that tie it to the compartment.
	Compartments map[string]map[string][]string `json:"compartments"`
}

func main() {
	in := flag.String("in", "gendefs/r4-definitions", "folder with search-parameters.json and CompartmentDefinition-*.json")
	out := flag.String("out", "definitions.json", "file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gendefs:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	var bundle struct {
		Entry []struct {
			Resource searchParameter `json:"resource"`
		} `json:"entry"`
	}
	if err := readJSON(filepath.Join(in, "search-parameters.json"), &bundle); err != nil {
		return err
	}
	product := map[string]bool{}
	for _, t := range productTypes {
		product[t] = true
	}
	byURL := map[string]searchParameter{}
	for _, e := range bundle.Entry {
		byURL[e.Resource.URL] = e.Resource
	}
	var o output
	for _, e := range bundle.Entry {
		sp := e.Resource
		if len(sp.Base) == 1 && sp.Base[0] == "Resource" {
			if commonParams[sp.Code] {
				o.Params = append(o.Params, param{Resource: "Resource", Code: sp.Code, Kind: sp.Type, URL: sp.URL,
					Description: sp.Description, Parts: []part{{Expr: sp.Expression}}})
			}
			continue
		}
		for _, typ := range sp.Base {
			if !product[typ] {
				continue
			}
			p := param{Resource: typ, Code: sp.Code, Kind: sp.Type, URL: sp.URL, Description: describe(sp.Description, typ)}
			p.Parts = partsFor(sp.Expression, typ)
			if len(p.Parts) == 0 && sp.Type != "special" {
				return fmt.Errorf("%s: no expression for %s in %q", sp.URL, typ, sp.Expression)
			}
			p.Targets = append(p.Targets, sp.Target...)
			for _, c := range sp.Component {
				def, ok := byURL[c.Definition]
				if !ok {
					return fmt.Errorf("%s: component %s is not defined", sp.URL, c.Definition)
				}
				p.Components = append(p.Components, component{Code: def.Code, Kind: def.Type, Expr: c.Expression})
			}
			o.Params = append(o.Params, p)
		}
	}
	sort.Slice(o.Params, func(i, j int) bool {
		if o.Params[i].Resource != o.Params[j].Resource {
			return o.Params[i].Resource < o.Params[j].Resource
		}
		return o.Params[i].Code < o.Params[j].Code
	})
	o.Compartments = map[string]map[string][]string{}
	files, _ := filepath.Glob(filepath.Join(in, "CompartmentDefinition-*.json"))
	if len(files) == 0 {
		return fmt.Errorf("no CompartmentDefinition-*.json in %s", in)
	}
	for _, f := range files {
		var cd struct {
			Code     string `json:"code"`
			Resource []struct {
				Code  string   `json:"code"`
				Param []string `json:"param"`
			} `json:"resource"`
		}
		if err := readJSON(f, &cd); err != nil {
			return err
		}
		m := map[string][]string{}
		for _, r := range cd.Resource {
			if product[r.Code] && len(r.Param) > 0 {
				m[r.Code] = r.Param
			}
		}
		o.Compartments[cd.Code] = m
	}
	// One parameter a line: compact to embed, and still readable in a diff.
	var buf strings.Builder
	buf.WriteString("{\"params\":[\n")
	for i, p := range o.Params {
		b, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString(",\n")
		}
		buf.Write(b)
	}
	comps, err := json.Marshal(o.Compartments)
	if err != nil {
		return err
	}
	buf.WriteString("\n],\n\"compartments\":")
	buf.Write(comps)
	buf.WriteString("}\n")
	return os.WriteFile(out, []byte(buf.String()), 0o644)
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// resolveFilter is the `.where(resolve() is Type)` that restricts a reference path to one
// target type. The engine has no resolver at index time, so the filter is applied to the
// reference string instead of by resolving it.
var resolveFilter = regexp.MustCompile(`\.where\(resolve\(\) is ([A-Za-z]+)\)`)

// partsFor keeps the union members of expr that apply to typ: a definition shared by
// several types is written "Patient.name | Practitioner.name".
func partsFor(expr, typ string) []part {
	var out []part
	for _, p := range splitUnion(expr) {
		bare := strings.TrimLeft(p, "(")
		if bare != typ && !strings.HasPrefix(bare, typ+".") {
			continue
		}
		var pt part
		if m := resolveFilter.FindStringSubmatch(p); m != nil {
			pt.RefType = m[1]
			p = resolveFilter.ReplaceAllString(p, "")
		}
		pt.Expr = p
		out = append(out, pt)
	}
	return out
}

// splitUnion splits a FHIRPath expression at its top-level | operators.
func splitUnion(expr string) []string {
	var parts []string
	depth, start := 0, 0
	inQuote := false
	for i, c := range expr {
		switch {
		case c == '\'':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '|' && depth == 0:
			parts = append(parts, strings.TrimSpace(expr[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(expr[start:]))
}

// describe picks typ's line out of a description shared by several types.
func describe(desc, typ string) string {
	for _, line := range strings.Split(desc, "\n") {
		if prefix := "* [" + typ + "]("; strings.HasPrefix(line, prefix) {
			if _, rest, ok := strings.Cut(line, "): "); ok {
				return strings.TrimSpace(rest)
			}
		}
	}
	if i := strings.Index(desc, "\n"); i > 0 {
		return strings.TrimSpace(desc[:i])
	}
	return desc
}
