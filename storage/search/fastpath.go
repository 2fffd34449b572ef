package search

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofhir/fhirpath/eval"
	"github.com/gofhir/fhirpath/types"
)

// The fast path answers the common shapes of search parameter expressions on a resource
// decoded once into Go values, instead of having the FHIRPath engine re-scan the JSON
// bytes for every step: member paths from the resource (Patient.name.family), a trailing
// where(member = 'literal'), unions of such paths, and the deceased shape
// (X.a.exists() and X.a != false). Every other expression stays with the engine.
//
// It must give exactly what github.com/gofhir/fhirpath gives without a model, so it
// copies the engine's rules rather than the FHIRPath specification's where they differ:
// a missing member is looked up under every choice-type suffix of the engine's list (in
// its order), strings that look like dates become the engine's Date or DateTime text,
// integers print as the engine prints them, nulls and nested arrays are dropped. Where
// the engine's answer depends on what a decoded tree cannot tell (a union with several
// values, which the engine deduplicates by raw bytes), evaluation reports !ok and the
// caller asks the engine. TestFastPathMatchesEngine holds the two paths together.

// fastExpr is an expression the fast path answers: one path, a union of paths, or the
// deceased shape.
type fastExpr struct {
	branches []fastPath // joined with |
	// existsNotFalse: the result is X.exists() and X != false for the one branch X.
	existsNotFalse bool
}

// fastPath is a member path, from the resource (typeStep set: Patient.name, or just
// Observation for a composite whose items are the resource itself) or from an item (a composite's component: code, valueQuantity), with an optional trailing filter.
type fastPath struct {
	typeStep string
	typeName fastStep // the type step read as a member, for a resource of another type
	steps    []fastStep
	where    *fastWhere
}

// fastStep is one member navigation.
type fastStep struct {
	name    string
	choices []string // name + each choice-type suffix, in the engine's order
}

// fastWhere is where(member = 'literal'): the member must give exactly one value, that
// string. The literal is never a date, so a date-typed value never equals it.
type fastWhere struct {
	member  fastStep
	literal string
}

// choiceSuffixes are the type suffixes the engine (eval.polymorphicTypeSuffixes, v1.4.0)
// tries, in its order, when a member is missing: value finds valueQuantity.
var choiceSuffixes = []string{
	"Boolean", "Integer", "Integer64", "Decimal", "String", "Code", "Id", "Uri", "Url", "Canonical",
	"Base64Binary", "Instant", "Date", "DateTime", "Time", "Oid", "Uuid", "Markdown", "PositiveInt", "UnsignedInt",
	"Quantity", "CodeableConcept", "Coding", "Range", "Period", "Ratio", "RatioRange",
	"Identifier", "Reference", "Attachment", "HumanName", "Address", "ContactPoint",
	"Timing", "Signature", "Annotation", "SampledData", "Age", "Distance", "Duration",
	"Count", "Money", "MoneyQuantity", "SimpleQuantity",
	"Meta", "Dosage", "ContactDetail", "Contributor", "DataRequirement", "Expression",
	"ParameterDefinition", "RelatedArtifact", "TriggerDefinition", "UsageContext",
}

var (
	absolutePath   = regexp.MustCompile(`^[A-Z][A-Za-z]*(\.[a-z][A-Za-z0-9]*)*$`)
	relativePath   = regexp.MustCompile(`^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)*$`)
	whereEquals    = regexp.MustCompile(`^(.+)\.where\(([a-z][A-Za-z0-9]*) ?= ?'([A-Za-z][A-Za-z0-9_-]*)'\)$`)
	existsNotFalse = regexp.MustCompile(`^(.+)\.exists\(\) and (.+) != false$`)
	functionCall   = regexp.MustCompile(`[A-Za-z0-9_]\(`)
)

// compileFast returns the fast form of a (choiceKeys-rewritten) expression, or nil when
// the engine must answer it. relative is true for a composite's components, which are
// evaluated on an item rather than on the resource.
func compileFast(expr string, relative bool) *fastExpr {
	if m := existsNotFalse.FindStringSubmatch(expr); m != nil && !relative {
		if m[1] != m[2] {
			return nil
		}
		p, ok := compilePath(m[1], false)
		if !ok || p.where != nil {
			return nil
		}
		return &fastExpr{branches: []fastPath{p}, existsNotFalse: true}
	}
	f := &fastExpr{}
	for _, b := range strings.Split(expr, "|") {
		p, ok := compilePath(strings.TrimSpace(b), relative)
		if !ok {
			return nil
		}
		f.branches = append(f.branches, p)
	}
	return f
}

func compilePath(expr string, relative bool) (fastPath, bool) {
	var p fastPath
	if m := whereEquals.FindStringSubmatch(expr); m != nil {
		expr = m[1]
		p.where = &fastWhere{member: newStep(m[2]), literal: m[3]}
	}
	// Grouping parentheses do not change a member path: (A.b).c is A.b.c. A function
	// call (a name right before "(") is for the engine.
	if functionCall.MatchString(expr) {
		return p, false
	}
	expr = strings.NewReplacer("(", "", ")", "").Replace(expr)
	pattern := absolutePath
	if relative {
		pattern = relativePath
	}
	if !pattern.MatchString(expr) {
		return p, false
	}
	names := strings.Split(expr, ".")
	if !relative {
		p.typeStep, p.typeName, names = names[0], newStep(names[0]), names[1:]
	}
	// The engine reads the resource without its narrative when that is large (prepare);
	// a path into the narrative would see a different resource here.
	if len(names) > 0 && names[0] == "text" {
		return p, false
	}
	for _, n := range names {
		p.steps = append(p.steps, newStep(n))
	}
	return p, true
}

func newStep(name string) fastStep {
	s := fastStep{name: name, choices: make([]string, len(choiceSuffixes))}
	for i, suffix := range choiceSuffixes {
		s.choices[i] = name + suffix
	}
	return s
}

// fastValue is one value a fast expression selected: a decoded JSON value, and the
// choice-type suffix it was found under (the engine reads "valueDateTime" as a dateTime
// when it found it for "value", and by its look otherwise).
type fastValue struct {
	v    any
	hint string
}

// eval evaluates f on a resource (rootType its resourceType) or, for a relative
// expression, on an item (rootType ""). ok is false when only the engine can answer.
func (f *fastExpr) eval(root map[string]any, rootType string) (out []fastValue, ok bool) {
	for i := range f.branches {
		vals := f.branches[i].eval(root, rootType)
		if i == 0 {
			out = vals
			continue
		}
		// The engine's union drops a later value equal to one already in the result,
		// comparing objects by their raw bytes; only an empty result is certain.
		if len(vals) == 0 {
			continue
		}
		if len(out)+len(vals) > 1 {
			return nil, false
		}
		out = vals
	}
	if f.existsNotFalse {
		return existsAndNotFalse(out), true
	}
	return out, true
}

// existsAndNotFalse is the engine's X.exists() and X != false: false when X is empty or
// the boolean false, true for any other single value, empty for several values.
func existsAndNotFalse(x []fastValue) []fastValue {
	switch {
	case len(x) == 0:
		return []fastValue{{v: false}}
	case len(x) > 1:
		return nil
	}
	if b, ok := x[0].v.(bool); ok && !b {
		return []fastValue{{v: false}}
	}
	return []fastValue{{v: true}}
}

func (p *fastPath) eval(root map[string]any, rootType string) []fastValue {
	cur := []fastValue{{v: root}}
	if p.typeStep != "" {
		// The engine's first step is a type test on the resource; a name that is not
		// its type is read as a member of it.
		if !eval.IsSubtypeOfWithModel(rootType, p.typeStep, nil) {
			cur = p.typeName.from(cur)
		}
	}
	for i := range p.steps {
		if len(cur) == 0 {
			return nil
		}
		cur = p.steps[i].from(cur)
	}
	if p.where != nil {
		kept := cur[:0:0]
		for _, item := range cur {
			vals := p.where.member.from([]fastValue{item})
			if len(vals) == 1 {
				if s, ok := vals[0].v.(string); ok && s == p.where.literal {
					kept = append(kept, item)
				}
			}
		}
		cur = kept
	}
	return cur
}

// from navigates to the member in each object of in, as the engine's navigateMember does.
func (s *fastStep) from(in []fastValue) []fastValue {
	var out []fastValue
	for _, item := range in {
		obj, ok := item.v.(map[string]any)
		if !ok {
			continue
		}
		n := len(out)
		out = appendChildren(out, obj[s.name], "")
		if len(out) > n || !hasChoiceKey(obj, s.name) {
			continue
		}
		for i, key := range s.choices {
			out = appendChildren(out, obj[key], choiceSuffixes[i])
			if len(out) > n {
				break
			}
		}
	}
	return out
}

// hasChoiceKey reports whether obj has a key name+Type; most members are simply absent.
func hasChoiceKey(obj map[string]any, name string) bool {
	for k := range obj {
		if len(k) > len(name) && k[len(name)] >= 'A' && k[len(name)] <= 'Z' && strings.HasPrefix(k, name) {
			return true
		}
	}
	return false
}

// appendChildren appends a member's values: each element of an array, the value itself
// otherwise; the engine drops nulls, nested arrays and numbers it cannot read.
func appendChildren(out []fastValue, v any, hint string) []fastValue {
	switch v := v.(type) {
	case nil:
		return out
	case []any:
		for _, e := range v {
			switch n := e.(type) {
			case nil, []any:
				continue
			case json.Number:
				if _, ok := engineNumber(n); !ok {
					continue
				}
			}
			out = append(out, fastValue{v: e, hint: hint})
		}
		return out
	case json.Number:
		if _, ok := engineNumber(v); !ok {
			return out
		}
	}
	return append(out, fastValue{v: v, hint: hint})
}

// engineNumber is the engine's text for a JSON number: integers reprinted, decimals as written.
func engineNumber(n json.Number) (string, bool) {
	c, err := types.JSONToCollection([]byte(n))
	if err != nil || len(c) != 1 {
		return "", false
	}
	return c[0].String(), true
}

// indexValue turns a fast value into what row building reads: the object, or the text
// the engine's value would print.
func (fv fastValue) indexValue() (indexValue, bool) {
	switch v := fv.v.(type) {
	case map[string]any:
		return indexValue{doc: v, isObj: true}, true
	case string:
		return indexValue{s: engineString(v, fv.hint)}, true
	case bool:
		return indexValue{s: strconv.FormatBool(v)}, true
	case json.Number:
		s, ok := engineNumber(v)
		return indexValue{s: s}, ok
	}
	return indexValue{}, false
}

// engineString is the text of the engine's value for a JSON string: found under a date,
// dateTime, instant or time suffix it is read as that type; otherwise a string that
// looks like a date or dateTime is read as one (types.tryParseTemporalString). Both
// reprint it (2015-02-07T13:28:17.239+02:00 keeps milliseconds only, for example).
func engineString(s, hint string) string {
	if hint != "" {
		switch strings.ToLower(hint) {
		case "date":
			if d, err := types.NewDate(s); err == nil {
				return d.String()
			}
		case "datetime", "instant":
			if dt, err := types.NewDateTime(s); err == nil {
				return dt.String()
			}
		case "time":
			if t, err := types.NewTime(s); err == nil {
				return t.String()
			}
		}
		return s
	}
	// Every date and dateTime pattern of the engine starts with four digits.
	if len(s) < 4 || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) || !isDigit(s[3]) {
		return s
	}
	if len(s) <= 10 {
		if d, err := types.NewDate(s); err == nil {
			return d.String()
		}
	}
	if strings.ContainsAny(s, "TZ") || (len(s) > 10 && (s[10] == '+' || s[10] == '-')) {
		if dt, err := types.NewDateTime(s); err == nil {
			return dt.String()
		}
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
