package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/careslot/careslot/fhir"
)

// builder collects the paths of the document.
type builder struct {
	paths map[string]any
}

// add puts op at method of path.
func (b *builder) add(path, method string, op map[string]any) {
	item, _ := b.paths[path].(map[string]any)
	if item == nil {
		item = map[string]any{}
		b.paths[path] = item
	}
	if _, dup := item[method]; dup {
		panic(fmt.Sprintf("spec: %s %s described twice", method, path))
	}
	item[method] = op
}

const (
	fhirJSON = "application/fhir+json"
	formURL  = "application/x-www-form-urlencoded"
)

func ref(kind, name string) map[string]any {
	return map[string]any{"$ref": "#/components/" + kind + "/" + name}
}

func schemaRef(name string) map[string]any { return ref("schemas", name) }
func param(name string) map[string]any     { return ref("parameters", name) }

// fhirBody is a FHIR JSON body of the schema name.
func fhirBody(name string) map[string]any {
	return map[string]any{fhirJSON: map[string]any{"schema": schemaRef(name)}}
}

// ok is a success answer whose body is a resource of the schema name.
func ok(desc, name string, headers ...string) map[string]any {
	r := map[string]any{"description": desc, "content": fhirBody(name)}
	if len(headers) > 0 {
		h := map[string]any{}
		for _, name := range headers {
			h[name] = ref("headers", name)
		}
		r["headers"] = h
	}
	return r
}

// responses is an operation's responses: the successes given, then an OperationOutcome
// for each error status, and default for the rest (500, 503).
func responses(success map[string]any, errors ...string) map[string]any {
	out := map[string]any{}
	for k, v := range success {
		out[k] = v
	}
	for _, status := range errors {
		out[status] = ref("responses", errorResponses[status].name)
	}
	out["default"] = ref("responses", "Error")
	return out
}

// security lists the SMART scopes (wildcard forms) that allow an interaction, one
// alternative per context, or a bearer token obtained elsewhere.
func security(perm string) []any {
	return []any{
		map[string]any{"smart": []string{"patient/*." + perm}},
		map[string]any{"smart": []string{"user/*." + perm}},
		map[string]any{"smart": []string{"system/*." + perm}},
		map[string]any{"bearer": []string{}},
	}
}

// public is the security of an endpoint that needs no token.
var public = []any{}

// anyToken is the security of an endpoint that takes any valid access token.
var anyToken = []any{map[string]any{"smart": []string{}}, map[string]any{"bearer": []string{}}}

// interactionPerm is the SMART v2 permission that reads or writes through an interaction.
const (
	readPerm  = "rs"
	writePerm = "cruds"
)

func (b *builder) typePaths(typ string, interactions []string, params []fhir.CapabilitySearchParam, include, revinclude []string, condCreate, condUpdate, condDelete bool) {
	has := func(code string) bool { return slices.Contains(interactions, code) }
	base := "/fhir/" + typ
	id := param("id")
	tags := []string{typ}
	if has("read") {
		b.add(base+"/{id}", "get", map[string]any{
			"operationId": "read" + typ, "summary": "Read a " + typ, "tags": tags, "security": security(readPerm),
			"description": "The current version. `If-None-Match` with its ETag answers 304; a deleted " + typ + " answers 410.",
			"parameters":  []any{id, param("_summary"), param("_elements"), param("If-None-Match"), param("If-Modified-Since"), param("_format"), param("_pretty")},
			"responses": responses(map[string]any{
				"200": readAnswer("The "+typ, typ),
				"304": map[string]any{"description": "Not modified: the client's copy is current"},
			}, "400", "401", "403", "404", "410"),
		})
	}
	if has("vread") {
		b.add(base+"/{id}/_history/{vid}", "get", map[string]any{
			"operationId": "vread" + typ, "summary": "Read one version of a " + typ, "tags": tags, "security": security(readPerm),
			"parameters": []any{id, param("vid"), param("_format"), param("_pretty")},
			"responses":  responses(map[string]any{"200": readAnswer("That version", typ)}, "400", "401", "403", "404", "410"),
		})
	}
	if has("update") {
		desc := "Replaces the " + typ + " (its id must match the URL) or creates it with that id. `If-Match` with an ETag makes it a version-aware update."
		b.add(base+"/{id}", "put", map[string]any{
			"operationId": "update" + typ, "summary": "Update (or create) a " + typ, "tags": tags, "security": security(writePerm),
			"description": desc,
			"parameters":  writeParameters(typ, id, param("If-Match"), param("Prefer"), param("_format"), param("_pretty")),
			"requestBody": writeBody(typ),
			"responses": responses(map[string]any{
				"200": ok("Updated", typ, "ETag", "Last-Modified"),
				"201": ok("Created with the id of the URL", typ, "ETag", "Last-Modified", "Location"),
			}, "400", "401", "403", "409", "412", "413", "415", "422"),
		})
	}
	if has("patch") {
		b.add(base+"/{id}", "patch", map[string]any{
			"operationId": "patch" + typ, "summary": "Patch a " + typ + " with a JSON Patch", "tags": tags, "security": security(writePerm),
			"description": "A JSON Patch (RFC 6902). The patched " + typ + " is checked and written as an update; a patch may not change its id or resourceType. " +
				"A failing `test` operation, or one that cannot be applied, is 422. `If-Match` with an ETag makes it version-aware.",
			"parameters":  []any{id, param("If-Match"), param("Prefer"), param("_format"), param("_pretty")},
			"requestBody": jsonPatchBody,
			"responses": responses(map[string]any{"200": ok("Patched", typ, "ETag", "Last-Modified")},
				"400", "401", "403", "404", "410", "412", "413", "415", "422"),
		})
		b.add(base, "patch", map[string]any{
			"operationId": "conditionalPatch" + typ, "summary": "Patch the " + typ + " the search matches", "tags": tags, "security": security(writePerm),
			"description": "The query is a search: one match is patched, none is 404, several are 412.",
			"parameters":  []any{param("If-Match"), param("Prefer")}, "requestBody": jsonPatchBody,
			"responses": responses(map[string]any{"200": ok("Patched", typ, "ETag", "Last-Modified")},
				"400", "401", "403", "404", "412", "413", "415", "422"),
		})
	}
	if has("delete") {
		b.add(base+"/{id}", "delete", map[string]any{
			"operationId": "delete" + typ, "summary": "Delete a " + typ, "tags": tags, "security": security(writePerm),
			"description": "Deleting what is not there succeeds too. A " + typ + " that other resources still reference is refused with 409.",
			"parameters":  []any{id, param("Prefer")},
			"responses": responses(map[string]any{
				"204": map[string]any{"description": "Deleted"},
				"200": ok("Deleted, with an OperationOutcome (Prefer: return=OperationOutcome)", "OperationOutcome"),
			}, "400", "401", "403", "409"),
		})
	}
	if has("create") {
		parameters := writeParameters(typ, param("Prefer"), param("_format"), param("_pretty"))
		desc := "The server assigns the id."
		if condCreate {
			parameters = append(parameters, param("If-None-Exist"))
			desc += " With `If-None-Exist`, a match is answered (200) instead of a new " + typ + "; several matches are 412."
		}
		b.add(base, "post", map[string]any{
			"operationId": "create" + typ, "summary": "Create a " + typ, "tags": tags, "security": security(writePerm),
			"description": desc, "parameters": parameters, "requestBody": writeBody(typ),
			"responses": responses(map[string]any{
				"201": ok("Created", typ, "ETag", "Last-Modified", "Location"),
				"200": ok("An existing match of If-None-Exist", typ, "ETag", "Last-Modified"),
			}, "400", "401", "403", "412", "413", "415", "422"),
		})
	}
	if condUpdate {
		b.add(base, "put", map[string]any{
			"operationId": "conditionalUpdate" + typ, "summary": "Update the " + typ + " the search matches", "tags": tags, "security": security(writePerm),
			"description": "The query is a search: no match creates, one match is updated, several are 412.",
			"parameters":  []any{param("Prefer")}, "requestBody": resourceBody(typ),
			"responses": responses(map[string]any{
				"200": ok("Updated", typ, "ETag", "Last-Modified"),
				"201": ok("Created", typ, "ETag", "Last-Modified", "Location"),
			}, "400", "401", "403", "412", "413", "415", "422"),
		})
	}
	if condDelete {
		b.add(base, "delete", map[string]any{
			"operationId": "conditionalDelete" + typ, "summary": "Delete the " + typ + " the search matches", "tags": tags, "security": security(writePerm),
			"description": "The query is a search; careslot deletes a single match (several are 412).",
			"parameters":  []any{param("Prefer")},
			"responses": responses(map[string]any{
				"204": map[string]any{"description": "Deleted (or nothing matched)"},
				"200": ok("Deleted, with an OperationOutcome (Prefer: return=OperationOutcome)", "OperationOutcome"),
			}, "400", "401", "403", "409", "412"),
		})
	}
	if has("search-type") {
		parameters := searchParameters(params, include, revinclude)
		b.add(base, "get", map[string]any{
			"operationId": "search" + typ, "summary": "Search " + typ, "tags": tags, "security": security(readPerm),
			"description": "A searchset Bundle. Parameters take FHIR's modifiers and prefixes (`name:exact`, `date=ge2026-01-01`); " +
				"unknown parameters are ignored (listed in an OperationOutcome entry) unless `Prefer: handling=strict`.",
			"parameters": parameters,
			"responses":  responses(map[string]any{"200": ok("The matches, one page", "Bundle")}, "400", "401", "403"),
		})
		b.add(base+"/_search", "post", map[string]any{
			"operationId": "searchPost" + typ, "summary": "Search " + typ + " with a form body", "tags": tags, "security": security(readPerm),
			"description": "The same search with its parameters in an application/x-www-form-urlencoded body (and the query).",
			"requestBody": map[string]any{"required": true, "content": map[string]any{formURL: map[string]any{
				"schema": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}}}},
			"responses": responses(map[string]any{"200": ok("The matches, one page", "Bundle")}, "400", "401", "403", "415"),
		})
	}
	if has("history-instance") {
		b.add(base+"/{id}/_history", "get", map[string]any{
			"operationId": "historyInstance" + typ, "summary": "Versions of a " + typ, "tags": tags, "security": security(readPerm),
			"parameters": []any{id, param("_count"), param("_since"), param("_at"), param("_format"), param("_pretty")},
			"responses":  responses(map[string]any{"200": ok("A history Bundle, newest first", "Bundle")}, "400", "401", "403", "404"),
		})
	}
	if has("history-type") {
		b.add(base+"/_history", "get", map[string]any{
			"operationId": "historyType" + typ, "summary": "Changes to every " + typ, "tags": tags, "security": security(readPerm),
			"parameters": []any{param("_count"), param("_since"), param("_at"), param("_format"), param("_pretty")},
			"responses":  responses(map[string]any{"200": ok("A history Bundle, newest first", "Bundle")}, "400", "401", "403"),
		})
	}
}

// searchParameters are the query parameters of a type's search: its own, then the
// result parameters.
func searchParameters(params []fhir.CapabilitySearchParam, include, revinclude []string) []any {
	var out []any
	for _, p := range params {
		doc := strings.TrimSpace(p.Documentation)
		if doc != "" {
			doc += " "
		}
		out = append(out, map[string]any{
			"name": p.Name, "in": "query", "required": false,
			"description": fmt.Sprintf("%s(%s; %s)", doc, p.Type, p.Definition),
			"schema":      map[string]any{"type": "string"},
		})
	}
	if len(include) > 0 { // a type without reference parameters (Basic) includes nothing
		out = append(out, map[string]any{"name": "_include", "in": "query", "description": "Include what the matches reference.",
			"schema": map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": include}}, "explode": true})
	}
	if len(revinclude) > 0 {
		// The full list runs to hundreds for some types; the CapabilityStatement has it.
		examples := revinclude[:min(len(revinclude), 5)]
		out = append(out, map[string]any{"name": "_revinclude", "in": "query",
			"description": "Include what references the matches: [type]:[search parameter], e.g. " + strings.Join(examples, ", ") +
				" (every value is in the CapabilityStatement's searchRevInclude).",
			"schema": map[string]any{"type": "array", "items": map[string]any{"type": "string", "pattern": "^[A-Z][A-Za-z]+:[a-z][a-z0-9-]*(:[A-Z][A-Za-z]+)?$"}}, "explode": true})
	}
	for _, p := range []string{"_count", "_sort", "_total", "_summary", "_elements", "_cursor", "Prefer", "_format", "_pretty"} {
		out = append(out, param(p))
	}
	return out
}

// resourceBody is a request body of one resource of typ.
// jsonPatchBody is the request body of a patch: a JSON Patch document (RFC 6902), or a
// FHIRPath Patch (a Parameters resource).
var jsonPatchBody = map[string]any{"required": true, "content": map[string]any{fhirJSON: map[string]any{
	"schema": schemaRef("Parameters"),
	"examples": map[string]any{"cancel": map[string]any{"summary": "Cancel an appointment (FHIRPath Patch)",
		"value": map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "operation", "part": []any{
			map[string]any{"name": "type", "valueCode": "replace"}, map[string]any{"name": "path", "valueString": "Appointment.status"},
			map[string]any{"name": "value", "valueCode": "cancelled"}}}}}}},
}, "application/json-patch+json": map[string]any{
	"schema": map[string]any{"type": "array", "items": map[string]any{
		"type": "object", "required": []string{"op", "path"},
		"properties": map[string]any{
			"op":    map[string]any{"type": "string", "enum": []string{"add", "remove", "replace", "move", "copy", "test"}},
			"path":  map[string]any{"type": "string", "description": "a JSON Pointer"},
			"from":  map[string]any{"type": "string", "description": "a JSON Pointer (move, copy)"},
			"value": map[string]any{"description": "the value (add, replace, test)"},
		}}},
	"examples": map[string]any{"cancel": map[string]any{"summary": "Cancel an appointment",
		"value": []any{map[string]any{"op": "replace", "path": "/status", "value": "cancelled"}}}},
}}}

// binaryMedia are media types a Binary is uploaded and downloaded as; careslot takes any
// but FHIR JSON (docs/rest.md, Binary), these are the common ones.
var binaryMedia = []string{"application/pdf", "image/png", "image/jpeg", "text/plain", "application/octet-stream"}

func binaryContent(content map[string]any) {
	raw := map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
	for _, mt := range binaryMedia {
		content[mt] = raw
	}
}

// writeBody is the body of a create or update by id: the resource, and for a Binary also
// its raw bytes.
func writeBody(typ string) map[string]any {
	body := resourceBody(typ)
	if typ == "Binary" {
		binaryContent(body["content"].(map[string]any))
	}
	return body
}

// readAnswer is the 200 of a read or vread: the resource, and for a Binary its bytes
// unless FHIR JSON is asked for.
func readAnswer(desc, typ string) map[string]any {
	if typ != "Binary" {
		return ok(desc, typ, "ETag", "Last-Modified")
	}
	r := ok(desc+": its bytes with their content type, or the Binary with data in base64 when Accept or _format asks for FHIR JSON",
		typ, "ETag", "Last-Modified", "X-Security-Context")
	binaryContent(r["content"].(map[string]any))
	return r
}

// writeParameters are a create's or update's parameters, and a raw Binary's securityContext.
func writeParameters(typ string, params ...any) []any {
	if typ == "Binary" {
		params = append(params, param("X-Security-Context"))
	}
	return params
}

func resourceBody(typ string) map[string]any {
	media := map[string]any{"schema": schemaRef(typ)}
	if ex, ok := resourceExamples[typ]; ok {
		media["examples"] = map[string]any{typ: map[string]any{"summary": "A " + typ, "value": ex}}
	}
	return map[string]any{"required": true, "content": map[string]any{fhirJSON: media, "application/json": media}}
}

// operationPaths describes an operation at each of its paths: GET with its primitive
// in-parameters in the query when it does not change data, POST with a Parameters body.
func (b *builder) operationPaths(op operationDefinition) {
	var where []string
	if op.System {
		where = append(where, "/fhir/$"+op.Code)
	}
	for _, t := range op.Resource {
		if op.Type {
			where = append(where, "/fhir/"+t+"/$"+op.Code)
		}
		if op.Instance {
			where = append(where, "/fhir/"+t+"/{id}/$"+op.Code)
		}
	}
	var query []any
	var ins, out []string
	for _, p := range op.Parameter {
		line := fmt.Sprintf("`%s` (%s, %d..%s): %s", p.Name, p.Type, p.Min, p.Max, p.Documentation)
		if p.Use == "out" {
			out = append(out, line)
			continue
		}
		ins = append(ins, line)
		if primitive(p.Type) {
			q := map[string]any{"name": p.Name, "in": "query", "required": false, "description": p.Documentation, "schema": map[string]any{"type": "string"}}
			if p.Type == "integer" {
				q["schema"] = map[string]any{"type": "string", "pattern": "^[0-9]+$"}
			}
			query = append(query, q)
		}
	}
	desc := op.Description + "\n\nIn: " + orNone(ins) + "\n\nOut: " + orNone(out) +
		"\n\nAn unknown parameter is refused (400) unless `Prefer: handling=lenient`."
	perm := readPerm
	if op.AffectsState {
		perm = writePerm
	}
	for _, path := range where {
		tag := "System"
		var pathParams []any
		if !op.System {
			tag = strings.Split(strings.TrimPrefix(path, "/fhir/"), "/")[0]
		}
		if strings.Contains(path, "{id}") {
			pathParams = []any{param("id")}
		}
		suffix := strings.NewReplacer("/fhir/", "", "/{id}/", "Instance", "/", "", "$", "", "-", "").Replace(path)
		success := map[string]any{"200": ok("The operation's result", "Bundle")}
		errs := []string{"400", "401", "403", "404", "409", "422"}
		if op.Code == "hold" {
			success["200"] = ok("The operation's result", "Bundle", "ETag", "Last-Modified", "Expires")
		}
		if op.Code == "book" {
			// IHE ITI-117: a booking that cannot be made is a Bundle holding only its OperationOutcome.
			for _, status := range []string{"409", "422"} {
				success[status] = ok("The booking cannot be made: a searchset Bundle holding only the OperationOutcome (IHE ITI-117)", "Bundle")
			}
			errs = []string{"400", "401", "403", "404"}
		}
		if !op.AffectsState {
			b.add(path, "get", map[string]any{
				"operationId": "get" + suffix, "summary": "$" + op.Code + ": " + op.Title, "tags": []string{tag}, "security": security(perm),
				"description": desc, "parameters": append(slices.Clone(pathParams), append(query, param("Prefer"), param("_format"), param("_pretty"))...),
				"responses": responses(success, errs...),
			})
		}
		postDesc := desc
		if op.AffectsState {
			postDesc += " It changes data, so GET is refused (405)."
		}
		body := map[string]any{"schema": schemaRef("Parameters")}
		if ex, ok := operationExamples[op.Code]; ok {
			body["examples"] = map[string]any{op.Code: map[string]any{"summary": "$" + op.Code + " parameters", "value": ex}}
		}
		b.add(path, "post", map[string]any{
			"operationId": "post" + suffix, "summary": "$" + op.Code + ": " + op.Title, "tags": []string{tag}, "security": security(perm),
			"description": postDesc, "parameters": append(slices.Clone(pathParams), param("Prefer")),
			"requestBody": map[string]any{"required": false, "content": map[string]any{fhirJSON: body, "application/json": body}},
			"responses":   responses(success, append(errs, "405", "413", "415")...),
		})
	}
}

func primitive(t string) bool {
	return t != "" && t[0] >= 'a' && t[0] <= 'z'
}

func orNone(lines []string) string {
	if len(lines) == 0 {
		return "none"
	}
	return "\n- " + strings.Join(lines, "\n- ")
}

// systemPaths are the interactions on the FHIR base itself.
func (b *builder) systemPaths(interactions []string) {
	tags := []string{"System"}
	b.add("/fhir/metadata", "get", map[string]any{
		"operationId": "capabilities", "summary": "The CapabilityStatement", "tags": tags, "security": public,
		"description": "What this server supports: every type, interaction, search parameter and operation, and where its SMART endpoints are.",
		"parameters":  []any{map[string]any{"name": "mode", "in": "query", "schema": map[string]any{"type": "string", "enum": []string{"full"}}}, param("_format"), param("_pretty")},
		"responses":   responses(map[string]any{"200": ok("The CapabilityStatement", "CapabilityStatement")}, "400"),
	})
	if slices.Contains(interactions, "transaction") || slices.Contains(interactions, "batch") {
		b.add("/fhir", "post", map[string]any{
			"operationId": "batchOrTransaction", "summary": "Run a batch or transaction Bundle", "tags": tags, "security": security(writePerm),
			"description": "A transaction runs every entry in one database transaction (all or nothing); a batch runs them one by one. " +
				"Each entry is authorised as the interaction it is.",
			"parameters":  []any{param("Prefer"), param("_format"), param("_pretty")},
			"requestBody": map[string]any{"required": true, "content": map[string]any{fhirJSON: map[string]any{"schema": schemaRef("Bundle"), "examples": map[string]any{"transaction": map[string]any{"summary": "A patient and their coverage in one transaction", "value": transactionExample}}}}},
			"responses":   responses(map[string]any{"200": ok("The batch-response or transaction-response Bundle", "Bundle")}, "400", "401", "403", "404", "409", "412", "413", "415", "422"),
		})
	}
	if slices.Contains(interactions, "history-system") {
		b.add("/fhir/_history", "get", map[string]any{
			"operationId": "historySystem", "summary": "Changes to every resource", "tags": tags, "security": security(readPerm),
			"parameters": []any{param("_count"), param("_since"), param("_at"), param("_format"), param("_pretty")},
			"responses":  responses(map[string]any{"200": ok("A history Bundle, newest first", "Bundle")}, "400", "401", "403"),
		})
	}
}

// authPaths are careslot's SMART endpoints (smart-auth) and its service endpoints.
func (b *builder) authPaths() {
	tags := []string{"Authorization"}
	jsonOf := func(name string) map[string]any {
		return map[string]any{"application/json": map[string]any{"schema": schemaRef(name)}}
	}
	oauthErrors := map[string]any{
		"400": map[string]any{"description": "A bad request (RFC 6749 invalid_request, invalid_grant, …)", "content": jsonOf("OAuthError")},
		"401": map[string]any{"description": "The client could not be authenticated", "content": jsonOf("OAuthError")},
		"502": map[string]any{"description": "Hydra did not answer", "content": jsonOf("OAuthError")},
	}
	withErrors := func(success map[string]any) map[string]any {
		out := map[string]any{}
		maps(out, oauthErrors)
		maps(out, success)
		return out
	}
	form := func(props map[string]any, required ...string) map[string]any {
		return map[string]any{"required": true, "content": map[string]any{formURL: map[string]any{
			"schema": map[string]any{"type": "object", "required": required, "properties": props}}}}
	}
	str := map[string]any{"type": "string"}
	b.add("/fhir/.well-known/smart-configuration", "get", map[string]any{
		"operationId": "smartConfiguration", "summary": "SMART discovery", "tags": tags, "security": public,
		"responses": map[string]any{"200": map[string]any{"description": "Where the endpoints are and what careslot supports", "content": jsonOf("SmartConfiguration")}},
	})
	b.add("/auth/authorize", "get", map[string]any{
		"operationId": "authorize", "summary": "Start an authorization (redirects to Hydra)", "tags": tags, "security": public,
		"description": "SMART App Launch: authorization code with PKCE (S256). `aud` must be careslot's FHIR base. The person signs in on careslot's login page and consents; the browser comes back to `redirect_uri` with a code.",
		"parameters": []any{
			map[string]any{"name": "response_type", "in": "query", "required": true, "schema": map[string]any{"type": "string", "enum": []string{"code"}}},
			map[string]any{"name": "client_id", "in": "query", "required": true, "schema": str},
			map[string]any{"name": "redirect_uri", "in": "query", "required": true, "schema": str},
			map[string]any{"name": "scope", "in": "query", "required": true, "schema": str, "example": "openid fhirUser launch/patient patient/*.rs"},
			map[string]any{"name": "state", "in": "query", "required": true, "schema": str},
			map[string]any{"name": "aud", "in": "query", "required": true, "schema": str, "description": "careslot's FHIR base URL"},
			map[string]any{"name": "code_challenge", "in": "query", "required": true, "schema": str},
			map[string]any{"name": "code_challenge_method", "in": "query", "required": true, "schema": map[string]any{"type": "string", "enum": []string{"S256"}}},
			map[string]any{"name": "launch", "in": "query", "required": false, "schema": str, "description": "the launch id of an EHR launch"},
		},
		"responses": map[string]any{
			"303": map[string]any{"description": "On to Hydra's authorization endpoint (then careslot's login and consent pages)"},
			"400": map[string]any{"description": "A bad request, e.g. an aud that is not careslot's FHIR base (an HTML page)"},
		},
	})
	b.add("/auth/token", "post", map[string]any{
		"operationId": "token", "summary": "Exchange a code, refresh token or client credentials for an access token", "tags": tags, "security": public,
		"description": "Relayed to Hydra, which authenticates the client (HTTP Basic, client_secret_post, private_key_jwt, or none for public clients with PKCE). " +
			"A client_credentials request without an audience gets careslot's FHIR base.",
		"requestBody": form(map[string]any{
			"grant_type": map[string]any{"type": "string", "enum": []string{"authorization_code", "refresh_token", "client_credentials"}},
			"code":       str, "redirect_uri": str, "code_verifier": str, "refresh_token": str, "client_id": str, "scope": str,
			"client_assertion_type": str, "client_assertion": str,
		}, "grant_type"),
		"responses": withErrors(map[string]any{"200": map[string]any{"description": "An access token", "content": jsonOf("TokenResponse")}}),
	})
	b.add("/auth/introspect", "post", map[string]any{
		"operationId": "introspect", "summary": "Introspect a token (RFC 7662)", "tags": tags, "security": anyToken,
		"description": "The caller authenticates with an access token of its own; it learns about a token only when the token is its own client's, or when it is a backend service or an administrator (otherwise `{\"active\": false}`).",
		"requestBody": form(map[string]any{"token": str, "token_type_hint": str}, "token"),
		"responses":   withErrors(map[string]any{"200": map[string]any{"description": "The token's state", "content": jsonOf("IntrospectionResponse")}}),
	})
	b.add("/auth/revoke", "post", map[string]any{
		"operationId": "revoke", "summary": "Revoke a token (RFC 7009)", "tags": tags, "security": public,
		"description": "The client authenticates as at the token endpoint.",
		"requestBody": form(map[string]any{"token": str, "token_type_hint": str, "client_id": str}, "token"),
		"responses":   withErrors(map[string]any{"200": map[string]any{"description": "Revoked (or unknown: RFC 7009 answers 200 either way)"}}),
	})
	b.add("/healthz", "get", map[string]any{
		"operationId": "healthz", "summary": "Health check", "tags": []string{"Service"}, "security": public,
		"responses": map[string]any{
			"200": map[string]any{"description": "Serving", "content": jsonOf("Health")},
			"503": map[string]any{"description": "The database does not answer", "content": jsonOf("Health")},
		},
	})
	b.add("/openapi.json", "get", map[string]any{
		"operationId": "openapi", "summary": "This document", "tags": []string{"Service"}, "security": public,
		"responses": map[string]any{"200": map[string]any{"description": "OpenAPI 3.1", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}},
	})
}
