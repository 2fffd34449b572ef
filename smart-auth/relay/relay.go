// Package relay serves the OAuth2 endpoints that careslot's smart-configuration names
// and Hydra answers: token (/auth/token), introspection (/auth/introspect) and
// revocation (/auth/revoke). careslot passes each request on to Hydra unchanged (Hydra
// authenticates the client and mints the tokens) and adds to a token response only the
// launch context that SMART puts at its top level (patient, encounter), read from the
// access token Hydra just issued.
//
// It never mints, never alters a token, and never logs a request or response body.
package relay

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/discovery"
	"github.com/careslot/careslot/smart-auth/hydra"
)

// Verifier reads the caller of an access token: Verify for a token a client presents
// (revocation included), Claims for one the relay has just received from Hydra.
type Verifier interface {
	Verify(ctx context.Context, raw string) (caller.Caller, error)
	Claims(ctx context.Context, raw string) (caller.Caller, error)
}

// Config is where the relay sends requests.
type Config struct {
	BaseURL        string // careslot's FHIR base: the audience client_credentials tokens get
	HydraPublicURL string // Hydra's public URL as careslot reaches it
}

// Relay serves the endpoints.
type Relay struct {
	cfg      Config
	admin    *hydra.Admin
	verifier Verifier
	client   *http.Client
	log      *slog.Logger
}

// New makes the relay.
func New(cfg Config, admin *hydra.Admin, verifier Verifier, log *slog.Logger) *Relay {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.HydraPublicURL = strings.TrimRight(cfg.HydraPublicURL, "/")
	client := &http.Client{Timeout: 10 * time.Second,
		// Hydra's token endpoint never redirects; a redirect is not followed with the client's credentials.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Relay{cfg: cfg, admin: admin, verifier: verifier, client: client, log: log}
}

// Register mounts the endpoints on mux, with CORS for browser apps (no credentials: the
// client authenticates in the request itself).
func (rl *Relay) Register(mux *http.ServeMux) {
	for path, h := range map[string]http.HandlerFunc{"/auth/token": rl.token, "/auth/revoke": rl.revoke, "/auth/introspect": rl.introspect} {
		mux.Handle(path, discovery.CORS("POST, OPTIONS", h))
	}
}

// maxForm bounds a token, revocation or introspection request.
const maxForm = 64 << 10

// readForm reads an application/x-www-form-urlencoded body, as RFC 6749 requires.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return nil, false
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForm))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is too large or could not be read")
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a valid form")
		return nil, false
	}
	return form, true
}

// token relays a token request to Hydra. For client_credentials it asks for careslot's
// FHIR base as the audience when the client named none (SMART Backend Services clients
// do not send one); a successful answer gains patient and encounter from the token.
func (rl *Relay) token(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	if form.Get("grant_type") == "client_credentials" && form.Get("audience") == "" {
		form.Set("audience", rl.cfg.BaseURL)
	}
	resp, body, err := rl.post(r, "/oauth2/token", form)
	if err != nil {
		rl.log.Warn("relay token request", "err", err)
		oauthError(w, http.StatusBadGateway, "temporarily_unavailable", "the authorization server did not answer")
		return
	}
	if resp.StatusCode == http.StatusOK {
		body = rl.withLaunchContext(r.Context(), body)
	}
	copyAnswer(w, resp, body)
}

// withLaunchContext adds SMART's patient and encounter to a token response, from the
// claims of the access token in it. A token careslot cannot read is relayed as it is.
func (rl *Relay) withLaunchContext(ctx context.Context, body []byte) []byte {
	var answer map[string]any
	if err := json.Unmarshal(body, &answer); err != nil {
		return body
	}
	raw, _ := answer["access_token"].(string)
	c, err := rl.verifier.Claims(ctx, raw)
	if err != nil {
		return body
	}
	changed := false
	if c.Patient != "" && slices.ContainsFunc(c.Scopes, launchScope) {
		answer["patient"], changed = c.Patient, true
	}
	if c.Encounter != "" {
		answer["encounter"], changed = c.Encounter, true
	}
	if !changed {
		return body
	}
	out, err := json.Marshal(answer)
	if err != nil {
		return body
	}
	return out
}

// launchScope tells the scopes that come with a patient context: an EHR or standalone
// launch, or patient-level access.
func launchScope(s string) bool {
	return s == "launch" || s == "launch/patient" || strings.HasPrefix(s, "patient/")
}

// revoke relays a revocation (RFC 7009) to Hydra, which authenticates the client.
func (rl *Relay) revoke(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	resp, body, err := rl.post(r, "/oauth2/revoke", form)
	if err != nil {
		rl.log.Warn("relay revocation", "err", err)
		oauthError(w, http.StatusBadGateway, "temporarily_unavailable", "the authorization server did not answer")
		return
	}
	copyAnswer(w, resp, body)
}

// post sends form to Hydra's public path with the client's own authentication (the
// Authorization header) and nothing else of the original request.
func (rl *Relay) post(r *http.Request, path string, form url.Values) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, rl.cfg.HydraPublicURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if auth := r.Header.Get("Authorization"); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := rl.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body, err
}

// copyAnswer writes Hydra's answer, never cacheable (RFC 6749 §5.1).
func copyAnswer(w http.ResponseWriter, resp *http.Response, body []byte) {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
		w.Header().Set("WWW-Authenticate", ch)
	}
	noStore(w)
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// oauthError answers with an RFC 6749 §5.2 error.
func oauthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	noStore(w)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}
