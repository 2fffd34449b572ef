package relay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/careslot/careslot/smart-auth/caller"
)

// introspect answers RFC 7662 introspection from Hydra's. The caller authenticates with
// an access token of its own (RFC 7662 §2.1); it learns about a token only when the token
// is its own client's, or when it is a backend service (system) or an administrator:
// everything else answers {"active": false}, as for a token that does not exist.
func (rl *Relay) introspect(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || raw == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="careslot"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", "introspection needs the caller's own access token: Authorization: Bearer <token>")
		return
	}
	who, err := rl.verifier.Verify(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="careslot", error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token", "the caller's access token is not valid")
		return
	}
	answer := map[string]any{"active": false}
	if tok := form.Get("token"); tok != "" {
		got, err := rl.admin.Introspect(r.Context(), tok)
		if err != nil {
			rl.log.Warn("introspect", "err", err)
			oauthError(w, http.StatusBadGateway, "temporarily_unavailable", "the authorization server did not answer")
			return
		}
		if got.Active && (who.Role == caller.RoleSystem || who.Role == caller.RoleAdmin || who.ClientID == got.GetClientId()) {
			answer = map[string]any{"active": true, "scope": got.GetScope(), "client_id": got.GetClientId(), "sub": got.GetSub(),
				"exp": got.GetExp(), "iat": got.GetIat(), "token_type": "Bearer", "token_use": got.GetTokenUse()}
			if len(got.Aud) > 0 {
				answer["aud"] = got.Aud
			}
			for _, name := range []string{"patient", "encounter"} {
				if v, ok := got.Ext[name].(string); ok && v != "" {
					answer[name] = v
				}
			}
			if v, ok := got.Ext["fhirUser"].(string); ok && v != "" {
				answer["fhirUser"] = fmt.Sprintf("%s/%s", rl.cfg.BaseURL, v)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	noStore(w)
	json.NewEncoder(w).Encode(answer)
}
