package spec

import (
	"strings"

	"github.com/careslot/careslot/smart-auth/discovery"
)

// errorResponse is the OperationOutcome answer of one status.
type errorResponse struct {
	name, description string
	code, diagnostics string // the example's issue
	expression        string
}

// errorResponses are careslot's refusals by status (fhir/fhirerr), each with an example.
var errorResponses = map[string]errorResponse{
	"400": {"BadRequest", "The request is malformed: a bad parameter, id or body", "invalid", `"2026-13-01" is not a valid date`, "Appointment.start"},
	"401": {"Unauthorized", "No valid access token (missing where one is required, expired, revoked or for another audience)", "login", "the access token has expired", ""},
	"403": {"Forbidden", "The token's scopes or the caller's role do not allow this", "forbidden", "the token's scopes do not allow read of Coverage", ""},
	"404": {"NotFound", "No such resource, type or operation", "not-found", "Patient/123 is not known", ""},
	"405": {"MethodNotAllowed", "The path does not take this method (e.g. GET on an operation that changes data)", "not-supported", "/fhir/Appointment/$book changes data; call it with POST", ""},
	"409": {"Conflict", "The request conflicts with the current state: a slot already taken, a resource still referenced, a concurrent change", "conflict", "Slot/456 is already booked", "Appointment.slot[0]"},
	"410": {"Gone", "The resource was deleted", "deleted", "Patient/123 was deleted", ""},
	"412": {"PreconditionFailed", "If-Match names another version, or a conditional interaction matched several resources", "conflict", `If-Match is W/"2" but Patient/123 is at version 3`, ""},
	"413": {"TooLarge", "The body is too large", "too-costly", "the body is larger than 16 MiB", ""},
	"415": {"UnsupportedMediaType", "The body is not FHIR JSON", "not-supported", "the body must be application/fhir+json", ""},
	"422": {"Unprocessable", "The resource is valid FHIR but breaks a rule of careslot (a state transition, insurance, an unknown reference)", "business-rule", "the patient has no active Coverage", "Appointment.participant[0].actor"},
}

// components are the document's reusable parts.
func components(schemas map[string]any) map[string]any {
	responses := map[string]any{
		"Error": map[string]any{"description": "Any other refusal: 500 for a bug, 503 when the database is too slow or down (try again)",
			"content": map[string]any{fhirJSON: map[string]any{"schema": schemaRef("OperationOutcome"),
				"example": outcome("transient", "the database did not answer in time; try again", "")}}},
	}
	for _, e := range errorResponses {
		responses[e.name] = map[string]any{"description": e.description,
			"content": map[string]any{fhirJSON: map[string]any{"schema": schemaRef("OperationOutcome"), "example": outcome(e.code, e.diagnostics, e.expression)}}}
	}
	return map[string]any{
		"schemas":         schemas,
		"responses":       responses,
		"parameters":      parameters(),
		"headers":         headers(),
		"securitySchemes": securitySchemes(),
	}
}

func outcome(code, diagnostics, expression string) map[string]any {
	issue := map[string]any{"severity": "error", "code": code, "diagnostics": diagnostics}
	if expression != "" {
		issue["expression"] = []string{expression}
	}
	return map[string]any{"resourceType": "OperationOutcome", "issue": []any{issue}}
}

func parameters() map[string]any {
	str := map[string]any{"type": "string"}
	query := func(name, desc string, schema map[string]any) map[string]any {
		return map[string]any{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
	}
	header := func(name, desc string, example string) map[string]any {
		return map[string]any{"name": name, "in": "header", "required": false, "description": desc, "schema": str, "example": example}
	}
	return map[string]any{
		"id": map[string]any{"name": "id", "in": "path", "required": true, "description": "The logical id",
			"schema": map[string]any{"type": "string", "pattern": "^[A-Za-z0-9\\-\\.]{1,64}$"}},
		"vid": map[string]any{"name": "vid", "in": "path", "required": true, "description": "The version id (1, 2, 3, …)",
			"schema": map[string]any{"type": "string", "pattern": "^[0-9]{1,9}$"}},
		"_format":            query("_format", "json or application/fhir+json (careslot speaks JSON only)", str),
		"_pretty":            query("_pretty", "true indents the answer", map[string]any{"type": "string", "enum": []string{"true", "false"}}),
		"_summary":           query("_summary", "Return a summary", map[string]any{"type": "string", "enum": []string{"true", "false", "text", "data", "count"}}),
		"_elements":          query("_elements", "Comma-separated top-level elements to return", str),
		"_count":             query("_count", "Page size", map[string]any{"type": "string", "pattern": "^[0-9]+$"}),
		"_sort":              query("_sort", "Comma-separated search parameters to sort by, - for descending", str),
		"_total":             query("_total", "Whether Bundle.total is counted", map[string]any{"type": "string", "enum": []string{"none", "estimate", "accurate"}}),
		"_cursor":            query("_cursor", "The page cursor of a next link (opaque)", str),
		"_since":             query("_since", "Only changes at or after this instant", str),
		"_at":                query("_at", "Only versions current at this time (a date or instant, with a prefix)", str),
		"If-None-Match":      header("If-None-Match", "The ETag of the client's copy: 304 when it is current", `W/"3"`),
		"If-Modified-Since":  header("If-Modified-Since", "An HTTP date: 304 when not changed since", "Mon, 30 Nov 2026 09:00:00 GMT"),
		"If-Match":           header("If-Match", "Update only if the current version has this ETag (else 412)", `W/"3"`),
		"X-Security-Context": header("X-Security-Context", "A raw Binary upload's securityContext: the resource it belongs to", "DocumentReference/123"),
		"If-None-Exist":      header("If-None-Exist", "Conditional create: a search query; a match is returned instead of created", "identifier=http://example.org/mrn|12345"),
		"Prefer": header("Prefer", "return=minimal|representation|OperationOutcome; handling=strict|lenient (unknown search or operation parameters)",
			"return=representation"),
	}
}

func headers() map[string]any {
	str := map[string]any{"type": "string"}
	return map[string]any{
		"ETag":               map[string]any{"description": "The weak ETag of the version, W/\"[versionId]\"", "schema": str},
		"Last-Modified":      map[string]any{"description": "meta.lastUpdated as an HTTP date", "schema": str},
		"Location":           map[string]any{"description": "[base]/[type]/[id]/_history/[vid] of the new version", "schema": str},
		"X-Security-Context": map[string]any{"description": "A Binary's securityContext (the resource it belongs to), on a read of its bytes", "schema": str},
		"Expires":            map[string]any{"description": "When a $hold lapses, as an HTTP date (also the hold-expires extension)", "schema": str},
	}
}

// securitySchemes are SMART on FHIR's OAuth2 flows at careslot's endpoints (relative to
// this server), with the scopes careslot's discovery document names.
func securitySchemes() map[string]any {
	user := map[string]any{}
	system := map[string]any{}
	for _, s := range discovery.ScopesSupported {
		desc := scopeDescription(s)
		if strings.HasPrefix(s, "system/") {
			system[s] = desc
			continue
		}
		user[s] = desc
	}
	return map[string]any{
		"smart": map[string]any{
			"type": "oauth2",
			"description": "SMART App Launch 2 through Ory Hydra. Apps use the authorization code flow with PKCE (S256) and send " +
				"`aud` = careslot's FHIR base; backend services use client credentials (client_secret_basic or private_key_jwt). " +
				"Resource scopes are open-ended: `patient/Appointment.rs`, `user/Slot.cruds`, `system/*.read`…; the wildcard forms are listed.",
			"flows": map[string]any{
				"authorizationCode": map[string]any{
					"authorizationUrl": "/auth/authorize",
					"tokenUrl":         "/auth/token",
					"refreshUrl":       "/auth/token",
					"scopes":           user,
				},
				"clientCredentials": map[string]any{
					"tokenUrl":   "/auth/token",
					"refreshUrl": "/auth/token",
					"scopes":     system,
				},
			},
		},
		"bearer": map[string]any{
			"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
			"description": "An access token obtained from /auth/token (e.g. with curl).",
		},
	}
}

func scopeDescription(s string) string {
	switch s {
	case "openid":
		return "OpenID Connect: an id_token"
	case "fhirUser":
		return "The signed-in person's FHIR resource (Patient/Practitioner) in the id_token"
	case "launch":
		return "EHR launch: the launch context of the launch parameter"
	case "launch/patient":
		return "Standalone launch: pick a patient (a patient signing in is their own)"
	case "offline_access":
		return "A refresh token that outlives the session"
	}
	ctx, perm, _ := strings.Cut(s, "/")
	_, p, _ := strings.Cut(perm, ".")
	who := map[string]string{"patient": "the patient in context", "user": "what the signed-in user may see", "system": "the backend service"}[ctx]
	what := map[string]string{"rs": "read and search", "cruds": "create, read, update, delete and search", "read": "read (SMART v1)",
		"write": "write (SMART v1)", "*": "everything (SMART v1)"}[p]
	return what + " every type, as " + who
}
