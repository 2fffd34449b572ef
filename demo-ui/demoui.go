package demoui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"

	"github.com/careslot/careslot/smart-auth/hydra"
	hydraclient "github.com/ory/hydra-client-go/v2"
)

// static holds the pages, the script and the vendored Bootstrap (make bootstrap).
//
//go:embed static
var static embed.FS

// ClientID is the public SMART client (authorization code with PKCE, no secret) the UI
// signs in as; cmd/careslot registers it with Hydra when CARESLOT_UI_CLIENT is true.
const ClientID = "careslot-ui"

// CallbackPath is where Hydra sends the browser back to the UI with the code.
const CallbackPath = "/callback.html"

// Scopes are what the UI asks for: a patient's own data, or a staff member's.
var Scopes = []string{"openid", "fhirUser", "launch/patient", "patient/*.cruds", "user/*.cruds"}

// Client is the registration of ClientID for the careslot whose FHIR base is baseURL:
// public, redirected back to the UI's callback on careslot's own origin, tokens for
// baseURL, and back to the UI's page after signing out (RP-initiated logout).
func Client(baseURL string) hydraclient.OAuth2Client {
	base := strings.TrimRight(baseURL, "/")
	c := hydra.AppClient(ClientID, "", []string{root(base) + CallbackPath}, base, Scopes...)
	c.PostLogoutRedirectUris = []string{root(base) + "/"}
	return c
}

// root is careslot's root URL: the FHIR base without /fhir.
func root(baseURL string) string { return strings.TrimSuffix(baseURL, "/fhir") }

// csp lets the pages run only careslot's own script and style and talk only to careslot:
// no inline script, nothing from elsewhere.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Mount serves the UI on mux: the page at / and its files by name. Any other path stays
// with the handler mux has for "/".
func Mount(mux *http.ServeMux) {
	files, _ := fs.Sub(static, "static")
	serve := http.FileServerFS(files)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/vendor/") {
			w.Header().Set("Cache-Control", "public, max-age=86400")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		serve.ServeHTTP(w, r)
	})
	mux.Handle("GET /{$}", h)
	for _, name := range []string{"/callback.html", "/app.js", "/app.css", "/vendor/bootstrap/bootstrap.min.css", "/vendor/bootstrap/LICENSE"} {
		mux.Handle("GET "+name, h)
	}
}
