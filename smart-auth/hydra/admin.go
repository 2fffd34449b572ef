// Package hydra is careslot's side of Ory Hydra's admin API (through hydra-client-go):
// introspection, the login, consent and logout requests, and client registration.
//
// Hydra's admin port must never be reachable by clients; only careslot talks to it. This
// package holds no flow logic: the pages that drive the flows are in package signin.
package hydra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	hydraclient "github.com/ory/hydra-client-go/v2"
)

// Admin talks to Hydra's admin API.
type Admin struct {
	URL string // e.g. http://127.0.0.1:4445
	api *hydraclient.APIClient
}

// NewAdmin returns a client of the admin API at adminURL.
func NewAdmin(adminURL string) (*Admin, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the admin URL of Hydra, %q, is not an absolute http(s) URL", adminURL)
	}
	cfg := hydraclient.NewConfiguration()
	cfg.Servers = hydraclient.ServerConfigurations{{URL: strings.TrimRight(adminURL, "/")}}
	cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	cfg.UserAgent = "careslot"
	return &Admin{URL: strings.TrimRight(adminURL, "/"), api: hydraclient.NewAPIClient(cfg)}, nil
}

// OAuth2 is the admin API's OAuth2 service (login, consent, logout, clients, tokens).
func (a *Admin) OAuth2() hydraclient.OAuth2API { return a.api.OAuth2API }

// Introspect asks Hydra about a token (access or refresh).
func (a *Admin) Introspect(ctx context.Context, raw string) (*hydraclient.IntrospectedOAuth2Token, error) {
	got, resp, err := a.api.OAuth2API.IntrospectOAuth2Token(ctx).Token(raw).Execute()
	if err != nil {
		return nil, fmt.Errorf("introspect: %w", describe(resp, err))
	}
	return got, nil
}

// Active implements token.Revocation: an access token is active while Hydra says so
// (not expired, not revoked, its consent not withdrawn).
func (a *Admin) Active(ctx context.Context, raw string) (bool, error) {
	got, err := a.Introspect(ctx, raw)
	if err != nil {
		return false, err
	}
	return got.Active && got.GetTokenUse() == "access_token", nil
}

// Ready waits until Hydra's admin API answers its health check, or ctx ends.
func (a *Admin) Ready(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/health/ready", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the admin API of Hydra at %s is not ready: %w", a.URL, errors.Join(ctx.Err(), err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// describe makes an admin API failure readable: the status and Hydra's error body.
func describe(resp *http.Response, err error) error {
	var apiErr *hydraclient.GenericOpenAPIError
	if errors.As(err, &apiErr) && resp != nil {
		return fmt.Errorf("hydra answered %s: %s", resp.Status, strings.TrimSpace(string(apiErr.Body())))
	}
	if resp != nil && resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%w (Hydra answered %s: %s)", err, resp.Status, b)
	}
	return err
}
