package storage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
)

// PlanReminder makes the reminder of an appointment due at due (pending again if it had
// been sent or withdrawn for another time), or leaves it as it is when nothing moved.
func (s *Store) PlanReminder(ctx context.Context, appointmentID, patientID string, start, due time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO reminders (appointment_id, patient_id, start_at, due_at, state)
		VALUES ($1, $2, $3, $4, 'pending')
		ON CONFLICT (appointment_id) DO UPDATE SET patient_id = EXCLUDED.patient_id, start_at = EXCLUDED.start_at,
			due_at = EXCLUDED.due_at, state = 'pending', communication_id = NULL, updated_at = now()
		WHERE reminders.start_at <> EXCLUDED.start_at OR reminders.patient_id <> EXCLUDED.patient_id OR reminders.state = 'withdrawn'`,
		appointmentID, patientID, start, due)
	if err != nil {
		return fmt.Errorf("storage: plan reminder: %w", err)
	}
	return nil
}

// WithdrawReminder withdraws the appointment's pending reminder.
func (s *Store) WithdrawReminder(ctx context.Context, appointmentID string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE reminders SET state = 'withdrawn', updated_at = now()
		WHERE appointment_id = $1 AND state = 'pending'`, appointmentID); err != nil {
		return fmt.Errorf("storage: withdraw reminder: %w", err)
	}
	return nil
}

// Reminder is one appointment reminder.
type Reminder struct {
	AppointmentID, PatientID string
	Start, Due               time.Time
	State                    string // pending, sent or withdrawn
	CommunicationID          string
}

// Reminder reads the reminder of an appointment; nil when it has none.
func (s *Store) Reminder(ctx context.Context, appointmentID string) (*Reminder, error) {
	var r Reminder
	var comm *string
	err := s.pool.QueryRow(ctx, `SELECT appointment_id, patient_id, start_at, due_at, state, communication_id
		FROM reminders WHERE appointment_id = $1`, appointmentID).Scan(&r.AppointmentID, &r.PatientID, &r.Start, &r.Due, &r.State, &comm)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("storage: reminder: %w", err)
	}
	if comm != nil {
		r.CommunicationID = *comm
	}
	return &r, nil
}

// SendDueReminder takes one pending reminder due by now (skipping those another replica
// holds) and, in one transaction, writes the Communication that body returns for it and
// marks it sent. It reports whether there was one.
func (s *Store) SendDueReminder(ctx context.Context, now time.Time, body func(Reminder) ([]byte, error)) (bool, error) {
	found := false
	err := s.InTx(ctx, func(tx *Tx) error {
		found = false // InTx may run this again
		var r Reminder
		err := tx.pg.QueryRow(ctx, `SELECT appointment_id, patient_id, start_at, due_at FROM reminders
			WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED`, now).
			Scan(&r.AppointmentID, &r.PatientID, &r.Start, &r.Due)
		if err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		}
		found = true
		content, err := body(r)
		if err != nil {
			return err
		}
		id := NewID()
		if _, err := tx.Write(ctx, nil, "Communication", id, content, http.MethodPost); err != nil {
			return err
		}
		_, err = tx.pg.Exec(ctx, `UPDATE reminders SET state = 'sent', communication_id = $2, updated_at = now() WHERE appointment_id = $1`,
			r.AppointmentID, id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("storage: send reminder: %w", err)
	}
	return found, nil
}
