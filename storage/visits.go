package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ClaimVisit makes encounterID the visit of the appointment unless it already has one,
// and returns the Encounter id that is its visit now. A concurrent claim of the same
// appointment waits here for the other transaction and then sees its row: the table's
// primary key, not a read before the write, is what keeps it to one.
func (t *Tx) ClaimVisit(ctx context.Context, appointmentID, encounterID string) (string, error) {
	for try := 0; try < 3; try++ {
		var owner string
		err := t.pg.QueryRow(ctx, `INSERT INTO visits (appointment_id, encounter_id) VALUES ($1, $2)
			ON CONFLICT (appointment_id) DO NOTHING RETURNING encounter_id`, appointmentID, encounterID).Scan(&owner)
		if err == nil {
			return owner, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", fmt.Errorf("storage: claim visit: %w", mapPgError(err))
		}
		owner, err = t.Visit(ctx, appointmentID)
		if err != nil || owner != "" {
			return owner, err
		}
		// The row was deleted between the two statements: claim again.
	}
	return "", conflictf("the visit of Appointment/%s is changing concurrently; retry", appointmentID)
}

// Visit returns the Encounter id recorded as the appointment's visit, "" if none, and
// locks the row until the transaction ends.
func (t *Tx) Visit(ctx context.Context, appointmentID string) (string, error) {
	var owner string
	err := t.pg.QueryRow(ctx, `SELECT encounter_id FROM visits WHERE appointment_id = $1 FOR UPDATE`, appointmentID).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("storage: visit: %w", mapPgError(err))
	}
	return owner, nil
}

// MoveVisit makes encounterID the visit of the appointment in place of a stale one.
func (t *Tx) MoveVisit(ctx context.Context, appointmentID, encounterID string) error {
	if _, err := t.pg.Exec(ctx, `UPDATE visits SET encounter_id = $2 WHERE appointment_id = $1`, appointmentID, encounterID); err != nil {
		return fmt.Errorf("storage: move visit: %w", mapPgError(err))
	}
	return nil
}

// DropVisits forgets the visits of the Encounter other than those of keep (appointment ids).
func (t *Tx) DropVisits(ctx context.Context, encounterID string, keep []string) error {
	if keep == nil {
		keep = []string{}
	}
	if _, err := t.pg.Exec(ctx, `DELETE FROM visits WHERE encounter_id = $1 AND appointment_id <> ALL($2::text[])`, encounterID, keep); err != nil {
		return fmt.Errorf("storage: drop visits: %w", mapPgError(err))
	}
	return nil
}
