package app_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/hydratest"
	"github.com/careslot/careslot/smart-auth/signin"
	"github.com/careslot/careslot/storage"
)

// smartServer is careslot wired to a real Hydra started for the test.
type smartServer struct {
	*apptest.Server
	hydra *hydratest.Hydra
	root  string // careslot's root URL (the FHIR base without /fhir)
}

func newSmartServer(t *testing.T, opts hydratest.Options) *smartServer {
	t.Helper()
	var h *hydratest.Hydra
	s := apptest.New(t, func(c *app.Config) {
		opts.CareslotURL = strings.TrimSuffix(c.BaseURL, "/fhir")
		h = hydratest.Start(t, opts)
		c.Auth = app.AuthConfig{HydraPublicURL: h.PublicURL, HydraAdminURL: h.AdminURL}
	})
	return &smartServer{Server: s, hydra: h, root: strings.TrimSuffix(s.URL, "/fhir")}
}

// seed writes a resource as the server itself would (a system caller, no HTTP
// authentication), so that test data does not depend on the access policy.
func (s *smartServer) seed(t *testing.T, method, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(method, "/fhir/"+path, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/fhir+json")
	req = req.WithContext(caller.With(req.Context(), caller.Caller{Subject: "test-seed", Role: caller.RoleSystem, Scopes: []string{"system/*.*"}}))
	rec := httptest.NewRecorder()
	s.FHIR.Handler().ServeHTTP(rec, req)
	if rec.Code >= 300 {
		t.Fatalf("seed %s %s: %d %s", method, path, rec.Code, rec.Body)
	}
}

// addUser creates a careslot user with a password.
func (s *smartServer) addUser(t *testing.T, username, password, role, fhirUser string) storage.User {
	t.Helper()
	hash, err := signin.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u := storage.User{ID: "user-" + username, Username: username, PasswordHash: hash, Role: role, FHIRUser: fhirUser}
	if err := s.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is a scripted user agent: a cookie jar, redirects followed until the app's
// redirect URI, where it stops and hands the app the code.
type browser struct {
	t        *testing.T
	client   *http.Client
	callback string
}

func newBrowser(t *testing.T, callback string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, callback: callback}
	b.client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), callback) {
			return http.ErrUseLastResponse
		}
		if len(via) > 20 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

// page is an answer the browser landed on.
type page struct {
	status   int
	url      *url.URL // where it landed (the last request)
	location string   // a redirect to the app's callback, when it stopped there
	body     string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: resp.Request.URL, location: resp.Header.Get("Location"), body: string(body)}
}

func (b *browser) get(u string) page {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	optionValue = regexp.MustCompile(`<option value="([^"]+)">`)
	scopeBox    = regexp.MustCompile(`<input type="checkbox" name="scope" value="([^"]+)"`)
)

// form reads the hidden fields of the page's form.
func (p page) form() url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

func (p page) options() []string {
	var out []string
	for _, m := range optionValue.FindAllStringSubmatch(p.body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func (p page) scopes() []string {
	var out []string
	for _, m := range scopeBox.FindAllStringSubmatch(p.body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// callbackQuery is the query of the redirect to the app: code and state, or error.
func (p page) callbackQuery(t *testing.T) url.Values {
	t.Helper()
	if p.location == "" {
		t.Fatalf("the flow did not come back to the app: %d at %s: %.600s", p.status, p.url, p.body)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// pkce is a code verifier and its S256 challenge (RFC 7636).
func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// tokenRequest posts a token request to careslot's token endpoint, with HTTP Basic
// client authentication when basicUser is set.
func tokenRequest(t *testing.T, root string, form url.Values, basicUser, basicPassword string) (int, http.Header, map[string]any) {
	t.Helper()
	return send(t, root+"/auth/token", form, func(req *http.Request) {
		if basicUser != "" {
			req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPassword))
		}
	})
}

// postForm posts a form with an optional bearer token and decodes the JSON answer.
func postForm(t *testing.T, u string, form url.Values, bearer string) (int, map[string]any) {
	t.Helper()
	status, _, out := send(t, u, form, func(req *http.Request) {
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
	})
	return status, out
}

func send(t *testing.T, u string, form url.Values, authenticate func(*http.Request)) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	authenticate(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}
