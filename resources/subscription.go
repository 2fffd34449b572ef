package resources

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/subscription"
)

// checkSubscription refuses a Subscription careslot cannot honour (subscription.Parse:
// channel, payload, criteria, topic, filters), an endpoint on a private address, and a
// status a client may not set; on create it records who created it, so that its
// notifications can later be limited to what that caller may read.
func (r *Rules) checkSubscription(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if c.New == nil {
		return nil
	}
	sub, err := subscription.Parse(c.New, subscription.Options{BaseURL: r.cfg.BaseURL, AllowPrivate: r.cfg.AllowPrivateEndpoints})
	if err != nil {
		return err
	}
	created := c.Old == nil || c.Old.Deleted
	old := ""
	if !created {
		var prev struct {
			Status string `json:"status"`
		}
		json.Unmarshal(c.Old.Content, &prev)
		old = prev.Status
	}
	// The server moves a subscription to active (after its handshake) and to error; a
	// client asks for one (requested), switches it off, or keeps what it has.
	switch {
	case sub.Status == subscription.StatusRequested || sub.Status == subscription.StatusOff:
	case !created && sub.Status == old:
	default:
		return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
			fmt.Sprintf("a client sets a Subscription's status to requested or off, not %s: the server makes it active after a successful handshake", sub.Status),
			"Subscription.status")
	}
	if sub.Channel == "rest-hook" {
		if err := subscription.CheckEndpoint(ctx, sub.Endpoint, r.cfg.AllowPrivateEndpoints); err != nil {
			return err
		}
	}
	if created {
		var owner []byte
		who, ok := caller.From(ctx)
		if ok {
			owner, _ = json.Marshal(who)
			if err := reusesAnothersID(ctx, tx, who, c.ID); err != nil {
				return err
			}
		}
		return tx.InitSubscriptionState(ctx, c.ID, owner)
	}
	return nil
}

// reusesAnothersID refuses a person creating a Subscription under the id of a deleted
// one that someone else created: the id's history (endpoint, headers) is its creator's,
// and whoever owns the id may read it.
func reusesAnothersID(ctx context.Context, tx *storage.Tx, who caller.Caller, id string) error {
	if who.Unrestricted() {
		return nil
	}
	prev, found, err := tx.SubscriptionOwner(ctx, id)
	if err != nil || !found {
		return err
	}
	var o caller.Caller
	if prev != nil && json.Unmarshal(prev, &o) == nil && o.Subject != "" && o.Subject == who.Subject {
		return nil
	}
	return &fhirerr.Error{Kind: fhirerr.ErrConflict, Code: fhirerr.CodeConflict, Resource: "Subscription/" + id,
		Diagnostics: fmt.Sprintf("Subscription/%s was used before by someone else; create the Subscription with POST (a new id)", id)}
}

// checkBasic keeps the ids of careslot's SubscriptionTopics, which it serves as Basic
// (fhir/topics.go), from being written: a stored Basic of that id could never be read.
func (r *Rules) checkBasic(ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error {
	if subscription.TopicByID(c.ID) == nil {
		return nil
	}
	return fhirerr.Unprocessable(fhirerr.CodeBusinessRule,
		fmt.Sprintf("Basic/%s is careslot's SubscriptionTopic %s; it is not written through the API", c.ID, subscription.TopicByID(c.ID).URL), "Basic.id")
}
