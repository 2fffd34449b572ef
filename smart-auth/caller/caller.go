// Package caller says who is calling: the identity that smart-auth puts into each
// request's context and that every later layer reads to decide what it may see.
//
// It is a leaf package so that fhir, resources and storage can all read the caller
// without importing the auth machinery. It must never import another careslot package.
package caller

import (
	"context"
	"time"
)

// Role is the kind of user behind a request.
type Role string

const (
	RoleAnonymous    Role = ""
	RolePatient      Role = "patient"
	RolePractitioner Role = "practitioner"
	RoleAdmin        Role = "admin"
	// RoleSystem is a backend service with system/ scopes, or the server itself (seeding, tests).
	RoleSystem Role = "system"
)

// Caller is the authenticated party of one request.
type Caller struct {
	Subject string   // OAuth2 subject (user or client id)
	Role    Role     // what kind of user
	Scopes  []string // granted SMART scopes, e.g. "patient/Appointment.rs"
	// Patient is the launch-context patient id (patient role, or a practitioner app launched for one patient).
	Patient string
	// FHIRUser is the caller's own resource, e.g. "Practitioner/123".
	FHIRUser string
	// Encounter is the launch-context encounter id, when the launch gave one.
	Encounter string
	// ClientID is the OAuth2 client (the app) acting for the subject.
	ClientID string
	// TokenID is the access token's jti, for audit; never the token itself.
	TokenID string
	// ExpiresAt is when the access token stops being valid.
	ExpiresAt time.Time
}

// Unrestricted is true for callers that see everything (the server itself and admins).
func (c Caller) Unrestricted() bool {
	return c.Role == RoleSystem || c.Role == RoleAdmin
}

type key struct{}

// With returns ctx carrying c.
func With(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, key{}, c)
}

// From returns the caller in ctx; ok is false when the request is anonymous.
func From(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(key{}).(Caller)
	return c, ok
}

type tokenlessUpgradeKey struct{}

// WithTokenlessUpgrade marks ctx as a websocket upgrade let in without an access token:
// the connection may only bind with a binding token ($get-ws-binding-token).
func WithTokenlessUpgrade(ctx context.Context) context.Context {
	return context.WithValue(ctx, tokenlessUpgradeKey{}, true)
}

// TokenlessUpgrade tells whether ctx is such an upgrade.
func TokenlessUpgrade(ctx context.Context) bool {
	v, _ := ctx.Value(tokenlessUpgradeKey{}).(bool)
	return v
}
