// Package smartauth is careslot's SMART on FHIR front door: it reads the bearer token of
// each request, has it verified (package token), and puts the caller into the request's
// context (package caller) for the layers behind it to decide what the caller may do.
//
// It decides who is calling, never what they may see: that is the policy's job. It
// never logs a token.
package smartauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/token"
)

// Verifier turns a raw access token into its caller; a refusal is a *token.Error.
// Claims skips the revocation check, for tokens careslot has just received from Hydra.
type Verifier interface {
	Verify(ctx context.Context, raw string) (caller.Caller, error)
	Claims(ctx context.Context, raw string) (caller.Caller, error)
}

// Authentication is how requests are authenticated.
type Authentication struct {
	// Verifier checks tokens; nil refuses every token (no authorization server is set up).
	Verifier Verifier
	// Required tells whether a request without a token is refused. Nil requires none:
	// requests without a token go on anonymous, as before SMART.
	Required func(*http.Request) bool
}

// Realm is the realm careslot names in WWW-Authenticate.
const Realm = "careslot"

// Public tells the requests that never need a token: the CapabilityStatement, the SMART
// discovery document, the health check and the authorization pages and endpoints.
func Public(r *http.Request) bool {
	p := r.URL.Path
	return p == "/fhir/metadata" || p == "/fhir/.well-known/smart-configuration" || p == "/healthz" ||
		strings.HasPrefix(p, "/auth/")
}

// WebsocketPath is the subscriptions websocket channel, the one path a tokenless
// websocket upgrade may reach.
const WebsocketPath = "/fhir/websocket"

// BindingUpgrade tells a websocket upgrade of the subscriptions channel (RFC 6455: GET
// with Upgrade: websocket), the only request let in without a token where one is
// required, so that a browser can bind with a binding token. A plain GET is not one.
func BindingUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == WebsocketPath &&
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && headerHasToken(r.Header, "Connection", "upgrade")
}

// headerHasToken tells whether a comma-separated header lists token (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// RequiredOutsidePublic is the Required of a careslot that enforces authentication.
func RequiredOutsidePublic(r *http.Request) bool { return !Public(r) }

// Middleware authenticates each request before next: a valid token puts its caller in
// the context; a bad one is refused with 401 and WWW-Authenticate (RFC 6750), never
// reaching next; no token is refused only where Required says so.
func (a Authentication) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" {
			if a.Required != nil && a.Required(r) {
				// A browser's WebSocket cannot send the header: it binds with a
				// binding token instead, and may do nothing else (subscriptions' hub).
				if BindingUpgrade(r) {
					next.ServeHTTP(w, r.WithContext(caller.WithTokenlessUpgrade(r.Context())))
					return
				}
				refuse(w, http.StatusUnauthorized, `Bearer realm="`+Realm+`"`,
					fhirerr.New(fhirerr.ErrUnauthorized, fhirerr.CodeLogin, "this request needs an access token: Authorization: Bearer <token>"))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		raw, ok := bearer(header)
		if !ok {
			refuseToken(w, "the Authorization header is not a bearer token")
			return
		}
		if a.Verifier == nil {
			refuseToken(w, "this server has no authorization server configured and accepts no token")
			return
		}
		c, err := a.Verifier.Verify(r.Context(), raw)
		if err != nil {
			var te *token.Error
			if errors.As(err, &te) && te.Unavailable {
				w.Header().Set("Retry-After", "5")
				refuse(w, http.StatusServiceUnavailable, "",
					fhirerr.New(fhirerr.ErrUnavailable, "transient", "the access token cannot be checked now: "+te.Description))
				return
			}
			description := "the access token is not valid"
			if te != nil {
				description = te.Description
			}
			refuseToken(w, description)
			return
		}
		next.ServeHTTP(w, r.WithContext(caller.With(r.Context(), c)))
	})
}

// bearer reads "Bearer <token>" (the scheme is case-insensitive, RFC 7235).
func bearer(header string) (string, bool) {
	scheme, raw, ok := strings.Cut(header, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || strings.ContainsAny(raw, " \t") {
		return "", false
	}
	return raw, true
}

func refuseToken(w http.ResponseWriter, description string) {
	challenge := fmt.Sprintf(`Bearer realm=%q, error="invalid_token", error_description=%q`, Realm, description)
	code := fhirerr.CodeLogin
	if strings.Contains(description, "expired") {
		code = "expired"
	}
	refuse(w, http.StatusUnauthorized, challenge, fhirerr.New(fhirerr.ErrUnauthorized, code, description))
}

func refuse(w http.ResponseWriter, status int, challenge string, fe *fhirerr.Error) {
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(fe.JSON())
}
