package fhir

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/careslot/careslot/audit"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/storage"
	"github.com/gorilla/mux"
)

// audited serves the interaction code (AuditEvent.action action) with h, recording its
// AuditEvent when it concerns patient data (package audit decides which), and keeps
// AuditEvents for the server to write and admins to read.
func (s *Server) audited(code, action string, h HandlerFunc) http.Handler {
	write := action == audit.ActionCreate || action == audit.ActionUpdate || action == audit.ActionDelete
	inner := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if err := guardAuditEvents(r, write); err != nil {
			return err
		}
		return h(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars := mux.Vars(r)
		in := audit.Interaction{Code: code, Action: action, Type: vars["type"], ID: vars["id"], Write: write}
		if c := vars["compartment"]; c != "" {
			in.ID, in.Compartment = "", c+"/"+vars["id"]
		}
		audit.Serve(w, r, in, inner)
	})
}

// guardAuditEvents refuses what no client may do to AuditEvents: write one (careslot
// alone records them: 405), or read one without being an admin or a backend service
// (403), including through _include, _revinclude, _has or a chain from another type.
func guardAuditEvents(r *http.Request, write bool) error {
	typ := mux.Vars(r)["type"]
	if write {
		if typ == storage.AuditType {
			return errorf(fhirerr.ErrMethodNotAllowed, fhirerr.CodeNotSupported,
				"AuditEvents are recorded by careslot itself: no client may create, update or delete one")
		}
		return nil
	}
	if c, ok := caller.From(r.Context()); ok && c.Unrestricted() {
		return nil
	}
	if typ == storage.AuditType || namesAuditEvents(r.URL.Query()) {
		return errorf(fhirerr.ErrForbidden, fhirerr.CodeForbidden, "only an administrator may read AuditEvents")
	}
	return nil
}

// namesAuditEvents tells whether search parameters reach AuditEvents from another type.
func namesAuditEvents(params url.Values) bool {
	for key, values := range params {
		if strings.HasPrefix(key, "_has:"+storage.AuditType+":") || strings.Contains(key, ":"+storage.AuditType+".") ||
			strings.Contains(key, ":"+storage.AuditType+":") {
			return true
		}
		if key == "_include" || key == "_revinclude" || strings.HasPrefix(key, "_include:") || strings.HasPrefix(key, "_revinclude:") {
			for _, v := range values {
				if strings.HasPrefix(v, storage.AuditType+":") || strings.HasSuffix(v, ":"+storage.AuditType) || v == "*" {
					return true
				}
			}
		}
	}
	return false
}
