package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/openapi"
	"github.com/careslot/careslot/smart-auth/hydratest"
)

// Swagger UI's Authorize: its public client, registered as cmd/careslot registers it,
// signs a patient in through Hydra with the authorization code flow and PKCE, back to
// /swagger/oauth2-redirect.html, and the token reads the FHIR API. Without the code
// verifier the code is refused: the client has no secret, PKCE is its only proof.
func TestSwaggerUIClientSignsInWithPKCE(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	clinic(t, s)
	if err := s.hydra.Admin.EnsureClient(context.Background(), openapi.SwaggerClient(s.URL)); err != nil {
		t.Fatal(err)
	}
	redirect := s.root + openapi.SwaggerRedirectPath
	signIn := func() (code, verifier string) {
		verifier, challenge := pkce()
		q := url.Values{"response_type": {"code"}, "client_id": {openapi.SwaggerClientID}, "redirect_uri": {redirect},
			"scope": {"openid fhirUser launch/patient patient/*.rs"}, "state": {"swagger-state-1"}, "aud": {s.URL},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
		b := newBrowser(t, redirect)
		p := b.get(s.root + "/auth/authorize?" + q.Encode())
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
			t.Fatalf("expected the login page, got %d at %s: %.500s", p.status, p.url, p.body)
		}
		form := p.form()
		form.Set("username", "ada")
		form.Set("password", "ada-password-1")
		form.Set("action", "login")
		p = b.post(s.root+"/auth/login", form)
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="consent_challenge"`) {
			t.Fatalf("expected the consent page, got %d at %s: %.500s", p.status, p.url, p.body)
		}
		form = p.form()
		for _, sc := range p.scopes() {
			form.Add("scope", sc)
		}
		form.Set("action", "allow")
		cb := b.post(s.root+"/auth/consent", form).callbackQuery(t)
		if cb.Get("state") != "swagger-state-1" || cb.Get("code") == "" {
			t.Fatalf("callback = %v", cb)
		}
		return cb.Get("code"), verifier
	}
	token := func(code, verifier string) (int, map[string]any) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "client_id": {openapi.SwaggerClientID}}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		status, _, tok := tokenRequest(t, s.root, form, "", "")
		return status, tok
	}

	code, _ := signIn()
	if status, tok := token(code, ""); status == http.StatusOK {
		t.Fatalf("a code without its PKCE verifier was exchanged: %v", tok)
	}
	code, verifier := signIn()
	status, tok := token(code, verifier)
	if status != http.StatusOK || tok["patient"] != "pat-1" {
		t.Fatalf("token: %d %v", status, tok)
	}
	s.Must(t, http.StatusOK, "GET", "Patient/pat-1", nil, apptest.Bearer(tok["access_token"].(string))...)
}
