package subscriptions

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/careslot/careslot/storage"
)

// trackReminders keeps each appointment's reminder in step with its changes, in commit
// order: a booked appointment gets one due ReminderLead before its start; a new start
// moves it; a cancellation, a no-show or a deletion withdraws it.
func (s *Service) trackReminders(ctx context.Context, changes []storage.Change) error {
	var keys []storage.VersionKey
	for _, c := range changes {
		if c.Type == "Appointment" && c.Action != "delete" {
			keys = append(keys, storage.VersionKey{RID: c.RID, Version: c.VersionID})
		}
	}
	contents, err := s.store.Versions(ctx, keys)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if c.Type != "Appointment" {
			continue
		}
		if c.Action == "delete" {
			if err := s.store.WithdrawReminder(ctx, c.ID); err != nil {
				return err
			}
			continue
		}
		var appt struct {
			Status      string `json:"status"`
			Start       string `json:"start"`
			Participant []struct {
				Actor struct {
					Reference string `json:"reference"`
				} `json:"actor"`
			} `json:"participant"`
		}
		if json.Unmarshal(contents[storage.VersionKey{RID: c.RID, Version: c.VersionID}], &appt) != nil {
			continue
		}
		patient := ""
		for _, p := range appt.Participant {
			if id, ok := strings.CutPrefix(p.Actor.Reference, "Patient/"); ok {
				patient = id
				break
			}
		}
		start, startErr := time.Parse(time.RFC3339, appt.Start)
		switch {
		case appt.Status == "booked" && patient != "" && startErr == nil:
			err = s.store.PlanReminder(ctx, c.ID, patient, start, start.Add(-s.cfg.ReminderLead))
		case appt.Status == "cancelled" || appt.Status == "noshow" || appt.Status == "entered-in-error" ||
			appt.Status == "proposed" || appt.Status == "pending" || appt.Status == "waitlist" || appt.Status == "booked":
			err = s.store.WithdrawReminder(ctx, c.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// reminderBody is the Communication that reminds the patient of an appointment; written,
// it reaches the patient's subscriptions like any other change.
func (s *Service) reminderBody(r storage.Reminder) ([]byte, error) {
	return json.Marshal(map[string]any{
		"resourceType": "Communication",
		"status":       "completed",
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/communication-category", "code": "reminder", "display": "Reminder"}}}},
		"subject":   map[string]any{"reference": "Patient/" + r.PatientID},
		"recipient": []any{map[string]any{"reference": "Patient/" + r.PatientID}},
		"about":     []any{map[string]any{"reference": "Appointment/" + r.AppointmentID}},
		"sent":      s.cfg.Now().UTC().Format(time.RFC3339),
		"payload": []any{map[string]any{"contentString": fmt.Sprintf("Reminder: your appointment starts at %s.",
			r.Start.UTC().Format("2006-01-02 15:04 MST"))}},
	})
}
