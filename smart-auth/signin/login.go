package signin

import (
	"errors"
	"net/http"
	"time"

	"github.com/careslot/careslot/storage"
	hydraclient "github.com/ory/hydra-client-go/v2"
)

// rememberLogin is how long Hydra keeps a browser signed in.
const rememberLogin = time.Hour

// loginPage answers Hydra's redirect to the login app: it refuses a request for another
// audience, lets a user Hydra already knows through, and otherwise asks for a password.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	lr := s.loadLogin(w, r, challenge)
	if lr == nil {
		return
	}
	if lr.Skip {
		// Hydra remembers this browser's sign-in: the user is not asked again.
		s.acceptLogin(w, r, challenge, lr.Subject, false)
		return
	}
	s.render(w, http.StatusOK, "login.html", pageData{Title: "Sign in", CSRF: csrfToken(w, r), Challenge: challenge, Client: clientName(&lr.Client)})
}

// loadLogin reads a login request from Hydra and refuses one whose aud is not careslot's
// FHIR base: such a request gets no code. nil means the handler has answered.
func (s *Server) loadLogin(w http.ResponseWriter, r *http.Request, challenge string) *hydraclient.OAuth2LoginRequest {
	lr, err := s.loginRequest(r.Context(), challenge)
	if err != nil {
		s.hydraFailed(w, "get login request", err)
		return nil
	}
	if ok, _ := s.audOK(lr.RequestUrl); !ok {
		s.rejectLogin(w, r, challenge, "invalid_request", "aud must be this server's FHIR base URL, "+s.cfg.BaseURL)
		return nil
	}
	return lr
}

// login checks the posted username and password.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !csrfValid(r) {
		s.message(w, http.StatusForbidden, "Sign-in refused", "The form has expired or did not come from this site. Go back to the app and start again.")
		return
	}
	challenge := r.PostFormValue("login_challenge")
	lr := s.loadLogin(w, r, challenge)
	if lr == nil {
		return
	}
	if r.PostFormValue("action") == "cancel" {
		s.rejectLogin(w, r, challenge, "access_denied", "the user cancelled the sign-in")
		return
	}
	username, password := r.PostFormValue("username"), r.PostFormValue("password")
	page := pageData{Title: "Sign in", CSRF: csrfToken(w, r), Challenge: challenge, Client: clientName(&lr.Client), Username: username}
	// A username that failed too often is refused for a while, whatever the password.
	if until, err := s.store.LoginLockedUntil(r.Context(), username); err != nil || !until.IsZero() {
		if err != nil {
			s.log.Error("look up sign-in failures", "err", err)
		}
		page.Error = "Too many wrong passwords for this username. Try again in a few minutes."
		s.render(w, http.StatusTooManyRequests, "login.html", page)
		return
	}
	user, err := s.store.UserByName(r.Context(), username)
	hash := user.PasswordHash
	if err != nil {
		if !errors.Is(err, storage.ErrNoUser) {
			s.log.Error("look up user", "err", err)
			s.message(w, http.StatusInternalServerError, "Sign-in failed", "careslot could not check your password. Try again later.")
			return
		}
		hash = dummyHash
	}
	if !checkPassword(password, hash) || err != nil {
		s.log.Info("sign-in refused", "client", lr.Client.GetClientId())
		if err := s.store.RecordLoginFailure(r.Context(), username); err != nil {
			s.log.Error("record sign-in failure", "err", err)
		}
		page.Error = "Wrong username or password."
		s.render(w, http.StatusUnauthorized, "login.html", page)
		return
	}
	if err := s.store.RecordLoginSuccess(r.Context(), username); err != nil {
		s.log.Error("record sign-in", "err", err)
	}
	s.acceptLogin(w, r, challenge, user.ID, true)
}

// acceptLogin tells Hydra who signed in. A fresh sign-in is remembered for an hour in this
// browser (single sign-on across apps, and what an OpenID Connect logout ends); consent
// is asked every time.
func (s *Server) acceptLogin(w http.ResponseWriter, r *http.Request, challenge, subject string, fresh bool) {
	accept := hydraclient.AcceptOAuth2LoginRequest{Subject: subject}
	if fresh {
		accept.SetRemember(true)
		accept.SetRememberFor(int64(rememberLogin.Seconds()))
	}
	to, _, err := s.admin.OAuth2().AcceptOAuth2LoginRequest(r.Context()).LoginChallenge(challenge).AcceptOAuth2LoginRequest(accept).Execute()
	if err != nil {
		s.hydraFailed(w, "accept login", err)
		return
	}
	redirect(w, r, to)
}

func (s *Server) rejectLogin(w http.ResponseWriter, r *http.Request, challenge, code, description string) {
	to, _, err := s.admin.OAuth2().RejectOAuth2LoginRequest(r.Context()).LoginChallenge(challenge).RejectOAuth2Request(reject(code, description)).Execute()
	if err != nil {
		s.hydraFailed(w, "reject login", err)
		return
	}
	redirect(w, r, to)
}
