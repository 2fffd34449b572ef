// Package token verifies the OAuth2 access tokens that careslot's clients present: JWTs
// signed by the authorization server (Ory Hydra), checked against its JWKS (issuer,
// audience, expiry, signature algorithm), then against revocation, and turned into the
// caller.Caller of the request.
//
// It never mints a token: minting belongs to Hydra (and to tests, through smarttest).
// It never logs a token either.
package token

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Keys is where the verifier finds the issuer's public keys.
type Keys interface {
	// Key returns the key with kid, fetching the issuer's key set again when it does not
	// know kid (the issuer rotated its keys).
	Key(ctx context.Context, kid string) (jwk.Key, bool, error)
}

// Revocation tells whether the authorization server still holds a token active: it bites
// where a JWT's own expiry does not (revoked tokens, revoked consent, a refresh token
// reused).
type Revocation interface {
	Active(ctx context.Context, raw string) (bool, error)
}

// Config is what the verifier trusts.
type Config struct {
	Issuer   string // the iss every token must carry, e.g. http://127.0.0.1:4444/
	Audience string // the FHIR base URL that every token's aud must contain
	Keys     Keys
	// Revocation is asked again once a verified token's last answer is older than
	// RecheckAfter (default 5 s): a revoked token stops working within that time.
	Revocation   Revocation
	RecheckAfter time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat (default 10 s).
	Leeway time.Duration
	// Now is the clock, for tests; nil is time.Now.
	Now func() time.Time
}

// Algorithms are the signature algorithms careslot accepts; "none" and the symmetric
// HS* (whose key would have to be shared) never are.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Error is a refused token. Unavailable is true when the token could not be checked
// (the authorization server did not answer), rather than found bad.
type Error struct {
	Description string // safe to show the client: names no key and echoes no token
	Unavailable bool
	err         error
}

func (e *Error) Error() string {
	if e.err != nil {
		return e.Description + ": " + e.err.Error()
	}
	return e.Description
}

func (e *Error) Unwrap() error { return e.err }

func invalid(description string, err error) *Error { return &Error{Description: description, err: err} }

// Verifier checks access tokens. It is safe for concurrent use.
type Verifier struct {
	cfg      Config
	now      func() time.Time
	provider jws.KeyProvider

	mu    sync.Mutex
	cache map[[sha256.Size]byte]*verified
}

// verified is a token that passed every check, remembered so that the next request with
// it costs a hash and a map lookup instead of a signature check.
type verified struct {
	caller    caller.Caller
	notBefore time.Time

	mu         sync.Mutex // held while a request asks about revocation again
	checkedAt  time.Time  // when the last "active" answer was asked for
	revoked    bool       // final: the next try is refused without asking again
	refreshing bool       // a background question is under way (refresh)
}

// maxCached bounds the memory of the cache; past it, expired entries go, then all.
const maxCached = 100_000

// New makes a verifier.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" || cfg.Keys == nil || cfg.Revocation == nil {
		return nil, errors.New("token: Issuer, Audience, Keys and Revocation are required")
	}
	if cfg.RecheckAfter <= 0 {
		cfg.RecheckAfter = 5 * time.Second
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 10 * time.Second
	}
	v := &Verifier{cfg: cfg, now: cfg.Now, cache: map[[sha256.Size]byte]*verified{}}
	if v.now == nil {
		v.now = time.Now
	}
	v.provider = jws.KeyProviderFunc(v.fetchKey)
	return v, nil
}

// Audience is the FHIR base URL that tokens must be issued for.
func (v *Verifier) Audience() string { return v.cfg.Audience }

// Verify checks raw and returns who it speaks for. A refusal is an *Error.
func (v *Verifier) Verify(ctx context.Context, raw string) (caller.Caller, error) {
	if raw == "" || len(raw) > 16<<10 || strings.Count(raw, ".") != 2 {
		return caller.Caller{}, invalid("the access token is not a JWT", nil)
	}
	key := sha256.Sum256([]byte(raw))
	now := v.now()
	v.mu.Lock()
	entry := v.cache[key]
	v.mu.Unlock()
	if entry == nil {
		c, nbf, err := v.parse(ctx, raw)
		if err != nil {
			return caller.Caller{}, err
		}
		entry = v.remember(key, &verified{caller: c, notBefore: nbf}, now)
	}
	// exp and nbf are checked on every use, not only when the token was first parsed.
	if now.After(entry.caller.ExpiresAt.Add(v.cfg.Leeway)) {
		return caller.Caller{}, invalid("the access token expired", nil)
	}
	if now.Add(v.cfg.Leeway).Before(entry.notBefore) {
		return caller.Caller{}, invalid("the access token is not valid yet", nil)
	}
	if err := v.checkRevocation(ctx, raw, entry, now); err != nil {
		return caller.Caller{}, err
	}
	return entry.caller, nil
}

// Claims reads a token that careslot has just received from the authorization server
// itself (the token endpoint's answer): signature, issuer, audience and expiry are
// checked, revocation is not asked and nothing is cached. Asking Hydra about a token in
// the instant it is issued can answer "inactive" under load, and Verify would then
// remember the token as revoked for good.
func (v *Verifier) Claims(ctx context.Context, raw string) (caller.Caller, error) {
	if raw == "" || len(raw) > 16<<10 || strings.Count(raw, ".") != 2 {
		return caller.Caller{}, invalid("the access token is not a JWT", nil)
	}
	c, _, err := v.parse(ctx, raw)
	return c, err
}

// checkRevocation asks the authorization server about a token once per RecheckAfter.
// A request past RecheckAfter waits for the answer. One in the last tenth of it starts
// the next question in the background and goes on with the answer it has, which is
// still fresh enough: under steady use the answer is renewed before it is due, and the
// requests that share a token no longer all wait for the authorization server every
// RecheckAfter (they did, behind entry.mu, for the time of one introspection).
func (v *Verifier) checkRevocation(ctx context.Context, raw string, entry *verified, now time.Time) error {
	entry.mu.Lock()
	defer entry.mu.Unlock()
	if entry.revoked {
		return invalid("the access token was revoked or expired", nil)
	}
	if age := now.Sub(entry.checkedAt); !entry.checkedAt.IsZero() && age < v.cfg.RecheckAfter {
		if age >= v.cfg.RecheckAfter-v.cfg.RecheckAfter/10 && !entry.refreshing {
			entry.refreshing = true
			go v.refresh(context.WithoutCancel(ctx), raw, entry)
		}
		return nil
	}
	active, err := v.cfg.Revocation.Active(ctx, raw)
	if err != nil {
		return &Error{Description: "the authorization server could not be asked whether the token is still active", Unavailable: true, err: err}
	}
	if !active {
		entry.revoked = true
		if now.After(entry.caller.ExpiresAt) {
			return invalid("the access token expired", nil)
		}
		return invalid("the access token was revoked", nil)
	}
	if now.After(entry.checkedAt) {
		entry.checkedAt = now
	}
	return nil
}

// refreshTimeout bounds a background revocation question; a request past RecheckAfter
// asks again itself.
const refreshTimeout = 10 * time.Second

// refresh asks the authorization server about a token ahead of its next check. An
// answer counts from when it was asked; no answer leaves the last one to expire, and the
// request after that asks and waits.
func (v *Verifier) refresh(ctx context.Context, raw string, entry *verified) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	asked := v.now()
	active, err := v.cfg.Revocation.Active(ctx, raw)
	entry.mu.Lock()
	defer entry.mu.Unlock()
	entry.refreshing = false
	switch {
	case err != nil:
	case !active:
		entry.revoked = true
	case asked.After(entry.checkedAt):
		entry.checkedAt = asked
	}
}

// remember caches entry under key and returns the cached entry, which is another one when
// a concurrent request with the same token got there first.
func (v *Verifier) remember(key [sha256.Size]byte, entry *verified, now time.Time) *verified {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= maxCached {
		for k, e := range v.cache {
			if now.After(e.caller.ExpiresAt.Add(v.cfg.Leeway)) {
				delete(v.cache, k)
			}
		}
		if len(v.cache) >= maxCached {
			clear(v.cache)
		}
	}
	if prior, ok := v.cache[key]; ok {
		return prior
	}
	v.cache[key] = entry
	return entry
}

// parse verifies the signature and the registered claims and reads careslot's claims.
func (v *Verifier) parse(ctx context.Context, raw string) (caller.Caller, time.Time, error) {
	tok, err := jwt.ParseString(raw,
		jwt.WithKeyProvider(v.provider),
		jwt.WithContext(ctx),
		jwt.WithIssuer(v.cfg.Issuer),
		jwt.WithAudience(v.cfg.Audience),
		jwt.WithAcceptableSkew(v.cfg.Leeway),
		jwt.WithClock(jwt.ClockFunc(v.now)),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
	)
	if err != nil {
		var unavailable *keysUnavailable
		if errors.As(err, &unavailable) {
			return caller.Caller{}, time.Time{}, &Error{Description: "the authorization server's keys could not be fetched", Unavailable: true, err: err}
		}
		return caller.Caller{}, time.Time{}, invalid(describe(err), err)
	}
	c, err := callerFrom(tok)
	if err != nil {
		return caller.Caller{}, time.Time{}, invalid(err.Error(), err)
	}
	nbf, _ := tok.NotBefore()
	return c, nbf, nil
}

// describe names what was wrong with a token without echoing it.
func describe(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return "the access token expired"
	case errors.Is(err, jwt.TokenNotYetValidError()), errors.Is(err, jwt.InvalidIssuedAtError()):
		return "the access token is not valid yet"
	case errors.Is(err, jwt.InvalidIssuerError()):
		return "the access token was not issued by careslot's authorization server"
	case errors.Is(err, jwt.InvalidAudienceError()):
		return "the access token is not meant for this FHIR server (aud)"
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return "the access token lacks a required claim (exp, sub)"
	case errors.Is(err, jws.VerifyError()), errors.Is(err, errUnknownKey), errors.Is(err, errAlgorithm):
		return "the access token's signature does not verify"
	}
	return "the access token is malformed"
}

var (
	errUnknownKey = errors.New("no key of the issuer has this kid")
	errAlgorithm  = errors.New("signature algorithm not allowed")
)

// keysUnavailable is a failure to fetch the key set, not a bad token.
type keysUnavailable struct{ err error }

func (e *keysUnavailable) Error() string { return "fetch the issuer's keys: " + e.err.Error() }
func (e *keysUnavailable) Unwrap() error { return e.err }

// fetchKey gives jws the issuer's key named by the token's kid, for an allowed algorithm
// that the key itself declares: the token's header alone never chooses the algorithm.
func (v *Verifier) fetchKey(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	headers := sig.ProtectedHeaders()
	alg, ok := headers.Algorithm()
	if !ok || !slices.Contains(Algorithms, alg.String()) {
		return errAlgorithm
	}
	kid, ok := headers.KeyID()
	if !ok || kid == "" {
		return errUnknownKey
	}
	key, found, err := v.cfg.Keys.Key(ctx, kid)
	if err != nil {
		return &keysUnavailable{err}
	}
	if !found {
		return errUnknownKey
	}
	if keyAlg, ok := key.Algorithm(); ok && keyAlg.String() != alg.String() {
		return errAlgorithm
	}
	sigAlg, ok := jwa.LookupSignatureAlgorithm(alg.String())
	if !ok {
		return errAlgorithm
	}
	sink.Key(sigAlg, key)
	return nil
}

// String names the verifier's trust, for logs.
func (v *Verifier) String() string {
	return fmt.Sprintf("token verifier (iss %s, aud %s)", v.cfg.Issuer, v.cfg.Audience)
}
