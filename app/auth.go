package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	smartauth "github.com/careslot/careslot/smart-auth"
	"github.com/careslot/careslot/smart-auth/discovery"
	"github.com/careslot/careslot/smart-auth/hydra"
	"github.com/careslot/careslot/smart-auth/relay"
	"github.com/careslot/careslot/smart-auth/signin"
	"github.com/careslot/careslot/smart-auth/token"
	"github.com/careslot/careslot/storage"
)

// AuthConfig is how careslot checks access tokens.
type AuthConfig struct {
	// HydraPublicURL (CARESLOT_HYDRA_PUBLIC_URL) is Hydra's public URL as clients reach it:
	// its JWKS, authorization endpoint and issuer. Empty means no authorization server:
	// every token is refused.
	HydraPublicURL string
	// HydraInternalURL (CARESLOT_HYDRA_INTERNAL_URL) is Hydra's public URL as careslot
	// itself reaches it (JWKS, token and revocation relays), when that differs from
	// HydraPublicURL (e.g. http://hydra:4444 inside docker compose); default HydraPublicURL.
	HydraInternalURL string
	// HydraAdminURL (CARESLOT_HYDRA_ADMIN_URL) is Hydra's admin API, reachable by careslot
	// only: introspection (revocation checks), login, consent and logout.
	HydraAdminURL string
	// Issuer (CARESLOT_OAUTH_ISSUER) is the iss of Hydra's tokens; default HydraPublicURL
	// with a trailing slash, as Hydra writes it.
	Issuer string
	// Anonymous serves requests without a token, with the server's own access to
	// everything. Only for measuring what a token costs (the benchmarks): careslot serve
	// never sets it, and without it every request but the public paths
	// (smartauth.Public) needs a valid token.
	Anonymous bool

	// Keys and Revocation replace Hydra's JWKS and introspection, for tests (smarttest).
	Keys       token.Keys
	Revocation token.Revocation
}

// authentication builds the token middleware's configuration; the keys are fetched in
// the background until ctx ends.
func authentication(ctx context.Context, cfg Config) (smartauth.Authentication, error) {
	a := smartauth.Authentication{}
	if !cfg.Auth.Anonymous {
		a.Required = smartauth.RequiredOutsidePublic
	}
	keys, revocation, issuer := cfg.Auth.Keys, cfg.Auth.Revocation, cfg.Auth.issuer()
	public := strings.TrimRight(cfg.Auth.internalURL(), "/")
	if keys == nil && public != "" {
		var err error
		if keys, err = token.NewRemoteKeys(ctx, public+"/.well-known/jwks.json"); err != nil {
			return a, err
		}
	}
	if revocation == nil && cfg.Auth.HydraAdminURL != "" {
		admin, err := hydra.NewAdmin(cfg.Auth.HydraAdminURL)
		if err != nil {
			return a, err
		}
		revocation = admin
	}
	if keys == nil || revocation == nil {
		return a, nil // no authorization server: every token is refused
	}
	v, err := token.New(token.Config{Issuer: issuer, Audience: strings.TrimRight(cfg.BaseURL, "/"), Keys: keys, Revocation: revocation})
	if err != nil {
		return a, fmt.Errorf("token verifier: %w", err)
	}
	a.Verifier = v
	return a, nil
}

// issuer is Hydra's issuer: configured, or its public URL with a trailing slash.
func (c AuthConfig) issuer() string {
	if c.Issuer != "" {
		return c.Issuer
	}
	if c.HydraPublicURL == "" {
		return ""
	}
	return strings.TrimRight(c.HydraPublicURL, "/") + "/"
}

func (c AuthConfig) internalURL() string {
	if c.HydraInternalURL != "" {
		return c.HydraInternalURL
	}
	return c.HydraPublicURL
}

func (c AuthConfig) discovery(baseURL string) discovery.Config {
	return discovery.Config{BaseURL: baseURL, HydraPublicURL: c.HydraPublicURL, Issuer: c.issuer()}
}

// mountAuthorization serves careslot's part of the authorization server when Hydra is
// configured: discovery, the login, consent and logout pages, EHR launches, and the
// token, introspection and revocation endpoints relayed to Hydra.
func mountAuthorization(mux *http.ServeMux, cfg Config, discover discovery.Config, auth smartauth.Authentication, store *storage.Store, log *slog.Logger) error {
	if cfg.Auth.HydraPublicURL == "" || cfg.Auth.HydraAdminURL == "" {
		return nil
	}
	admin, err := hydra.NewAdmin(cfg.Auth.HydraAdminURL)
	if err != nil {
		return err
	}
	mux.Handle("/fhir/.well-known/smart-configuration", discover.Handler())
	signin.New(signin.Config{BaseURL: cfg.BaseURL, HydraPublicURL: cfg.Auth.HydraPublicURL}, admin, store, log).Register(mux, auth.Middleware)
	if auth.Verifier != nil {
		relay.New(relay.Config{BaseURL: cfg.BaseURL, HydraPublicURL: cfg.Auth.internalURL()}, admin, auth.Verifier, log).Register(mux)
	}
	return nil
}
