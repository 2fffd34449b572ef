package search

import (
	"encoding/json"
	"strings"
	"time"
)

// Rows are the index rows of one resource, one slice per index table. SP is the
// parameter key "Type.code"; package storage writes each slice with one INSERT.
type Rows struct {
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
//
// The resource is decoded once; the expressions the fast path answers (decided when the
// Registry was built, see fastpath.go) are evaluated on that tree, the others by the
// FHIRPath engine, which reads the resource only if one of them needs it. The rows are
// those of extractWithEngine, in the same order.
func (r *Registry) Extract(typ string, content []byte) *Rows {
	return r.extract(typ, content, nil)
}

// extract is Extract of the parameters keep accepts (nil: all of them).
func (r *Registry) extract(typ string, content []byte, keep func(*Param) bool) *Rows {
	plan, ok := r.plans[typ]
	if !ok {
		return r.extractWithEngine(typ, content)
	}
	root, ok := decodeResource(content)
	if !ok {
		return r.extractWithEngine(typ, content)
	}
	rootType, ok := root["resourceType"].(string)
	if !ok {
		return r.extractWithEngine(typ, content)
	}
	rows := &Rows{}
	var doc *engineDocument
	engine := func() *engineDocument {
		if doc == nil {
			doc = newEngineDocument(content)
		}
		return doc
	}
	for i := range plan {
		pp := &plan[i]
		p := pp.param
		if keep != nil && !keep(p) {
			continue
		}
		switch p.Kind {
		case KindComposite:
			if !pp.fastComposite || !rows.addCompositesFast(pp, root, rootType) {
				rows.addComposites(pp.sp, p, engine().content)
			}
			continue
		case KindSpecial:
			rows.addSpecial(pp.sp, p, engine().content)
			continue
		}
		before := len(rows.Dates)
		for j, pt := range p.parts {
			if f := pp.parts[j]; f != nil {
				if values, ok := f.eval(root, rootType); ok {
					for _, v := range values {
						if iv, ok := v.indexValue(); ok {
							rows.add(pp.sp, p.Kind, pt.refType, iv)
						}
					}
					continue
				}
			}
			// The engine reads the resource only for an expression that can select something.
			if pt.root != "" && !hasMember(root, pt.root) {
				continue
			}
			e := engine()
			if pt.root != "" && !e.present(pt.root) || !hasKeys(e.content, pt.needles) {
				continue
			}
			values, err := pt.expr.EvaluateWithContext(e.ctx)
			if err != nil {
				continue
			}
			for _, v := range values {
				if iv, ok := engineIndexValue(v); ok {
					rows.add(pp.sp, p.Kind, pt.refType, iv)
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

// paramPlan is one parameter of a type as Extract evaluates it: parts[i] is the fast
// form of the parameter's i-th expression, nil when the engine answers it.
type paramPlan struct {
	param *Param
	sp    string
	parts []*fastExpr
	// A composite is fast when its own expressions and both components are.
	fastComposite bool
	components    []*fastExpr
}

// compilePlans decides, once per expression, which path evaluates it.
func compilePlans(reg *Registry) map[string][]paramPlan {
	plans := map[string][]paramPlan{}
	for typ := range reg.byType {
		var plan []paramPlan
		for _, p := range reg.Params(typ) {
			if idAndLastUpdated[p.Code] {
				continue
			}
			pp := paramPlan{param: p, sp: key(typ, p.Code), parts: make([]*fastExpr, len(p.parts))}
			allFast := true
			for i, pt := range p.parts {
				pp.parts[i] = compileFast(choiceKeys(pt.source), false)
				allFast = allFast && pp.parts[i] != nil
			}
			if p.Kind == KindComposite && len(p.Components) == 2 {
				for _, c := range p.Components {
					f := compileFast(choiceKeys(c.source), true)
					pp.components = append(pp.components, f)
					allFast = allFast && f != nil
				}
				pp.fastComposite = allFast
			}
			plan = append(plan, pp)
		}
		plans[typ] = plan
	}
	return plans
}

// hasMember reports whether the resource has a root element, directly or as a choice
// type (onset for onsetDateTime): what prepare's present says before the narrative goes.
func hasMember(root map[string]any, name string) bool {
	if _, ok := root[name]; ok {
		return true
	}
	return hasChoiceKey(root, name)
}

// addCompositesFast is addComposites on the decoded resource; false (and no rows added)
// when an expression needs the engine for this resource.
func (rows *Rows) addCompositesFast(pp *paramPlan, root map[string]any, rootType string) bool {
	var out Rows
	for _, f := range pp.parts {
		items, ok := f.eval(root, rootType)
		if !ok {
			return false
		}
		for _, item := range items {
			obj, isObj := item.v.(map[string]any)
			if !isObj {
				continue
			}
			var comps [2][]*Rows
			for i, c := range pp.components {
				values, ok := c.eval(obj, "")
				if !ok {
					return false
				}
				ivs := make([]indexValue, 0, len(values))
				for _, v := range values {
					if iv, ok := v.indexValue(); ok {
						ivs = append(ivs, iv)
					}
				}
				comps[i] = componentValueRows(pp.sp, pp.param.Components[i].Kind, ivs)
			}
			out.addTuples(pp.sp, comps[0], comps[1])
		}
	}
	rows.Composites = append(rows.Composites, out.Composites...)
	return true
}

// indexValue is one value an expression selected, as row building reads it: a complex
// element decoded (decimals kept exact as json.Number), or the text of a primitive as
// the FHIRPath engine prints it.
type indexValue struct {
	doc   map[string]any
	isObj bool
	s     string
}

// add turns one selected value into rows of the parameter's kind.
func (rows *Rows) add(sp string, kind Kind, refType string, v indexValue) {
	doc, isObj := v.doc, v.isObj
	switch kind {
	case KindString:
		if isObj {
			for _, s := range stringsOf(doc) {
				rows.Strings = append(rows.Strings, StringRow{SP: sp, Value: Normalize(s), Exact: s})
			}
		} else if s := v.s; s != "" {
			rows.Strings = append(rows.Strings, StringRow{SP: sp, Value: Normalize(s), Exact: s})
		}
	case KindToken:
		if isObj {
			rows.Tokens = append(rows.Tokens, tokensOf(sp, doc)...)
		} else if s := v.s; s != "" {
			rows.Tokens = append(rows.Tokens, TokenRow{SP: sp, Code: s})
		}
	case KindReference:
		if isObj {
			rows.addReference(sp, refType, doc)
		} else if s := v.s; s != "" {
			// A canonical or uri: its URL, and its Type/id if it is a relative reference.
			row := ReferenceRow{SP: sp, URL: s}
			if t, id, ok := splitReference(s); ok && (refType == "" || t == refType) {
				row.Type, row.ID = t, id
			}
			rows.References = append(rows.References, row)
		}
	case KindDate:
		rows.addDates(sp, v)
	case KindNumber:
		// An object's JSON text is never a number.
		if _, _, _, err := NumberRange(v.s); err == nil && !isObj {
			rows.Numbers = append(rows.Numbers, NumberRow{SP: sp, Value: v.s})
		}
	case KindQuantity:
		if isObj {
			if q, ok := quantityOf(sp, doc); ok {
				rows.Quantities = append(rows.Quantities, q)
			}
		}
	case KindURI:
		if s := v.s; s != "" && !isObj {
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
				display := Normalize(str(m, "display"))
				row := TokenRow{SP: sp, System: str(m, "system"), Code: str(m, "code"), Text: firstNonEmpty(text, display)}
				out = append(out, row)
				if display != "" && display != row.Text {
					// :text matches the concept's text and each coding's display.
					row.Text = display
					out = append(out, row)
				}
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
func (rows *Rows) addDates(sp string, v indexValue) {
	add := func(low, high time.Time) {
		rows.Dates = append(rows.Dates, DateRow{SP: sp, Low: low, High: high})
	}
	doc := v.doc
	if !v.isObj {
		if low, high, err := DateRange(v.s); err == nil {
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

// addTuples indexes the tuples of one composite item: each value of the first component
// with each value of the second.
func (rows *Rows) addTuples(sp string, firsts, seconds []*Rows) {
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

// componentValueRows makes one Rows per value of a component.
func componentValueRows(sp string, kind Kind, values []indexValue) []*Rows {
	var out []*Rows
	for _, v := range values {
		r := &Rows{}
		r.add(sp, kind, "", v)
		// A CodeableConcept gives one row per coding: each is its own tuple (once, though
		// a coding with both a text and a display has two rows).
		if len(r.Tokens) > 1 {
			for i, t := range r.Tokens {
				if i > 0 && t.System == r.Tokens[i-1].System && t.Code == r.Tokens[i-1].Code {
					continue
				}
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
