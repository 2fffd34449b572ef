package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

var patientBody = map[string]any{"resourceType": "Patient", "id": "auth-p1", "name": []any{map[string]any{"family": "Token"}}}

// Every bad token is refused with 401, WWW-Authenticate and an OperationOutcome, and
// never reaches the data, whether or not tokens are required.
func TestBadTokensGet401(t *testing.T) {
	s := apptest.New(t)
	s.Must(t, http.StatusCreated, "PUT", "Patient/auth-p1", patientBody)
	other, err := smarttest.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	good := smarttest.Patient(s.URL, "auth-p1", "patient/*.rs")
	expired := good
	expired.IssuedAt, expired.ExpiresAt = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	wrongAud := good
	wrongAud.Audience = "http://elsewhere.test/fhir"
	revoked := s.Token(t, good)
	if err := s.Tokens.Revoke(revoked); err != nil {
		t.Fatal(err)
	}
	for name, header := range map[string]string{
		"malformed":       "Bearer not.a-token",
		"not a JWT":       "Bearer abc",
		"basic scheme":    "Basic YWRtaW46YWRtaW4=",
		"empty bearer":    "Bearer ",
		"expired":         "Bearer " + s.Token(t, expired),
		"wrong audience":  "Bearer " + s.Token(t, wrongAud),
		"wrong signature": "Bearer " + other.MustMint(t, good),
		"revoked":         "Bearer " + revoked,
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"Patient/auth-p1", "Patient?name=Token", "Patient/auth-p1/_history"} {
				r := s.Do(t, "GET", path, nil, "Authorization", header)
				if r.Status != http.StatusUnauthorized {
					t.Fatalf("GET %s: status %d, want 401: %s", path, r.Status, r.Body)
				}
				if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
					t.Fatalf("WWW-Authenticate = %q", ch)
				}
				out := r.JSON(t)
				if out["resourceType"] != "OperationOutcome" || strings.Contains(string(r.Body), "Token\"") {
					t.Fatalf("body = %s", r.Body)
				}
			}
		})
	}
	// A bad token on a write changes nothing either.
	r := s.Do(t, "DELETE", "Patient/auth-p1", nil, "Authorization", "Bearer "+other.MustMint(t, good))
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("DELETE with a forged token: %d", r.Status)
	}
	s.Must(t, http.StatusOK, "GET", "Patient/auth-p1", nil)
}

// A good token is accepted, whatever the case of its scheme.
func TestGoodTokenAccepted(t *testing.T) {
	s := apptest.New(t)
	s.Must(t, http.StatusCreated, "PUT", "Patient/auth-p1", patientBody)
	raw := s.Token(t, smarttest.Patient(s.URL, "auth-p1", "patient/*.rs"))
	s.Must(t, http.StatusOK, "GET", "Patient/auth-p1", nil, apptest.Bearer(raw)...)
	// The scheme is case-insensitive.
	s.Must(t, http.StatusOK, "GET", "Patient/auth-p1", nil, "Authorization", "bearer "+raw)
}

// A token is required by default: a request without one gets 401 everywhere but the
// public paths.
func TestTokenRequired(t *testing.T) {
	s := apptest.New(t)
	r := s.Do(t, "GET", "Patient/auth-p1", nil, apptest.Anonymous()...)
	if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != `Bearer realm="careslot"` {
		t.Fatalf("no token: %d %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	s.Must(t, http.StatusOK, "GET", "metadata", nil, apptest.Anonymous()...)
	resp, err := http.Get(strings.TrimSuffix(s.URL, "/fhir") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz without a token: %d", resp.StatusCode)
	}
	raw := s.Token(t, smarttest.Admin(s.URL, "user/*.cruds"))
	s.Must(t, http.StatusCreated, "PUT", "Patient/auth-p1", patientBody, apptest.Bearer(raw)...)
	var out map[string]any
	json.Unmarshal(s.Must(t, http.StatusOK, "GET", "Patient/auth-p1", nil, apptest.Bearer(raw)...).Body, &out)
	if out["id"] != "auth-p1" {
		t.Fatalf("read = %v", out)
	}
}
