package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"

	"github.com/careslot/careslot/storage"
)

// opParam is one OperationDefinition.parameter.
type opParam struct {
	Name string `json:"name"`
	Use  string `json:"use"`
	Min  int    `json:"min"`
	Max  string `json:"max"`
	Doc  string `json:"documentation,omitempty"`
	Type string `json:"type,omitempty"`
	// SearchType says how a string parameter is read (token: code or system|code).
	SearchType string `json:"searchType,omitempty"`
}

// opMeta describes an operation for its OperationDefinition.
type opMeta struct {
	Name, Title, Description string
	Types                    []string
	Type, Instance           bool
	AffectsState             bool
	Params                   []opParam
}

// operationDefinition renders the OperationDefinition resource of an operation; its id is
// the operation's name, so that it is read at [base]/OperationDefinition/[name], and its
// url the canonical operationDefinitionURL.
func (s *Server) operationDefinition(m opMeta) json.RawMessage {
	return marshal(map[string]any{
		"resourceType": "OperationDefinition",
		"id":           m.Name,
		"url":          operationDefinitionURL(m.Name),
		"name":         m.Title,
		"title":        m.Title,
		"status":       "active",
		"kind":         "operation",
		"publisher":    "careslot",
		"description":  m.Description,
		"affectsState": m.AffectsState,
		"code":         m.Name,
		"resource":     m.Types,
		"system":       len(m.Types) == 0,
		"type":         m.Type,
		"instance":     m.Instance,
		"parameter":    m.Params,
	})
}

// StoreOperationDefinitions writes the OperationDefinition of every registered operation
// as OperationDefinition/[name], where the CapabilityStatement points, unless the stored
// one already says the same. Replicas starting together take turns on a lock.
func (s *Server) StoreOperationDefinitions(ctx context.Context) error {
	for _, op := range s.Operations() {
		if len(op.Definition) == 0 {
			continue
		}
		if typ, err := s.validator.Validate(op.Definition); err != nil || typ != "OperationDefinition" {
			return fmt.Errorf("fhir: the OperationDefinition of $%s is not valid: %v", op.Name, err)
		}
		err := s.store.InTx(ctx, func(tx *storage.Tx) error {
			if err := tx.LockKey(ctx, "OperationDefinition/"+op.Name); err != nil {
				return err
			}
			prev, err := tx.Lock(ctx, "OperationDefinition", op.Name)
			if err != nil {
				return err
			}
			if prev != nil && !prev.Deleted && sameContent(prev.Content, op.Definition) {
				return nil
			}
			_, err = s.write(ctx, tx, prev, "OperationDefinition", op.Name, op.Definition, http.MethodPut)
			return err
		})
		if err != nil {
			return fmt.Errorf("fhir: store the OperationDefinition of $%s: %w", op.Name, err)
		}
	}
	return nil
}

// sameContent compares two resources' JSON, ignoring meta.
func sameContent(a, b []byte) bool {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	delete(x, "meta")
	delete(y, "meta")
	return reflect.DeepEqual(x, y)
}
