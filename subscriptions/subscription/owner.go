package subscription

import (
	"context"
	"encoding/json"

	"github.com/careslot/careslot/smart-auth/caller"
)

// MayWatch tells whether the caller of ctx may follow a subscription whose owner is
// owner (the creating caller as JSON, nil when created without a token): its $status,
// its $events and its websocket. Only the owner (the same subject) and callers who see
// everything (admins, backend services) may; without a token, only a subscription made
// without one.
func MayWatch(ctx context.Context, owner []byte) bool {
	c, ok := caller.From(ctx)
	if !ok {
		return owner == nil
	}
	if c.Unrestricted() {
		return true
	}
	if owner == nil {
		return false
	}
	var o caller.Caller
	if err := json.Unmarshal(owner, &o); err != nil {
		return false
	}
	return o.Subject != "" && o.Subject == c.Subject
}
