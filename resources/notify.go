package resources

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
)

// OwnerMaySee tells whether the owner of a subscription (the caller who created it, as
// JSON; nil when it was created without a token, by the server itself as Decide sees it)
// may read the resource of change c, so that a notification never carries what its
// owner could not read. content is the version the notification is about: for a delete,
// the version deleted.
func (r *Rules) OwnerMaySee(ctx context.Context, db notifyDB, owner []byte, c storage.Change, content []byte) (bool, error) {
	if owner == nil {
		return true, nil
	}
	var who caller.Caller
	if err := json.Unmarshal(owner, &who); err != nil {
		return false, nil // an owner that cannot be read sees nothing
	}
	ctx = caller.With(ctx, who)
	d := r.Decide(ctx, scope.Read, c.Type)
	switch {
	case !d.Allowed:
		return false, nil
	case d.Access.Unrestricted(c.Type):
		return true, nil
	case byPatientCompartment(d.Access, c.Type):
		// Judged on the version notified, which the notification carries: the stored
		// resource may have changed since, or be gone (a delete drops its index rows).
		return inPatientCompartment(d.Access, c.Type, c.ID, content), nil
	case c.Type == "Slot" && who.Role == caller.RolePatient:
		// A patient sees the free slots (access.go): a slot that leaves them (taken,
		// blocked, deleted) is told to those who saw it, so that a week of free times on
		// show can drop it. The notified version says no more than that it is not free.
		if was, err := slotWasFree(ctx, db, c, content); was || err != nil {
			return was, err
		}
		if c.Action == "delete" {
			return false, nil
		}
	case c.Action == "delete":
		return false, nil
	}
	return db.Visible(ctx, d.Access, c.Type, c.RID)
}

// notifyDB is what OwnerMaySee reads: whether the stored resource is visible, and the
// version before the notified one.
type notifyDB interface {
	visibility
	VRead(ctx context.Context, typ, id string, version int) (*storage.Resource, error)
}

// slotWasFree tells whether the Slot of change c is free in the notified version or was
// in the one before it.
func slotWasFree(ctx context.Context, db notifyDB, c storage.Change, content []byte) (bool, error) {
	free := func(b []byte) bool {
		var s struct {
			Status string `json:"status"`
		}
		return json.Unmarshal(b, &s) == nil && s.Status == "free"
	}
	if free(content) {
		return true, nil
	}
	if c.Action != "update" || c.VersionID < 2 {
		return false, nil
	}
	prev, err := db.VRead(ctx, c.Type, c.ID, c.VersionID-1)
	switch {
	case errors.Is(err, fhirerr.ErrNotFound) || errors.Is(err, fhirerr.ErrGone):
		return false, nil
	case err != nil:
		return false, err
	}
	return free(prev.Content), nil
}

// byPatientCompartment tells whether every grant of typ in a is the compartment of
// patients, which the content of a version decides. Other grants (a v2 scope's
// parameters, a practitioner's patients) are decided by the stored resource, and see no
// deletions.
func byPatientCompartment(a *search.Access, typ string) bool {
	for _, g := range a.Types[typ] {
		if g.PatientsOf != "" || len(g.Where) > 0 || len(g.Compartments) == 0 {
			return false
		}
		for _, comp := range g.Compartments {
			if comp.Type != "Patient" {
				return false
			}
		}
	}
	return len(a.Types[typ]) > 0
}

// inPatientCompartment tells whether content, a version of typ/id, is in the
// compartment of the patients of one of a's grants for typ.
func inPatientCompartment(a *search.Access, typ, id string, content []byte) bool {
	patients := search.Definitions().PatientsOf(typ, id, content)
	for _, g := range a.Types[typ] {
		all := true
		for _, comp := range g.Compartments {
			all = all && slices.Contains(patients, comp.ID)
		}
		if all {
			return true
		}
	}
	return false
}
