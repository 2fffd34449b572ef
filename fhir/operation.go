package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/gorilla/mux"
)

// Operation is an extended operation such as $generate-slots, served at [base]/$name,
// [base]/[type]/$name or [base]/[type]/[id]/$name.
type Operation struct {
	Name     string   // without the $
	Types    []string // resource types it applies to; none for a system operation
	Type     bool     // invocable on [type]/$name
	Instance bool     // invocable on [type]/[id]/$name
	// Definition is the OperationDefinition resource; its id names it in the CapabilityStatement.
	Definition json.RawMessage
	// Handler serves the call; mux.Vars(r) gives "type" and "id" where present.
	Handler HandlerFunc
	// Aliases are parameter names taken besides the definition's in-parameters:
	// careslot's own and Argonaut's names where IHE ITI Scheduling says otherwise.
	Aliases []string
	// Needs is what the caller must be allowed before the handler runs: the interaction
	// on the type the operation reads or writes (the handler checks rows itself). An
	// operation without it is refused to every caller: each declares what it needs.
	// An empty Type is the type of the route.
	Needs *Need
}

// Need is an interaction on a resource type, e.g. search on Slot for $find.
type Need struct {
	Interaction scope.Interaction
	Type        string
}

// generalParams are the parameters every interaction takes (R4 http.html#parameters).
var generalParams = map[string]bool{"_format": true, "_pretty": true}

// inParams lists the names of the definition's in-parameters.
func (op *Operation) inParams() []string {
	var def struct {
		Parameter []struct{ Name, Use string } `json:"parameter"`
	}
	json.Unmarshal(op.Definition, &def)
	var out []string
	for _, p := range def.Parameter {
		if p.Use == "in" {
			out = append(out, p.Name)
		}
	}
	return out
}

// accepts reports whether the operation takes a parameter called name.
func (op *Operation) accepts(name string) bool {
	return generalParams[name] || slices.Contains(op.Aliases, name) || slices.Contains(op.inParams(), name)
}

// refuseUnknown refuses a parameter the operation does not take, so that a client
// using another guide's name learns it rather than getting an answer that ignored it.
// Prefer: handling=lenient ignores them instead, as search does by default.
func (op *Operation) refuseUnknown(r *http.Request, name, expression string) error {
	if op.accepts(name) || preference(r, "handling") == "lenient" {
		return nil
	}
	takes := "no parameters"
	if in := op.inParams(); len(in) > 0 {
		takes = strings.Join(in, ", ")
	}
	return fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, fmt.Sprintf(
		"$%s does not take a parameter %q (it takes %s); send Prefer: handling=lenient to have unknown parameters ignored",
		op.Name, name, takes), expression)
}

// opKey carries the operation being called to readParams, which checks a body's names.
type opKey struct{}

// calledOperation is the operation of the request, nil outside one.
func calledOperation(ctx context.Context) *Operation {
	op, _ := ctx.Value(opKey{}).(*Operation)
	return op
}

// Register adds an operation; cmd/careslot wires the scheduling operations through it.
func (s *Server) Register(op *Operation) {
	if len(op.Types) == 0 {
		s.ops["/$"+op.Name] = op
	}
	for _, t := range op.Types {
		if op.Type {
			s.ops[t+"/$"+op.Name] = op
		}
		if op.Instance {
			s.ops[t+"/[id]/$"+op.Name] = op
		}
	}
}

// Operations returns every registered operation once, sorted by name.
func (s *Server) Operations() []*Operation {
	seen := map[*Operation]bool{}
	var out []*Operation
	for _, op := range s.ops {
		if !seen[op] {
			seen[op] = true
			out = append(out, op)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// operation dispatches [base]/$op, [type]/$op and [type]/[id]/$op.
func (s *Server) operation(w http.ResponseWriter, r *http.Request) error {
	vars := mux.Vars(r)
	key := "/" + vars["op"]
	if t := vars["type"]; t != "" {
		key = t + "/" + vars["op"]
		if vars["id"] != "" {
			key = t + "/[id]/" + vars["op"]
		}
	}
	op, ok := s.ops[key]
	if !ok {
		return errorf(fhirerr.ErrNotFound, fhirerr.CodeNotSupported, "operation %s is not supported here", key)
	}
	if op.Needs == nil {
		return fhirerr.Forbidden("operation " + key + " declares no access rule and is refused")
	}
	needType := op.Needs.Type
	if needType == "" {
		needType = vars["type"] // an operation on every type needs access to the one called
	}
	if err := s.authorize(r.Context(), op.Needs.Interaction, needType, nil); err != nil {
		return err
	}
	query := r.URL.Query()
	names := make([]string, 0, len(query))
	for k := range query {
		names = append(names, k)
	}
	sort.Strings(names) // the first unknown one is named, the same each time
	for _, n := range names {
		if err := op.refuseUnknown(r, n, n); err != nil {
			return err
		}
	}
	return op.Handler(w, r.WithContext(context.WithValue(r.Context(), opKey{}, op)))
}
