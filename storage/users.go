package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// User is a person who signs in: a patient, a practitioner or an administrator.
// PasswordHash is an encoded hash (argon2id); the password itself is never stored.
type User struct {
	ID           string
	Username     string
	PasswordHash string
	Role         string // patient | practitioner | admin
	FHIRUser     string // Patient/<id> or Practitioner/<id>; "" for an admin without one
	CreatedAt    time.Time
}

// ErrNoUser is the answer for a user or launch that does not exist.
var ErrNoUser = errors.New("no such user")

// ErrUserExists is the answer of CreateUser for a username already taken.
var ErrUserExists = errors.New("a user with this username exists")

const userColumns = `id, username, password_hash, role, coalesce(fhir_user, ''), created_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Role, &u.FHIRUser, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, ErrNoUser
	}
	return u, err
}

// CreateUser adds u.
func (s *Store) CreateUser(ctx context.Context, u User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, username, password_hash, role, fhir_user) VALUES ($1, $2, $3, $4, nullif($5, ''))`,
		u.ID, u.Username, u.PasswordHash, u.Role, u.FHIRUser)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return ErrUserExists
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	return nil
}

// UserByName finds a user by username.
func (s *Store) UserByName(ctx context.Context, username string) (User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username))
}

// UserByID finds a user by id (the subject of their tokens).
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// SetPasswordHash replaces a user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, username, hash string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $2, updated_at = now() WHERE username = $1`, username, hash)
	if err != nil {
		return fmt.Errorf("set password of %s: %w", username, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNoUser
	}
	return nil
}

// Users lists every user by username.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Launch is an EHR launch context, named by an opaque id that the app passes as `launch`.
type Launch struct {
	ID        string
	UserID    string // who may use it: the user who created it
	Patient   string
	Encounter string
	ExpiresAt time.Time
}

// CreateLaunch stores l (and drops launches that expired).
func (s *Store) CreateLaunch(ctx context.Context, l Launch) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM smart_launches WHERE expires_at < now()`); err != nil {
		return fmt.Errorf("drop expired launches: %w", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO smart_launches (id, user_id, patient, encounter, expires_at) VALUES ($1, $2, nullif($3, ''), nullif($4, ''), $5)`,
		l.ID, l.UserID, l.Patient, l.Encounter, l.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create launch: %w", err)
	}
	return nil
}

// LaunchByID finds a launch that has not expired; ErrNoUser when there is none.
func (s *Store) LaunchByID(ctx context.Context, id string) (Launch, error) {
	var l Launch
	err := s.pool.QueryRow(ctx, `SELECT id, user_id, coalesce(patient, ''), coalesce(encounter, ''), expires_at
		FROM smart_launches WHERE id = $1 AND expires_at > now()`, id).Scan(&l.ID, &l.UserID, &l.Patient, &l.Encounter, &l.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, ErrNoUser
	}
	return l, err
}

// PatientChoice is a patient a user may pick for a launch.
type PatientChoice struct {
	ID   string
	Name string // the first name's text, or given and family names
}

// PatientsOf lists up to limit live patients that the practitioner has or had an
// appointment with; for practitioner "" (an administrator), any patient.
func (s *Store) PatientsOf(ctx context.Context, practitioner string, limit int) ([]PatientChoice, error) {
	const name = `coalesce(p.content #>> '{name,0,text}', concat_ws(' ', p.content #>> '{name,0,given,0}', p.content #>> '{name,0,family}'))`
	var rows pgx.Rows
	var err error
	if practitioner == "" {
		rows, err = s.pool.Query(ctx, `SELECT p.id, `+name+` FROM resources p WHERE p.type = 'Patient' AND NOT p.deleted ORDER BY p.id LIMIT $1`, limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT p.id, `+name+` FROM resources p
			WHERE p.type = 'Patient' AND NOT p.deleted AND EXISTS (
				SELECT 1 FROM resource_links lp
				JOIN resources a ON a.rid = lp.rid AND a.type = 'Appointment' AND NOT a.deleted
				JOIN resource_links ld ON ld.rid = a.rid AND ld.target_type = 'Practitioner' AND ld.target_id = $1
				WHERE lp.target_type = 'Patient' AND lp.target_id = p.id)
			ORDER BY p.id LIMIT $2`, practitioner, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list patients: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (PatientChoice, error) {
		var c PatientChoice
		err := row.Scan(&c.ID, &c.Name)
		return c, err
	})
}

// HasAppointmentWith reports whether a live Appointment names both the practitioner and
// the patient (by their ids).
func (s *Store) HasAppointmentWith(ctx context.Context, practitioner, patient string) (bool, error) {
	var found bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM resource_links lp
		JOIN resources a ON a.rid = lp.rid AND a.type = 'Appointment' AND NOT a.deleted
		JOIN resource_links ld ON ld.rid = a.rid AND ld.target_type = 'Practitioner' AND ld.target_id = $1
		WHERE lp.target_type = 'Patient' AND lp.target_id = $2)`, practitioner, patient).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("look up appointments: %w", err)
	}
	return found, nil
}

// FreeLoginFailures is how many wrong passwords in a row a username gets before it is
// refused for a while: one minute after the next failure, one more for each after that,
// at most 15.
const FreeLoginFailures = 5

// LoginLockedUntil tells until when a username's sign-ins are refused (zero: they are not).
func (s *Store) LoginLockedUntil(ctx context.Context, username string) (time.Time, error) {
	var until *time.Time
	err := s.pool.QueryRow(ctx, `SELECT locked_until FROM users WHERE username = $1 AND locked_until > now()`, username).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) || until == nil {
		return time.Time{}, nil
	}
	return *until, err
}

// RecordLoginFailure counts a wrong password for username (an unknown one is ignored).
func (s *Store) RecordLoginFailure(ctx context.Context, username string) error {
	_, err := s.pool.Exec(ctx, `UPDATE users SET failed_logins = failed_logins + 1,
		locked_until = CASE WHEN failed_logins + 1 > $2
			THEN now() + interval '1 minute' * least(failed_logins + 1 - $2, 15) END
		WHERE username = $1`, username, FreeLoginFailures)
	if err != nil {
		return fmt.Errorf("record a failed sign-in: %w", err)
	}
	return nil
}

// RecordLoginSuccess clears a username's failures.
func (s *Store) RecordLoginSuccess(ctx context.Context, username string) error {
	_, err := s.pool.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL WHERE username = $1 AND failed_logins > 0`, username)
	if err != nil {
		return fmt.Errorf("record a sign-in: %w", err)
	}
	return nil
}
