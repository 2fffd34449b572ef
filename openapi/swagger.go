package openapi

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"

	"github.com/careslot/careslot/smart-auth/discovery"
	"github.com/careslot/careslot/smart-auth/hydra"
	hydraclient "github.com/ory/hydra-client-go/v2"
)

// swaggerUI is swagger-ui-dist, vendored by `make swagger-ui` (see swagger-ui/VERSION and
// LICENSE).
//
//go:embed swagger-ui
var swaggerUI embed.FS

// SwaggerClientID is the public SMART client (authorization code with PKCE, no secret)
// that Swagger UI's Authorize signs in as; cmd/careslot registers it with Hydra when
// CARESLOT_SWAGGER_CLIENT is true.
const SwaggerClientID = "careslot-swagger"

// SwaggerRedirectPath is where Hydra sends the browser back to Swagger UI.
const SwaggerRedirectPath = "/swagger/oauth2-redirect.html"

// SwaggerClient is the registration of SwaggerClientID for the careslot whose FHIR base
// is baseURL: public (PKCE, no secret), redirected back to its /swagger/, tokens for
// baseURL, with the scopes an app may ask for.
func SwaggerClient(baseURL string) hydraclient.OAuth2Client {
	return hydra.AppClient(SwaggerClientID, "", []string{swaggerRoot(baseURL) + SwaggerRedirectPath}, strings.TrimRight(baseURL, "/"), SwaggerScopes()...)
}

// swaggerRoot is careslot's root URL: the FHIR base without /fhir.
func swaggerRoot(baseURL string) string {
	return strings.TrimSuffix(strings.TrimRight(baseURL, "/"), "/fhir")
}

// SwaggerScopes are the scopes the Swagger client may ask for: those careslot's
// discovery names for apps (backend services' system/ scopes are not an app's).
func SwaggerScopes() []string {
	var out []string
	for _, s := range discovery.ScopesSupported {
		if !strings.HasPrefix(s, "system/") {
			out = append(out, s)
		}
	}
	return out
}

// swaggerPage is careslot's Swagger UI page: the vendored bundle and stylesheet and
// the initializer below, no inline script.
const swaggerPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>careslot API (Swagger UI)</title>
  <link rel="stylesheet" href="swagger-ui.css">
  <link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="swagger-ui-bundle.js"></script>
  <script src="swagger-initializer.js"></script>
</body>
</html>
`

// SwaggerHandler serves Swagger UI under /swagger/, reading /openapi.json. baseURL is
// careslot's FHIR base: the aud of the authorization request, and the root of the
// redirect URI the Swagger client is registered with.
func SwaggerHandler(baseURL string) http.Handler {
	baseURL = strings.TrimRight(baseURL, "/")
	root := swaggerRoot(baseURL)
	settings, _ := json.Marshal(map[string]any{
		"url":               root + "/openapi.json",
		"oauth2RedirectUrl": root + SwaggerRedirectPath,
		"clientId":          SwaggerClientID,
		"aud":               baseURL,
	})
	initializer := []byte(`"use strict";
// careslot's Swagger UI: the document careslot serves; Authorize signs in through
// careslot's SMART endpoints with the authorization code flow and PKCE.
window.addEventListener("load", function () {
  var careslot = ` + string(settings) + `;
  var ui = SwaggerUIBundle({
    url: careslot.url,
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    validatorUrl: null,
    docExpansion: "none",
    defaultModelsExpandDepth: 0,
    oauth2RedirectUrl: careslot.oauth2RedirectUrl,
    persistAuthorization: false
  });
  ui.initOAuth({
    clientId: careslot.clientId,
    appName: "careslot Swagger UI",
    usePkceWithAuthorizationCodeGrant: true,
    scopes: ["openid", "fhirUser"],
    additionalQueryStringParams: { aud: careslot.aud }
  });
  window.ui = ui;
});
`)
	assets, _ := fs.Sub(swaggerUI, "swagger-ui")
	files := http.StripPrefix("/swagger/", http.FileServerFS(assets))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// Scripts and requests only from careslot itself; Swagger UI styles inline and
		// draws icons as data: URLs. Authorize opens a window, which CSP does not limit.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "+
			"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		switch r.URL.Path {
		case "/swagger":
			http.Redirect(w, r, "/swagger/", http.StatusMovedPermanently)
		case "/swagger/", "/swagger/index.html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Write([]byte(swaggerPage))
		case "/swagger/swagger-initializer.js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			w.Write(initializer)
		default:
			w.Header().Set("Cache-Control", "public, max-age=86400")
			files.ServeHTTP(w, r)
		}
	})
}
