package hydra

import (
	"context"
	"net/http"
	"strings"

	hydraclient "github.com/ory/hydra-client-go/v2"
)

// EnsureClient registers c in Hydra, or replaces the registration of the same client id.
func (a *Admin) EnsureClient(ctx context.Context, c hydraclient.OAuth2Client) error {
	_, resp, err := a.api.OAuth2API.GetOAuth2Client(ctx, c.GetClientId()).Execute()
	switch {
	case err == nil:
		_, resp, err = a.api.OAuth2API.SetOAuth2Client(ctx, c.GetClientId()).OAuth2Client(c).Execute()
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		_, resp, err = a.api.OAuth2API.CreateOAuth2Client(ctx).OAuth2Client(c).Execute()
	}
	if err != nil {
		return describe(resp, err)
	}
	return nil
}

// BackendClient is a SMART Backend Services client: client_credentials only, tokens for
// audience (careslot's FHIR base) with the given system/ scopes. With a secret it
// authenticates with HTTP Basic (client_secret_basic); with jwks instead it signs a
// client assertion (private_key_jwt, RFC 7523) with a key of that set, with the
// algorithm alg (SMART asks for RS384 or ES384).
func BackendClient(id, secret string, jwks any, alg, audience string, scopes ...string) hydraclient.OAuth2Client {
	c := hydraclient.OAuth2Client{
		GrantTypes:    []string{"client_credentials"},
		ResponseTypes: []string{"token"},
		Audience:      []string{audience},
	}
	c.SetClientId(id)
	c.SetClientName(id)
	c.SetScope(strings.Join(scopes, " "))
	c.SetAccessTokenStrategy("jwt")
	if jwks != nil {
		c.Jwks = jwks
		c.SetTokenEndpointAuthMethod("private_key_jwt")
		c.SetTokenEndpointAuthSigningAlg(alg)
	} else {
		c.SetClientSecret(secret)
		c.SetTokenEndpointAuthMethod("client_secret_basic")
	}
	return c
}

// AppClient is a SMART app (authorization code with PKCE, refresh tokens): public when
// secret is "" (PKCE enforced, no client authentication), else confidential with a
// client secret sent with HTTP Basic. Its tokens are for audience (careslot's FHIR
// base), which Hydra checks again at each refresh.
func AppClient(id, secret string, redirectURIs []string, audience string, scopes ...string) hydraclient.OAuth2Client {
	c := hydraclient.OAuth2Client{
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
		RedirectUris:  redirectURIs,
		Audience:      []string{audience},
	}
	c.SetClientId(id)
	c.SetClientName(id)
	c.SetScope(strings.Join(scopes, " "))
	c.SetAccessTokenStrategy("jwt")
	if secret == "" {
		c.SetTokenEndpointAuthMethod("none")
	} else {
		c.SetClientSecret(secret)
		c.SetTokenEndpointAuthMethod("client_secret_basic")
	}
	return c
}
