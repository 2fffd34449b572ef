package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
)

func TestUserCommand(t *testing.T) {
	ctx := context.Background()
	cfg := config{Config: app.Config{DatabaseURL: storagetest.NewDatabase(t)}}
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := userCommand(ctx, cfg, args, strings.NewReader(stdin), &out)
		return out.String(), err
	}
	// A practitioner to link to.
	store, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	err = store.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.Write(ctx, nil, "Practitioner", "dr-x", []byte(`{"resourceType":"Practitioner","id":"dr-x"}`), "PUT")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := run("long-enough-password\n", "add", "-role", "practitioner", "-fhir-user", "Practitioner/dr-x", "doc"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("long-enough-password\n", "add", "-role", "admin", "boss"); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"taken username":     {"add", "-role", "admin", "doc"},
		"unknown role":       {"add", "-role", "superuser", "x"},
		"patient w/o record": {"add", "-role", "patient", "p"},
		"missing record":     {"add", "-role", "patient", "-fhir-user", "Patient/nope", "p"},
		"wrong record type":  {"add", "-role", "patient", "-fhir-user", "Practitioner/dr-x", "p"},
		"passwd of nobody":   {"passwd", "nobody"},
	} {
		if _, err := run("long-enough-password\n", args...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := run("short\n", "add", "-role", "admin", "tiny"); err == nil {
		t.Error("a short password was accepted")
	}
	before, _ := store.UserByName(ctx, "doc")
	if _, err := run("another-long-password\n", "passwd", "doc"); err != nil {
		t.Fatal(err)
	}
	after, _ := store.UserByName(ctx, "doc")
	if before.PasswordHash == after.PasswordHash || !strings.HasPrefix(after.PasswordHash, "$argon2id$") || strings.Contains(after.PasswordHash, "another-long-password") {
		t.Fatalf("hash %q → %q", before.PasswordHash, after.PasswordHash)
	}
	out, err := run("", "list")
	if err != nil || !strings.Contains(out, "doc") || !strings.Contains(out, "Practitioner/dr-x") || !strings.Contains(out, "boss") || strings.Contains(out, "argon2") {
		t.Fatalf("list: %v\n%s", err, out)
	}
}
