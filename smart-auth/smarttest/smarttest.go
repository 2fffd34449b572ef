// Package smarttest is a stand-in authorization server for tests: a signing key that a
// test server trusts, and access tokens minted with the claims a test needs, verified
// by careslot's real verifier (package token). Tests may mint; the product never does:
// this package must only ever be imported by tests and test helpers.
//
// The flows themselves (login, consent, PKCE, refresh…) are tested against a real Hydra
// (package hydratest); this package is for tests of what a caller may do.
package smarttest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/token"
	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// IssuerURL is the iss of every test token.
const IssuerURL = "https://issuer.careslot.test/"

// Issuer signs test tokens and tells a verifier which of them are revoked.
type Issuer struct {
	private jwk.Key
	public  jwk.Set

	mu      sync.Mutex
	revoked map[string]bool // by jti
}

// NewIssuer makes an issuer with a fresh RSA key (RS256, as Hydra signs), kid "smarttest".
func NewIssuer() (*Issuer, error) { return NewIssuerWithKeyID("smarttest") }

// NewIssuerWithKeyID makes an issuer whose key has the id kid, e.g. to test rotation.
func NewIssuerWithKeyID(kid string) (*Issuer, error) {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	private, err := jwk.Import(raw)
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.RS256(), jwk.KeyUsageKey: "sig"} {
		if err := private.Set(k, v); err != nil {
			return nil, err
		}
	}
	public, err := jwk.PublicKeyOf(private)
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(public); err != nil {
		return nil, err
	}
	return &Issuer{private: private, public: set, revoked: map[string]bool{}}, nil
}

var (
	shared     *Issuer
	sharedErr  error
	sharedOnce sync.Once
)

// Shared is one issuer per test binary (making an RSA key takes tens of milliseconds).
func Shared(tb testing.TB) *Issuer {
	tb.Helper()
	iss, err := SharedIssuer()
	if err != nil {
		tb.Fatalf("smarttest: %v", err)
	}
	return iss
}

// SharedIssuer is Shared for TestMain and helpers without a testing.TB.
func SharedIssuer() (*Issuer, error) {
	sharedOnce.Do(func() { shared, sharedErr = NewIssuer() })
	return shared, sharedErr
}

// PublicSet is the issuer's JWKS, e.g. to serve it.
func (i *Issuer) PublicSet() jwk.Set { return i.public }

// Keys is the issuer's public key set, for token.Config.
func (i *Issuer) Keys() token.Keys { return token.StaticKeys{Set: i.public} }

// Revocation answers from the issuer's revocation list, for token.Config.
func (i *Issuer) Revocation() token.Revocation { return revocation{i} }

// Verifier is careslot's verifier trusting this issuer, for tokens meant for audience.
func (i *Issuer) Verifier(audience string) (*token.Verifier, error) {
	return token.New(token.Config{Issuer: IssuerURL, Audience: audience, Keys: i.Keys(), Revocation: i.Revocation()})
}

// Claims are what a test token says. Zero values get defaults: one hour of validity, a
// fresh jti, the client "smarttest-app".
type Claims struct {
	Audience  string // the FHIR base URL; required
	Subject   string // default: derived from FHIRUser, or the client for a system token
	ClientID  string
	Scopes    []string
	Role      caller.Role // "" or RoleSystem mints a client_credentials token (no ext.role)
	FHIRUser  string
	Patient   string
	Encounter string
	IssuedAt  time.Time
	ExpiresAt time.Time
	ID        string // jti
	Issuer    string // default IssuerURL; set it to test a wrong issuer
}

// Mint signs a token with c.
func (i *Issuer) Mint(c Claims) (string, error) {
	if c.Audience == "" {
		return "", fmt.Errorf("smarttest: Claims.Audience (the FHIR base URL) is required")
	}
	if c.ClientID == "" {
		c.ClientID = "smarttest-app"
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(time.Hour)
	}
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	if c.Issuer == "" {
		c.Issuer = IssuerURL
	}
	b := jwt.NewBuilder().Issuer(c.Issuer).Audience([]string{c.Audience}).IssuedAt(c.IssuedAt).
		NotBefore(c.IssuedAt).Expiration(c.ExpiresAt).JwtID(c.ID).
		Claim(token.ClaimClientID, c.ClientID).Claim(token.ClaimScopes, c.Scopes)
	if c.Scopes == nil {
		b = b.Claim(token.ClaimScopes, []string{})
	}
	switch c.Role {
	case "", caller.RoleSystem:
		b = b.Subject(c.ClientID)
	default:
		sub := c.Subject
		if sub == "" {
			sub = "user:" + c.FHIRUser
		}
		ext := token.Ext{Role: string(c.Role), FHIRUser: c.FHIRUser, Patient: c.Patient, Encounter: c.Encounter}
		b = b.Subject(sub).Claim(token.ClaimExt, ext.Claims())
	}
	tok, err := b.Build()
	if err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), i.private))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

// SignToken signs any token with the issuer's key, for tests of unusual claims.
func (i *Issuer) SignToken(tok jwt.Token) (string, error) {
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), i.private))
	return string(signed), err
}

// MustMint is Mint that fails the test on error.
func (i *Issuer) MustMint(tb testing.TB, c Claims) string {
	tb.Helper()
	raw, err := i.Mint(c)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// Revoke makes the verifier refuse raw from its next revocation check.
func (i *Issuer) Revoke(raw string) error {
	jti, err := jtiOf(raw)
	if err != nil {
		return err
	}
	i.mu.Lock()
	i.revoked[jti] = true
	i.mu.Unlock()
	return nil
}

type revocation struct{ i *Issuer }

func (r revocation) Active(_ context.Context, raw string) (bool, error) {
	jti, err := jtiOf(raw)
	if err != nil {
		return false, nil
	}
	r.i.mu.Lock()
	defer r.i.mu.Unlock()
	return !r.i.revoked[jti], nil
}

// jtiOf reads a token's jti without checking it (the verifier has checked it already).
func jtiOf(raw string) (string, error) {
	tok, err := jwt.ParseInsecure([]byte(raw))
	if err != nil {
		return "", err
	}
	jti, _ := tok.JwtID()
	return jti, nil
}

// Patient is the claims of a patient using a patient-facing app on their own record.
func Patient(audience, patientID string, scopes ...string) Claims {
	return Claims{Audience: audience, Role: caller.RolePatient, FHIRUser: "Patient/" + patientID, Patient: patientID, Scopes: scopes}
}

// Practitioner is the claims of a practitioner; patientID is the launch patient, if any.
func Practitioner(audience, practitionerID, patientID string, scopes ...string) Claims {
	return Claims{Audience: audience, Role: caller.RolePractitioner, FHIRUser: "Practitioner/" + practitionerID, Patient: patientID, Scopes: scopes}
}

// Admin is the claims of an administrator.
func Admin(audience string, scopes ...string) Claims {
	return Claims{Audience: audience, Role: caller.RoleAdmin, Subject: "admin", Scopes: scopes}
}

// System is the claims of a backend service (client_credentials).
func System(audience, clientID string, scopes ...string) Claims {
	return Claims{Audience: audience, Role: caller.RoleSystem, ClientID: clientID, Scopes: scopes}
}

// Handler serves the issuer as the parts of Hydra a careslot process calls, so that a
// test may point a real `careslot serve` at it (CARESLOT_HYDRA_PUBLIC_URL and
// CARESLOT_HYDRA_ADMIN_URL at its URL, CARESLOT_OAUTH_ISSUER=IssuerURL): the JWKS at
// /.well-known/jwks.json, token introspection at /admin/oauth2/introspect answering from
// the revocation list, and /health/ready.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(i.public)
	})
	mux.HandleFunc("POST /admin/oauth2/introspect", func(w http.ResponseWriter, r *http.Request) {
		raw := r.FormValue("token")
		active, _ := revocation{i}.Active(r.Context(), raw)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"active": active, "token_use": "access_token"})
	})
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ok"}`))
	})
	return mux
}
