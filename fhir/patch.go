package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/gorilla/mux"
)

// jsonPatchType is the media type of a JSON Patch document (RFC 6902).
const jsonPatchType = "application/json-patch+json"

// patch answers PATCH [type]/[id] with a JSON Patch: the patched resource is written
// as an update would be, with the same validation and rules.
func (s *Server) patch(w http.ResponseWriter, r *http.Request) error {
	typ, err := s.resourceType(r)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	return s.applyPatch(w, r, typ, func(ctx context.Context, tx *storage.Tx) (*storage.Resource, error) {
		return tx.Lock(ctx, typ, id)
	})
}

// conditionalPatch answers PATCH [type]?search: the one match is patched; 404 when
// none matches (a patch creates nothing), 412 when several do.
func (s *Server) conditionalPatch(w http.ResponseWriter, r *http.Request) error {
	typ, err := s.resourceType(r)
	if err != nil {
		return err
	}
	if r.URL.RawQuery == "" {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "PATCH %s needs an id or search parameters", typ)
	}
	return s.applyPatch(w, r, typ, func(ctx context.Context, tx *storage.Tx) (*storage.Resource, error) {
		matches, err := s.conditionalMatches(ctx, tx, typ, r.URL.RawQuery)
		if err != nil {
			return nil, err
		}
		switch len(matches) {
		case 0:
			return nil, errorf(fhirerr.ErrNotFound, fhirerr.CodeNotFound, "no %s matches the search: there is nothing to patch", typ)
		case 1:
			return tx.Lock(ctx, typ, matches[0].ID)
		default:
			return nil, errorf(fhirerr.ErrPreconditionFailed, fhirerr.CodeMultipleMatches, "the search matches %d resources", len(matches))
		}
	})
}

// applyPatch reads the patch, then inside the transaction locks the target that target
// picks, checks If-Match, applies the patch and writes the result through write.
func (s *Server) applyPatch(w http.ResponseWriter, r *http.Request, typ string,
	target func(context.Context, *storage.Tx) (*storage.Resource, error)) error {
	apply, err := s.readPatch(w, r)
	if err != nil {
		return err
	}
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.authorize(ctx, scope.Update, typ, nil); err != nil {
		return err
	}
	var res *storage.Resource
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		prev, err := target(ctx, tx)
		if err != nil {
			return err
		}
		if prev == nil || prev.Deleted {
			// A patch changes what exists; it never creates. Whether a deleted resource
			// once existed is only told to whom may see it.
			if prev != nil {
				if err := s.rules.Authorize(ctx, tx, scope.Read, typ, prev); err != nil {
					return err
				}
				return errorf(fhirerr.ErrGone, fhirerr.CodeDeleted, "%s/%s is deleted: there is nothing to patch", typ, prev.ID)
			}
			return errorf(fhirerr.ErrNotFound, fhirerr.CodeNotFound, "%s/%s is not known", typ, mux.Vars(r)["id"])
		}
		// The caller must be allowed to change the resource before learning anything
		// from it, such as whether a test operation holds.
		if err := s.rules.Authorize(ctx, tx, scope.Update, typ, prev); err != nil {
			return err
		}
		if err := checkVersion(want, prev); err != nil {
			return err
		}
		body, err := s.patched(apply, prev)
		if err != nil {
			return err
		}
		// History records a patch as the update it amounts to (R4 history has PUT for it).
		res, err = s.write(ctx, tx, prev, typ, prev.ID, body, http.MethodPut)
		return err
	})
	if err != nil {
		return err
	}
	s.writeResult(w, r, http.StatusOK, res, fmt.Sprintf("%s/%s patched to version %d", typ, res.ID, res.VersionID))
	return nil
}

// patchFunc applies a patch to a resource's JSON.
type patchFunc func(content []byte) ([]byte, error)

// readPatch reads a patch body: a JSON Patch (application/json-patch+json) or a FHIRPath
// Patch (a Parameters, application/fhir+json); 415 for another media type (XML among
// them), 400 for a document that is not a well-formed patch of its kind.
func (s *Server) readPatch(w http.ResponseWriter, r *http.Request) (patchFunc, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != jsonPatchType && mt != fhirJSON && mt != "application/json" {
		return nil, errorf(fhirerr.ErrUnsupportedMediaType, fhirerr.CodeNotSupported,
			"PATCH takes a JSON Patch (Content-Type: %s) or a FHIRPath Patch (a Parameters, Content-Type: %s), not %q",
			jsonPatchType, fhirJSON, r.Header.Get("Content-Type"))
	}
	body, err := s.readLimited(w, r)
	if err != nil {
		return nil, err
	}
	if mt != jsonPatchType {
		if !utf8.Valid(body) {
			return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeStructure, "the FHIRPath Patch is not valid UTF-8")
		}
		ops, err := s.decodeFHIRPathPatch(body)
		if err != nil {
			return nil, err
		}
		return fhirPathPatchFunc(ops), nil
	}
	p, err := decodeJSONPatch(body)
	if err != nil {
		return nil, err
	}
	return s.jsonPatchFunc(p), nil
}

// jsonPatchFunc applies a JSON Patch with evanphx/json-patch.
func (s *Server) jsonPatchFunc(p jsonpatch.Patch) patchFunc {
	return func(content []byte) ([]byte, error) {
		opts := jsonpatch.NewApplyOptions()
		opts.SupportNegativeIndices = false // RFC 6902 has "-" for the end, no negative indices
		opts.AccumulatedCopySizeLimit = s.cfg.MaxBodyBytes
		body, err := applySafely(p, content, opts)
		if err != nil {
			if errors.Is(err, jsonpatch.ErrTestFailed) {
				return nil, errorf(fhirerr.ErrUnprocessable, fhirerr.CodeProcessing, "a test operation of the patch failed: %v", err)
			}
			return nil, errorf(fhirerr.ErrUnprocessable, fhirerr.CodeProcessing, "the patch cannot be applied: %v", err)
		}
		return body, nil
	}
}

// decodeJSONPatch parses a JSON Patch document; each operation must name a known op
// and carry the members it needs (RFC 6902 section 4).
func decodeJSONPatch(body []byte) (jsonpatch.Patch, error) {
	if !utf8.Valid(body) {
		return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeStructure, "the JSON Patch is not valid UTF-8")
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '[' {
		return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeStructure, "a JSON Patch is a JSON array of operations")
	}
	p, err := jsonpatch.DecodePatch(body)
	if err != nil {
		return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeStructure, "the JSON Patch is not valid: %v", err)
	}
	for i, op := range p {
		// RFC 6902 4.6: test needs a value. The library does not check, and panics on
		// its absence; a null value never matches, as FHIR has no null elements.
		if op.Kind() == "test" && op["value"] == nil {
			return nil, errorf(fhirerr.ErrInvalid, fhirerr.CodeStructure, "operation %d of the JSON Patch is a test without a value", i)
		}
	}
	return p, nil
}

// patched applies a patch to prev's content and checks the result as a resource written
// to the same type and id: a patch may not change what the resource is.
func (s *Server) patched(apply patchFunc, prev *storage.Resource) ([]byte, error) {
	body, err := apply(prev.Content)
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > s.cfg.MaxBodyBytes {
		return nil, errorf(fhirerr.ErrTooLarge, fhirerr.CodeTooLong, "the patched resource is larger than %d bytes", s.cfg.MaxBodyBytes)
	}
	var head struct {
		ResourceType *string `json:"resourceType"`
		ID           *string `json:"id"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, errorf(fhirerr.ErrUnprocessable, fhirerr.CodeStructure, "the patched document is not a resource: %v", err)
	}
	if head.ResourceType == nil || *head.ResourceType != prev.Type {
		return nil, &fhirerr.Error{Kind: fhirerr.ErrUnprocessable, Code: fhirerr.CodeInvalid,
			Diagnostics: "a patch may not change or remove resourceType", Expression: []string{"resourceType"}}
	}
	if head.ID == nil || *head.ID != prev.ID {
		return nil, &fhirerr.Error{Kind: fhirerr.ErrUnprocessable, Code: fhirerr.CodeInvalid,
			Diagnostics: "a patch may not change or remove the id", Expression: []string{prev.Type + ".id"}}
	}
	if _, err := s.validator.Validate(body); err != nil {
		return nil, err
	}
	return s.localizeReferences(body), nil
}

// applySafely applies p, turning a panic of the library on some odd patch into a refusal
// of that patch: the input is the client's, and no patch may cost a 500.
func applySafely(p jsonpatch.Patch, doc []byte, opts *jsonpatch.ApplyOptions) (out []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("the patch library failed on it (%v)", v)
		}
	}()
	return p.ApplyWithOptions(doc, opts)
}
