package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// opParams are the inputs of an operation call: the query parameters of a GET or POST,
// and the parameters of a Parameters resource POSTed as the body.
type opParams struct {
	values    map[string][]string          // primitive values, References as their reference, Codings as system|code
	resources map[string][]json.RawMessage // resource parameters
	concepts  map[string]map[string]any    // Coding and CodeableConcept values, as a CodeableConcept
}

// readParams reads an operation's parameters; a body must be a valid R4 Parameters resource.
func (s *Server) readParams(w http.ResponseWriter, r *http.Request) (*opParams, error) {
	p := &opParams{values: map[string][]string{}, resources: map[string][]json.RawMessage{}, concepts: map[string]map[string]any{}}
	for k, vs := range r.URL.Query() {
		if !strings.HasPrefix(k, "_") || k == "_count" {
			p.values[k] = append(p.values[k], vs...)
		}
	}
	if r.Method != http.MethodPost {
		return p, nil
	}
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	// google/fhir does not parse resources inside Parameters.parameter, so each resource
	// is taken out and validated on its own, and the rest of the Parameters without them.
	var params struct {
		ResourceType string                       `json:"resourceType"`
		Parameter    []map[string]json.RawMessage `json:"parameter"`
	}
	if err := json.Unmarshal(body, &params); err != nil {
		return nil, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure, Diagnostics: "the body is not a Parameters resource: " + err.Error()}
	}
	if params.ResourceType != "Parameters" {
		return nil, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: fmt.Sprintf("an operation takes a Parameters resource as its body, not %q", params.ResourceType), Expression: []string{"resourceType"}}
	}
	shell, err := withoutResources(body)
	if err != nil {
		return nil, err
	}
	if _, err := s.validator.Validate(shell); err != nil {
		return nil, err
	}
	for i, param := range params.Parameter {
		if raw, ok := param["resource"]; ok {
			if _, err := s.validator.Validate(raw); err != nil {
				fe := *fhirerr.From(err)
				fe.Diagnostics = fmt.Sprintf("Parameters.parameter[%d].resource: %s", i, fe.Diagnostics)
				return nil, &fe
			}
		}
	}
	op := calledOperation(r.Context())
	for i, param := range params.Parameter {
		var name string
		json.Unmarshal(param["name"], &name)
		if op != nil {
			if err := op.refuseUnknown(r, name, fmt.Sprintf("Parameters.parameter[%d].name", i)); err != nil {
				return nil, err
			}
		}
		for key, raw := range param {
			switch {
			case key == "resource":
				p.resources[name] = append(p.resources[name], raw)
			case strings.HasPrefix(key, "value"):
				if err := p.addValue(name, key, raw); err != nil {
					return nil, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeValue,
						Diagnostics: err.Error(), Expression: []string{fmt.Sprintf("Parameters.parameter[%d].%s", i, key)}}
				}
			}
		}
	}
	return p, nil
}

// withoutResources returns a Parameters body with every parameter.resource removed.
func withoutResources(body []byte) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fhirerr.Invalid("the body is not a JSON object")
	}
	var list []map[string]json.RawMessage
	if raw, ok := doc["parameter"]; ok {
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure,
				Diagnostics: "Parameters.parameter must be a list of objects", Expression: []string{"Parameters.parameter"}}
		}
		for _, p := range list {
			delete(p, "resource")
		}
		doc["parameter"] = marshal(list)
	}
	return marshal(doc), nil
}

// identifierRefPrefix marks a Reference value given by identifier alone (system|value
// follows); no literal reference starts so, as Identifier is no resource type.
const identifierRefPrefix = "Identifier?"

// addValue records a value[x] of parameter name.
func (p *opParams) addValue(name, key string, raw json.RawMessage) error {
	switch key {
	case "valueReference":
		var ref struct {
			Reference  string `json:"reference"`
			Identifier struct{ System, Value string }
		}
		json.Unmarshal(raw, &ref)
		if ref.Reference == "" && ref.Identifier.Value != "" {
			p.values[name] = append(p.values[name], identifierRefPrefix+ref.Identifier.System+"|"+ref.Identifier.Value)
			break
		}
		p.values[name] = append(p.values[name], ref.Reference)
	case "valueCoding":
		var coding map[string]any
		json.Unmarshal(raw, &coding)
		p.concepts[name] = map[string]any{"coding": []any{coding}}
		p.values[name] = append(p.values[name], codingToken(coding))
	case "valueCodeableConcept":
		var cc map[string]any
		json.Unmarshal(raw, &cc)
		p.concepts[name] = cc
		if list, _ := cc["coding"].([]any); len(list) > 0 {
			c, _ := list[0].(map[string]any)
			p.values[name] = append(p.values[name], codingToken(c))
		}
	case "valueIdentifier":
		var id struct{ System, Value string }
		json.Unmarshal(raw, &id)
		tok := id.Value
		if id.System != "" {
			tok = id.System + "|" + id.Value
		}
		p.values[name] = append(p.values[name], tok)
	case "valueDuration", "valueQuantity":
		var q struct {
			Value json.Number `json:"value"`
			Code  string      `json:"code"`
			Unit  string      `json:"unit"`
		}
		json.Unmarshal(raw, &q)
		minutes, err := durationMinutes(q.Value.String(), q.Code+q.Unit)
		if err != nil {
			return err
		}
		p.values[name] = append(p.values[name], minutes)
	default:
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%s is not a value", key)
		}
		p.values[name] = append(p.values[name], fmt.Sprint(v))
	}
	return nil
}

// durationMinutes converts a Duration value in min, h or s to whole minutes. A fraction
// of a minute is refused rather than cut off, and so is a value beyond an R4 integer
// (converting it to int would give an arbitrary number).
func durationMinutes(value, unit string) (string, error) {
	f, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return "", fmt.Errorf("the duration %q is not a number", value)
	}
	switch {
	case strings.HasPrefix(unit, "min"):
	case strings.HasPrefix(unit, "h"):
		f *= 60
	case strings.HasPrefix(unit, "s"):
		f /= 60
	default:
		return "", fmt.Errorf("the duration unit %q is not min, h or s", unit)
	}
	minutes := math.Round(f) // 1.1 h is 66.00000000000001 min in floating point
	if math.Abs(f-minutes) > 1e-6 || math.Abs(minutes) > math.MaxInt32 {
		return "", fmt.Errorf("the duration %s %s is not a whole number of minutes within ±%d", value, unit, math.MaxInt32)
	}
	return strconv.Itoa(int(minutes)), nil
}

func codingToken(c map[string]any) string {
	sys, _ := c["system"].(string)
	code, _ := c["code"].(string)
	if sys == "" {
		return code
	}
	return sys + "|" + code
}

// get returns the one value of name, "" when absent; more than one is 400.
func (p *opParams) get(name string) (string, error) {
	vs := p.values[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	}
	return "", fhirerr.Invalid(fmt.Sprintf("parameter %s is given %d times; it takes one value", name, len(vs)))
}

// all returns every value of names, in the order given: a parameter that may repeat,
// its values in order of preference, and its aliases after it.
func (p *opParams) all(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, p.values[n]...)
	}
	return out
}

// first returns the value of the first of names that is present.
func (p *opParams) first(names ...string) (string, string, error) {
	for _, n := range names {
		v, err := p.get(n)
		if err != nil || v != "" {
			return n, v, err
		}
	}
	return names[0], "", nil
}

// instant reads a date or dateTime parameter as the instant it starts; a date is
// midnight UTC. A required parameter that is absent is 400.
// period reads the required start and end instants that the scheduling operations take.
func (p *opParams) period() (start, end time.Time, err error) {
	if start, err = p.instant("start", true); err != nil {
		return start, end, err
	}
	end, err = p.instant("end", true)
	return start, end, err
}

func (p *opParams) instant(name string, required bool) (time.Time, error) {
	v, err := p.get(name)
	if err != nil {
		return time.Time{}, err
	}
	if v == "" {
		if required {
			return time.Time{}, fhirerr.Invalid("parameter " + name + " is required")
		}
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fhirerr.Invalid(fmt.Sprintf("parameter %s: %q is not a date or dateTime", name, v))
}

// resource returns the one resource parameter among names, nil when absent.
func (p *opParams) resource(names ...string) (json.RawMessage, error) {
	for _, n := range names {
		switch rs := p.resources[n]; len(rs) {
		case 0:
			continue
		case 1:
			return rs[0], nil
		default:
			return nil, fhirerr.Invalid("parameter " + n + " takes one resource")
		}
	}
	return nil, nil
}
