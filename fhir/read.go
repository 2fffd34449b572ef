package fhir

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/gorilla/mux"
)

// read answers GET [type]/[id]: the current version, 404 if unknown, 410 if deleted,
// 304 when If-None-Match names the current version.
func (s *Server) read(w http.ResponseWriter, r *http.Request) error {
	typ, err := s.resourceType(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := s.authorize(ctx, scope.Read, typ, nil); err != nil {
		return err
	}
	// The row and whether the caller may see it, in one round trip; Authorize then takes
	// that answer instead of asking the database again.
	db := s.reader(ctx)
	res, visible, err := db.ReadVisible(ctx, s.rules.ReadAccess(ctx, typ), typ, mux.Vars(r)["id"])
	var seen visibility = db
	if res != nil {
		seen = knownVisibility{reader: db, rid: res.RID, visible: visible}
	}
	return s.answerRead(w, r, typ, res, err, seen)
}

// visibility is what Authorize asks whether the caller may see a stored resource.
type visibility interface {
	Visible(ctx context.Context, a *search.Access, typ string, rid int64) (bool, error)
}

// knownVisibility answers for the resource rid with what its read already found out
// under the caller's read access (storage.ReadVisible with Rules.ReadAccess, the very
// access Authorize checks a read against), and asks the database about any other.
type knownVisibility struct {
	reader
	rid     int64
	visible bool
}

func (k knownVisibility) Visible(ctx context.Context, a *search.Access, typ string, rid int64) (bool, error) {
	if rid == k.rid {
		return k.visible, nil
	}
	return k.reader.Visible(ctx, a, typ, rid)
}

// vread answers GET [type]/[id]/_history/[vid].
func (s *Server) vread(w http.ResponseWriter, r *http.Request) error {
	typ, err := s.resourceType(r)
	if err != nil {
		return err
	}
	vid, err := strconv.Atoi(mux.Vars(r)["vid"])
	if err != nil || vid < 1 {
		return errorf(fhirerr.ErrNotFound, fhirerr.CodeNotFound, "no such version")
	}
	if err := s.authorize(r.Context(), scope.Read, typ, nil); err != nil {
		return err
	}
	res, err := s.reader(r.Context()).VRead(r.Context(), typ, mux.Vars(r)["id"], vid)
	return s.answerRead(w, r, typ, res, err, s.reader(r.Context()))
}

// answerRead answers a read or vread; a resource the caller may not see, live or
// deleted, is answered as one that does not exist (resources.Authorize, asking seen).
func (s *Server) answerRead(w http.ResponseWriter, r *http.Request, typ string, res *storage.Resource, err error, seen visibility) error {
	if res != nil {
		if err := s.rules.Authorize(r.Context(), seen, scope.Read, typ, res); err != nil {
			return err
		}
	}
	if err != nil {
		if res != nil && res.Deleted {
			setVersionHeaders(w, res)
		}
		return err
	}
	audit.Touch(r.Context(), res.Type, res.ID, res.Content)
	setVersionHeaders(w, res)
	if notModified(r, res) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if typ == "Binary" {
		return s.answerBinary(w, r, res)
	}
	body, err := summarize(r, res.Content)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, body)
	return nil
}

// notModified reports whether the client's copy is current. If-Modified-Since counts only
// without If-None-Match (RFC 9110 13.1.3): Last-Modified has whole seconds, so two versions
// written in one second look alike to it, but not to the ETag.
func notModified(r *http.Request, res *storage.Resource) bool {
	if match := r.Header.Get("If-None-Match"); match != "" {
		return etagMatches(match, res.VersionID)
	}
	if since := r.Header.Get("If-Modified-Since"); since != "" {
		t, err := http.ParseTime(since)
		return err == nil && !res.LastUpdated.Truncate(1e9).After(t)
	}
	return false
}

// etagMatches reports whether an If-None-Match list names version.
func etagMatches(header string, version int) bool {
	for _, tag := range strings.Split(header, ",") {
		if strings.TrimSpace(tag) == "*" {
			return true
		}
		if v, err := parseETag(tag); err == nil && v == version {
			return true
		}
	}
	return false
}
