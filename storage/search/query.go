package search

import (
	"time"
)

// Query is one parsed search of one resource type.
type Query struct {
	Type        string
	Clauses     []*Clause // all must hold
	Sort        []SortKey
	Count       int    // page size
	Total       string // none, estimate or accurate; "" when the client did not ask
	Summary     string // true, text, data, count or false; "" when not asked
	Elements    string
	Include     []Include
	RevInclude  []Include
	Cursor      *Cursor
	Compartment *Compartment
	// ReferencedBy narrows a search to the resources that the compartment's resources
	// (and its own resource) refer to: the Practitioners, Organizations... of a
	// patient's record, for Patient/$everything.
	ReferencedBy *Compartment
	// Ignored are the parameters left out under lenient handling, with why.
	Ignored []Ignored
	// Generic plans the query on the index tables alone, without the plans that start
	// from other tables or indexes (slotplan.go, datepage.go); the differential tests
	// compare the two.
	Generic bool
	// BaseURL is this server's FHIR base. A stored absolute reference under it names a
	// local resource, like a relative one; any other absolute reference (another
	// server's Patient/1) matches only its own URL, and chains, _has, includes and
	// compartments do not follow it. Empty: only relative references are local.
	BaseURL string
	// Access is what the caller may see (access.go): every row the query reads is
	// filtered by it, matches, totals, chains, _has and includes alike. Nil: everything.
	Access *Access
}

// Compartment narrows a search to the resources of one compartment, e.g. Patient/123.
type Compartment struct {
	Type, ID string
}

// Ignored is a query parameter that was not used.
type Ignored struct {
	Name, Reason string
}

// Clause is one query parameter: its values are alternatives (any may match).
type Clause struct {
	Type     string // the resource type the clause tests
	Param    *Param
	Modifier string
	Missing  *bool // :missing=true|false
	Values   []Value
	// Chain tests the resources a reference points to (patient.family=x): one clause per
	// target type that has the chained parameter; the target must match one of them.
	Chain []*Clause
	// Has tests the resources that point here: _has:Observation:patient:code=x.
	Has *Has
	// Also are further single-value date clauses on the same parameter, ANDed with this
	// one; they are answered together so that a range (ge & lt) is one index scan.
	Also []*Clause
	// MultiValued tells, for a clause with Also, that some resource has several values of
	// the parameter, so the values must also be tested one by one (see DateRangeKeys).
	MultiValued bool
}

// DateRangeKeys are the sp keys of the merged date ranges of q, and of the date clause
// of a sorted date page (datepage.go): package storage asks the index whether any
// resource has several values for them and sets MultiValued.
func (q *Query) DateRangeKeys() map[string]*Clause {
	out := map[string]*Clause{}
	for _, c := range q.Clauses {
		if len(c.Also) > 0 && c.Param != nil && c.Param.Kind == KindDate {
			out[key(c.Type, c.Param.Code)] = c
		}
	}
	if c := q.datePageClause(); c != nil {
		out[key(c.Type, c.Param.Code)] = c
	}
	return out
}

// Has is a reverse chain: some resource of Type refers here through Param and matches Clause.
type Has struct {
	Type   string
	Param  *Param
	Clause *Clause
}

// Value is one parsed search value; its type depends on the parameter kind.
type Value interface{ isValue() }

// StringValue matches a string: Norm for the default and :contains, Raw for :exact.
type StringValue struct{ Norm, Raw string }

// TokenValue is [system|]code. HasSystem is false for a bare code; System "" with
// HasSystem means "no system" (|code). Code "" means any code of System (system|).
type TokenValue struct {
	System, Code string
	HasSystem    bool
	// TypeSystem and TypeCode are the identifier type of :of-type (system|code|value).
	TypeSystem, TypeCode string
}

// ReferenceValue is a local reference (Type may be empty: any type) or a URL.
type ReferenceValue struct{ Type, ID, URL string }

// DateValue is a prefix and the inclusive range of instants of the searched date.
type DateValue struct {
	Prefix    string
	Low, High time.Time
}

// NumberValue is a prefix, the number, and the range its precision implies.
type NumberValue struct {
	Prefix           string
	Value, Low, High string
}

// QuantityValue is a NumberValue with an optional unit (system|code, or a code or unit alone).
type QuantityValue struct {
	NumberValue
	System, Code string
}

// URIValue is a uri.
type URIValue struct{ URI string }

// CompositeValue is the two component values of a composite search.
type CompositeValue struct{ First, Second Value }

// NearValue is Location near: a point and a distance in kilometres.
type NearValue struct{ Latitude, Longitude, Kilometres float64 }

func (StringValue) isValue()    {}
func (TokenValue) isValue()     {}
func (ReferenceValue) isValue() {}
func (DateValue) isValue()      {}
func (NumberValue) isValue()    {}
func (QuantityValue) isValue()  {}
func (URIValue) isValue()       {}
func (CompositeValue) isValue() {}
func (NearValue) isValue()      {}

// SortKey is one _sort parameter.
type SortKey struct {
	Param      *Param
	Descending bool
}

// Include is one _include or _revinclude: the references of Param from resources of
// Source, to resources of Target (any target when empty). Param nil means every reference
// parameter of Source (_include=Type:*).
type Include struct {
	Source  string
	Param   *Param
	Target  string
	Iterate bool
	// BaseURL is Query.BaseURL: which absolute references are local.
	BaseURL string
	// Access is Query.Access: the included resources the caller may see.
	Access *Access
}
