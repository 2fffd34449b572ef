package signin

import (
	"net/http"
)

// logoutPage asks the user to confirm an OpenID Connect logout that an app started.
func (s *Server) logoutPage(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("logout_challenge")
	if _, _, err := s.admin.OAuth2().GetOAuth2LogoutRequest(r.Context()).LogoutChallenge(challenge).Execute(); err != nil {
		s.hydraFailed(w, "get logout request", err)
		return
	}
	s.render(w, http.StatusOK, "logout.html", pageData{Title: "Sign out", CSRF: csrfToken(w, r), Challenge: challenge})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !csrfValid(r) {
		s.message(w, http.StatusForbidden, "Refused", "The form has expired or did not come from this site.")
		return
	}
	challenge := r.PostFormValue("logout_challenge")
	if r.PostFormValue("action") != "logout" {
		if _, err := s.admin.OAuth2().RejectOAuth2LogoutRequest(r.Context()).LogoutChallenge(challenge).Execute(); err != nil {
			s.hydraFailed(w, "reject logout", err)
			return
		}
		s.message(w, http.StatusOK, "Still signed in", "You are still signed in. You can close this page.")
		return
	}
	to, _, err := s.admin.OAuth2().AcceptOAuth2LogoutRequest(r.Context()).LogoutChallenge(challenge).Execute()
	if err != nil {
		s.hydraFailed(w, "accept logout", err)
		return
	}
	redirect(w, r, to)
}

// loggedOut is where Hydra sends the browser after a logout without a redirect of the app's.
func (s *Server) loggedOut(w http.ResponseWriter, r *http.Request) {
	s.message(w, http.StatusOK, "Signed out", "You have signed out of careslot.")
}
