package token

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// RemoteKeys is the issuer's JWKS, fetched from its jwks_uri and kept fresh by
// jwx's cache: refreshed in the background, and at once (at most every
// MinForcedRefresh) when a token names a kid the cache does not know, so that a key
// the issuer just rotated in works from its first token.
type RemoteKeys struct {
	url   string
	cache *jwk.Cache

	mu         sync.Mutex
	lastForced time.Time
}

// MinForcedRefresh is the shortest time between two fetches that unknown kids force, so
// that tokens with made-up kids cannot make careslot hammer the issuer.
var MinForcedRefresh = 10 * time.Second

// NewRemoteKeys starts caching the key set at jwksURL until ctx ends. It does not wait
// for the first fetch: Key does, when first asked.
func NewRemoteKeys(ctx context.Context, jwksURL string) (*RemoteKeys, error) {
	client := httprc.NewClient(
		httprc.WithWhitelist(httprc.NewMapWhitelist().Add(jwksURL)),
		httprc.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}),
	)
	cache, err := jwk.NewCache(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("start the JWKS cache: %w", err)
	}
	err = cache.Register(ctx, jwksURL, jwk.WithWaitReady(false),
		jwk.WithMinInterval(time.Minute), jwk.WithMaxInterval(15*time.Minute))
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", jwksURL, err)
	}
	return &RemoteKeys{url: jwksURL, cache: cache}, nil
}

// Key implements Keys.
func (k *RemoteKeys) Key(ctx context.Context, kid string) (jwk.Key, bool, error) {
	set, err := k.cache.Lookup(ctx, k.url)
	if err != nil {
		// Not fetched yet (or the first fetch failed): fetch now.
		if set, err = k.cache.Refresh(ctx, k.url); err != nil {
			return nil, false, err
		}
	}
	if key, ok := set.LookupKeyID(kid); ok {
		return key, true, nil
	}
	if !k.mayForce() {
		return nil, false, nil
	}
	set, err = k.cache.Refresh(ctx, k.url)
	if err != nil {
		return nil, false, err
	}
	key, ok := set.LookupKeyID(kid)
	return key, ok, nil
}

func (k *RemoteKeys) mayForce() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if time.Since(k.lastForced) < MinForcedRefresh {
		return false
	}
	k.lastForced = time.Now()
	return true
}

// StaticKeys is a fixed key set (tests, or an issuer whose keys never change).
type StaticKeys struct{ Set jwk.Set }

// Key implements Keys.
func (k StaticKeys) Key(_ context.Context, kid string) (jwk.Key, bool, error) {
	key, ok := k.Set.LookupKeyID(kid)
	return key, ok, nil
}
