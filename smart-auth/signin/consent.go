package signin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/careslot/careslot/smart-auth/token"
	"github.com/careslot/careslot/storage"
	hydraclient "github.com/ory/hydra-client-go/v2"
)

// maxPatientChoices bounds the patient picker.
const maxPatientChoices = 500

// consentState is what careslot decides about a consent request, from Hydra's request and
// careslot's own records, never from the browser's form.
type consentState struct {
	request  *hydraclient.OAuth2ConsentRequest
	user     storage.User
	scopes   []string // what may be granted: the request without system/ scopes
	patient  string   // the launch patient, when already known
	encnt    string   // the launch encounter
	pick     bool     // a practitioner or admin must pick the patient
	choices  []storage.PatientChoice
	rejected string // an OAuth2 error description: refuse the request
}

// consentFor loads and decides a consent request.
func (s *Server) consentFor(ctx context.Context, challenge string) (*consentState, error) {
	if challenge == "" {
		return nil, errors.New("no consent_challenge")
	}
	cr, _, err := s.admin.OAuth2().GetOAuth2ConsentRequest(ctx).ConsentChallenge(challenge).Execute()
	if err != nil {
		return nil, err
	}
	user, err := s.store.UserByID(ctx, cr.GetSubject())
	if err != nil {
		return nil, err
	}
	st := &consentState{request: cr, user: user}
	for _, sc := range cr.RequestedScope {
		// A user's app never gets a backend service's scopes.
		if !strings.HasPrefix(sc, "system/") {
			st.scopes = append(st.scopes, sc)
		}
	}
	ok, query := s.audOK(cr.GetRequestUrl())
	if !ok {
		st.rejected = "aud must be this server's FHIR base URL, " + s.cfg.BaseURL
		return st, nil
	}
	own := ""
	if user.Role == "patient" {
		own = strings.TrimPrefix(user.FHIRUser, "Patient/")
	}
	switch {
	case slices.Contains(st.scopes, "launch"):
		// EHR launch: the launch value careslot issued resolves to its context.
		launch, err := s.store.LaunchByID(ctx, query.Get("launch"))
		if errors.Is(err, storage.ErrNoUser) || query.Get("launch") == "" {
			st.rejected = "the launch parameter is missing, unknown or expired"
			return st, nil
		} else if err != nil {
			return nil, err
		}
		if launch.UserID != user.ID {
			st.rejected = "the launch was created for another user"
			return st, nil
		}
		if own != "" && launch.Patient != "" && launch.Patient != own {
			st.rejected = "a patient can only launch with their own record"
			return st, nil
		}
		st.patient, st.encnt = launch.Patient, launch.Encounter
	case own != "":
		st.patient = own
	case slices.Contains(st.scopes, "launch/patient"):
		st.pick = true
		practitioner := ""
		if user.Role == "practitioner" {
			practitioner = strings.TrimPrefix(user.FHIRUser, "Practitioner/")
		}
		if st.choices, err = s.store.PatientsOf(ctx, practitioner, maxPatientChoices); err != nil {
			return nil, err
		}
	}
	if own != "" {
		st.patient = own // a patient's apps always work on the patient's own record
	}
	return st, nil
}

// loadConsent decides a consent request and answers for the handler when it is unknown
// or must be refused; nil means the handler has answered.
func (s *Server) loadConsent(w http.ResponseWriter, r *http.Request, challenge string) *consentState {
	st, err := s.consentFor(r.Context(), challenge)
	if err != nil {
		s.hydraFailed(w, "get consent request", err)
		return nil
	}
	if st.rejected != "" {
		s.rejectConsent(w, r, challenge, "invalid_request", st.rejected)
		return nil
	}
	return st
}

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	st := s.loadConsent(w, r, challenge)
	if st == nil {
		return
	}
	s.render(w, http.StatusOK, "consent.html", pageData{Title: "Allow access", CSRF: csrfToken(w, r), Challenge: challenge,
		Client: clientName(st.request.Client), User: st.user.Username, Scopes: st.scopes,
		PickPatient: st.pick, Patients: st.choices, Patient: st.patient})
}

func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || !csrfValid(r) {
		s.message(w, http.StatusForbidden, "Refused", "The form has expired or did not come from this site. Go back to the app and start again.")
		return
	}
	challenge := r.PostFormValue("consent_challenge")
	st := s.loadConsent(w, r, challenge)
	if st == nil {
		return
	}
	if r.PostFormValue("action") != "allow" {
		s.rejectConsent(w, r, challenge, "access_denied", "the user denied access")
		return
	}
	if st.pick {
		chosen := r.PostFormValue("patient")
		if !slices.ContainsFunc(st.choices, func(c storage.PatientChoice) bool { return c.ID == chosen }) {
			s.render(w, http.StatusBadRequest, "consent.html", pageData{Title: "Allow access", Error: "Choose one of the patients listed.",
				CSRF: csrfToken(w, r), Challenge: challenge, Client: clientName(st.request.Client), User: st.user.Username,
				Scopes: st.scopes, PickPatient: true, Patients: st.choices})
			return
		}
		st.patient = chosen
	}
	var granted []string
	for _, sc := range r.PostForm["scope"] {
		if slices.Contains(st.scopes, sc) && !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	s.acceptConsent(w, r, challenge, st, granted)
}

// acceptConsent tells Hydra what to grant: the scopes, careslot's FHIR base as the only
// audience, careslot's claims in the access token (ext) and fhirUser in the ID token.
func (s *Server) acceptConsent(w http.ResponseWriter, r *http.Request, challenge string, st *consentState, granted []string) {
	ext := token.Ext{Role: st.user.Role, FHIRUser: st.user.FHIRUser, Patient: st.patient, Encounter: st.encnt}
	session := hydraclient.AcceptOAuth2ConsentRequestSession{AccessToken: ext.Claims()}
	if slices.Contains(granted, "openid") && slices.Contains(granted, "fhirUser") && st.user.FHIRUser != "" {
		session.IdToken = map[string]any{"fhirUser": s.cfg.BaseURL + "/" + st.user.FHIRUser}
	}
	accept := hydraclient.AcceptOAuth2ConsentRequest{GrantScope: granted, GrantAccessTokenAudience: []string{s.cfg.BaseURL}, Session: &session}
	accept.SetRemember(false)
	to, _, err := s.admin.OAuth2().AcceptOAuth2ConsentRequest(r.Context()).ConsentChallenge(challenge).AcceptOAuth2ConsentRequest(accept).Execute()
	if err != nil {
		s.hydraFailed(w, "accept consent", err)
		return
	}
	redirect(w, r, to)
}

func (s *Server) rejectConsent(w http.ResponseWriter, r *http.Request, challenge, code, description string) {
	to, _, err := s.admin.OAuth2().RejectOAuth2ConsentRequest(r.Context()).ConsentChallenge(challenge).RejectOAuth2Request(reject(code, description)).Execute()
	if err != nil {
		s.hydraFailed(w, "reject consent", err)
		return
	}
	redirect(w, r, to)
}
