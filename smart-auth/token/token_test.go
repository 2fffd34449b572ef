package token_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/smart-auth/token"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

const aud = "https://fhir.careslot.test/fhir"

func verifier(t *testing.T, iss *smarttest.Issuer, mod func(*token.Config)) *token.Verifier {
	t.Helper()
	cfg := token.Config{Issuer: smarttest.IssuerURL, Audience: aud, Keys: iss.Keys(), Revocation: iss.Revocation()}
	if mod != nil {
		mod(&cfg)
	}
	v, err := token.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyReadsTheCaller(t *testing.T) {
	iss := smarttest.Shared(t)
	v := verifier(t, iss, nil)
	claims := smarttest.Practitioner(aud, "dr-1", "p-7", "user/*.rs", "launch")
	claims.Encounter = "enc-3"
	claims.ClientID = "my-app"
	claims.Subject = "user-42"
	raw := iss.MustMint(t, claims)
	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != caller.RolePractitioner || c.Subject != "user-42" || c.ClientID != "my-app" || c.FHIRUser != "Practitioner/dr-1" ||
		c.Patient != "p-7" || c.Encounter != "enc-3" || !slices.Equal(c.Scopes, []string{"user/*.rs", "launch"}) || c.TokenID == "" ||
		time.Until(c.ExpiresAt) < 59*time.Minute {
		t.Fatalf("caller = %+v", c)
	}
}

func TestSystemTokensKeepOnlySystemScopes(t *testing.T) {
	iss := smarttest.Shared(t)
	v := verifier(t, iss, nil)
	raw := iss.MustMint(t, smarttest.System(aud, "backend", "system/*.rs", "patient/*.read", "user/*.*"))
	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != caller.RoleSystem || c.Subject != "backend" || c.ClientID != "backend" || !slices.Equal(c.Scopes, []string{"system/*.rs"}) {
		t.Fatalf("caller = %+v", c)
	}
}

func TestBadTokensAreRefused(t *testing.T) {
	iss := smarttest.Shared(t)
	other, err := smarttest.NewIssuer() // same kid, another key: a forged signature
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, iss, nil)
	patient := smarttest.Patient(aud, "p1", "patient/*.rs")
	with := func(mod func(*smarttest.Claims)) smarttest.Claims {
		c := patient
		mod(&c)
		return c
	}
	hs256, err := jwt.Sign(mustBuild(t), jwt.WithKey(jwa.HS256(), []byte("0123456789abcdef0123456789abcdef"), jws.WithProtectedHeaders(kidHeader(t))))
	if err != nil {
		t.Fatal(err)
	}
	unsigned, err := jwt.Sign(mustBuild(t), jwt.WithInsecureNoSignature())
	if err != nil {
		t.Fatal(err)
	}
	good := iss.MustMint(t, patient)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]

	for name, tc := range map[string]struct {
		raw  string
		want string
	}{
		"empty":      {"", "not a JWT"},
		"garbage":    {"not-a-token", "not a JWT"},
		"three dots": {"a.b.c", ""},
		"expired": {iss.MustMint(t, with(func(c *smarttest.Claims) {
			c.IssuedAt = time.Now().Add(-3 * time.Hour)
			c.ExpiresAt = time.Now().Add(-time.Hour)
		})), "expired"},
		"not yet valid":   {iss.MustMint(t, with(func(c *smarttest.Claims) { c.IssuedAt = time.Now().Add(time.Hour) })), "not valid yet"},
		"wrong audience":  {iss.MustMint(t, with(func(c *smarttest.Claims) { c.Audience = "https://elsewhere.test/fhir" })), "aud"},
		"wrong issuer":    {iss.MustMint(t, with(func(c *smarttest.Claims) { c.Issuer = "https://evil.test/" })), "not issued by"},
		"wrong signature": {other.MustMint(t, patient), "signature"},
		"tampered claims": {tampered, ""},
		"HS256 with kid":  {string(hs256), "signature"},
		"alg none":        {string(unsigned), ""},
		"unknown role":    {iss.MustMint(t, with(func(c *smarttest.Claims) { c.Role = "superuser" })), "role"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.raw)
			var te *token.Error
			if !errors.As(err, &te) || te.Unavailable {
				t.Fatalf("err = %v, want a *token.Error", err)
			}
			if !strings.Contains(te.Description, tc.want) {
				t.Fatalf("description %q does not say %q", te.Description, tc.want)
			}
		})
	}
}

func mustBuild(t *testing.T) jwt.Token {
	t.Helper()
	tok, err := jwt.NewBuilder().Issuer(smarttest.IssuerURL).Audience([]string{aud}).Subject("x").
		Expiration(time.Now().Add(time.Hour)).Claim("ext", map[string]any{"role": "admin"}).Build()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func kidHeader(t *testing.T) jws.Headers {
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, "smarttest"); err != nil {
		t.Fatal(err)
	}
	return h
}

// A user token must say which role the user has; only a client's own token may go without.
func TestUserTokenWithoutRoleIsRefused(t *testing.T) {
	iss := smarttest.Shared(t)
	v := verifier(t, iss, nil)
	c := smarttest.System(aud, "backend", "system/*.rs")
	raw := iss.MustMint(t, c)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatalf("client token: %v", err)
	}
	// The same claims but a subject that is not the client: a user with no role.
	tok := mustBuildFor(t, map[string]any{"client_id": "backend"}, "someone")
	if _, err := v.Verify(context.Background(), signWith(t, iss, tok)); err == nil || !strings.Contains(err.Error(), "no role") {
		t.Fatalf("err = %v, want no role", err)
	}
}

func mustBuildFor(t *testing.T, claims map[string]any, sub string) jwt.Token {
	t.Helper()
	b := jwt.NewBuilder().Issuer(smarttest.IssuerURL).Audience([]string{aud}).Subject(sub).Expiration(time.Now().Add(time.Hour))
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signWith signs tok with the issuer's key.
func signWith(t *testing.T, iss *smarttest.Issuer, tok jwt.Token) string {
	t.Helper()
	raw, err := iss.SignToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fakeRevocation counts questions and answers from a switch.
type fakeRevocation struct {
	asked   atomic.Int32
	revoked atomic.Bool
	down    atomic.Bool
}

func (f *fakeRevocation) Active(context.Context, string) (bool, error) {
	f.asked.Add(1)
	if f.down.Load() {
		return false, errors.New("connection refused")
	}
	return !f.revoked.Load(), nil
}

func TestRevocationBitesWithinRecheckAfter(t *testing.T) {
	iss := smarttest.Shared(t)
	rev := &fakeRevocation{}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	v := verifier(t, iss, func(c *token.Config) { c.Revocation = rev; c.RecheckAfter = 5 * time.Second; c.Now = clock })
	raw := iss.MustMint(t, smarttest.Patient(aud, "p1", "patient/*.rs"))
	ctx := context.Background()
	for range 10 {
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := rev.asked.Load(); n != 1 {
		t.Fatalf("asked %d times within RecheckAfter, want once", n)
	}
	rev.revoked.Store(true)
	advance(4 * time.Second)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("within the recheck window: %v", err)
	}
	advance(2 * time.Second)
	if _, err := v.Verify(ctx, raw); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("after revocation: err = %v", err)
	}
	asked := rev.asked.Load()
	rev.revoked.Store(false) // revocation is final even if the server were to forget it
	if _, err := v.Verify(ctx, raw); err == nil || rev.asked.Load() != asked {
		t.Fatalf("a revoked token was accepted again or asked about again (err %v)", err)
	}
}

// gatedRevocation answers like fakeRevocation, but while gate is set each question
// waits until the gate is opened.
type gatedRevocation struct {
	fakeRevocation
	mu   sync.Mutex
	gate chan struct{}
}

func (g *gatedRevocation) Active(ctx context.Context, raw string) (bool, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return g.fakeRevocation.Active(ctx, raw)
}

func (g *gatedRevocation) close() {
	g.mu.Lock()
	close(g.gate)
	g.gate = nil
	g.mu.Unlock()
}

// In the last tenth of RecheckAfter, a request starts the next revocation question and
// does not wait for it: requests sharing a token go on while it is asked. Its answer
// bites as the synchronous one does, and without one the request past RecheckAfter asks
// and waits itself.
func TestRevocationIsAskedAheadWithoutWaiting(t *testing.T) {
	iss := smarttest.Shared(t)
	rev := &gatedRevocation{}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	v := verifier(t, iss, func(c *token.Config) { c.Revocation = rev; c.RecheckAfter = 5 * time.Second; c.Now = clock })
	raw := iss.MustMint(t, smarttest.Patient(aud, "p1", "patient/*.rs"))
	ctx := context.Background()
	verify := func() error {
		t.Helper()
		done := make(chan error, 1)
		go func() { _, err := v.Verify(ctx, raw); done <- err }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Verify waited for the authorization server")
			return nil
		}
	}
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	rev.mu.Lock()
	rev.gate = make(chan struct{})
	rev.mu.Unlock()
	advance(4600 * time.Millisecond)
	for range 5 {
		if err := verify(); err != nil {
			t.Fatalf("while the question is under way: %v", err)
		}
	}
	rev.revoked.Store(true)
	rev.close()
	deadline := time.Now().Add(10 * time.Second)
	for verify() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the background answer 'revoked' never bit")
		}
		time.Sleep(time.Millisecond)
	}
	if n := rev.asked.Load(); n != 2 {
		t.Errorf("asked %d times, want twice (first use, then once ahead)", n)
	}

	// No answer ahead: past RecheckAfter the request asks itself, and is told.
	raw = iss.MustMint(t, smarttest.Patient(aud, "p1", "patient/*.rs"))
	rev.revoked.Store(false)
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	rev.down.Store(true)
	advance(4600 * time.Millisecond)
	if err := verify(); err != nil {
		t.Fatalf("while the question ahead fails: %v", err)
	}
	advance(500 * time.Millisecond)
	var te *token.Error
	if err := verify(); !errors.As(err, &te) || !te.Unavailable {
		t.Fatalf("past RecheckAfter with no answer: err = %v, want Unavailable", err)
	}
}

func TestRevocationServerDownIsUnavailableNotInvalid(t *testing.T) {
	iss := smarttest.Shared(t)
	rev := &fakeRevocation{}
	rev.down.Store(true)
	v := verifier(t, iss, func(c *token.Config) { c.Revocation = rev })
	_, err := v.Verify(context.Background(), iss.MustMint(t, smarttest.Patient(aud, "p1")))
	var te *token.Error
	if !errors.As(err, &te) || !te.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
}

// The expiry of a cached token is checked at each use, not only the first.
func TestCachedTokenExpires(t *testing.T) {
	iss := smarttest.Shared(t)
	var mu sync.Mutex
	now := time.Now()
	v := verifier(t, iss, func(c *token.Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	claims := smarttest.Patient(aud, "p1")
	claims.ExpiresAt = now.Add(time.Minute)
	raw := iss.MustMint(t, claims)
	if _, err := v.Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if _, err := v.Verify(context.Background(), raw); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("err = %v, want expired", err)
	}
}

// A key the issuer rotates in is fetched when its first token arrives.
func TestRemoteKeysFollowRotation(t *testing.T) {
	first, err := smarttest.NewIssuerWithKeyID("key-1")
	if err != nil {
		t.Fatal(err)
	}
	second, err := smarttest.NewIssuerWithKeyID("key-2")
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[smarttest.Issuer]
	current.Store(first)
	var fetches atomic.Int32
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(current.Load().PublicSet())
	}))
	defer jwks.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, err := token.NewRemoteKeys(ctx, jwks.URL+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.New(token.Config{Issuer: smarttest.IssuerURL, Audience: aud, Keys: keys, Revocation: first.Revocation()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, first.MustMint(t, smarttest.Patient(aud, "p1"))); err != nil {
		t.Fatalf("first key: %v", err)
	}
	current.Store(second)
	if _, err := v.Verify(ctx, second.MustMint(t, smarttest.Patient(aud, "p1"))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	// Made-up kids do not make careslot fetch again and again.
	before := fetches.Load()
	for range 5 {
		forged, _ := smarttest.NewIssuerWithKeyID("made-up")
		if _, err := v.Verify(ctx, forged.MustMint(t, smarttest.Patient(aud, "p1"))); err == nil {
			t.Fatal("a token signed with an unknown key was accepted")
		}
	}
	if n := fetches.Load() - before; n > 1 {
		t.Fatalf("%d fetches for unknown kids within MinForcedRefresh", n)
	}
}

func TestKeysUnreachableIsUnavailable(t *testing.T) {
	iss := smarttest.Shared(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/jwks"
	dead.Close()
	keys, err := token.NewRemoteKeys(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.New(token.Config{Issuer: smarttest.IssuerURL, Audience: aud, Keys: keys, Revocation: iss.Revocation()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(ctx, iss.MustMint(t, smarttest.Patient(aud, "p1")))
	var te *token.Error
	if !errors.As(err, &te) || !te.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	iss := smarttest.Shared(b)
	v, _ := iss.Verifier(aud)
	raw := iss.MustMint(b, smarttest.Patient(aud, "p1", "patient/*.rs"))
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyFirstUse(b *testing.B) {
	iss := smarttest.Shared(b)
	v, _ := iss.Verifier(aud)
	ctx := context.Background()
	tokens := make([]string, 256)
	for i := range tokens {
		tokens[i] = iss.MustMint(b, smarttest.Patient(aud, "p1", "patient/*.rs"))
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// A fresh verifier each round so the token is not cached.
		if i%len(tokens) == 0 {
			v, _ = iss.Verifier(aud)
		}
		if _, err := v.Verify(ctx, tokens[i%len(tokens)]); err != nil {
			b.Fatal(err)
		}
	}
}

// Claims reads a just-issued token without asking about revocation, so an "inactive"
// from the authorization server in that instant cannot poison Verify's cache; it still
// refuses a token that is not the issuer's own or not for this audience.
func TestClaimsDoesNotAskOrRememberRevocation(t *testing.T) {
	iss := smarttest.Shared(t)
	rev := &fakeRevocation{}
	rev.revoked.Store(true)
	v := verifier(t, iss, func(c *token.Config) { c.Revocation = rev })
	raw := iss.MustMint(t, smarttest.Patient(aud, "p1", "patient/*.rs"))
	ctx := context.Background()
	c, err := v.Claims(ctx, raw)
	if err != nil || c.Patient != "p1" {
		t.Fatalf("Claims = %+v, %v", c, err)
	}
	if n := rev.asked.Load(); n != 0 {
		t.Fatalf("Claims asked about revocation %d times", n)
	}
	rev.revoked.Store(false)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("Verify after Claims: %v", err)
	}
	other := iss.MustMint(t, smarttest.Patient("https://elsewhere.example/fhir", "p1"))
	if _, err := v.Claims(ctx, other); err == nil {
		t.Fatal("Claims accepted a token for another audience")
	}
	if _, err := v.Claims(ctx, "not.a.jwt"); err == nil {
		t.Fatal("Claims accepted garbage")
	}
}

// slowRevocation answers "active" after a delay, as a loaded authorization server does.
type slowRevocation struct{ delay time.Duration }

func (s slowRevocation) Active(ctx context.Context, _ string) (bool, error) {
	select {
	case <-time.After(s.delay):
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// BenchmarkVerifySharedTokenSlowIntrospection verifies one token from 16 goroutines
// while each revocation question takes 2 ms and RecheckAfter is 50 ms (scaled down
// from 5 s, so that a run sees many rechecks), and reports the p99 and the longest wait.
func BenchmarkVerifySharedTokenSlowIntrospection(b *testing.B) {
	iss, err := smarttest.SharedIssuer()
	if err != nil {
		b.Fatal(err)
	}
	v, err := token.New(token.Config{Issuer: smarttest.IssuerURL, Audience: aud, Keys: iss.Keys(),
		Revocation: slowRevocation{2 * time.Millisecond}, RecheckAfter: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := iss.Mint(smarttest.Admin(aud, "user/*.cruds"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(8) // 16 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if _, err := v.Verify(ctx, raw); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
			time.Sleep(100 * time.Microsecond) // the rest of a request
		}
		mu.Lock()
		all = append(all, mine...)
		mu.Unlock()
	})
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(all[len(all)-1].Microseconds()), "max-µs")
}
