package search

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/gofhir/fhirpath/eval"
	"github.com/gofhir/fhirpath/types"
)

// Rows are the index rows of one resource, one slice per index table. SP is the
// parameter key "Type.code"; package storage writes each slice with one INSERT.
type Rows struct {
	// New is true for the first version of a resource: it has no index rows yet to replace.
	New        bool
	Strings    []StringRow
	Tokens     []TokenRow
	References []ReferenceRow
	Dates      []DateRow
	Numbers    []NumberRow
	Quantities []QuantityRow
	URIs       []URIRow
	Composites []CompositeRow
}

// StringRow is a string value: Value normalised for the default and :contains matches,
// Exact as written for :exact.
type StringRow struct{ SP, Value, Exact string }

// TokenRow is a coded value. Text is the normalised display text for :text. Identifier
// types are indexed as extra rows under "SP:of-type" (System/Code of the type, Text the
// identifier value), and reference identifiers under "SP:identifier".
type TokenRow struct{ SP, System, Code, Text string }

// ReferenceRow is a reference: a local Type/ID, or a URL (absolute or canonical).
type ReferenceRow struct{ SP, Type, ID, URL string }

// DateRow is the inclusive range of instants a date, dateTime, instant, Period or Timing
// covers. Multi marks a resource with more than one value for SP.
type DateRow struct {
	SP        string
	Low, High time.Time
	Multi     bool
}

// NumberRow is a number, as an exact decimal string.
type NumberRow struct{ SP, Value string }

// QuantityRow is a Quantity (Low == High) or a Range, with its unit.
type QuantityRow struct{ SP, System, Code, Unit, Low, High string }

// URIRow is a uri, url or canonical value.
type URIRow struct{ SP, Value string }

// CompositeRow is one tuple of a composite parameter: a token (or reference, as code)
// first, and a token, quantity, date or string second.
type CompositeRow struct {
	SP               string
	C1System, C1Code string
	C2System, C2Code string
	C2Low, C2High    *string // quantity range
	C2From, C2To     *time.Time
	C2Text           *string
}

// Extract evaluates every search parameter of typ on content and returns the index rows.
// A parameter whose expression fails on this resource is skipped: the write must not fail
// because one index value cannot be computed.
func (r *Registry) Extract(typ string, content []byte) *Rows {
	rows := &Rows{}
	content, present := prepare(content, rows)
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
				rows.add(sp, p.Kind, pt.refType, v)
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
func prepare(content []byte, rows *Rows) ([]byte, func(root string) bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(content, &top) != nil {
		return content, func(string) bool { return true }
	}
	var meta struct {
		VersionID string `json:"versionId"`
	}
	if json.Unmarshal(top["meta"], &meta) == nil {
		rows.New = meta.VersionID == "1"
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

// add turns one FHIRPath result into rows of the parameter's kind.
func (rows *Rows) add(sp string, kind Kind, refType string, v types.Value) {
	obj, isObj := v.(*types.ObjectValue)
	var doc map[string]any
	if isObj {
		dec := json.NewDecoder(bytes.NewReader(obj.Data()))
		dec.UseNumber() // keep decimals exact: 0.1 stays 0.1
		if dec.Decode(&doc) != nil {
			return
		}
	}
	switch kind {
	case KindString:
		if isObj {
			for _, s := range stringsOf(doc) {
				rows.Strings = append(rows.Strings, StringRow{SP: sp, Value: Normalize(s), Exact: s})
			}
		} else if s := v.String(); s != "" {
			rows.Strings = append(rows.Strings, StringRow{SP: sp, Value: Normalize(s), Exact: s})
		}
	case KindToken:
		if isObj {
			rows.Tokens = append(rows.Tokens, tokensOf(sp, doc)...)
		} else if s := v.String(); s != "" {
			rows.Tokens = append(rows.Tokens, TokenRow{SP: sp, Code: s})
		}
	case KindReference:
		if isObj {
			rows.addReference(sp, refType, doc)
		} else if s := v.String(); s != "" {
			// A canonical or uri: its URL, and its Type/id if it is a relative reference.
			row := ReferenceRow{SP: sp, URL: s}
			if t, id, ok := splitReference(s); ok && (refType == "" || t == refType) {
				row.Type, row.ID = t, id
			}
			rows.References = append(rows.References, row)
		}
	case KindDate:
		rows.addDates(sp, v, doc)
	case KindNumber:
		if _, _, _, err := NumberRange(v.String()); err == nil {
			rows.Numbers = append(rows.Numbers, NumberRow{SP: sp, Value: v.String()})
		}
	case KindQuantity:
		if isObj {
			if q, ok := quantityOf(sp, doc); ok {
				rows.Quantities = append(rows.Quantities, q)
			}
		}
	case KindURI:
		if s := v.String(); s != "" && !isObj {
			rows.URIs = append(rows.URIs, URIRow{SP: sp, Value: s})
		}
	}
}

// stringFields are the parts of HumanName and Address that a string search matches.
var stringFields = []string{"text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"}

// stringsOf lists the searchable strings of a complex value (HumanName, Address, ...).
func stringsOf(doc map[string]any) []string {
	var out []string
	for _, f := range stringFields {
		switch v := doc[f].(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

func str(doc map[string]any, k string) string {
	s, _ := doc[k].(string)
	return s
}

// tokensOf indexes a Coding, CodeableConcept, Identifier or ContactPoint.
func tokensOf(sp string, doc map[string]any) []TokenRow {
	var out []TokenRow
	if codings, ok := doc["coding"].([]any); ok || doc["text"] != nil && doc["value"] == nil {
		text := Normalize(str(doc, "text"))
		for _, c := range codings {
			if m, ok := c.(map[string]any); ok {
				out = append(out, TokenRow{SP: sp, System: str(m, "system"), Code: str(m, "code"), Text: firstNonEmpty(text, Normalize(str(m, "display")))})
			}
		}
		if len(out) == 0 && text != "" {
			out = append(out, TokenRow{SP: sp, Text: text})
		}
		return out
	}
	if value := str(doc, "value"); value != "" {
		// Identifier (system is a URI) or ContactPoint (system is phone, email, ...).
		row := TokenRow{SP: sp, System: str(doc, "system"), Code: value}
		if typ, ok := doc["type"].(map[string]any); ok {
			row.Text = Normalize(str(typ, "text"))
			codings, _ := typ["coding"].([]any)
			for _, c := range codings {
				if m, ok := c.(map[string]any); ok {
					out = append(out, TokenRow{SP: sp + ":of-type", System: str(m, "system"), Code: str(m, "code"), Text: value})
				}
			}
		}
		return append(out, row)
	}
	if code := str(doc, "code"); code != "" {
		return append(out, TokenRow{SP: sp, System: str(doc, "system"), Code: code, Text: Normalize(str(doc, "display"))})
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// addReference indexes a Reference: its literal reference and its identifier.
func (rows *Rows) addReference(sp, refType string, doc map[string]any) {
	ref := str(doc, "reference")
	if ref != "" && !strings.HasPrefix(ref, "#") {
		t, id, ok := splitReference(ref)
		if refType != "" && (!ok || t != refType) {
			// where(resolve() is T): a reference to another type does not count.
			if ok || str(doc, "type") != refType {
				ref = ""
			}
		}
		if ref != "" {
			row := ReferenceRow{SP: sp}
			if ok {
				row.Type, row.ID = t, id
			}
			if strings.Contains(ref, ":") {
				row.URL = ref
			}
			rows.References = append(rows.References, row)
		}
	}
	if ident, ok := doc["identifier"].(map[string]any); ok {
		if refType == "" || str(doc, "type") == "" || str(doc, "type") == refType {
			for _, t := range tokensOf(sp+":identifier", ident) {
				if t.SP == sp+":identifier" {
					rows.Tokens = append(rows.Tokens, t)
				}
			}
		}
	}
}

// splitReference reads Type/id from a relative reference or from the end of an absolute
// one (http://host/fhir/Type/id), dropping any /_history/n.
func splitReference(ref string) (typ, id string, ok bool) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	if strings.HasPrefix(ref, "urn:") {
		return "", "", false
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if !isTypeName(typ) || !isID(id) || (len(parts) > 2 && !strings.Contains(ref, "://")) {
		return "", "", false
	}
	return typ, id, true
}

func isTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func isID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// addDates indexes a date, dateTime, instant, Period or Timing.
func (rows *Rows) addDates(sp string, v types.Value, doc map[string]any) {
	add := func(low, high time.Time) {
		rows.Dates = append(rows.Dates, DateRow{SP: sp, Low: low, High: high})
	}
	if doc == nil {
		if low, high, err := DateRange(v.String()); err == nil {
			add(low, high)
		}
		return
	}
	if period, ok := periodOf(doc); ok {
		add(period[0], period[1])
		return
	}
	// Timing: each event, and the bounds of its repeat.
	if events, ok := doc["event"].([]any); ok {
		for _, e := range events {
			if s, ok := e.(string); ok {
				if low, high, err := DateRange(s); err == nil {
					add(low, high)
				}
			}
		}
	}
	if rep, ok := doc["repeat"].(map[string]any); ok {
		if b, ok := rep["boundsPeriod"].(map[string]any); ok {
			if period, ok := periodOf(b); ok {
				add(period[0], period[1])
			}
		}
	}
}

// periodOf reads a Period: a missing start or end is open.
func periodOf(doc map[string]any) ([2]time.Time, bool) {
	start, end := str(doc, "start"), str(doc, "end")
	if start == "" && end == "" {
		return [2]time.Time{}, false
	}
	p := [2]time.Time{MinTime, MaxTime}
	if start != "" {
		low, _, err := DateRange(start)
		if err != nil {
			return p, false
		}
		p[0] = low
	}
	if end != "" {
		_, high, err := DateRange(end)
		if err != nil {
			return p, false
		}
		p[1] = high
	}
	return p, true
}

// quantityOf reads a Quantity (or Age, Duration, ...) or a Range.
func quantityOf(sp string, doc map[string]any) (QuantityRow, bool) {
	if v, ok := doc["value"].(json.Number); ok {
		s := v.String()
		return QuantityRow{SP: sp, System: str(doc, "system"), Code: str(doc, "code"), Unit: str(doc, "unit"), Low: s, High: s}, true
	}
	lowQ, _ := doc["low"].(map[string]any)
	highQ, _ := doc["high"].(map[string]any)
	if lowQ == nil && highQ == nil {
		return QuantityRow{}, false
	}
	q := QuantityRow{SP: sp, Low: "-Infinity", High: "Infinity"}
	for _, b := range []map[string]any{lowQ, highQ} {
		if b != nil && q.Code == "" {
			q.System, q.Code, q.Unit = str(b, "system"), str(b, "code"), str(b, "unit")
		}
	}
	if v, ok := lowQ["value"].(json.Number); ok {
		q.Low = v.String()
	}
	if v, ok := highQ["value"].(json.Number); ok {
		q.High = v.String()
	}
	return q, true
}

func jsonNumber(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
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
			for _, a := range firsts {
				for _, b := range seconds {
					row := CompositeRow{SP: sp}
					switch {
					case len(a.Tokens) > 0:
						row.C1System, row.C1Code = a.Tokens[0].System, a.Tokens[0].Code
					case len(a.References) > 0 && a.References[0].ID != "":
						row.C1Code = a.References[0].Type + "/" + a.References[0].ID
					default:
						continue
					}
					switch {
					case len(b.Tokens) > 0:
						row.C2System, row.C2Code = b.Tokens[0].System, b.Tokens[0].Code
					case len(b.Quantities) > 0:
						q := b.Quantities[0]
						row.C2System, row.C2Code = q.System, firstNonEmpty(q.Code, q.Unit)
						row.C2Low, row.C2High = &q.Low, &q.High
					case len(b.Dates) > 0:
						row.C2From, row.C2To = &b.Dates[0].Low, &b.Dates[0].High
					case len(b.Strings) > 0:
						row.C2Text = &b.Strings[0].Value
					default:
						continue
					}
					rows.Composites = append(rows.Composites, row)
				}
			}
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
	var out []*Rows
	for _, v := range values {
		r := &Rows{}
		r.add(sp, c.Kind, "", v)
		// A CodeableConcept gives one row per coding: each is its own tuple.
		if len(r.Tokens) > 1 {
			for _, t := range r.Tokens {
				out = append(out, &Rows{Tokens: []TokenRow{t}})
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// dedupe drops repeated rows, which the same value reached by two paths would make.
func (rows *Rows) dedupe() {
	rows.Strings = uniq(rows.Strings)
	rows.Tokens = uniq(rows.Tokens)
	rows.References = uniq(rows.References)
	rows.Dates = uniq(rows.Dates)
	rows.Numbers = uniq(rows.Numbers)
	rows.Quantities = uniq(rows.Quantities)
	rows.URIs = uniq(rows.URIs)
}

func uniq[T comparable](in []T) []T {
	if len(in) < 2 {
		return in
	}
	seen := make(map[T]bool, len(in))
	out := in[:0]
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
