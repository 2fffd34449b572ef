package search

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/gofhir/fhirpath/eval"
	"github.com/gofhir/fhirpath/types"
)

// extractWithEngine is Extract with every expression evaluated by the FHIRPath engine on
// the resource's JSON. Extract falls back to it for a resource the fast path cannot read;
// TestFastPathMatchesEngine compares the two on every example.
func (r *Registry) extractWithEngine(typ string, content []byte) *Rows {
	rows := &Rows{}
	content, present := prepare(content)
	// One evaluation context for every expression: the engine reads the root object once.
	ctx := eval.NewContext(content)
	for _, p := range r.Params(typ) {
		if idAndLastUpdated[p.Code] {
			continue
		}
		sp := key(typ, p.Code)
		if p.Kind == KindComposite {
			rows.addComposites(sp, p, content)
			continue
		}
		if p.Kind == KindSpecial {
			rows.addSpecial(sp, p, content)
			continue
		}
		before := len(rows.Dates)
		for _, pt := range p.parts {
			if pt.root != "" && !present(pt.root) || !hasKeys(content, pt.needles) {
				continue
			}
			values, err := pt.expr.EvaluateWithContext(ctx)
			if err != nil {
				continue
			}
			for _, v := range values {
				if iv, ok := engineIndexValue(v); ok {
					rows.add(sp, p.Kind, pt.refType, iv)
				}
			}
		}
		if n := len(rows.Dates) - before; n > 1 {
			for i := before; i < len(rows.Dates); i++ {
				rows.Dates[i].Multi = true
			}
		}
	}
	rows.dedupe()
	return rows
}

// prepare makes extraction cheap. The FHIRPath engine scans the resource's JSON for every
// step, and looks for a missing element under every possible choice-type name; so the
// narrative (often the largest element, and never searched) is left out, and present
// reports whether the resource has a root element, directly or as a choice type (onset
// for onsetDateTime), so that Extract skips expressions that could only yield nothing.
func prepare(content []byte) ([]byte, func(root string) bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(content, &top) != nil {
		return content, func(string) bool { return true }
	}
	if text, ok := top["text"]; ok && len(text) > 256 {
		delete(top, "text")
		if b, err := json.Marshal(top); err == nil {
			content = b
		}
	}
	return content, func(root string) bool {
		if _, ok := top[root]; ok {
			return true
		}
		for k := range top {
			if len(k) > len(root) && strings.HasPrefix(k, root) && k[len(root)] >= 'A' && k[len(root)] <= 'Z' {
				return true
			}
		}
		return false
	}
}

// hasKeys reports whether every key a member path needs occurs in the resource's JSON.
// A missing nested element (an address without country) would otherwise cost the engine
// a scan of the object for every choice-type name.
func hasKeys(content []byte, needles [][]byte) bool {
	for _, n := range needles {
		if !bytes.Contains(content, n) {
			return false
		}
	}
	return true
}

// engineDocument is a resource as the engine reads it: without a large narrative, with
// one evaluation context for every expression (the engine reads the root object once).
type engineDocument struct {
	content []byte
	present func(root string) bool
	ctx     *eval.Context
}

func newEngineDocument(content []byte) *engineDocument {
	content, present := prepare(content)
	return &engineDocument{content: content, present: present, ctx: eval.NewContext(content)}
}

// engineIndexValue reads an engine result for row building: an object decoded with its
// decimals exact (0.1 stays 0.1), a primitive as the engine prints it.
func engineIndexValue(v types.Value) (indexValue, bool) {
	obj, isObj := v.(*types.ObjectValue)
	if !isObj {
		return indexValue{s: v.String()}, true
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(obj.Data()))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return indexValue{}, false
	}
	return indexValue{doc: doc, isObj: true}, true
}

// addSpecial indexes the one special parameter of the product types, Location near:
// latitude and longitude as numbers under "SP:latitude" and "SP:longitude".
func (rows *Rows) addSpecial(sp string, p *Param, content []byte) {
	for _, pt := range p.parts {
		values, err := pt.expr.Evaluate(content)
		if err != nil {
			continue
		}
		for _, v := range values {
			obj, ok := v.(*types.ObjectValue)
			if !ok {
				continue
			}
			var pos struct {
				Latitude, Longitude *float64
			}
			if json.Unmarshal(obj.Data(), &pos) != nil || pos.Latitude == nil || pos.Longitude == nil {
				continue
			}
			rows.Numbers = append(rows.Numbers, NumberRow{SP: sp + ":latitude", Value: jsonNumber(*pos.Latitude)},
				NumberRow{SP: sp + ":longitude", Value: jsonNumber(*pos.Longitude)})
		}
	}
}

// addComposites indexes each tuple of a composite parameter: the components are
// evaluated on each item the composite's expression selects.
func (rows *Rows) addComposites(sp string, p *Param, content []byte) {
	if len(p.Components) != 2 {
		return
	}
	for _, pt := range p.parts {
		items, err := pt.expr.Evaluate(content)
		if err != nil {
			continue
		}
		for _, item := range items {
			obj, ok := item.(*types.ObjectValue)
			if !ok {
				continue
			}
			firsts := componentRows(sp, p.Components[0], obj.Data())
			seconds := componentRows(sp, p.Components[1], obj.Data())
			rows.addTuples(sp, firsts, seconds)
		}
	}
}

// componentRows evaluates a component on one item, one Rows per value.
func componentRows(sp string, c Component, item []byte) []*Rows {
	if !hasKeys(item, c.needles) {
		return nil
	}
	values, err := c.expr.Evaluate(item)
	if err != nil {
		return nil
	}
	ivs := make([]indexValue, 0, len(values))
	for _, v := range values {
		if iv, ok := engineIndexValue(v); ok {
			ivs = append(ivs, iv)
		}
	}
	return componentValueRows(sp, c.Kind, ivs)
}
