package main

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/storagetest"
	"github.com/jackc/pgx/v5"
)

// countLive counts the live resources of type typ in the database at databaseURL.
func countLive(t *testing.T, databaseURL, typ string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM resources WHERE type = $1 AND NOT deleted`, typ).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// databaseExists tells whether the database named in databaseURL exists.
func databaseExists(t *testing.T, databaseURL string) bool {
	t.Helper()
	ctx := context.Background()
	u, _ := url.Parse(databaseURL)
	admin, err := pgx.Connect(ctx, storagetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, u.Path[1:]).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

// missingDatabase returns the URL of a database that does not exist yet; it is dropped
// when t ends, whoever creates it.
func missingDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db := storagetest.NewDatabase(t)
	u, _ := url.Parse(db)
	admin, err := pgx.Connect(ctx, storagetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `DROP DATABASE `+pgx.Identifier{u.Path[1:]}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return db
}

// waitExit waits for the process to end and returns its error (nil for exit code 0).
func (p *process) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("careslot did not exit within %s", within)
		return nil
	}
}

// TestServersStartingTogetherOnAMissingDatabase: replicas started at once on a database
// that does not exist yet all come up, and the demo clinic is seeded once.
func TestServersStartingTogetherOnAMissingDatabase(t *testing.T) {
	db := missingDatabase(t)
	var ps []*process
	for i := 0; i < 3; i++ {
		ps = append(ps, launchServe(t, db, "CARESLOT_DEMO_SEED=true"))
	}
	for _, p := range ps {
		p.waitUp(t)
	}
	if n := countLive(t, db, "Practitioner"); n != 8 {
		t.Errorf("%d practitioners, want the demo clinic's 8", n)
	}
	if n := countLive(t, db, "AppointmentResponse"); n != 2 {
		t.Errorf("%d appointment responses, want the demo clinic's 2", n)
	}
}

// TestSIGTERMDuringTheDemoSeed: a serve stopped while it seeds an empty database finishes
// the seed (nothing half-written) and exits 0.
func TestSIGTERMDuringTheDemoSeed(t *testing.T) {
	db := storagetest.NewDatabase(t)
	p := launchServe(t, db, "CARESLOT_DEMO_SEED=true")
	var seen []string
	for l := range p.logs {
		seen = append(seen, l)
		if strings.Contains(l, "seeding the demo clinic") {
			break
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.waitExit(t, 60*time.Second); err != nil {
		for l := range p.logs {
			seen = append(seen, l)
		}
		t.Errorf("exit after SIGTERM during the seed: %v\n%s", err, strings.Join(seen, "\n"))
	}
	for typ, want := range map[string]int{"Practitioner": 8, "Schedule": 8, "Patient": 20, "Coverage": 20, "AppointmentResponse": 2} {
		if n := countLive(t, db, typ); n != want {
			t.Errorf("%d %s after SIGTERM during the seed, want %d", n, typ, want)
		}
	}
}

// run runs the binary with env and returns its combined output and error.
func run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestMalformedDatabaseURLKeepsThePasswordOut: a DATABASE_URL that does not parse is
// refused with a message naming it, and the password appears nowhere in the output.
func TestMalformedDatabaseURLKeepsThePasswordOut(t *testing.T) {
	for _, bad := range []string{
		"postgres://careslot:s3cr3t-pw@127.0.0.1:badport/careslot",
		"postgres://careslot:s3cr3t-pw@127.0.0.1:5432/care%zzslot",
		"postgres://careslot:s3cr3t-pw@[::1/careslot",
	} {
		for _, command := range []string{"serve", "migrate", "seed", "reindex"} {
			out, err := run(t, []string{"DATABASE_URL=" + bad, "CARESLOT_ADDR=" + freeAddr(t)}, command)
			if err == nil {
				t.Errorf("%s with DATABASE_URL %s: exit 0", command, bad)
			}
			if strings.Contains(out, "s3cr3t-pw") {
				t.Errorf("%s: the password is in the output:\n%s", command, out)
			}
			if !strings.Contains(out, "DATABASE_URL") {
				t.Errorf("%s: the error does not name DATABASE_URL:\n%s", command, out)
			}
		}
	}
}

// TestPortInUseFailsBeforeTouchingTheDatabase: when CARESLOT_ADDR is taken, serve says
// so at once, without claiming to serve and without creating or migrating the database.
func TestPortInUseFailsBeforeTouchingTheDatabase(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	db := missingDatabase(t)
	out, err := run(t, []string{"DATABASE_URL=" + db, "CARESLOT_ADDR=" + l.Addr().String()}, "serve")
	if err == nil {
		t.Fatalf("serve on a port in use: exit 0\n%s", out)
	}
	if !strings.Contains(out, "address already in use") || !strings.Contains(out, "CARESLOT_ADDR") {
		t.Errorf("the error does not say that CARESLOT_ADDR is in use:\n%s", out)
	}
	if strings.Contains(out, "careslot serving") {
		t.Errorf("claims to serve:\n%s", out)
	}
	if databaseExists(t, db) {
		t.Errorf("the database was created before the port was found taken")
	}
}
