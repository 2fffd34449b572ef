package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/google/fhir/go/jsonformat/errorreporter"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// Validator parses resources with google/fhir's R4 unmarshaller, which refuses unknown
// elements, wrong types, bad dates and codes outside required bindings, and reports
// missing required elements and references to the wrong resource type.
type Validator struct {
	unmarshaller *jsonformat.Unmarshaller
	types        map[string]bool
}

// NewValidator makes the R4 validator; it is safe for concurrent use.
func NewValidator() (*Validator, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir: R4 unmarshaller: %w", err)
	}
	u.MaxNestingDepth = 64
	return &Validator{unmarshaller: u, types: r4ResourceTypes()}, nil
}

// r4ResourceTypes lists every R4 resource type, read from the ContainedResource choice.
func r4ResourceTypes() map[string]bool {
	types := map[string]bool{}
	oneof := (&bcrpb.ContainedResource{}).ProtoReflect().Descriptor().Oneofs().ByName("oneof_resource")
	fields := oneof.Fields()
	for i := 0; i < fields.Len(); i++ {
		types[string(fields.Get(i).Message().Name())] = true
	}
	return types
}

// IsResourceType reports whether name is an R4 resource type.
func (v *Validator) IsResourceType(name string) bool { return v.types[name] }

// ResourceTypes returns every R4 resource type, sorted.
func (v *Validator) ResourceTypes() []string {
	out := make([]string, 0, len(v.types))
	for t := range v.types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Validate checks that body is one valid R4 resource and returns its resourceType.
// Structural errors (not JSON, unknown elements, wrong types) are 400; a resource that
// parses but breaks the base specification's rules (cardinality, reference targets) is 422.
func (v *Validator) Validate(body []byte) (string, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return "", &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
			Diagnostics: "the body must be a JSON object holding one FHIR resource"}
	}
	var head struct {
		ResourceType *string `json:"resourceType"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return "", &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
			Diagnostics: "the body is not valid JSON: " + err.Error()}
	}
	if head.ResourceType == nil {
		return "", &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeRequired,
			Diagnostics: "the resource has no resourceType", Expression: []string{"resourceType"}}
	}
	if at := loneSurrogate(body); at >= 0 {
		return "", &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
			Diagnostics: fmt.Sprintf("the body has a \\u escape of an unpaired UTF-16 surrogate at byte %d, which is not a Unicode character", at)}
	}
	typ := *head.ResourceType
	if !v.types[typ] {
		return "", &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeNotSupported,
			Diagnostics: fmt.Sprintf("%q is not an R4 resource type", typ), Expression: []string{"resourceType"}}
	}
	if err := checkJSON(typ, body); err != nil {
		return typ, err
	}
	reporter := errorreporter.NewOperationErrorReporter(fhirversion.R4)
	parsed, err := v.unmarshaller.UnmarshalWithErrorReporter(body, reporter)
	if err != nil {
		return typ, structureError(typ, err)
	}
	if err := checkYears(typ, parsed.ProtoReflect()); err != nil {
		return typ, err
	}
	if issues := reporter.Outcome.R4Outcome.GetIssue(); len(issues) > 0 {
		first := issues[0]
		var paths []string
		var diags []string
		for _, is := range issues {
			for _, e := range is.GetExpression() {
				paths = append(paths, e.GetValue())
			}
			diags = append(diags, is.GetDiagnostics().GetValue())
		}
		code := fhirerr.CodeInvalid
		if strings.Contains(first.GetDiagnostics().GetValue(), "missing required") {
			code = fhirerr.CodeRequired
		}
		return typ, &fhirerr.Error{Kind: fhirerr.ErrUnprocessable, Code: code,
			Diagnostics: strings.Join(diags, "; "), Expression: expressionStrings(paths)}
	}
	if at := nulEscape(body); at >= 0 {
		return typ, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
			Diagnostics: fmt.Sprintf("the body has a \\u0000 escape at byte %d; U+0000 cannot be stored", at)}
	}
	return typ, nil
}

// structureError turns a google/fhir parse error into a 400 with the element's path.
// Its error types are internal to that module, so their exported fields are read by reflection.
func structureError(typ string, err error) *fhirerr.Error {
	var paths, details []string
	add := func(e reflect.Value) {
		for e.Kind() == reflect.Pointer || e.Kind() == reflect.Interface {
			e = e.Elem()
		}
		if e.Kind() != reflect.Struct {
			return
		}
		path, detail := e.FieldByName("Path"), e.FieldByName("Details")
		if !path.IsValid() || !detail.IsValid() {
			return
		}
		p, msg := path.String(), detail.String()
		if d := e.FieldByName("Diagnostics"); d.IsValid() && d.String() != "" {
			if msg == "unknown field" {
				// Point at the unknown element itself rather than its parent.
				p += "." + strings.Trim(d.String(), `"`)
			} else {
				msg += " (" + d.String() + ")"
			}
		}
		paths = append(paths, p)
		details = append(details, p+": "+msg)
	}
	rv := reflect.ValueOf(err)
	if rv.Kind() == reflect.Slice {
		for i := 0; i < rv.Len(); i++ {
			add(rv.Index(i))
		}
	} else {
		add(rv)
	}
	if len(details) == 0 {
		details = []string{err.Error()}
	}
	paths = expressionStrings(paths)
	if len(paths) == 0 {
		paths = []string{typ}
	}
	return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
		Diagnostics: "invalid " + typ + ": " + strings.Join(details, "; "), Expression: paths}
}

func expressionStrings(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range in {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// loneSurrogate returns the offset of a \u escape of a UTF-16 surrogate that is not part
// of a pair, or -1. Go's decoder quietly turns one into U+FFFD, but PostgreSQL's jsonb
// refuses it, so it must be refused here as a 400 rather than fail at the INSERT.
// body is valid JSON, so a backslash is always an escape inside a string.
func loneSurrogate(body []byte) int {
	for i := 0; i+1 < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] != 'u' || i+6 > len(body) {
			i++ // an escaped character such as \\ or \"
			continue
		}
		r, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
		if err != nil {
			continue
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			next := body[i+6:]
			if len(next) >= 6 && next[0] == '\\' && next[1] == 'u' {
				if low, err := strconv.ParseUint(string(next[2:6]), 16, 16); err == nil && low >= 0xDC00 && low < 0xE000 {
					i += 11
					continue
				}
			}
			return i
		case r >= 0xDC00 && r < 0xE000:
			return i
		}
		i += 5
	}
	return -1
}

// nulEscape returns the offset of a \u0000 escape, or -1. The R4 parser refuses U+0000
// in most strings but not in xhtml or markdown, and PostgreSQL's jsonb cannot store it.
// body is valid JSON, so a backslash is always an escape inside a string.
func nulEscape(body []byte) int {
	for i := 0; i+1 < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		if body[i+1] == 'u' && i+6 <= len(body) && string(body[i+2:i+6]) == "0000" {
			return i
		}
		i++ // skip the escaped character, so \\u0000 (an escaped backslash) is not taken for one
	}
	return -1
}
