package storage

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnsureDatabase creates the database named in databaseURL if it does not exist, by
// connecting to the server's postgres database. Used by `make run` on a fresh machine,
// and by replicas starting together on a new database: the losers of the race to create
// it find it created.
func EnsureDatabase(ctx context.Context, databaseURL string) error {
	// pgx's parser masks the password in its errors; net/url's would print the whole URL.
	if _, err := pgconn.ParseConfig(databaseURL); err != nil {
		return fmt.Errorf("storage: DATABASE_URL: %w", err)
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil // a form pgx reads but net/url does not: the operator creates the database
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		// No access to the postgres database: assume the operator created ours.
		return nil
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("storage: look up database: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P04" || pe.Code == "23505") {
		// duplicate_database, or the catalog's unique index when the other CREATE
		// DATABASE commits while this one runs: someone else created it.
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage: create database %s: %w", name, err)
	}
	return nil
}
