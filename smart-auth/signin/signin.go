// Package signin is careslot's part of the authorization server: Hydra's login, consent
// and logout app (server-rendered pages at /auth/login, /auth/consent, /auth/logout),
// the authorization endpoint that careslot names (a redirect to Hydra's), and the EHR
// launch contexts careslot issues (/auth/launch).
//
// It authenticates users with their careslot password and tells Hydra what to grant; it
// never mints a token (Hydra does) and never logs a password or a token.
package signin

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/careslot/careslot/smart-auth/hydra"
	"github.com/careslot/careslot/storage"
	hydraclient "github.com/ory/hydra-client-go/v2"
)

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// Config is what the pages need to know.
type Config struct {
	BaseURL        string // careslot's FHIR base URL: the only aud a SMART app may ask for
	HydraPublicURL string // where /auth/authorize sends the browser
	// LaunchLifetime is how long an EHR launch value may be used (default 5 minutes).
	LaunchLifetime time.Duration
}

// Server serves the pages.
type Server struct {
	cfg   Config
	admin *hydra.Admin
	store *storage.Store
	log   *slog.Logger
}

// New makes the pages' server.
func New(cfg Config, admin *hydra.Admin, store *storage.Store, log *slog.Logger) *Server {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.HydraPublicURL = strings.TrimRight(cfg.HydraPublicURL, "/")
	if cfg.LaunchLifetime <= 0 {
		cfg.LaunchLifetime = 5 * time.Minute
	}
	return &Server{cfg: cfg, admin: admin, store: store, log: log}
}

// Register mounts the pages on mux. The launch endpoint needs an authenticated caller:
// authenticate wraps it with the token middleware.
func (s *Server) Register(mux *http.ServeMux, authenticate func(http.Handler) http.Handler) {
	protect := http.NewCrossOriginProtection()
	mux.Handle("GET /auth/authorize", http.HandlerFunc(s.authorize))
	mux.Handle("POST /auth/authorize", http.HandlerFunc(s.authorize))
	mux.Handle("GET /auth/login", http.HandlerFunc(s.loginPage))
	mux.Handle("POST /auth/login", protect.Handler(http.HandlerFunc(s.login)))
	mux.Handle("GET /auth/consent", http.HandlerFunc(s.consentPage))
	mux.Handle("POST /auth/consent", protect.Handler(http.HandlerFunc(s.consent)))
	mux.Handle("GET /auth/logout", http.HandlerFunc(s.logoutPage))
	mux.Handle("POST /auth/logout", protect.Handler(http.HandlerFunc(s.logout)))
	mux.Handle("GET /auth/logged-out", http.HandlerFunc(s.loggedOut))
	mux.Handle("POST /auth/launch", authenticate(http.HandlerFunc(s.createLaunch)))
}

// authorize sends the browser on to Hydra's authorization endpoint with the same
// parameters. A POSTed authorization request (SMART's authorize-post) becomes a GET, so
// that Hydra's login request keeps every parameter (aud, launch) in its request_url.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.message(w, http.StatusBadRequest, "Bad request", "The authorization request could not be read.")
		return
	}
	params := r.Form
	if r.Method == http.MethodPost {
		params = r.PostForm
	}
	http.Redirect(w, r, s.cfg.HydraPublicURL+"/oauth2/auth?"+params.Encode(), http.StatusSeeOther)
}

type pageData struct {
	Title, Error, CSRF, Challenge string
	Client, Username, User        string
	Message                       string
	Scopes                        []string
	PickPatient                   bool
	Patient                       string
	Patients                      []storage.PatientChoice
}

func (s *Server) render(w http.ResponseWriter, status int, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' "+s.cfg.HydraPublicURL+"; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, d); err != nil {
		s.log.Error("render sign-in page", "page", name, "err", err)
	}
}

func (s *Server) message(w http.ResponseWriter, status int, title, msg string) {
	s.render(w, status, "message.html", pageData{Title: title, Message: msg})
}

// hydraFailed answers when Hydra does not know a challenge or does not answer.
func (s *Server) hydraFailed(w http.ResponseWriter, what string, err error) {
	s.log.Warn("hydra admin API", "call", what, "err", err)
	s.message(w, http.StatusBadRequest, "Sign-in request not found",
		"This sign-in request is unknown or has expired. Go back to the app and start again.")
}

// redirect sends the browser where Hydra says; 303 so that a POST becomes a GET.
func redirect(w http.ResponseWriter, r *http.Request, to *hydraclient.OAuth2RedirectTo) {
	http.Redirect(w, r, to.RedirectTo, http.StatusSeeOther)
}

// audOK checks SMART's aud parameter of the authorization request: it must be exactly
// careslot's FHIR base URL, so that an app cannot be tricked into sending its token to
// another server.
func (s *Server) audOK(requestURL string) (bool, url.Values) {
	u, err := url.Parse(requestURL)
	if err != nil {
		return false, nil
	}
	q := u.Query()
	return strings.TrimRight(q.Get("aud"), "/") == s.cfg.BaseURL, q
}

func clientName(c *hydraclient.OAuth2Client) string {
	if c == nil {
		return "An app"
	}
	if name := c.GetClientName(); name != "" {
		return name
	}
	return c.GetClientId()
}

// reject refuses a login or consent request with an OAuth2 error that Hydra sends to the
// app's redirect_uri.
func reject(code, description string) hydraclient.RejectOAuth2Request {
	req := hydraclient.RejectOAuth2Request{}
	req.SetError(code)
	req.SetErrorDescription(description)
	return req
}

func (s *Server) loginRequest(ctx context.Context, challenge string) (*hydraclient.OAuth2LoginRequest, error) {
	if challenge == "" {
		return nil, errors.New("no login_challenge")
	}
	lr, _, err := s.admin.OAuth2().GetOAuth2LoginRequest(ctx).LoginChallenge(challenge).Execute()
	return lr, err
}
