// Package resources holds the rules of each resource type that the base FHIR
// specification's parser does not check: invariants of the product types, scheduling,
// coverage and who may see which record. The fhir layer calls Check inside the write
// transaction, before storage writes the change.
//
// It serves no HTTP: its refusals are fhirerr errors, which the fhir layer renders, and
// net/http gives it only the method name a write is stored with (history's
// request.method). It must never import fhir or smartauth (only smart-auth/caller).
package resources

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// Action is what a change does to a resource.
type Action string

const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Change is one write about to happen inside tx.
type Change struct {
	Action Action
	Type   string
	ID     string
	Old    *storage.Resource // the current version; nil (or Deleted) on create
	New    []byte            // the validated resource; nil on delete. A rule may replace it.
}

// Config switches rules on and off.
type Config struct {
	// RequireCoverage refuses booking an appointment for a patient without active coverage.
	RequireCoverage bool
	// BaseURL is the server's FHIR base: absolute references under it in subscription
	// criteria are local.
	BaseURL string
	// AllowPrivateEndpoints lets subscription endpoints be private, loopback or
	// link-local addresses (CARESLOT_SUBSCRIPTION_ALLOW_PRIVATE).
	AllowPrivateEndpoints bool
}

// Rules checks changes against the rules of their resource type.
type Rules struct {
	cfg Config
	// Observe, when set, is told every access decision, allowed or refused (access.go), for
	// the audit trail. It must not block.
	Observe func(context.Context, Event)
}

// New makes the rules.
func New(cfg Config) *Rules { return &Rules{cfg: cfg} }

// typeRule checks one change of one resource type; doc is New decoded (nil on delete).
type typeRule func(r *Rules, ctx context.Context, tx *storage.Tx, c *Change, doc map[string]any) error

// rulesByType lists the per-type rules. Types without an entry have only the base rules.
// It is filled in init because rules write other resources through Check, which reads it.
var rulesByType map[string]typeRule

func init() {
	rulesByType = map[string]typeRule{
		"Appointment":         (*Rules).checkAppointment,
		"AppointmentResponse": (*Rules).checkAppointmentResponse,
		"Slot":                (*Rules).checkSlot,
		"Schedule":            (*Rules).checkSchedule,
		"Subscription":        (*Rules).checkSubscription,
		"Basic":               (*Rules).checkBasic,
		"Encounter":           (*Rules).checkEncounter,
	}
	for typ := range recordPatientElement {
		rulesByType[typ] = (*Rules).checkRecordEncounter
	}
	rulesByType["DocumentReference"] = (*Rules).checkDocumentReference // and its attachments
}

// Check runs the rules of c.Type; a refusal is a *fhirerr.Error.
func (r *Rules) Check(ctx context.Context, tx *storage.Tx, c *Change) error {
	rule, ok := rulesByType[c.Type]
	if !ok {
		return nil
	}
	var doc map[string]any
	if c.New != nil {
		if err := json.Unmarshal(c.New, &doc); err != nil {
			return fhirerr.Invalid(fmt.Sprintf("%s is not a JSON object", c.Type))
		}
	}
	return rule(r, ctx, tx, c, doc)
}
