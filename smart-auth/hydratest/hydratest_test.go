package hydratest_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/careslot/careslot/smart-auth/hydratest"
)

// A started Hydra has one signing key per set, however many first requests arrive
// together: with several keys made in one instant, Hydra's introspection may check a
// token against another key than the one that signed it and call it inactive (the
// "access token was revoked" flake of TestBackendServices).
func TestOneSigningKeyPerSet(t *testing.T) {
	h := hydratest.Start(t, hydratest.Options{CareslotURL: "http://127.0.0.1:1"})
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := http.Get(h.PublicURL + "/.well-known/jwks.json"); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for _, set := range []string{"hydra.jwt.access-token", "hydra.openid.id-token"} {
		resp, err := http.Get(h.AdminURL + "/admin/keys/" + set)
		if err != nil {
			t.Fatal(err)
		}
		var keys struct {
			Keys []json.RawMessage `json:"keys"`
		}
		err = json.NewDecoder(resp.Body).Decode(&keys)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d, %v", set, resp.StatusCode, err)
		}
		if len(keys.Keys) != 1 {
			t.Errorf("%s has %d keys, want 1", set, len(keys.Keys))
		}
	}
}
