// Package storagetest gives each test package a fresh PostgreSQL database of its own,
// so that tests never clobber each other or a developer's database.
package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// AdminURL is the server that test databases are created on: CARESLOT_TEST_DATABASE_URL,
// or the local PostgreSQL with trust auth.
func AdminURL() string {
	if u := os.Getenv("CARESLOT_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDatabase creates an empty database and returns its URL. It is dropped when tb ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	url, drop, err := CreateDatabase(context.Background())
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(drop)
	return url
}

// CreateDatabase creates an empty database named careslot_test_<random> and returns its
// URL and a function that drops it. For TestMain, where there is no testing.TB.
func CreateDatabase(ctx context.Context) (string, func(), error) {
	admin := AdminURL()
	conn, err := connect(ctx, admin)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "careslot_test_" + hex.EncodeToString(suffix)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx := context.Background()
		c, err := connect(ctx, admin)
		if err != nil {
			fmt.Fprintf(os.Stderr, "drop test database %s: %v\n", name, err)
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

// connect connects to url, waiting up to a minute while the server has all the
// connections it allows: test packages run side by side and share max_connections.
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := pgx.Connect(ctx, url)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "53300" || time.Now().After(deadline) {
			return conn, err
		}
		time.Sleep(100*time.Millisecond + time.Duration(mrand.IntN(200))*time.Millisecond)
	}
}
