package fhir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/gorilla/mux"
)

// ValidateOperation is R4 $validate on [type] and [type]/[id]: the write the resource
// would be (mode create, update or delete) runs through the same validation and rules,
// in a transaction that is always rolled back, so nothing is written.
func (s *Server) ValidateOperation() *Operation {
	return &Operation{Name: "validate", Types: ProductTypes, Type: true, Instance: true, Handler: s.validateResource,
		// The route's type; the write's own checks then ask for create, update or delete.
		Needs: &Need{scope.Read, ""},
		Definition: s.operationDefinition(opMeta{Name: "validate", Title: "Validate", Types: ProductTypes, Type: true, Instance: true,
			Description: "R4 $validate: checks a resource as careslot would check its create, update (on an instance) or delete, " +
				"with the same validation, rules and access checks, and writes nothing. The answer is 200 with an OperationOutcome: " +
				"errors when the write would be refused, one information issue when it would pass.",
			Params: []opParam{
				{Name: "resource", Use: "in", Min: 0, Max: "1", Type: "Resource", Doc: "the resource (or send it bare as the body); none for mode delete"},
				{Name: "mode", Use: "in", Min: 0, Max: "1", Type: "code", Doc: "create (default on [type]), update (default on [type]/[id]) or delete"},
				{Name: "profile", Use: "in", Min: 0, Max: "1", Type: "uri", Doc: "not supported: careslot validates against R4 and its own rules"},
				{Name: "return", Use: "out", Min: 1, Max: "1", Type: "OperationOutcome", Doc: "the outcome of the validation"},
			}})}
}

// errRollback ends $validate's transaction without committing it.
var errRollback = errors.New("validate: roll back")

func (s *Server) validateResource(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if _, inTx := ctx.Value(txKey{}).(*storage.Tx); inTx {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, "$validate cannot run inside a transaction Bundle; use a batch")
	}
	typ, err := s.resourceType(r)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	resource, mode, err := s.validateInput(w, r)
	if err != nil {
		return err
	}
	if mode == "" {
		mode = "create"
		if id != "" {
			mode = "update"
		}
	}
	switch {
	case mode == "create" && id != "":
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeValue, "mode create is for [type]/$validate, not an instance")
	case (mode == "update" || mode == "delete") && id == "":
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeValue, "mode %s needs an instance: [type]/[id]/$validate", mode)
	case mode != "create" && mode != "update" && mode != "delete":
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeValue, "mode must be create, update or delete, not %q", mode)
	case mode != "delete" && len(resource) == 0:
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeRequired, "mode %s needs the resource", mode)
	}
	err = s.store.InTx(ctx, func(tx *storage.Tx) error {
		if err := s.wouldWrite(ctx, tx, typ, id, mode, resource); err != nil {
			return err
		}
		if err := tx.CheckCommit(ctx); err != nil {
			return err
		}
		return errRollback
	})
	if errors.Is(err, errRollback) {
		writeJSON(w, r, http.StatusOK, marshal(fhirerr.Information(fmt.Sprintf("the %s of this %s would be accepted", mode, typ))))
		return nil
	}
	fe, ok := fhirerr.As(err)
	if !ok || fe.Status() >= 500 || fe.Status() == http.StatusUnauthorized || fe.Status() == http.StatusForbidden {
		// Not an answer about the resource: the caller may not, or careslot could not, validate.
		return err
	}
	if mode != "create" && fe.Status() == http.StatusNotFound && fe.Expression == nil {
		return err // the instance is not there (or not for this caller)
	}
	writeJSON(w, r, http.StatusOK, fe.JSON())
	return nil
}

// wouldWrite runs the checks of the write mode stands for, in tx.
func (s *Server) wouldWrite(ctx context.Context, tx *storage.Tx, typ, id, mode string, resource []byte) error {
	if mode == "delete" {
		prev, err := tx.Lock(ctx, typ, id)
		if err != nil {
			return err
		}
		if prev == nil || prev.Deleted {
			return errorf(fhirerr.ErrNotFound, fhirerr.CodeNotFound, "%s/%s is not known", typ, id)
		}
		_, err = s.remove(ctx, tx, prev, false, map[int64]bool{})
		return err
	}
	got, err := s.validator.Validate(resource)
	if err != nil {
		return err
	}
	if got != typ {
		return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: fmt.Sprintf("the resource is a %s but the URL is for %s", got, typ), Expression: []string{"resourceType"}}
	}
	body := s.localizeReferences(resource)
	if mode == "create" {
		_, err := s.write(ctx, tx, nil, typ, storage.NewID(), body, http.MethodPost)
		return err
	}
	if got := bodyID(body); got != id {
		return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: fmt.Sprintf("the resource id %q must equal the id in the URL %q", got, id), Expression: []string{typ + ".id"}}
	}
	prev, err := tx.Lock(ctx, typ, id)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, tx, prev, typ, id, body, http.MethodPut)
	return err
}

// validateInput reads $validate's body: a Parameters with resource and mode, or the
// bare resource; mode may also come in the query.
func (s *Server) validateInput(w http.ResponseWriter, r *http.Request) (json.RawMessage, string, error) {
	mode := r.URL.Query().Get("mode")
	if r.Method != http.MethodPost {
		return nil, "", errorf(fhirerr.ErrMethodNotAllowed, fhirerr.CodeNotSupported, "$validate takes a POST")
	}
	if r.URL.Query().Get("profile") != "" {
		return nil, "", errorf(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, "$validate against a profile is not supported")
	}
	body, err := s.readBody(w, r)
	if err != nil || len(body) == 0 {
		return nil, mode, err
	}
	var head struct {
		ResourceType string `json:"resourceType"`
		Parameter    []struct {
			Name      string          `json:"name"`
			ValueCode string          `json:"valueCode"`
			ValueURI  string          `json:"valueUri"`
			Resource  json.RawMessage `json:"resource"`
		} `json:"parameter"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, "", &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeStructure, Diagnostics: "the body is not a JSON object: " + err.Error()}
	}
	if head.ResourceType != "Parameters" {
		return body, mode, nil
	}
	// The Parameters is read by name; its resource is validated as the write would be.
	var resource json.RawMessage
	for i, p := range head.Parameter {
		switch p.Name {
		case "resource":
			resource = p.Resource
		case "mode":
			mode = p.ValueCode
		case "profile":
			return nil, "", errorf(fhirerr.ErrInvalid, fhirerr.CodeNotSupported, "$validate against a profile is not supported")
		default:
			return nil, "", fhirerr.New(fhirerr.ErrInvalid, fhirerr.CodeNotSupported,
				fmt.Sprintf("$validate does not take a parameter %q", p.Name), fmt.Sprintf("Parameters.parameter[%d]", i))
		}
	}
	return resource, mode, nil
}
