package token

import (
	"errors"
	"fmt"
	"strings"

	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// The claims careslot reads from an access token (docs/security.md, "The claim
// contract"). Hydra puts the claims that careslot's consent app grants into the
// access token's session under the "ext" claim; the others are registered JWT claims or
// Hydra's own (client_id, scp).
const (
	ClaimExt       = "ext"
	ClaimClientID  = "client_id"
	ClaimScopes    = "scp"   // a JSON array of scopes (Hydra's default)
	ClaimScope     = "scope" // a space-separated string (Hydra's "string" scope claim style)
	ClaimRole      = "role"
	ClaimFHIRUser  = "fhirUser"
	ClaimPatient   = "patient"
	ClaimEncounter = "encounter"
)

// Ext is careslot's part of a token: what the consent app granted.
type Ext struct {
	Role      string `json:"role,omitempty"`
	FHIRUser  string `json:"fhirUser,omitempty"`
	Patient   string `json:"patient,omitempty"`
	Encounter string `json:"encounter,omitempty"`
}

// Claims returns ext as the map the consent app hands Hydra, without empty claims.
func (e Ext) Claims() map[string]any {
	m := map[string]any{}
	for k, v := range map[string]string{ClaimRole: e.Role, ClaimFHIRUser: e.FHIRUser, ClaimPatient: e.Patient, ClaimEncounter: e.Encounter} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// callerFrom reads the caller out of a verified token.
func callerFrom(tok jwt.Token) (caller.Caller, error) {
	var c caller.Caller
	c.Subject, _ = tok.Subject()
	c.TokenID, _ = tok.JwtID()
	c.ExpiresAt, _ = tok.Expiration()
	if err := tok.Get(ClaimClientID, &c.ClientID); err != nil && !errors.Is(err, jwt.ClaimNotFoundError()) {
		return c, fmt.Errorf("client_id is not a string")
	}
	scopes, err := scopesOf(tok)
	if err != nil {
		return c, err
	}
	var ext map[string]any
	if err := tok.Get(ClaimExt, &ext); err != nil && !errors.Is(err, jwt.ClaimNotFoundError()) {
		return c, fmt.Errorf("ext is not an object")
	}
	var fields Ext
	for name, dst := range map[string]*string{ClaimRole: &fields.Role, ClaimFHIRUser: &fields.FHIRUser, ClaimPatient: &fields.Patient, ClaimEncounter: &fields.Encounter} {
		if v, ok := ext[name]; ok {
			s, isString := v.(string)
			if !isString {
				return c, fmt.Errorf("ext.%s is not a string", name)
			}
			*dst = s
		}
	}
	c.FHIRUser, c.Patient, c.Encounter = fields.FHIRUser, fields.Patient, fields.Encounter
	switch caller.Role(fields.Role) {
	case caller.RolePatient, caller.RolePractitioner, caller.RoleAdmin:
		c.Role = caller.Role(fields.Role)
		c.Scopes = scopes
	case "":
		// A token without a user is a client's own (client_credentials, where Hydra makes
		// the subject the client id): a backend service, which holds system/ scopes only.
		if c.ClientID == "" || c.Subject != c.ClientID {
			return c, errors.New("the access token names a user but no role")
		}
		c.Role = caller.RoleSystem
		for _, s := range scopes {
			if strings.HasPrefix(s, "system/") {
				c.Scopes = append(c.Scopes, s)
			}
		}
	default:
		return c, fmt.Errorf("the access token's role %q is unknown", fields.Role)
	}
	return c, nil
}

// scopesOf reads scp (a list) or scope (a space-separated string).
func scopesOf(tok jwt.Token) ([]string, error) {
	var list []any
	if err := tok.Get(ClaimScopes, &list); err == nil {
		out := make([]string, 0, len(list))
		for _, s := range list {
			str, ok := s.(string)
			if !ok {
				return nil, errors.New("scp is not a list of strings")
			}
			out = append(out, str)
		}
		return out, nil
	} else if !errors.Is(err, jwt.ClaimNotFoundError()) {
		return nil, errors.New("scp is not a list of strings")
	}
	var joined string
	if err := tok.Get(ClaimScope, &joined); err != nil && !errors.Is(err, jwt.ClaimNotFoundError()) {
		return nil, errors.New("scope is not a string")
	}
	return strings.Fields(joined), nil
}
