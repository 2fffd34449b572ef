package spec

import (
	"encoding/json"
	"fmt"
	"strings"
)

const (
	r4RefPrefix  = "#/definitions/"
	oasRefPrefix = "#/components/schemas/"
)

// r4Schemas returns the R4 JSON schema definitions of roots and of everything they
// reference, with references rewritten to components/schemas. ResourceList (any of the
// 146 resource types, in Bundle entries, Parameters and contained) becomes Resource, an
// object with a resourceType: following it would pull in the whole of R4, and careslot
// validates every resource it reads itself.
func r4Schemas(roots []string) (map[string]any, error) {
	var file struct {
		Definitions map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(r4Schema, &file); err != nil {
		return nil, fmt.Errorf("read the R4 schema: %w", err)
	}
	out := map[string]any{}
	var visit func(name string) error
	visit = func(name string) error {
		if _, done := out[name]; done || name == "ResourceList" {
			return nil
		}
		def, ok := file.Definitions[name]
		if !ok {
			return fmt.Errorf("the R4 schema has no definition %q", name)
		}
		var refs []string
		out[name] = rewrite(def, &refs)
		for _, r := range refs {
			if err := visit(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rewrite copies a schema, pointing $refs at components/schemas and collecting the names
// they reference.
func rewrite(v any, refs *[]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" && strings.HasPrefix(s, r4RefPrefix) {
				name := strings.TrimPrefix(s, r4RefPrefix)
				if name == "ResourceList" {
					name = "Resource"
				} else {
					*refs = append(*refs, name)
				}
				out[k] = oasRefPrefix + name
				continue
			}
			out[k] = rewrite(x, refs)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = rewrite(x, refs)
		}
		return out
	default:
		return v
	}
}

// extraSchemas are the schemas that are not R4 resources: any resource, and the OAuth2
// answers of the authorization endpoints.
func extraSchemas() map[string]any {
	str := map[string]any{"type": "string"}
	return map[string]any{
		"Resource": map[string]any{
			"description": "Any FHIR R4 resource (careslot validates it against its type's definition).",
			"type":        "object",
			"required":    []string{"resourceType"},
			"properties":  map[string]any{"resourceType": map[string]any{"type": "string", "pattern": "^[A-Z][A-Za-z]+$"}},
			// Said outright: linters check examples as if unlisted properties were refused.
			"additionalProperties": true,
		},
		"TokenResponse": map[string]any{
			"description": "RFC 6749 5.1 access token response, with SMART's launch context (patient, encounter) when granted.",
			"type":        "object",
			"required":    []string{"access_token", "token_type"},
			"properties": map[string]any{
				"access_token": str, "token_type": str, "expires_in": map[string]any{"type": "integer"},
				"scope": str, "refresh_token": str, "id_token": str, "patient": str, "encounter": str,
			},
		},
		"OAuthError": map[string]any{
			"description": "RFC 6749 5.2 error response.",
			"type":        "object",
			"required":    []string{"error"},
			"properties":  map[string]any{"error": str, "error_description": str, "error_hint": str},
		},
		"IntrospectionResponse": map[string]any{
			"description": "RFC 7662 token introspection response.",
			"type":        "object",
			"required":    []string{"active"},
			"properties": map[string]any{
				"active": map[string]any{"type": "boolean"}, "scope": str, "client_id": str, "sub": str,
				"exp": map[string]any{"type": "integer"}, "iat": map[string]any{"type": "integer"},
				"aud": map[string]any{"type": "array", "items": str}, "iss": str, "token_type": str,
				"patient": str, "encounter": str, "fhirUser": str,
			},
		},
		"SmartConfiguration": map[string]any{
			"description": "SMART App Launch 2 discovery document ([base]/.well-known/smart-configuration).",
			"type":        "object",
			"required":    []string{"authorization_endpoint", "token_endpoint", "capabilities"},
			"properties": map[string]any{
				"issuer": str, "jwks_uri": str, "authorization_endpoint": str, "token_endpoint": str,
				"introspection_endpoint": str, "revocation_endpoint": str, "end_session_endpoint": str,
				"token_endpoint_auth_methods_supported":            map[string]any{"type": "array", "items": str},
				"token_endpoint_auth_signing_alg_values_supported": map[string]any{"type": "array", "items": str},
				"grant_types_supported":                            map[string]any{"type": "array", "items": str},
				"scopes_supported":                                 map[string]any{"type": "array", "items": str},
				"response_types_supported":                         map[string]any{"type": "array", "items": str},
				"code_challenge_methods_supported":                 map[string]any{"type": "array", "items": str},
				"capabilities":                                     map[string]any{"type": "array", "items": str},
			},
		},
		"Health": map[string]any{
			"description": "ok, or degraded when the broker or the outbox relay is in trouble (writes still succeed); 503 when the database does not answer.",
			"type":        "object",
			"required":    []string{"status"},
			"properties": map[string]any{
				"status":   map[string]any{"type": "string", "enum": []string{"ok", "degraded", "unavailable"}},
				"database": str, "broker": map[string]any{}, "relay": map[string]any{},
			},
		},
	}
}
