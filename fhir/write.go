package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/resources"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/gorilla/mux"
)

// assignedIDKey carries the id a transaction Bundle assigned to a POST entry beforehand,
// so that references to its urn:uuid could be rewritten before it was created.
type assignedIDKey struct{}

// write checks the rules of one change and stores it; prev is the locked current row or nil.
func (s *Server) write(ctx context.Context, tx *storage.Tx, prev *storage.Resource, typ, id string, body []byte, method string) (*storage.Resource, error) {
	action := resources.ActionUpdate
	if prev == nil || prev.Deleted {
		action = resources.ActionCreate
	}
	i := scope.Update
	if action == resources.ActionCreate {
		i = scope.Create
	}
	// The caller must reach the resource as it is (404 when they may not see it, 403 when
	// they may not change it) and as it will be: checked on the written row, in tx.
	if err := s.rules.Authorize(ctx, tx, i, typ, livePrev(prev)); err != nil {
		return nil, err
	}
	if err := s.rules.AuthorizeReferences(ctx, tx, typ, id, body); err != nil {
		return nil, err
	}
	if typ == "Binary" {
		if err := s.checkBinaryDataSize(body); err != nil {
			return nil, err
		}
		ctx = withUploader(ctx)
	}
	change := &resources.Change{Action: action, Type: typ, ID: id, Old: prev, New: body}
	if err := s.rules.Check(ctx, tx, change); err != nil {
		return nil, err
	}
	res, err := tx.Write(ctx, prev, typ, id, change.New, method)
	if err != nil {
		return nil, err
	}
	if err := s.rules.AuthorizeWritten(ctx, tx, i, res); err != nil {
		return nil, err
	}
	return res, nil
}

// livePrev is prev when it is a live resource, else nil.
func livePrev(prev *storage.Resource) *storage.Resource {
	if prev == nil || prev.Deleted {
		return nil
	}
	return prev
}

// create answers POST [type], honouring If-None-Exist.
func (s *Server) create(w http.ResponseWriter, r *http.Request) error {
	if isRawBinary(mux.Vars(r)["type"], r) {
		return s.rawBinaryCreate(w, r)
	}
	typ, body, err := s.typeAndResource(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	id, _ := ctx.Value(assignedIDKey{}).(string)
	if id == "" {
		id = storage.NewID()
	}
	var res *storage.Resource
	status := http.StatusCreated
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		if cond := r.Header.Get("If-None-Exist"); cond != "" {
			matches, err := s.conditionalMatches(ctx, tx, typ, cond)
			if err != nil {
				return err
			}
			switch {
			case len(matches) == 1:
				res, status = matches[0], http.StatusOK
				return nil
			case len(matches) > 1:
				return errorf(fhirerr.ErrPreconditionFailed, fhirerr.CodeMultipleMatches,
					"If-None-Exist %q matches %d resources", cond, len(matches))
			}
		}
		res, err = s.write(ctx, tx, nil, typ, id, body, http.MethodPost)
		return err
	})
	if err != nil {
		return err
	}
	message := fmt.Sprintf("%s/%s created", typ, res.ID)
	if status == http.StatusOK {
		message = fmt.Sprintf("%s/%s already exists and matches If-None-Exist: it was not changed", typ, res.ID)
	}
	s.writeResult(w, r, status, res, message)
	return nil
}

// bodyID returns the id element of a resource body, "" when absent.
func bodyID(body []byte) string {
	var doc struct {
		ID string `json:"id"`
	}
	json.Unmarshal(body, &doc)
	return doc.ID
}

// ifMatch reads the If-Match header: 0 when absent.
func ifMatch(r *http.Request) (int, error) {
	v := r.Header.Get("If-Match")
	if v == "" {
		return 0, nil
	}
	return parseETag(v)
}

// checkVersion refuses a write whose If-Match does not name the current version: 412.
func checkVersion(want int, prev *storage.Resource) error {
	if want == 0 {
		return nil
	}
	if prev == nil || prev.Deleted {
		return errorf(fhirerr.ErrPreconditionFailed, fhirerr.CodeConflict, "If-Match names version %d but the resource does not exist", want)
	}
	if prev.VersionID != want {
		return errorf(fhirerr.ErrPreconditionFailed, fhirerr.CodeConflict,
			"If-Match names version %d but the current version is %d", want, prev.VersionID)
	}
	return nil
}

// typeAndResource reads the route's type and the validated resource of a create or update.
func (s *Server) typeAndResource(w http.ResponseWriter, r *http.Request) (string, []byte, error) {
	typ, err := s.resourceType(r)
	if err != nil {
		return "", nil, err
	}
	body, err := s.readResource(w, r, typ)
	return typ, body, err
}

// update answers PUT [type]/[id]: a new version, or a create with the client's id.
func (s *Server) update(w http.ResponseWriter, r *http.Request) error {
	if isRawBinary(mux.Vars(r)["type"], r) {
		return s.rawBinaryUpdate(w, r)
	}
	typ, body, err := s.typeAndResource(w, r)
	if err != nil {
		return err
	}
	id := mux.Vars(r)["id"]
	if got := bodyID(body); got != id {
		return &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
			Diagnostics: fmt.Sprintf("the resource id %q must equal the id in the URL %q", got, id), Expression: []string{typ + ".id"}}
	}
	return s.put(w, r, typ, body, func(ctx context.Context, tx *storage.Tx) (string, *storage.Resource, error) {
		prev, err := tx.Lock(ctx, typ, id)
		return id, prev, err
	})
}

// conditionalUpdate answers PUT [type]?search: update the one match, create when none, 412 when several.
func (s *Server) conditionalUpdate(w http.ResponseWriter, r *http.Request) error {
	typ, body, err := s.typeAndResource(w, r)
	if err != nil {
		return err
	}
	if r.URL.RawQuery == "" {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "PUT %s needs an id or search parameters", typ)
	}
	return s.put(w, r, typ, body, func(ctx context.Context, tx *storage.Tx) (string, *storage.Resource, error) {
		matches, err := s.conditionalMatches(ctx, tx, typ, r.URL.RawQuery)
		if err != nil {
			return "", nil, err
		}
		id := bodyID(body)
		switch len(matches) {
		case 0:
			if id == "" {
				id, _ = ctx.Value(assignedIDKey{}).(string)
			}
			if id == "" {
				id = storage.NewID()
			}
			prev, err := tx.Lock(ctx, typ, id)
			if err == nil && prev != nil && !prev.Deleted {
				if err := s.rules.Authorize(ctx, tx, scope.Update, typ, prev); err != nil {
					return "", nil, err
				}
				err = errorf(fhirerr.ErrConflict, fhirerr.CodeConflict,
					"%s/%s exists but does not match the search; refusing to overwrite it", typ, id)
			}
			return id, prev, err
		case 1:
			if id != "" && id != matches[0].ID {
				return "", nil, &fhirerr.Error{Kind: fhirerr.ErrInvalid, Code: fhirerr.CodeInvalid,
					Diagnostics: fmt.Sprintf("the resource id %q is not the id of the match %q", id, matches[0].ID), Expression: []string{typ + ".id"}}
			}
			prev, err := tx.Lock(ctx, typ, matches[0].ID)
			return matches[0].ID, prev, err
		default:
			return "", nil, errorf(fhirerr.ErrPreconditionFailed, fhirerr.CodeMultipleMatches, "the search matches %d resources", len(matches))
		}
	})
}

// put is what update and conditional update share once the resource is read: inside the
// transaction, target picks the id and locks its current row; then If-Match, the rules,
// the write and the answer (201 when it created, else 200).
func (s *Server) put(w http.ResponseWriter, r *http.Request, typ string, body []byte,
	target func(context.Context, *storage.Tx) (string, *storage.Resource, error)) error {
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var res *storage.Resource
	created := false
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		id, prev, err := target(ctx, tx)
		if err != nil {
			return err
		}
		if err := checkVersion(want, prev); err != nil {
			return err
		}
		created = prev == nil || prev.Deleted
		if bodyID(body) != id {
			if body, err = setBodyID(body, id); err != nil {
				return err
			}
		}
		res, err = s.write(ctx, tx, prev, typ, id, body, http.MethodPut)
		return err
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.writeResult(w, r, status, res, fmt.Sprintf("%s/%s written as version %d", typ, res.ID, res.VersionID))
	return nil
}

func setBodyID(body []byte, id string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fhirerr.Invalid("the resource is not a JSON object")
	}
	doc["id"] = marshal(id)
	return marshal(doc), nil
}

// delete answers DELETE [type]/[id]. A resource still referenced is refused with 409
// unless _cascade=delete, which deletes the referencing resources too.
func (s *Server) delete(w http.ResponseWriter, r *http.Request) error {
	typ, err := s.resourceType(r)
	if err != nil {
		return err
	}
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	cascade, err := cascadeParam(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var res *storage.Resource
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		prev, err := tx.Lock(ctx, typ, mux.Vars(r)["id"])
		if err != nil {
			return err
		}
		if err := checkVersion(want, prev); err != nil || prev == nil {
			return err
		}
		res, err = s.remove(ctx, tx, prev, cascade, map[int64]bool{})
		return err
	})
	return s.answerDelete(w, r, res, err)
}

func cascadeParam(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("_cascade"); v {
	case "":
		return false, nil
	case "delete":
		return true, nil
	default:
		return false, errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "_cascade must be delete, not %q", v)
	}
}

// maxCascade bounds how many resources one cascading delete may remove.
const maxCascade = 1000

// remove deletes prev after its rules pass; with cascade, first everything that refers to it.
func (s *Server) remove(ctx context.Context, tx *storage.Tx, prev *storage.Resource, cascade bool, seen map[int64]bool) (*storage.Resource, error) {
	if prev.Deleted {
		return prev, nil
	}
	if err := s.rules.Authorize(ctx, tx, scope.Delete, prev.Type, prev); err != nil {
		return nil, err
	}
	if err := s.rules.AuthorizeDeleteReferrers(ctx, tx, prev); err != nil {
		return nil, err
	}
	seen[prev.RID] = true
	if len(seen) > maxCascade {
		return nil, errorf(fhirerr.ErrConflict, fhirerr.CodeTooCostly, "a cascading delete may remove at most %d resources", maxCascade)
	}
	if err := s.rules.Check(ctx, tx, &resources.Change{Action: resources.ActionDelete, Type: prev.Type, ID: prev.ID, Old: prev}); err != nil {
		return nil, err
	}
	if cascade {
		if err := s.removeReferrers(ctx, tx, prev, seen); err != nil {
			return nil, err
		}
	}
	res, err := tx.Delete(ctx, prev)
	if err != nil || !cascade {
		return res, err
	}
	// Delete's row lock waited for the transactions that were referring to prev: the
	// references of those that committed meanwhile go too.
	if err := s.removeReferrers(ctx, tx, prev, seen); err != nil {
		return nil, err
	}
	return res, nil
}

// removeReferrers deletes, with cascade, the live resources that refer to prev.
func (s *Server) removeReferrers(ctx context.Context, tx *storage.Tx, prev *storage.Resource, seen map[int64]bool) error {
	referrers, err := tx.Referrers(ctx, prev.Type, prev.ID)
	if err != nil {
		return err
	}
	for _, ref := range referrers {
		if seen[ref.RID] {
			continue
		}
		locked, err := tx.Lock(ctx, ref.Type, ref.ID)
		if err != nil {
			return err
		}
		if locked != nil {
			if _, err := s.remove(ctx, tx, locked, true, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// answerDelete answers a delete: 204, or 200 with an OperationOutcome when preferred.
func (s *Server) answerDelete(w http.ResponseWriter, r *http.Request, res *storage.Resource, err error) error {
	if err != nil {
		return err
	}
	if res != nil {
		w.Header().Set("ETag", versionTag(res.VersionID))
	}
	if preferReturn(r) == "OperationOutcome" {
		msg := "nothing to delete"
		if res != nil {
			msg = fmt.Sprintf("%s/%s deleted", res.Type, res.ID)
		}
		writeJSON(w, r, http.StatusOK, marshal(fhirerr.Information(msg)))
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// conditionalDelete answers DELETE [type]?search: deletes the one match; 412 when several.
func (s *Server) conditionalDelete(w http.ResponseWriter, r *http.Request) error {
	typ, err := s.resourceType(r)
	if err != nil {
		return err
	}
	if r.URL.RawQuery == "" {
		return errorf(fhirerr.ErrInvalid, fhirerr.CodeInvalid, "DELETE %s needs an id or search parameters", typ)
	}
	cascade, err := cascadeParam(r)
	if err != nil {
		return err
	}
	want, err := ifMatch(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var res *storage.Resource
	err = s.inTx(ctx, func(tx *storage.Tx) error {
		matches, err := s.conditionalMatches(ctx, tx, typ, r.URL.RawQuery)
		if err != nil {
			return err
		}
		switch len(matches) {
		case 0:
			return checkVersion(want, nil)
		case 1:
		default:
			return errorf(fhirerr.ErrPreconditionFailed, fhirerr.CodeMultipleMatches, "the search matches %d resources", len(matches))
		}
		prev, err := tx.Lock(ctx, typ, matches[0].ID)
		if err != nil {
			return err
		}
		if err := checkVersion(want, prev); err != nil || prev == nil {
			return err
		}
		res, err = s.remove(ctx, tx, prev, cascade, map[int64]bool{})
		return err
	})
	return s.answerDelete(w, r, res, err)
}
