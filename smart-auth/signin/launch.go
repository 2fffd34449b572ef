package signin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/storage"
)

// launchRequest is the body of POST /auth/launch: the context an EHR user launches an app
// with. Patient and Encounter are logical ids on this server.
type launchRequest struct {
	Patient   string `json:"patient"`
	Encounter string `json:"encounter,omitempty"`
}

// createLaunch issues a launch value for an EHR launch: a practitioner or an admin,
// signed in to the EHR with a careslot token, asks for a launch with a patient (and
// encounter); the app gets the value as `launch` and careslot resolves it at consent,
// for the same user only, within LaunchLifetime.
func (s *Server) createLaunch(w http.ResponseWriter, r *http.Request) {
	c, ok := caller.From(r.Context())
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="careslot"`)
		writeOutcome(w, fhirerr.New(fhirerr.ErrUnauthorized, fhirerr.CodeLogin, "creating a launch needs the access token of a practitioner or an administrator"))
		return
	}
	if c.Role != caller.RolePractitioner && c.Role != caller.RoleAdmin {
		writeOutcome(w, fhirerr.Forbidden("only practitioners and administrators launch apps for a patient"))
		return
	}
	var req launchRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&req); err != nil || req.Patient == "" {
		writeOutcome(w, fhirerr.Invalid(`the body must be {"patient": "<id>", "encounter": "<id>"}`))
		return
	}
	for typ, id := range map[string]string{"Patient": req.Patient, "Encounter": req.Encounter} {
		if id == "" {
			continue
		}
		if _, err := s.store.Read(r.Context(), typ, id); err != nil {
			writeOutcome(w, fhirerr.Unprocessable(fhirerr.CodeNotFound, typ+"/"+id+" does not exist"))
			return
		}
	}
	if c.Role == caller.RolePractitioner {
		mine, err := s.store.HasAppointmentWith(r.Context(), strings.TrimPrefix(c.FHIRUser, "Practitioner/"), req.Patient)
		if err != nil {
			s.log.Error("look up appointments", "err", err)
			writeOutcome(w, fhirerr.From(err))
			return
		}
		if !mine {
			writeOutcome(w, fhirerr.Forbidden("a practitioner launches apps only for patients who have or had an appointment with them"))
			return
		}
	}
	b := make([]byte, 24)
	rand.Read(b)
	l := storage.Launch{ID: base64.RawURLEncoding.EncodeToString(b), UserID: c.Subject, Patient: req.Patient,
		Encounter: req.Encounter, ExpiresAt: time.Now().Add(s.cfg.LaunchLifetime)}
	if err := s.store.CreateLaunch(r.Context(), l); err != nil {
		s.log.Error("create launch", "err", err)
		writeOutcome(w, fhirerr.From(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"launch": l.ID, "patient": l.Patient, "encounter": l.Encounter,
		"expires_in": int(s.cfg.LaunchLifetime.Seconds())})
}

func writeOutcome(w http.ResponseWriter, fe *fhirerr.Error) {
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.WriteHeader(fe.Status())
	w.Write(fe.JSON())
}
