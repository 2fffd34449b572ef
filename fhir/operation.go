package fhir

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/careslot/careslot/fhir/fhirerr"
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
	return op.Handler(w, r)
}
