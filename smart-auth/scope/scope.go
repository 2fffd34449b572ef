// Package scope reads SMART on FHIR resource scopes, v1 (patient/*.read,
// user/Appointment.write, system/*.*) and v2 (patient/Appointment.rs, user/*.cruds,
// patient/Observation.rs?category=laboratory), into a Set that answers "may this token do
// interaction X on type T, in which context, narrowed by which search".
//
// It knows only the scope grammar of SMART App Launch 2 (scopes-and-launch-context): it
// decides nothing about roles or records (that is the access policy in package
// resources). Like package caller it is a leaf: it imports no other careslot package.
package scope

import (
	"fmt"
	"net/url"
	"strings"
)

// Context is whose data a scope reaches: the launch patient's, the signed-in user's, or
// anything a backend client may see.
type Context string

const (
	Patient Context = "patient"
	User    Context = "user"
	System  Context = "system"
)

// Interaction is one of the five SMART v2 permissions.
type Interaction byte

const (
	Create Interaction = 'c'
	Read   Interaction = 'r' // read, vread and history of a known id
	Update Interaction = 'u'
	Delete Interaction = 'd'
	Search Interaction = 's' // search, and history of a type
)

// order is the v2 permission letters in the only order the spec allows.
const order = "cruds"

// Scope is one resource scope.
type Scope struct {
	Context Context
	Type    string // a resource type, or "*"
	// Permissions are the granted interactions, v1 read as rs and write as cud.
	Permissions string
	// Query narrows a v2 scope to the resources that match a search, e.g. category=laboratory.
	Query url.Values
	V1    bool // written with .read, .write or .*
}

// Allows reports whether s grants interaction i on type typ.
func (s Scope) Allows(i Interaction, typ string) bool {
	return (s.Type == "*" || s.Type == typ) && strings.IndexByte(s.Permissions, byte(i)) >= 0
}

// String writes s back in its v2 form.
func (s Scope) String() string {
	out := string(s.Context) + "/" + s.Type + "." + s.Permissions
	if len(s.Query) > 0 {
		out += "?" + s.Query.Encode()
	}
	return out
}

// Error is a resource scope that does not follow the grammar.
type Error struct {
	Scope, Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("scope %q: %s", e.Scope, e.Reason) }

// Parse reads one resource scope. A scope that is not a resource scope (openid,
// fhirUser, launch/patient, offline_access) is an *Error, as is one that is malformed:
// permissions out of order or repeated, an unknown context, a bad query.
func Parse(raw string) (Scope, error) {
	fail := func(reason string) (Scope, error) { return Scope{}, &Error{Scope: raw, Reason: reason} }
	ctx, rest, ok := strings.Cut(raw, "/")
	if !ok {
		return fail("not a resource scope (context/Type.permissions)")
	}
	s := Scope{Context: Context(ctx)}
	switch s.Context {
	case Patient, User, System:
	default:
		return fail("the context must be patient, user or system")
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	typ, perms, ok := strings.Cut(rest, ".")
	if !ok {
		return fail("no permissions after the resource type")
	}
	if typ != "*" && !resourceType(typ) {
		return fail("the resource type must be a FHIR type name or *")
	}
	s.Type = typ
	switch perms {
	case "read":
		s.Permissions, s.V1 = "rs", true
	case "write":
		s.Permissions, s.V1 = "cud", true
	case "*":
		s.Permissions, s.V1 = order, true
	default:
		if perms == "" {
			return fail("no permissions")
		}
		at := 0
		for i := 0; i < len(perms); i++ {
			j := strings.IndexByte(order[at:], perms[i])
			if j < 0 {
				return fail("permissions are letters of cruds, each once, in that order")
			}
			at += j + 1
		}
		s.Permissions = perms
	}
	if hasQuery {
		if s.V1 {
			return fail("only v2 scopes may carry a query")
		}
		q, err := url.ParseQuery(query)
		if err != nil || len(q) == 0 {
			return fail("the query is not name=value pairs")
		}
		for name := range q {
			if name == "" || strings.HasPrefix(name, "_") && name != "_id" {
				return fail("the query may use search parameters, not result parameters such as " + name)
			}
		}
		s.Query = q
	}
	return s, nil
}

// resourceType reports whether name looks like a FHIR resource type: an upper-case
// letter then letters. Whether it is one is for the server to know.
func resourceType(name string) bool {
	if name == "" || len(name) > 64 || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// Set is the resource scopes of one token.
type Set []Scope

// ParseSet reads the resource scopes among a token's scopes; the others (openid,
// launch, offline_access…) and malformed ones grant nothing and are left out.
func ParseSet(scopes []string) Set {
	var out Set
	for _, raw := range scopes {
		if s, err := Parse(raw); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// Grant is what the scopes of one context grant for one interaction on one type.
type Grant struct {
	Allowed bool
	// Narrow are the queries of the granting scopes when every one of them has a query:
	// a resource must match one of them. Nil when a granting scope has none.
	Narrow []url.Values
}

// For tells what the scopes of context c grant for interaction i on typ. The contexts
// are kept apart because each reaches other data: patient/ the launch patient's,
// user/ what the user's role allows, system/ everything.
func (set Set) For(c Context, i Interaction, typ string) Grant {
	var g Grant
	unnarrowed := false
	for _, s := range set {
		if s.Context != c || !s.Allows(i, typ) {
			continue
		}
		g.Allowed = true
		if len(s.Query) == 0 {
			unnarrowed = true
		} else {
			g.Narrow = append(g.Narrow, s.Query)
		}
	}
	if unnarrowed {
		g.Narrow = nil
	}
	return g
}

// Any reports whether some scope of any context grants interaction i on typ.
func (set Set) Any(i Interaction, typ string) bool {
	for _, s := range set {
		if s.Allows(i, typ) {
			return true
		}
	}
	return false
}
