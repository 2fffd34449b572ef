// Package search is careslot's FHIR search engine without the database: it loads the R4
// SearchParameter definitions, extracts index values from a resource by evaluating their
// FHIRPath expressions, parses search query parameters into a Query, and writes that
// Query as parameterised SQL over the index tables of storage/migrations/0002_search.sql.
//
// It runs no SQL itself (package storage does) and knows nothing of HTTP; it must never
// import storage, fhir or resources.
package search

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gofhir/fhirpath"
)

//go:generate go run ./gendefs -in gendefs/r4-definitions -out definitions.json

//go:embed definitions.json
var definitionsJSON []byte

// Kind is a search parameter type.
type Kind string

const (
	KindString    Kind = "string"
	KindToken     Kind = "token"
	KindReference Kind = "reference"
	KindDate      Kind = "date"
	KindNumber    Kind = "number"
	KindQuantity  Kind = "quantity"
	KindURI       Kind = "uri"
	KindComposite Kind = "composite"
	KindSpecial   Kind = "special"
)

// Param is one search parameter of one resource type.
type Param struct {
	Resource    string // the type it belongs to, or "Resource" for the common parameters
	Code        string // its name in a query, e.g. family
	Kind        Kind
	URL         string // canonical URL of its SearchParameter definition
	Description string
	Targets     []string // reference targets
	Components  []Component
	parts       []part
}

// part is one member of the union that a definition's expression is, for one type.
type part struct {
	source  string
	expr    *fhirpath.Expression
	refType string // only references to this type count (the definition's where(resolve() is T))
	// root is the resource element the expression starts from ("name" for Patient.name.family);
	// "" when it cannot be told. needles are the JSON keys (as `"key`, so that a choice type
	// valueQuantity counts for value) that a plain member path needs somewhere in the
	// resource. Extract skips expressions that could only yield nothing: see prepare.
	root    string
	needles [][]byte
}

// Component is one component of a composite parameter, evaluated relative to each item
// that the composite's own expression selects.
type Component struct {
	Code    string
	Kind    Kind
	source  string
	expr    *fhirpath.Expression
	needles [][]byte // as for part, for a relative member path (value.as(Quantity))
}

// Registry holds the compiled definitions of every searchable type.
type Registry struct {
	byType       map[string]map[string]*Param
	common       map[string]*Param
	compartments map[string]map[string][]string
	plans        map[string][]paramPlan // how Extract evaluates each type's parameters
}

var (
	loadOnce sync.Once
	loaded   *Registry
	loadErr  error
)

// Definitions returns the registry of the embedded R4 definitions, compiled on first use.
// The expressions are compiled once and shared by every write and search.
func Definitions() *Registry {
	loadOnce.Do(func() { loaded, loadErr = load(definitionsJSON) })
	if loadErr != nil {
		// The embedded file is generated and tested; failing here means a broken build.
		panic(fmt.Sprintf("search: embedded definitions: %v", loadErr))
	}
	return loaded
}

// idAndLastUpdated are answered from the resources table itself, not from index rows.
var idAndLastUpdated = map[string]bool{"_id": true, "_lastUpdated": true}

func load(data []byte) (*Registry, error) {
	var raw struct {
		Params []struct {
			Resource    string   `json:"resource"`
			Code        string   `json:"code"`
			Kind        Kind     `json:"kind"`
			URL         string   `json:"url"`
			Description string   `json:"description"`
			Targets     []string `json:"targets"`
			Parts       []struct {
				Expr    string `json:"expr"`
				RefType string `json:"refType"`
			} `json:"parts"`
			Components []struct {
				Code string `json:"code"`
				Kind Kind   `json:"kind"`
				Expr string `json:"expr"`
			} `json:"components"`
		} `json:"params"`
		Compartments map[string]map[string][]string `json:"compartments"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	reg := &Registry{byType: map[string]map[string]*Param{}, common: map[string]*Param{}, compartments: raw.Compartments}
	for _, rp := range raw.Params {
		p := &Param{Resource: rp.Resource, Code: rp.Code, Kind: rp.Kind, URL: rp.URL, Description: rp.Description, Targets: rp.Targets}
		for _, pt := range rp.Parts {
			expr := choiceKeys(pt.Expr)
			e, err := fhirpath.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("%s: compile %q: %w", rp.URL, pt.Expr, err)
			}
			p.parts = append(p.parts, part{source: pt.Expr, expr: e, refType: pt.RefType, root: rootElement(expr), needles: memberKeys(expr)})
		}
		for _, c := range rp.Components {
			expr := choiceKeys(c.Expr)
			e, err := fhirpath.Compile(expr)
			if err != nil {
				return nil, fmt.Errorf("%s: compile component %q: %w", rp.URL, c.Expr, err)
			}
			p.Components = append(p.Components, Component{Code: c.Code, Kind: c.Kind, source: c.Expr, expr: e, needles: memberKeys("Item." + expr)})
		}
		if rp.Resource == "Resource" {
			reg.common[p.Code] = p
			continue
		}
		if reg.byType[p.Resource] == nil {
			reg.byType[p.Resource] = map[string]*Param{}
		}
		reg.byType[p.Resource][p.Code] = p
	}
	reg.plans = compilePlans(reg)
	return reg, nil
}

// Searchable reports whether typ has search parameters of its own.
func (r *Registry) Searchable(typ string) bool { return r.byType[typ] != nil }

// Types lists the searchable types in name order.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.byType))
	for t := range r.byType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Param returns the parameter code of typ (its own or a common one), or nil.
func (r *Registry) Param(typ, code string) *Param {
	if p := r.byType[typ][code]; p != nil {
		return p
	}
	if r.byType[typ] != nil {
		return r.common[code]
	}
	return nil
}

// Params lists the parameters of typ, the common ones first, each group in name order.
func (r *Registry) Params(typ string) []*Param {
	if r.byType[typ] == nil {
		return nil
	}
	var common, own []*Param
	for _, p := range r.common {
		common = append(common, p)
	}
	for _, p := range r.byType[typ] {
		own = append(own, p)
	}
	byCode := func(ps []*Param) {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Code < ps[j].Code })
	}
	byCode(common)
	byCode(own)
	return append(common, own...)
}

// CompartmentParams lists the parameters that put a resource of typ into a compartment of
// compartmentType (from the R4 CompartmentDefinitions); nil when typ is not in it.
func (r *Registry) CompartmentParams(compartmentType, typ string) []string {
	return r.compartments[compartmentType][typ]
}

// rootElement is the first element an expression navigates to from the resource, or ""
// when the expression could give a value even without it (exists(), a bare type name).
func rootElement(expr string) string {
	if strings.Contains(expr, "exists()") || strings.Contains(expr, "empty()") {
		return ""
	}
	e := strings.TrimLeft(expr, "(")
	_, rest, ok := strings.Cut(e, ".")
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, ".( )")
	if end < 0 {
		end = len(rest)
	}
	return rest[:end]
}

var (
	asFunction = regexp.MustCompile(`([A-Za-z]+)\.as\(([A-Za-z]+)\)`)
	asOperator = regexp.MustCompile(`([A-Za-z]+) as ([A-Za-z]+)\)`)
)

// choiceKeys rewrites a choice element cast to the JSON key it is stored under:
// Observation.value.as(Quantity) and (Observation.value as Quantity) become
// Observation.valueQuantity. The same values, but the engine reads one key instead of
// trying every possible type suffix across the whole resource.
func choiceKeys(expr string) string {
	upper := func(t string) string { return strings.ToUpper(t[:1]) + t[1:] }
	expr = asFunction.ReplaceAllStringFunc(expr, func(m string) string {
		sub := asFunction.FindStringSubmatch(m)
		return sub[1] + upper(sub[2])
	})
	return asOperator.ReplaceAllStringFunc(expr, func(m string) string {
		sub := asOperator.FindStringSubmatch(m)
		return sub[1] + upper(sub[2]) + ")"
	})
}

// memberPath is a plain path of members from a type, as most definitions are: Patient.name.family.
var memberPath = regexp.MustCompile(`^[A-Z][A-Za-z]*(\.[a-z][A-Za-z]*)+$`)

// memberKeys lists the keys a plain member path needs; nil for any other expression.
func memberKeys(expr string) [][]byte {
	e := strings.TrimSuffix(strings.TrimPrefix(expr, "("), ")")
	if i := strings.Index(e, " as "); i > 0 {
		e = e[:i]
	}
	if i := strings.Index(e, ".as("); i > 0 {
		e = e[:i]
	}
	if !memberPath.MatchString(e) {
		return nil
	}
	var out [][]byte
	for _, seg := range strings.Split(e, ".")[1:] {
		out = append(out, []byte(`"`+seg))
	}
	return out
}

// key is the sp column value of a parameter on a type: index rows of the common parameters
// carry the concrete type, so one index serves each type separately.
func key(typ, code string) string { return typ + "." + code }
