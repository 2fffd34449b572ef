package resources

import (
	"context"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// FindRequest is a call of Appointment/$find.
type FindRequest struct {
	Start, End  time.Time
	Actor       string // Practitioner/[id] or PractitionerRole/[id] (or any schedule actor); "" for any
	Specialty   string // token: code or system|code
	ServiceType string // token: code or system|code
	Patient     string // Patient id the appointments are for; "" for none
	Limit       int
}

// maxFindResults bounds what one $find answers.
const maxFindResults = 500

// FindAppointments answers $find: open slots, as proposed Appointments that $hold or $book
// can take as they are. Lapsed holds are released first so that their slots show as open.
func (r *Rules) FindAppointments(ctx context.Context, store *storage.Store, req FindRequest) ([]map[string]any, error) {
	if !req.End.After(req.Start) {
		return nil, fhirerr.Invalid("end must be after start")
	}
	if req.Limit <= 0 || req.Limit > maxFindResults {
		req.Limit = maxFindResults
	}
	if _, err := r.ExpireHolds(ctx, store); err != nil {
		return nil, err
	}
	slots, err := store.FreeSlots(ctx, storage.FreeSlotQuery{From: req.Start, To: req.End, Actor: req.Actor,
		Specialty: req.Specialty, ServiceType: req.ServiceType, Patient: req.Patient, Limit: req.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(slots))
	for _, s := range slots {
		var participants []any
		if req.Patient != "" {
			participants = append(participants, map[string]any{
				"actor": map[string]any{"reference": "Patient/" + req.Patient}, "required": "required", "status": "needs-action"})
		}
		for _, a := range s.Actors {
			participants = append(participants, map[string]any{
				"actor": map[string]any{"reference": a}, "required": "required", "status": "needs-action"})
		}
		out = append(out, map[string]any{
			"resourceType": "Appointment",
			"status":       "proposed",
			"start":        formatInstant(s.Start),
			"end":          formatInstant(s.End),
			"slot":         []any{map[string]any{"reference": "Slot/" + s.ID}},
			"participant":  participants,
		})
	}
	return out, nil
}
