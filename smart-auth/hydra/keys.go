package hydra

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// WarmSigningKeys makes Hydra create its signing keys (access tokens and ID tokens) with
// one request, before any client asks for a token, waiting until ctx ends for Hydra to
// answer. Hydra creates a missing key set on first use, and first uses that arrive
// together each add a key to the set (six were seen in one set). Hydra then signs with
// one of the keys made in the same instant and may check at introspection with another,
// calling a token it has just issued inactive, which careslot must treat as revoked.
func WarmSigningKeys(ctx context.Context, publicURL string) error {
	jwks := strings.TrimRight(publicURL, "/") + "/.well-known/jwks.json"
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwks, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("signing keys of Hydra at %s: %w", jwks, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
