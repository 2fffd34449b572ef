package smartauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	smartauth "github.com/careslot/careslot/smart-auth"
	"github.com/careslot/careslot/smart-auth/caller"
)

// Where a token is required, the one request let in without one is a websocket upgrade
// of the subscriptions channel, marked so that it may only bind with a binding token.
func TestOnlyAWebsocketUpgradeOfTheChannelGoesInWithoutAToken(t *testing.T) {
	var reached, marked bool
	h := smartauth.Authentication{Required: smartauth.RequiredOutsidePublic}.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached, marked = true, caller.TokenlessUpgrade(r.Context())
	}))
	upgrade := http.Header{"Upgrade": {"websocket"}, "Connection": {"keep-alive, Upgrade"}}
	cases := []struct {
		name, method, path string
		header             http.Header
		want               bool
	}{
		{"an upgrade of the channel", "GET", "/fhir/websocket", upgrade, true},
		{"a plain GET of the channel", "GET", "/fhir/websocket", nil, false},
		{"Upgrade without Connection: upgrade", "GET", "/fhir/websocket", http.Header{"Upgrade": {"websocket"}}, false},
		{"an upgrade by POST", "POST", "/fhir/websocket", upgrade, false},
		{"an upgrade of another path", "GET", "/fhir/Patient", upgrade, false},
		{"an upgrade of a path below the channel", "GET", "/fhir/websocket/x", upgrade, false},
		{"another protocol", "GET", "/fhir/websocket", http.Header{"Upgrade": {"h2c"}, "Connection": {"Upgrade"}}, false},
	}
	for _, tc := range cases {
		reached, marked = false, false
		req := httptest.NewRequest(tc.method, tc.path, nil)
		for k, v := range tc.header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if reached != tc.want || marked != tc.want {
			t.Errorf("%s: reached %v (marked %v), want %v", tc.name, reached, marked, tc.want)
		}
		if !tc.want && rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", tc.name, rec.Code)
		}
	}
}
