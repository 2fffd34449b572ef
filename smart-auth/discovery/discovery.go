// Package discovery describes careslot's SMART on FHIR authorization to clients: the
// document at [base]/.well-known/smart-configuration (SMART App Launch 2.x) and the
// security section of the CapabilityStatement. It only describes; it decides nothing.
package discovery

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Config is where the endpoints are.
type Config struct {
	BaseURL        string // careslot's FHIR base, e.g. https://fhir.example.org/fhir
	HydraPublicURL string // Hydra's public URL (JWKS)
	Issuer         string // Hydra's issuer
}

// Capabilities are the SMART capabilities careslot supports.
var Capabilities = []string{
	"launch-ehr", "launch-standalone", "authorize-post",
	"client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
	"sso-openid-connect", "context-ehr-patient", "context-standalone-patient",
	"permission-offline", "permission-patient", "permission-user", "permission-v1", "permission-v2",
}

// ScopesSupported are the scopes careslot names in its discovery document (resource
// scopes are open-ended: any type, any of the v1 and v2 forms).
var ScopesSupported = []string{
	"openid", "fhirUser", "launch", "launch/patient", "offline_access",
	"patient/*.rs", "patient/*.cruds", "patient/*.read", "patient/*.write", "patient/*.*",
	"user/*.rs", "user/*.cruds", "user/*.read", "user/*.write", "user/*.*",
	"system/*.rs", "system/*.cruds", "system/*.read", "system/*.write", "system/*.*",
}

// authRoot is careslot's root URL: the FHIR base without its last segment (/fhir).
func (c Config) authRoot() string {
	base := strings.TrimRight(c.BaseURL, "/")
	if i := strings.LastIndex(base, "/"); i > len("https://") {
		return base[:i]
	}
	return base
}

// Endpoint is the URL of careslot's /auth/<name>.
func (c Config) Endpoint(name string) string { return c.authRoot() + "/auth/" + name }

// SmartConfiguration is the document at [base]/.well-known/smart-configuration.
func (c Config) SmartConfiguration() map[string]any {
	return map[string]any{
		"issuer":                 c.Issuer,
		"jwks_uri":               strings.TrimRight(c.HydraPublicURL, "/") + "/.well-known/jwks.json",
		"authorization_endpoint": c.Endpoint("authorize"),
		"token_endpoint":         c.Endpoint("token"),
		"introspection_endpoint": c.Endpoint("introspect"),
		"revocation_endpoint":    c.Endpoint("revoke"),
		// OpenID Connect RP-Initiated Logout: where an app ends the user's Hydra session.
		"end_session_endpoint":                             strings.TrimRight(c.HydraPublicURL, "/") + "/oauth2/sessions/logout",
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"},
		"grant_types_supported":                            []string{"authorization_code", "client_credentials", "refresh_token"},
		"scopes_supported":                                 ScopesSupported,
		"response_types_supported":                         []string{"code"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"capabilities":                                     Capabilities,
	}
}

// CapabilitySecurity is CapabilityStatement.rest.security: the SMART-on-FHIR service and
// the oauth-uris extension.
func (c Config) CapabilitySecurity() map[string]any {
	return map[string]any{
		"cors": true,
		"service": []any{map[string]any{
			"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
				"code": "SMART-on-FHIR", "display": "SMART-on-FHIR"}},
			"text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
		}},
		"extension": []any{map[string]any{
			"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
			"extension": []any{
				map[string]any{"url": "authorize", "valueUri": c.Endpoint("authorize")},
				map[string]any{"url": "token", "valueUri": c.Endpoint("token")},
				map[string]any{"url": "introspect", "valueUri": c.Endpoint("introspect")},
				map[string]any{"url": "revoke", "valueUri": c.Endpoint("revoke")},
			},
		}},
	}
}

// Handler serves the smart-configuration, to any origin.
func (c Config) Handler() http.Handler {
	doc, _ := json.Marshal(c.SmartConfiguration())
	return CORS("GET, HEAD, OPTIONS", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		if r.Method != http.MethodHead {
			w.Write(doc)
		}
	}))
}

// CORS lets browser apps of any origin call next with methods, without cookies (the
// discovery document, metadata, and the token endpoints where clients authenticate in
// the request itself).
func CORS(methods string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", methods)
			w.Header().Set("Access-Control-Allow-Headers", "Accept, Authorization, Content-Type")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
