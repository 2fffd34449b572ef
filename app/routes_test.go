package app_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/subscriptions"
	"github.com/careslot/careslot/subscriptions/brokertest"
)

// Every route of the FHIR API refuses a caller without a token with 401 and a Bearer
// challenge, whatever the method, but the public ones: the CapabilityStatement, the
// SMART discovery document and the health check. Routes added later are walked too.
func TestEveryRouteRefusesAnonymousCallers(t *testing.T) {
	refusesAnonymousCallers(t, apptest.New(t))
}

// With subscriptions, the router also serves the websocket channel: a plain GET of it
// without a token is refused like any other (only a websocket upgrade gets in, and may
// only bind with a binding token: smart-auth and subscriptions test that).
func TestEveryRouteRefusesAnonymousCallersWithSubscriptions(t *testing.T) {
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	s := apptest.New(t, apptest.WithSubscriptions(subscriptions.Config{AMQPURL: amqpURL}))
	if !slices.ContainsFunc(s.FHIR.Routes(), func(r fhir.Route) bool { return r.Path == "/fhir/websocket" }) {
		t.Fatal("the router serves no /fhir/websocket with subscriptions running")
	}
	refusesAnonymousCallers(t, s)
}

func refusesAnonymousCallers(t *testing.T, s *apptest.Server) {
	t.Helper()
	values := map[string]string{"type": "Patient", "id": "route-1", "op": "$find", "vid": "1", "compartment": "Patient"}
	template := regexp.MustCompile(`\{([a-z]+)(:[^}]*)?\}`)
	root := strings.TrimSuffix(s.URL, "/fhir")
	routes := s.FHIR.Routes()
	if len(routes) < 15 {
		t.Fatalf("walked %d routes; the router has more", len(routes))
	}
	for _, route := range routes {
		path := template.ReplaceAllStringFunc(route.Path, func(m string) string {
			return values[template.FindStringSubmatch(m)[1]]
		})
		for _, method := range route.Methods {
			req, _ := http.NewRequest(method, root+path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if path == "/fhir/metadata" {
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s %s without a token: %d, want 200 (public)", method, path, resp.StatusCode)
				}
				continue
			}
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s %s (%s) without a token: %d %q, want 401 with a Bearer challenge",
					method, path, route.Path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	for _, path := range []string{"/healthz", "/fhir/metadata"} {
		resp, err := http.Get(root + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200", path, resp.StatusCode)
		}
	}
}
