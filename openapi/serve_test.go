package openapi_test

import (
	"bytes"
	"io"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/openapi"
)

func TestDocumentIsServed(t *testing.T) {
	srv := apptest.New(t)
	resp, err := http.Get(srv.HTTP.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, openapi.Document) {
		t.Fatalf("GET /openapi.json: %d %s, %d bytes (want %d)", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(openapi.Document))
	}
}

// Swagger UI is served from the binary: the page, every file it references with the
// right Content-Type, the OAuth2 redirect page and its script, and an initializer that
// reads /openapi.json and signs in with PKCE as the Swagger client, for this server.
func TestSwaggerUIIsServed(t *testing.T) {
	srv := apptest.New(t)
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.HTTP.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, page := get("/swagger")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/swagger/" {
		t.Fatalf("GET /swagger: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, `id="swagger-ui"`) {
		t.Fatalf("GET /swagger/: %s %.300s", resp.Header.Get("Content-Type"), page)
	}
	wantType := map[string]string{".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".html": "text/html"}
	check := func(from, page string) int {
		t.Helper()
		refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
		for _, m := range refs {
			if strings.Contains(m[1], "://") || strings.HasPrefix(m[1], "/") {
				t.Errorf("%s references %s outside /swagger/", from, m[1])
				continue
			}
			r, body := get("/swagger/" + m[1])
			if r.StatusCode != http.StatusOK || len(body) == 0 {
				t.Errorf("%s references %s: %d", from, m[1], r.StatusCode)
				continue
			}
			if want := wantType[path.Ext(m[1])]; !strings.HasPrefix(r.Header.Get("Content-Type"), want) {
				t.Errorf("%s: Content-Type %q, want %s", m[1], r.Header.Get("Content-Type"), want)
			}
		}
		return len(refs)
	}
	if n := check("index.html", page); n < 5 {
		t.Errorf("index.html references %d files; want the stylesheet, icons, bundle and initializer", n)
	}
	_, redirect := get(openapi.SwaggerRedirectPath)
	check("oauth2-redirect.html", redirect)

	_, init := get("/swagger/swagger-initializer.js")
	root := strings.TrimSuffix(srv.URL, "/fhir")
	for _, want := range []string{
		`"url":"` + root + `/openapi.json"`, `"clientId":"` + openapi.SwaggerClientID + `"`, `"aud":"` + srv.URL + `"`,
		`"oauth2RedirectUrl":"` + root + openapi.SwaggerRedirectPath + `"`, "usePkceWithAuthorizationCodeGrant: true",
	} {
		if !strings.Contains(init, want) {
			t.Errorf("the initializer lacks %s:\n%s", want, init)
		}
	}
	if r, _ := get("/swagger/no-such-file.js"); r.StatusCode != http.StatusNotFound {
		t.Errorf("a missing asset: %d", r.StatusCode)
	}
}
