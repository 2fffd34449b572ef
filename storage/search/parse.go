package search

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// ParseOptions are how a query is read.
type ParseOptions struct {
	// Strict refuses unknown and unsupported parameters (Prefer: handling=strict) instead
	// of ignoring them.
	Strict bool
	// BaseURL is this server's FHIR base: absolute references under it are local.
	BaseURL string
	// DefaultCount and MaxCount bound _count.
	DefaultCount, MaxCount int
}

// resultParams are the parameters that shape the result rather than select resources;
// formatParams are the HTTP layer's.
var (
	resultParams = map[string]bool{"_count": true, "_sort": true, "_total": true, "_summary": true, "_elements": true,
		"_include": true, "_revinclude": true, "_cursor": true, "_contained": true, "_containedType": true}
	formatParams = map[string]bool{"_format": true, "_pretty": true}
	// unsupportedParams are defined by FHIR but not answered by careslot.
	unsupportedParams = map[string]string{"_text": "full-text search", "_content": "full-text search", "_query": "named queries",
		"_list": "list search", "_filter": "_filter expressions", "_type": "multi-type search"}
	prefixes = map[string]bool{"eq": true, "ne": true, "gt": true, "lt": true, "ge": true, "le": true, "sa": true, "eb": true, "ap": true}
)

// MaxIncludeIterations bounds how many rounds _include:iterate runs.
const MaxIncludeIterations = 4

func badParam(name, format string, args ...any) *fhirerr.Error {
	return fhirerr.Invalid(fmt.Sprintf("search parameter %s: ", name)+fmt.Sprintf(format, args...), name)
}

// Parse reads the query parameters of a search of typ. A malformed value is a 400 naming
// the parameter; unknown parameters are ignored (and listed in Ignored) unless Strict.
func (r *Registry) Parse(typ string, params url.Values, opts ParseOptions) (*Query, error) {
	if !r.Searchable(typ) {
		return nil, fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, fmt.Sprintf("%s is not searchable on this server", typ))
	}
	params, err := merged(params)
	if err != nil {
		return nil, err
	}
	q := &Query{Type: typ, Count: opts.DefaultCount, BaseURL: opts.BaseURL}
	p := parser{reg: r, opts: opts, q: q}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names) // deterministic SQL for the same query
	for _, name := range names {
		for _, raw := range params[name] {
			if err := p.param(name, raw); err != nil {
				return nil, err
			}
		}
	}
	if err := checkConditions(q); err != nil {
		return nil, err
	}
	mergeDateRanges(q)
	if q.Cursor != nil && len(q.Cursor.Keys) != len(q.Sort) {
		return nil, badParam("_cursor", "the cursor belongs to a search with another _sort")
	}
	return q, nil
}

type parser struct {
	reg  *Registry
	opts ParseOptions
	q    *Query
}

// ignore drops a parameter under lenient handling, or refuses it under strict handling.
func (p *parser) ignore(name, reason string) error {
	if p.opts.Strict {
		return fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, fmt.Sprintf("search parameter %s: %s", name, reason), name)
	}
	p.q.Ignored = append(p.q.Ignored, Ignored{Name: name, Reason: reason})
	return nil
}

func (p *parser) param(name, raw string) error {
	q := p.q
	if formatParams[name] || raw == "" {
		return nil // an empty value says nothing; the spec says to ignore it
	}
	if resultParams[name] || strings.HasPrefix(name, "_include") || strings.HasPrefix(name, "_revinclude") {
		return p.resultParam(name, raw)
	}
	base, _, _ := strings.Cut(name, ":")
	if reason, ok := unsupportedParams[base]; ok {
		return p.ignore(name, reason+" is not supported")
	}
	c, err := p.clause(q.Type, name, raw, 0)
	if err != nil || c == nil {
		return err
	}
	q.Clauses = append(q.Clauses, c)
	return nil
}

// maxChainDepth bounds chains and _has nesting, each level a join.
const maxChainDepth = 3

// clause parses one parameter name (with modifier, chain or _has) and its value on typ.
// It returns nil, nil for a parameter ignored under lenient handling.
func (p *parser) clause(typ, name, raw string, depth int) (*Clause, error) {
	if depth > maxChainDepth {
		return nil, badParam(name, "chains deeper than %d are not supported", maxChainDepth)
	}
	if strings.HasPrefix(name, "_has:") {
		return p.has(typ, name, raw, depth)
	}
	head, rest, chained := strings.Cut(name, ".")
	code, modifier, _ := strings.Cut(head, ":")
	prm := p.reg.Param(typ, code)
	if prm == nil {
		return nil, p.ignore(name, fmt.Sprintf("%s has no search parameter %q", typ, code))
	}
	c := &Clause{Type: typ, Param: prm, Modifier: modifier}
	if chained {
		if prm.Kind != KindReference {
			return nil, badParam(name, "only reference parameters can be chained; %s is a %s", code, prm.Kind)
		}
		targets := prm.Targets
		if modifier != "" {
			if !isTypeName(modifier) {
				return nil, badParam(name, "a chain takes a resource type modifier, not :%s", modifier)
			}
			targets = []string{modifier}
		}
		for _, t := range targets {
			next, _, _ := strings.Cut(rest, ".")
			nextCode, _, _ := strings.Cut(next, ":")
			if !strings.HasPrefix(rest, "_has:") && p.reg.Param(t, nextCode) == nil {
				continue
			}
			sub, err := p.clause(t, rest, raw, depth+1)
			if err != nil || sub == nil {
				return nil, err
			}
			c.Chain = append(c.Chain, sub)
		}
		if len(c.Chain) == 0 {
			return nil, p.ignore(name, fmt.Sprintf("no target of %s.%s has a search parameter %q", typ, code, rest))
		}
		return c, nil
	}
	if err := p.modifierAllowed(c, name); err != nil {
		return nil, err
	}
	if modifier == "missing" {
		if raw != "true" && raw != "false" {
			return nil, badParam(name, ":missing takes true or false, not %q", raw)
		}
		b := raw == "true"
		c.Missing = &b
		return c, nil
	}
	seen := map[string]bool{}
	for _, v := range splitEscaped(raw, ',') {
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		val, err := p.value(c, name, v)
		if err != nil {
			return nil, err
		}
		c.Values = append(c.Values, val)
	}
	if len(c.Values) == 0 {
		return nil, nil
	}
	return c, nil
}

// modifierAllowed refuses modifiers the parameter's kind does not have. The spec says a
// server must reject a modifier it does not know rather than ignore it.
func (p *parser) modifierAllowed(c *Clause, name string) error {
	m := c.Modifier
	if m == "" || m == "missing" {
		return nil
	}
	ok := false
	switch c.Param.Kind {
	case KindString:
		ok = m == "exact" || m == "contains"
	case KindToken:
		ok = m == "not" || m == "text" || (m == "of-type" && strings.HasSuffix(c.Param.Code, "identifier"))
		if m == "in" || m == "not-in" || m == "above" || m == "below" {
			return fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, fmt.Sprintf("search parameter %s: :%s needs terminology services, which careslot does not have", name, m), name)
		}
	case KindReference:
		ok = m == "identifier" || isTypeName(m)
	case KindURI:
		ok = m == "below" || m == "above"
	}
	if !ok {
		return badParam(name, "the modifier :%s is not supported on a %s parameter", m, c.Param.Kind)
	}
	if isTypeName(m) && len(c.Param.Targets) > 0 && !contains(c.Param.Targets, m) {
		return badParam(name, "%s cannot refer to a %s", c.Param.Code, m)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// has parses _has:Type:param:[_has:...]name=value.
func (p *parser) has(typ, name, raw string, depth int) (*Clause, error) {
	parts := strings.SplitN(strings.TrimPrefix(name, "_has:"), ":", 3)
	if len(parts) != 3 || !isTypeName(parts[0]) {
		return nil, badParam(name, "_has takes _has:Type:reference:parameter")
	}
	refType, refCode, rest := parts[0], parts[1], parts[2]
	refParam := p.reg.Param(refType, refCode)
	if refParam == nil || refParam.Kind != KindReference {
		return nil, p.ignore(name, fmt.Sprintf("%s has no reference parameter %q", refType, refCode))
	}
	if len(refParam.Targets) > 0 && !contains(refParam.Targets, typ) {
		return nil, badParam(name, "%s.%s does not refer to %s", refType, refCode, typ)
	}
	inner, err := p.clause(refType, rest, raw, depth+1)
	if err != nil || inner == nil {
		return nil, err
	}
	return &Clause{Type: typ, Has: &Has{Type: refType, Param: refParam, Clause: inner}}, nil
}

// value parses one value of clause c.
func (p *parser) value(c *Clause, name, v string) (Value, error) {
	switch c.Param.Kind {
	case KindString:
		u := unescape(v)
		return StringValue{Norm: Normalize(u), Raw: u}, nil
	case KindToken:
		return parseToken(c, name, v)
	case KindReference:
		return p.parseReference(c, name, v)
	case KindDate:
		return parseDate(name, v)
	case KindNumber:
		return parseNumber(name, v)
	case KindQuantity:
		return parseQuantity(name, v)
	case KindURI:
		return URIValue{URI: unescape(v)}, nil
	case KindComposite:
		return p.parseComposite(c, name, v)
	case KindSpecial:
		return parseNear(name, v)
	}
	return nil, badParam(name, "parameters of type %s are not supported", c.Param.Kind)
}

func parseToken(c *Clause, name, v string) (Value, error) {
	parts := splitEscaped(v, '|')
	if c.Modifier == "of-type" {
		if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
			return nil, badParam(name, ":of-type takes system|code|value, not %q", v)
		}
		return TokenValue{TypeSystem: unescape(parts[0]), TypeCode: unescape(parts[1]), Code: unescape(parts[2])}, nil
	}
	if c.Modifier == "text" {
		return TokenValue{Code: Normalize(unescape(v))}, nil
	}
	switch len(parts) {
	case 1:
		return TokenValue{Code: unescape(v)}, nil
	case 2:
		if parts[0] == "" && parts[1] == "" {
			return nil, badParam(name, "%q has neither a system nor a code", v)
		}
		return TokenValue{System: unescape(parts[0]), Code: unescape(parts[1]), HasSystem: true}, nil
	}
	return nil, badParam(name, "a token is [system|]code, not %q", v)
}

func (p *parser) parseReference(c *Clause, name, v string) (Value, error) {
	if c.Modifier == "identifier" {
		// Split before unescaping: a \| belongs to the value.
		parts := splitEscaped(v, '|')
		if len(parts) > 2 {
			return nil, badParam(name, ":identifier takes [system|]value, not %q", v)
		}
		if len(parts) == 2 {
			return TokenValue{System: unescape(parts[0]), Code: unescape(parts[1]), HasSystem: true}, nil
		}
		return TokenValue{Code: unescape(v)}, nil
	}
	v = unescape(v)
	if base := p.opts.BaseURL; base != "" && strings.HasPrefix(v, strings.TrimRight(base, "/")+"/") {
		v = strings.TrimPrefix(v, strings.TrimRight(base, "/")+"/")
	}
	ref := ReferenceValue{}
	switch {
	case strings.Contains(v, "://") || strings.HasPrefix(v, "urn:"):
		ref.URL = v
	case strings.Contains(v, "/"):
		t, id, ok := splitReference(v)
		if !ok {
			return nil, badParam(name, "%q is not a reference like Patient/123", v)
		}
		ref.Type, ref.ID = t, id
	default:
		if !isID(v) {
			return nil, badParam(name, "%q is not a resource id", v)
		}
		ref.ID = v
	}
	if isTypeName(c.Modifier) {
		if ref.Type != "" && ref.Type != c.Modifier {
			return nil, badParam(name, "the value %q is not a %s", v, c.Modifier)
		}
		if ref.URL == "" {
			ref.Type = c.Modifier
		}
	}
	if ref.Type != "" && len(c.Param.Targets) > 0 && !contains(c.Param.Targets, ref.Type) {
		return nil, badParam(name, "%s cannot refer to a %s", c.Param.Code, ref.Type)
	}
	return ref, nil
}

// splitPrefix takes the comparison prefix off a date, number or quantity value.
func splitPrefix(v string) (prefix, rest string) {
	if len(v) > 2 && prefixes[v[:2]] {
		return v[:2], v[2:]
	}
	return "eq", v
}

func parseDate(name, v string) (Value, error) {
	prefix, rest := splitPrefix(v)
	low, high, err := DateRange(rest)
	if err != nil {
		return nil, badParam(name, "%v", err)
	}
	return DateValue{Prefix: prefix, Low: low, High: high}, nil
}

func parseNumber(name, v string) (NumberValue, error) {
	prefix, rest := splitPrefix(v)
	value, lo, hi, err := NumberRange(rest)
	if err != nil {
		return NumberValue{}, badParam(name, "%v", err)
	}
	return NumberValue{Prefix: prefix, Value: value, Low: lo, High: hi}, nil
}

func parseQuantity(name, v string) (Value, error) {
	parts := splitEscaped(v, '|')
	if len(parts) != 1 && len(parts) != 3 {
		return nil, badParam(name, "a quantity is [prefix]number[|system|code], not %q", v)
	}
	n, err := parseNumber(name, parts[0])
	if err != nil {
		return nil, err
	}
	q := QuantityValue{NumberValue: n}
	if len(parts) == 3 {
		q.System, q.Code = unescape(parts[1]), unescape(parts[2])
	}
	return q, nil
}

// parseComposite reads first$second, each by its component's kind.
func (p *parser) parseComposite(c *Clause, name, v string) (Value, error) {
	parts := splitEscaped(v, '$')
	if len(parts) != 2 || len(c.Param.Components) != 2 {
		return nil, badParam(name, "a composite value is first$second, not %q", v)
	}
	var vals [2]Value
	for i, comp := range c.Param.Components {
		sub := &Clause{Type: c.Type, Param: &Param{Code: comp.Code, Kind: comp.Kind, Targets: nil}}
		val, err := p.value(sub, name, parts[i])
		if err != nil {
			return nil, err
		}
		vals[i] = val
	}
	return CompositeValue{First: vals[0], Second: vals[1]}, nil
}

// parseNear reads latitude|longitude|distance|units (km or mi; 1 km by default).
func parseNear(name, v string) (Value, error) {
	parts := strings.Split(v, "|")
	if len(parts) < 2 || len(parts) > 4 {
		return nil, badParam(name, "near takes latitude|longitude[|distance[|units]], not %q", v)
	}
	var nums [3]float64
	nums[2] = 1
	for i, s := range parts[:min(3, len(parts))] {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, badParam(name, "%q is not a number", s)
		}
		nums[i] = f
	}
	if len(parts) == 4 {
		switch parts[3] {
		case "km", "":
		case "mi", "[mi_i]":
			nums[2] *= 1.609344
		default:
			return nil, badParam(name, "distance units must be km or mi, not %q", parts[3])
		}
	}
	if nums[0] < -90 || nums[0] > 90 || nums[1] < -180 || nums[1] > 180 || nums[2] < 0 {
		return nil, badParam(name, "%q is not a point on Earth with a distance", v)
	}
	return NearValue{Latitude: nums[0], Longitude: nums[1], Kilometres: nums[2]}, nil
}

// resultParam reads the parameters that shape the result.
func (p *parser) resultParam(name, raw string) error {
	q := p.q
	base, modifier, _ := strings.Cut(name, ":")
	switch base {
	case "_count":
		n, err := strconv.Atoi(raw)
		if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(raw, "-") {
			n, err = p.opts.MaxCount, nil // more than any page: the server gives its largest
		}
		if err != nil || n < 0 {
			return badParam(name, "_count must be a non-negative integer, not %q", raw)
		}
		q.Count = min(n, p.opts.MaxCount)
	case "_total":
		if raw != "none" && raw != "estimate" && raw != "accurate" {
			return badParam(name, "_total must be none, estimate or accurate, not %q", raw)
		}
		q.Total = raw
	case "_summary":
		switch raw {
		case "true", "false", "text", "data", "count":
			q.Summary = raw
		default:
			return badParam(name, "_summary must be true, false, text, data or count, not %q", raw)
		}
	case "_elements":
		q.Elements = raw
	case "_cursor":
		c, err := DecodeCursor(raw)
		if err != nil {
			return badParam(name, "the cursor is not one this server made")
		}
		q.Cursor = c
	case "_sort":
		return p.sort(raw)
	case "_include", "_revinclude":
		if modifier != "" && modifier != "iterate" && modifier != "recurse" {
			return badParam(name, "the modifier :%s is not supported", modifier)
		}
		return p.include(name, raw, base == "_revinclude", modifier != "")
	case "_contained", "_containedType":
		if raw != "false" && raw != "container" {
			return p.ignore(name, "searching contained resources is not supported")
		}
	}
	return nil
}

func (p *parser) sort(raw string) error {
	for _, s := range strings.Split(raw, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		key := SortKey{}
		if strings.HasPrefix(s, "-") {
			key.Descending, s = true, s[1:]
		}
		prm := p.reg.Param(p.q.Type, s)
		if prm == nil {
			if err := p.ignore("_sort", fmt.Sprintf("%s has no search parameter %q to sort by", p.q.Type, s)); err != nil {
				return err
			}
			continue
		}
		if prm.Kind == KindComposite || prm.Kind == KindSpecial {
			return badParam("_sort", "cannot sort by the %s parameter %s", prm.Kind, s)
		}
		key.Param = prm
		p.q.Sort = append(p.q.Sort, key)
	}
	return nil
}

// include reads Source:param[:Target] or Source:*.
func (p *parser) include(name, raw string, reverse, iterate bool) error {
	parts := strings.Split(raw, ":")
	if len(parts) < 2 || len(parts) > 3 || !isTypeName(parts[0]) {
		return badParam(name, "%s takes Type:parameter[:TargetType], not %q", name, raw)
	}
	inc := Include{Source: parts[0], Iterate: iterate}
	if !reverse && !iterate && inc.Source != p.q.Type {
		return badParam(name, "%q starts from %s, but this is a search of %s (use :iterate)", raw, inc.Source, p.q.Type)
	}
	if len(parts) == 3 {
		if !isTypeName(parts[2]) {
			return badParam(name, "%q is not a resource type", parts[2])
		}
		inc.Target = parts[2]
	}
	if parts[1] != "*" {
		prm := p.reg.Param(inc.Source, parts[1])
		if prm == nil || prm.Kind != KindReference {
			return p.ignore(name, fmt.Sprintf("%s has no reference parameter %q", inc.Source, parts[1]))
		}
		if inc.Target != "" && len(prm.Targets) > 0 && !contains(prm.Targets, inc.Target) {
			return badParam(name, "%s.%s cannot refer to a %s", inc.Source, parts[1], inc.Target)
		}
		inc.Param = prm
	} else if !p.reg.Searchable(inc.Source) {
		return p.ignore(name, fmt.Sprintf("%s is not searchable", inc.Source))
	}
	if reverse {
		p.q.RevInclude = append(p.q.RevInclude, inc)
	} else {
		p.q.Include = append(p.q.Include, inc)
	}
	return nil
}

// mergeDateRanges puts single-value, unmodified clauses on the same date parameter
// together (date=ge2024-01-01&date=lt2024-02-01), so the SQL tests them on one index
// range scan; a resource with several dates is still tested value by value.
func mergeDateRanges(q *Query) {
	first := map[*Param]*Clause{}
	var kept []*Clause
	for _, c := range q.Clauses {
		single := c.Param != nil && c.Param.Kind == KindDate && c.Param.Code != "_lastUpdated" &&
			c.Modifier == "" && c.Missing == nil && len(c.Values) == 1 && len(c.Chain) == 0
		if single {
			if f, ok := first[c.Param]; ok {
				f.Also = append(f.Also, c)
				continue
			}
			first[c.Param] = c
		}
		kept = append(kept, c)
	}
	q.Clauses = kept
}

// approximately is how far ap reaches: 10% of the distance from now, at least a day.
func approximately(low, high time.Time) (time.Time, time.Time) {
	d := time.Since(low)
	if d < 0 {
		d = -d
	}
	d /= 10
	if d < 24*time.Hour {
		d = 24 * time.Hour
	}
	return low.Add(-d), high.Add(d)
}
