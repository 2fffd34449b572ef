package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/hydra"
	"github.com/careslot/careslot/smart-auth/hydratest"
	"github.com/careslot/careslot/storage"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

const callback = "http://127.0.0.1:1/callback" // the app's redirect URI; never fetched

var appScopes = []string{"openid", "fhirUser", "launch", "launch/patient", "offline_access",
	"patient/*.rs", "patient/*.read", "user/*.rs", "user/*.cruds", "system/*.rs"}

// clinic seeds a patient, a doctor, an appointment between them and a second patient the
// doctor never saw, and their careslot users.
func clinic(t *testing.T, s *smartServer) {
	t.Helper()
	s.seed(t, "PUT", "Patient/pat-1", map[string]any{"resourceType": "Patient", "id": "pat-1", "name": []any{map[string]any{"given": []any{"Ada"}, "family": "One"}}})
	s.seed(t, "PUT", "Patient/pat-2", map[string]any{"resourceType": "Patient", "id": "pat-2", "name": []any{map[string]any{"given": []any{"Bo"}, "family": "Two"}}})
	s.seed(t, "PUT", "Practitioner/dr-1", map[string]any{"resourceType": "Practitioner", "id": "dr-1", "name": []any{map[string]any{"family": "Doc"}}})
	s.seed(t, "PUT", "Encounter/enc-1", map[string]any{"resourceType": "Encounter", "id": "enc-1", "status": "finished",
		"class": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}, "subject": map[string]any{"reference": "Patient/pat-1"}})
	s.seed(t, "PUT", "Appointment/appt-1", map[string]any{"resourceType": "Appointment", "id": "appt-1", "status": "proposed",
		"participant": []any{
			map[string]any{"actor": map[string]any{"reference": "Patient/pat-1"}, "status": "needs-action"},
			map[string]any{"actor": map[string]any{"reference": "Practitioner/dr-1"}, "status": "needs-action"},
		}})
	s.addUser(t, "ada", "ada-password-1", "patient", "Patient/pat-1")
	s.addUser(t, "doc", "doc-password-1", "practitioner", "Practitioner/dr-1")
	s.addUser(t, "root", "root-password-1", "admin", "")
}

func registerApp(t *testing.T, s *smartServer, id, secret string) {
	t.Helper()
	if err := s.hydra.Admin.EnsureClient(context.Background(), hydra.AppClient(id, secret, []string{callback}, s.URL, appScopes...)); err != nil {
		t.Fatal(err)
	}
}

// authorize runs the browser part of an authorization code flow and returns the redirect
// to the app. params adds to or overrides the authorization request.
type authorization struct {
	clientID, username, password string
	scopes                       []string
	params                       url.Values // extra or overriding parameters
	pickPatient                  string     // the patient to choose in the picker
	deny                         bool
}

func (s *smartServer) authorize(t *testing.T, a authorization) (url.Values, string) {
	t.Helper()
	verifier, challenge := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {a.clientID}, "redirect_uri": {callback},
		"scope": {strings.Join(a.scopes, " ")}, "state": {"state-123456789"}, "aud": {s.URL},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for k, v := range a.params {
		q[k] = v
	}
	b := newBrowser(t, callback)
	p := b.get(s.root + "/auth/authorize?" + q.Encode())
	if p.location != "" {
		return p.callbackQuery(t), verifier // refused before the login page
	}
	if a.username == "" {
		t.Fatalf("expected a refusal before the login page, got %d at %s: %.300s", p.status, p.url, p.body)
	}
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("expected the login page, got %d at %s: %.500s", p.status, p.url, p.body)
	}
	form := p.form()
	form.Set("username", a.username)
	form.Set("password", a.password)
	form.Set("action", "login")
	p = b.post(s.root+"/auth/login", form)
	if p.location != "" {
		return p.callbackQuery(t), verifier // refused at login (e.g. wrong aud)
	}
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="consent_challenge"`) {
		t.Fatalf("expected the consent page, got %d at %s: %.500s", p.status, p.url, p.body)
	}
	form = p.form()
	if a.pickPatient != "" {
		if !slices.Contains(p.options(), a.pickPatient) {
			t.Fatalf("the picker offers %v, not %s", p.options(), a.pickPatient)
		}
		form.Set("patient", a.pickPatient)
	}
	for _, sc := range p.scopes() {
		form.Add("scope", sc)
	}
	form.Set("action", "allow")
	if a.deny {
		form.Set("action", "deny")
	}
	p = b.post(s.root+"/auth/consent", form)
	return p.callbackQuery(t), verifier
}

func exchange(t *testing.T, s *smartServer, clientID, code, verifier string) (int, http.Header, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {callback}, "client_id": {clientID}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return tokenRequest(t, s.root, form, "", "")
}

func TestStandalonePatientLaunchWithPKCE(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	clinic(t, s)
	registerApp(t, s, "patient-app", "")

	cb, verifier := s.authorize(t, authorization{clientID: "patient-app", username: "ada", password: "ada-password-1",
		scopes: []string{"openid", "fhirUser", "launch/patient", "patient/*.rs", "offline_access", "system/*.rs"}})
	if cb.Get("state") != "state-123456789" || cb.Get("code") == "" {
		t.Fatalf("callback = %v", cb)
	}
	status, header, tok := exchange(t, s, "patient-app", cb.Get("code"), verifier)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	if header.Get("Cache-Control") != "no-store" || header.Get("Pragma") != "no-cache" {
		t.Fatalf("token response headers: %v", header)
	}
	if tok["patient"] != "pat-1" || tok["token_type"] != "bearer" && tok["token_type"] != "Bearer" {
		t.Fatalf("token response = %v", tok)
	}
	scope, _ := tok["scope"].(string)
	if strings.Contains(scope, "system/") || !strings.Contains(scope, "patient/*.rs") {
		t.Fatalf("granted scope %q", scope)
	}
	idToken, _ := tok["id_token"].(string)
	parsed, err := jwt.ParseInsecure([]byte(idToken))
	if err != nil {
		t.Fatalf("id_token: %v", err)
	}
	var fhirUser string
	if err := parsed.Get("fhirUser", &fhirUser); err != nil || fhirUser != s.URL+"/Patient/pat-1" {
		t.Fatalf("id_token fhirUser = %q (%v)", fhirUser, err)
	}
	access := tok["access_token"].(string)
	r := s.Must(t, http.StatusOK, "GET", "Patient/pat-1", nil, apptest.Bearer(access)...)
	if !strings.Contains(string(r.Body), `"pat-1"`) {
		t.Fatalf("read with the token: %s", r.Body)
	}

	// Introspection: the app may ask about its own token.
	code, intro := postForm(t, s.root+"/auth/introspect", url.Values{"token": {access}}, access)
	if code != http.StatusOK || intro["active"] != true || intro["patient"] != "pat-1" || intro["client_id"] != "patient-app" ||
		intro["fhirUser"] != s.URL+"/Patient/pat-1" || intro["exp"] == nil || !strings.Contains(intro["scope"].(string), "patient/*.rs") {
		t.Fatalf("introspection: %d %v", code, intro)
	}
	if code, _ := postForm(t, s.root+"/auth/introspect", url.Values{"token": {access}}, ""); code != http.StatusUnauthorized {
		t.Fatalf("introspection without the caller's token: %d", code)
	}

	// Refresh (offline_access): a new access token with the same context.
	refresh, _ := tok["refresh_token"].(string)
	if refresh == "" {
		t.Fatalf("no refresh token for offline_access: %v", tok)
	}
	status, _, again := tokenRequest(t, s.root, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {"patient-app"}}, "", "")
	if status != http.StatusOK || again["access_token"] == access || again["patient"] != "pat-1" {
		t.Fatalf("refresh: %d %v", status, again)
	}
	newAccess := again["access_token"].(string)
	s.Must(t, http.StatusOK, "GET", "Patient/pat-1", nil, apptest.Bearer(newAccess)...)

	// Revocation bites within seconds (the verifier asks Hydra again after 5 s at most).
	code, _ = postForm(t, s.root+"/auth/revoke", url.Values{"token": {newAccess}, "client_id": {"patient-app"}}, "")
	if code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	deadline := time.Now().Add(8 * time.Second)
	for {
		r := s.Do(t, "GET", "Patient/pat-1", nil, apptest.Bearer(newAccess)...)
		if r.Status == http.StatusUnauthorized {
			if !strings.Contains(r.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a revoked token still works after 8 s: %d", r.Status)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Every way to get a code or a token wrongly is refused.
func TestAuthorizationRefusals(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	clinic(t, s)
	registerApp(t, s, "patient-app", "")
	registerApp(t, s, "other-app", "")
	registerApp(t, s, "confidential-app", "app-secret-1")
	ada := authorization{clientID: "patient-app", username: "ada", password: "ada-password-1", scopes: []string{"launch/patient", "patient/*.rs"}}

	t.Run("wrong aud gets no code", func(t *testing.T) {
		a := ada
		a.params = url.Values{"aud": {"https://evil.example/fhir"}}
		cb, _ := s.authorize(t, a)
		if cb.Get("code") != "" || cb.Get("error") != "invalid_request" || !strings.Contains(cb.Get("error_description"), "aud") {
			t.Fatalf("callback = %v", cb)
		}
	})
	t.Run("missing aud gets no code", func(t *testing.T) {
		a := ada
		a.params = url.Values{"aud": {""}}
		cb, _ := s.authorize(t, a)
		if cb.Get("code") != "" || cb.Get("error") != "invalid_request" {
			t.Fatalf("callback = %v", cb)
		}
	})
	// Hydra checks PKCE when it issues the code, after login and consent.
	t.Run("plain PKCE is refused", func(t *testing.T) {
		a := ada
		a.params = url.Values{"code_challenge": {"plain-challenge-plain-challenge-plain-challenge-12"}, "code_challenge_method": {"plain"}}
		cb, _ := s.authorize(t, a)
		if cb.Get("code") != "" || cb.Get("error") == "" {
			t.Fatalf("callback = %v", cb)
		}
	})
	t.Run("a public client without PKCE is refused", func(t *testing.T) {
		a := ada
		a.params = url.Values{"code_challenge": {""}, "code_challenge_method": {""}}
		cb, _ := s.authorize(t, a)
		if cb.Get("code") != "" || cb.Get("error") == "" {
			t.Fatalf("callback = %v", cb)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		b := newBrowser(t, callback)
		_, challenge := pkce()
		p := b.get(s.root + "/auth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"patient-app"}, "redirect_uri": {callback},
			"scope": {"patient/*.rs"}, "state": {"state-123456789"}, "aud": {s.URL}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode())
		form := p.form()
		form.Set("username", "ada")
		form.Set("password", "not-her-password")
		p = b.post(s.root+"/auth/login", form)
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong username or password") || p.location != "" {
			t.Fatalf("wrong password: %d %.300s", p.status, p.body)
		}
		form.Set("username", "nobody")
		p = b.post(s.root+"/auth/login", form)
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Wrong username or password") {
			t.Fatalf("unknown user: %d", p.status)
		}
		// Password guessing: after FreeLoginFailures wrong passwords in a row, the next
		// wrong one locks the username for a while, and then even the right one is refused.
		s.addUser(t, "eve", "eve-password-1", "patient", "Patient/pat-2")
		form.Set("username", "eve")
		for i := range storage.FreeLoginFailures + 1 {
			form.Set("password", fmt.Sprintf("guess-%d", i))
			if p = b.post(s.root+"/auth/login", form); p.status != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i, p.status)
			}
		}
		form.Set("password", "eve-password-1")
		if p = b.post(s.root+"/auth/login", form); p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "Too many") || p.location != "" {
			t.Fatalf("the right password after too many failures: %d %.200s", p.status, p.body)
		}

		form.Set("username", "ada")
		form.Set("csrf", "forged-forged-forged-forged-forged-forged")
		form.Set("password", "ada-password-1")
		if p = b.post(s.root+"/auth/login", form); p.status != http.StatusForbidden {
			t.Fatalf("forged CSRF token: %d", p.status)
		}
	})
	t.Run("wrong or missing PKCE verifier", func(t *testing.T) {
		cb, verifier := s.authorize(t, ada)
		if status, _, tok := exchange(t, s, "patient-app", cb.Get("code"), verifier+"x"); status != http.StatusBadRequest || tok["error"] != "invalid_grant" {
			t.Fatalf("wrong verifier: %d %v", status, tok)
		}
		cb, _ = s.authorize(t, ada)
		if status, _, tok := exchange(t, s, "patient-app", cb.Get("code"), ""); status != http.StatusBadRequest || tok["access_token"] != nil {
			t.Fatalf("missing verifier: %d %v", status, tok)
		}
	})
	t.Run("another client cannot redeem the code", func(t *testing.T) {
		cb, verifier := s.authorize(t, ada)
		if status, _, tok := exchange(t, s, "other-app", cb.Get("code"), verifier); status == http.StatusOK || tok["access_token"] != nil {
			t.Fatalf("other client: %d %v", status, tok)
		}
		if status, _, tok := exchange(t, s, "no-such-app", cb.Get("code"), verifier); status == http.StatusOK || tok["access_token"] != nil {
			t.Fatalf("unknown client: %d %v", status, tok)
		}
	})
	t.Run("confidential client with a wrong secret", func(t *testing.T) {
		a := ada
		a.clientID = "confidential-app"
		cb, verifier := s.authorize(t, a)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {callback}, "code_verifier": {verifier}}
		if status, _, tok := tokenRequest(t, s.root, form, "confidential-app", "wrong-secret"); status != http.StatusUnauthorized || tok["error"] != "invalid_client" {
			t.Fatalf("wrong secret: %d %v", status, tok)
		}
		cb, verifier = s.authorize(t, a)
		form = url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "redirect_uri": {callback}, "code_verifier": {verifier}}
		if status, _, tok := tokenRequest(t, s.root, form, "confidential-app", "app-secret-1"); status != http.StatusOK || tok["patient"] != "pat-1" {
			t.Fatalf("right secret: %d %v", status, tok)
		}
	})
	t.Run("user denies", func(t *testing.T) {
		a := ada
		a.deny = true
		cb, _ := s.authorize(t, a)
		if cb.Get("code") != "" || cb.Get("error") != "access_denied" {
			t.Fatalf("callback = %v", cb)
		}
	})
}

func TestPractitionerStandaloneLaunchPicksAPatient(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	clinic(t, s)
	registerApp(t, s, "clinician-app", "")
	b := newBrowser(t, callback)
	verifier, challenge := pkce()
	p := b.get(s.root + "/auth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {"clinician-app"}, "redirect_uri": {callback},
		"scope": {"openid fhirUser launch/patient user/*.rs"}, "state": {"state-123456789"}, "aud": {s.URL},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode())
	form := p.form()
	form.Set("username", "doc")
	form.Set("password", "doc-password-1")
	p = b.post(s.root+"/auth/login", form)
	// The picker offers the doctor's patients only.
	if opts := p.options(); !slices.Equal(opts, []string{"pat-1"}) {
		t.Fatalf("picker offers %v, want [pat-1]", opts)
	}
	// Choosing another patient is refused, whatever the form says.
	form = p.form()
	form.Set("patient", "pat-2")
	form.Add("scope", "user/*.rs")
	form.Set("action", "allow")
	if p = b.post(s.root+"/auth/consent", form); p.status != http.StatusBadRequest || p.location != "" {
		t.Fatalf("picking a patient not offered: %d", p.status)
	}
	form.Set("patient", "pat-1")
	form["scope"] = []string{"openid", "fhirUser", "launch/patient", "user/*.rs"}
	cb := b.post(s.root+"/auth/consent", form).callbackQuery(t)
	status, _, tok := exchange(t, s, "clinician-app", cb.Get("code"), verifier)
	if status != http.StatusOK || tok["patient"] != "pat-1" {
		t.Fatalf("token: %d %v", status, tok)
	}
	if ext := extOf(t, tok["access_token"].(string)); ext["fhirUser"] != "Practitioner/dr-1" || ext["patient"] != "pat-1" || ext["role"] != "practitioner" {
		t.Fatalf("ext = %v", ext)
	}

	// An admin's picker offers every patient.
	cb, _ = s.authorize(t, authorization{clientID: "clinician-app", username: "root", password: "root-password-1",
		scopes: []string{"launch/patient", "user/*.rs"}, pickPatient: "pat-2"})
	if cb.Get("code") == "" {
		t.Fatalf("admin: %v", cb)
	}
}

func TestEHRLaunch(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	clinic(t, s)
	registerApp(t, s, "ehr", "")
	registerApp(t, s, "launched-app", "")
	// The doctor is signed in to the EHR (itself a SMART app of careslot's).
	cb, verifier := s.authorize(t, authorization{clientID: "ehr", username: "doc", password: "doc-password-1", scopes: []string{"user/*.rs"}})
	_, _, ehr := exchange(t, s, "ehr", cb.Get("code"), verifier)
	ehrToken := ehr["access_token"].(string)

	launch := func(bearer string, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, s.root+"/auth/launch", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := launch("", `{"patient":"pat-1"}`); code != http.StatusUnauthorized {
		t.Fatalf("launch without a token: %d", code)
	}
	if code, _ := launch(ehrToken, `{"patient":"pat-2"}`); code != http.StatusForbidden {
		t.Fatalf("launch for a patient the doctor never saw: %d", code)
	}
	if code, _ := launch(ehrToken, `{"patient":"nobody"}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("launch for a missing patient: %d", code)
	}
	code, l := launch(ehrToken, `{"patient":"pat-1","encounter":"enc-1"}`)
	if code != http.StatusCreated || l["launch"] == "" {
		t.Fatalf("launch: %d %v", code, l)
	}
	launchID := l["launch"].(string)

	cb, verifier = s.authorize(t, authorization{clientID: "launched-app", username: "doc", password: "doc-password-1",
		scopes: []string{"launch", "patient/*.rs", "openid", "fhirUser"}, params: url.Values{"launch": {launchID}}})
	status, _, tok := exchange(t, s, "launched-app", cb.Get("code"), verifier)
	if status != http.StatusOK || tok["patient"] != "pat-1" || tok["encounter"] != "enc-1" {
		t.Fatalf("token: %d %v", status, tok)
	}
	// The launch is the doctor's: another user cannot use it, and a made-up one fails.
	cb, _ = s.authorize(t, authorization{clientID: "launched-app", username: "root", password: "root-password-1",
		scopes: []string{"launch", "patient/*.rs"}, params: url.Values{"launch": {launchID}}})
	if cb.Get("code") != "" || cb.Get("error") != "invalid_request" {
		t.Fatalf("another user's launch: %v", cb)
	}
	cb, _ = s.authorize(t, authorization{clientID: "launched-app", username: "doc", password: "doc-password-1",
		scopes: []string{"launch", "patient/*.rs"}, params: url.Values{"launch": {"made-up"}}})
	if cb.Get("code") != "" || cb.Get("error") != "invalid_request" {
		t.Fatalf("unknown launch: %v", cb)
	}
}

// extOf reads careslot's claims of an access token Hydra issued (not verified: the test
// got it from Hydra itself).
func extOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseInsecure([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	var ext map[string]any
	if err := tok.Get("ext", &ext); err != nil {
		t.Fatalf("no ext claim: %v", err)
	}
	return ext
}

// SMART Backend Services: client_credentials with a signed client assertion
// (private_key_jwt), and the dev client's client_secret_basic.
func TestBackendServices(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	clinic(t, s)
	key, jwks := backendKey(t)
	ctx := context.Background()
	if err := s.hydra.Admin.EnsureClient(ctx, hydra.BackendClient("backend", "", jwks, "RS384", s.URL, "system/*.rs", "system/*.*")); err != nil {
		t.Fatal(err)
	}
	if err := s.hydra.Admin.EnsureClient(ctx, hydra.BackendClient("careslot-dev", "dev-secret-1", nil, "", s.URL, "system/*.*")); err != nil {
		t.Fatal(err)
	}
	assertion := func(audience string) string {
		tok, err := jwt.NewBuilder().Issuer("backend").Subject("backend").Audience([]string{audience}).
			Expiration(time.Now().Add(4 * time.Minute)).IssuedAt(time.Now()).JwtID(randomID()).Build()
		if err != nil {
			t.Fatal(err)
		}
		signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS384(), key))
		if err != nil {
			t.Fatal(err)
		}
		return string(signed)
	}
	grant := func(audience string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.rs"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion(audience)}}
	}
	status, header, tok := tokenRequest(t, s.root, grant(s.root+"/auth/token"), "", "")
	if status != http.StatusOK || header.Get("Cache-Control") != "no-store" || tok["scope"] != "system/*.rs" {
		t.Fatalf("private_key_jwt: %d %v", status, tok)
	}
	access := tok["access_token"].(string)
	s.Must(t, http.StatusOK, "GET", "Patient/pat-1", nil, apptest.Bearer(access)...)
	if _, ok := extOf(t, access)["role"]; ok {
		t.Fatal("a client_credentials token carries a role")
	}
	// An assertion made out to another token endpoint, or signed with another key, is refused.
	if status, _, tok := tokenRequest(t, s.root, grant("https://elsewhere.example/token"), "", ""); status != http.StatusUnauthorized {
		t.Fatalf("assertion for another audience: %d %v", status, tok)
	}
	otherKey, _ := backendKey(t)
	key, otherKey = otherKey, key
	if status, _, tok := tokenRequest(t, s.root, grant(s.root+"/auth/token"), "", ""); status == http.StatusOK || tok["access_token"] != nil {
		t.Fatalf("assertion signed with an unregistered key: %d", status)
	}
	key = otherKey

	// client_secret_basic, as `make run`'s careslot-dev.
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.*"}}
	status, _, dev := tokenRequest(t, s.root, form, "careslot-dev", "dev-secret-1")
	if status != http.StatusOK || dev["scope"] != "system/*.*" {
		t.Fatalf("client_secret_basic: %d %v", status, dev)
	}
	if status, _, _ := tokenRequest(t, s.root, form, "careslot-dev", "wrong"); status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", status)
	}
	// A scope the client is not registered for is not granted.
	if status, _, tok := tokenRequest(t, s.root, url.Values{"grant_type": {"client_credentials"}, "scope": {"user/*.*"}}, "careslot-dev", "dev-secret-1"); status == http.StatusOK {
		t.Fatalf("unregistered scope granted: %v", tok)
	}

	// A backend service may introspect any token; a revoked one is inactive.
	code, intro := postForm(t, s.root+"/auth/introspect", url.Values{"token": {access}}, dev["access_token"].(string))
	if code != http.StatusOK || intro["active"] != true || intro["client_id"] != "backend" {
		t.Fatalf("introspection: %d %v", code, intro)
	}
	req, _ := http.NewRequest(http.MethodPost, s.root+"/auth/revoke", strings.NewReader(url.Values{"token": {access},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion(s.root + "/auth/token")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	_, intro = postForm(t, s.root+"/auth/introspect", url.Values{"token": {access}}, dev["access_token"].(string))
	if intro["active"] != false || len(intro) != 1 {
		t.Fatalf("introspection of a revoked token: %v", intro)
	}
}

// An expired Hydra token is refused at once (Hydra says it is inactive before the JWT's
// own exp leeway runs out).
func TestExpiredTokenIsRefused(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{AccessTokenTTL: 5 * time.Second})
	clinic(t, s)
	if err := s.hydra.Admin.EnsureClient(context.Background(), hydra.BackendClient("careslot-dev", "dev-secret-1", nil, "", s.URL, "system/*.*")); err != nil {
		t.Fatal(err)
	}
	status, _, tok := tokenRequest(t, s.root, url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.*"}}, "careslot-dev", "dev-secret-1")
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	access := tok["access_token"].(string)
	s.Must(t, http.StatusOK, "GET", "Patient/pat-1", nil, apptest.Bearer(access)...)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := s.Do(t, "GET", "Patient/pat-1", nil, apptest.Bearer(access)...)
		if r.Status == http.StatusUnauthorized {
			if strings.Contains(string(r.Body), `"pat-1"`) {
				t.Fatalf("data in a refusal: %s", r.Body)
			}
			return
		}
		if r.Status != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("an expired token answered %d after %s", r.Status, time.Since(deadline.Add(-15*time.Second)))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// backendKey makes an RS384 signing key and the JWKS that registers its public half.
func backendKey(t *testing.T) (jwk.Key, map[string]any) {
	t.Helper()
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	key.Set(jwk.KeyIDKey, randomID())
	key.Set(jwk.AlgorithmKey, jwa.RS384())
	key.Set(jwk.KeyUsageKey, "sig")
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(pub)
	var m map[string]any
	json.Unmarshal(b, &m)
	return key, map[string]any{"keys": []any{m}}
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// SMART's authorize-post: the authorization request as a form POST keeps aud and launch;
// then the user signs out through Hydra's logout and careslot's confirmation page.
func TestAuthorizePostAndLogout(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	clinic(t, s)
	registerApp(t, s, "patient-app", "")
	b := newBrowser(t, callback)
	verifier, challenge := pkce()
	p := b.post(s.root+"/auth/authorize", url.Values{"response_type": {"code"}, "client_id": {"patient-app"}, "redirect_uri": {callback},
		"scope": {"openid fhirUser patient/*.rs"}, "state": {"state-123456789"}, "aud": {s.URL},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("authorize-post: %d at %s", p.status, p.url)
	}
	form := p.form()
	form.Set("username", "ada")
	form.Set("password", "ada-password-1")
	p = b.post(s.root+"/auth/login", form)
	form = p.form()
	form["scope"] = p.scopes()
	form.Set("action", "allow")
	cb := b.post(s.root+"/auth/consent", form).callbackQuery(t)
	status, _, tok := exchange(t, s, "patient-app", cb.Get("code"), verifier)
	if status != http.StatusOK || tok["id_token"] == nil {
		t.Fatalf("token: %d %v", status, tok)
	}

	// Signed in: a second app's authorization goes straight to consent (single sign-on),
	// and a wrong aud is still refused.
	_, challenge = pkce()
	second := url.Values{"response_type": {"code"}, "client_id": {"patient-app"}, "redirect_uri": {callback},
		"scope": {"patient/*.rs"}, "state": {"state-123456789"}, "aud": {s.URL}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if p = b.get(s.root + "/auth/authorize?" + second.Encode()); !strings.Contains(p.body, `name="consent_challenge"`) {
		t.Fatalf("single sign-on: %d at %s", p.status, p.url)
	}
	second.Set("aud", "https://evil.example/fhir")
	if q := b.get(s.root + "/auth/authorize?" + second.Encode()).callbackQuery(t); q.Get("code") != "" || q.Get("error") != "invalid_request" {
		t.Fatalf("single sign-on with a wrong aud: %v", q)
	}

	p = b.get(s.hydra.PublicURL + "/oauth2/sessions/logout?" + url.Values{"id_token_hint": {tok["id_token"].(string)}}.Encode())
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="logout_challenge"`) {
		t.Fatalf("logout page: %d at %s: %.300s", p.status, p.url, p.body)
	}
	form = p.form()
	form.Set("action", "logout")
	p = b.post(s.root+"/auth/logout", form)
	if p.status != http.StatusOK || !strings.Contains(p.body, "signed out") || !strings.HasSuffix(p.url.Path, "/auth/logged-out") {
		t.Fatalf("after logout: %d at %s: %.300s", p.status, p.url, p.body)
	}
}
