package app_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/careslot/careslot/smart-auth/hydratest"
)

func TestSmartConfigurationAndCapabilitySecurity(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	r := s.Must(t, http.StatusOK, "GET", ".well-known/smart-configuration", nil, "Origin", "https://app.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("no CORS on discovery: %v", r.Header)
	}
	var conf map[string]any
	if err := json.Unmarshal(r.Body, &conf); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"issuer": s.hydra.Issuer, "jwks_uri": s.hydra.PublicURL + "/.well-known/jwks.json",
		"authorization_endpoint": s.root + "/auth/authorize", "token_endpoint": s.root + "/auth/token",
		"introspection_endpoint": s.root + "/auth/introspect", "revocation_endpoint": s.root + "/auth/revoke",
		"end_session_endpoint": s.hydra.PublicURL + "/oauth2/sessions/logout",
	} {
		if conf[key] != want {
			t.Errorf("%s = %v, want %s", key, conf[key], want)
		}
	}
	list := func(key string) []string {
		var out []string
		for _, v := range conf[key].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := list("code_challenge_methods_supported"); !slices.Equal(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v", got)
	}
	if got := list("grant_types_supported"); !slices.Equal(got, []string{"authorization_code", "client_credentials", "refresh_token"}) {
		t.Errorf("grant_types_supported = %v", got)
	}
	caps := list("capabilities")
	for _, c := range []string{"launch-ehr", "launch-standalone", "authorize-post", "client-public", "client-confidential-symmetric",
		"client-confidential-asymmetric", "sso-openid-connect", "context-ehr-patient", "context-standalone-patient",
		"permission-offline", "permission-patient", "permission-user", "permission-v1", "permission-v2"} {
		if !slices.Contains(caps, c) {
			t.Errorf("capability %s missing", c)
		}
	}
	if len(list("scopes_supported")) == 0 || len(list("response_types_supported")) == 0 {
		t.Error("scopes_supported or response_types_supported empty")
	}
	// The preflight of a browser app.
	req, _ := http.NewRequest(http.MethodOptions, s.URL+"/.well-known/smart-configuration", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	r = s.Must(t, http.StatusOK, "GET", "metadata", nil, "Origin", "https://app.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS on metadata")
	}
	var cs struct {
		Rest []struct {
			Security struct {
				Service []struct {
					Coding []struct{ System, Code string }
				}
				Extension []struct {
					URL       string
					Extension []struct {
						URL      string
						ValueURI string `json:"valueUri"`
					}
				}
			}
		}
	}
	json.Unmarshal(r.Body, &cs)
	sec := cs.Rest[0].Security
	if len(sec.Service) != 1 || sec.Service[0].Coding[0].Code != "SMART-on-FHIR" ||
		sec.Service[0].Coding[0].System != "http://terminology.hl7.org/CodeSystem/restful-security-service" {
		t.Fatalf("security.service = %+v", sec.Service)
	}
	uris := map[string]string{}
	for _, e := range sec.Extension {
		if e.URL == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
			for _, sub := range e.Extension {
				uris[sub.URL] = sub.ValueURI
			}
		}
	}
	if uris["authorize"] != s.root+"/auth/authorize" || uris["token"] != s.root+"/auth/token" {
		t.Fatalf("oauth-uris = %v", uris)
	}
}

// The relayed endpoints take RFC 6749 forms by POST only, answer browsers' preflights,
// and never let an answer be cached.
func TestRelayedEndpointsRefuseOddRequests(t *testing.T) {
	s := newSmartServer(t, hydratest.Options{})
	for _, path := range []string{"/auth/token", "/auth/revoke", "/auth/introspect"} {
		resp, err := http.Get(s.root + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d %v", path, resp.StatusCode, resp.Header)
		}
		resp, err = http.Post(s.root+path, "application/json", strings.NewReader(`{"grant_type":"client_credentials"}`))
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || out["error"] != "invalid_request" {
			t.Errorf("JSON to %s: %d %v", path, resp.StatusCode, out)
		}
		req, _ := http.NewRequest(http.MethodOptions, s.root+path, nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("preflight of %s: %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(s.URL+"/.well-known/smart-configuration", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST smart-configuration: %d", resp.StatusCode)
	}
}
