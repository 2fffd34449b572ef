package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
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

// TestSIGTERMFinishesRequestsInFlight: a request under way when SIGTERM arrives is
// answered and stored, new connections are refused, and the exit code is 0.
func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	db := storagetest.NewDatabase(t)
	p := startServe(t, db)
	addr := strings.TrimSuffix(strings.TrimPrefix(p.base, "http://"), "/fhir")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"resourceType":"Patient","id":"in-flight","name":[{"family":"Inflight"}]}`
	head := "PUT /fhir/Patient/in-flight HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nAuthorization: Bearer " + backendToken(t, p.base) +
		"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	io.WriteString(conn, head+body[:10])
	time.Sleep(300 * time.Millisecond) // the server has the headers and waits for the body
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	io.WriteString(conn, body[10:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("the request in flight: %d, want 201", resp.StatusCode)
	}
	if err := p.waitExit(t, 20*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if n := countLive(t, db, "Patient"); n != 1 {
		t.Errorf("%d patients stored, want the one in flight", n)
	}
}

// TestRequestLogHasOneLinePerRequestAndNoSecrets: each request gets one log line with its
// status and duration; no body, query string or database password appears in any line.
func TestRequestLogHasOneLinePerRequestAndNoSecrets(t *testing.T) {
	db, _ := url.Parse(storagetest.NewDatabase(t))
	db.User = url.UserPassword(db.User.Username(), "pw-Secret-42") // trust auth ignores it
	p := startServe(t, db.String())
	requests := []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/Patient/log-1", `{"resourceType":"Patient","id":"log-1","name":[{"family":"Bodyfamilyname"}]}`, 201},
		{"GET", "/Patient?family=Queryfamilyname", "", 200},
		{"GET", "/Patient/log-missing", "", 404},
		{"POST", "/Patient", `{"resourceType":"Patient","birthDate":"Bodybadvalue"}`, 400},
	}
	for _, r := range requests {
		req, _ := http.NewRequest(r.method, p.base+r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := tokenClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != r.status {
			t.Errorf("%s %s: %d, want %d", r.method, r.path, resp.StatusCode, r.status)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.waitExit(t, 20*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	var lines []string
	for l := range p.logs {
		lines = append(lines, l)
	}
	all := strings.Join(lines, "\n")
	for _, secret := range []string{"pw-Secret-42", "Bodyfamilyname", "Queryfamilyname", "Bodybadvalue"} {
		if strings.Contains(all, secret) {
			t.Errorf("%q is in the log:\n%s", secret, all)
		}
	}
	var requestLines []map[string]any
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && m["path"] != "/fhir/metadata" {
			requestLines = append(requestLines, m)
		}
	}
	if len(requestLines) != len(requests) {
		t.Fatalf("%d request lines for %d requests:\n%s", len(requestLines), len(requests), all)
	}
	for i, r := range requests {
		m := requestLines[i]
		if m["method"] != r.method || m["path"] != "/fhir"+strings.Split(r.path, "?")[0] || m["status"] != float64(r.status) || m["ms"] == nil {
			t.Errorf("request line %d: %v, want %s %s %d with its duration", i, m, r.method, r.path, r.status)
		}
	}
}

// TestDemoSeedOnlyIntoAnEmptyDatabase: serve seeds the demo clinic into a database with
// nothing in it, not into one that has data but no practitioner yet, nor into one whose
// resources were all deleted.
func TestDemoSeedOnlyIntoAnEmptyDatabase(t *testing.T) {
	for _, deleted := range []bool{false, true} {
		db := storagetest.NewDatabase(t)
		p := startServe(t, db)
		mustPut(t, p.base, "Patient/own-1", map[string]any{"resourceType": "Patient", "id": "own-1"})
		if deleted {
			if st := send(t, "DELETE", p.base+"/Patient/own-1", nil); st != 204 && st != 200 {
				t.Fatalf("DELETE: %d", st)
			}
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.waitExit(t, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		startServe(t, db, "CARESLOT_DEMO_SEED=true")
		if n := countLive(t, db, "Practitioner"); n != 0 {
			t.Errorf("deleted %v: the demo clinic (%d practitioners) was seeded into a database with data", deleted, n)
		}
	}
}

// TestReindexEmptyAndWithDeletedResources: reindex succeeds on a database with nothing in
// it, and afterwards a deleted resource is still not found by search while a live one is.
func TestReindexEmptyAndWithDeletedResources(t *testing.T) {
	empty := storagetest.NewDatabase(t)
	if out, err := run(t, []string{"DATABASE_URL=" + empty}, "reindex"); err != nil {
		t.Fatalf("reindex of an empty database: %v\n%s", err, out)
	}
	db := storagetest.NewDatabase(t)
	p := startServe(t, db)
	mustPut(t, p.base, "Patient/kept", map[string]any{"resourceType": "Patient", "id": "kept", "name": []any{map[string]any{"family": "Reindexfamily"}}})
	mustPut(t, p.base, "Patient/gone", map[string]any{"resourceType": "Patient", "id": "gone", "name": []any{map[string]any{"family": "Reindexfamily"}}})
	if st := send(t, "DELETE", p.base+"/Patient/gone", nil); st != 204 && st != 200 {
		t.Fatalf("DELETE: %d", st)
	}
	if out, err := run(t, []string{"DATABASE_URL=" + db}, "reindex"); err != nil {
		t.Fatalf("reindex: %v\n%s", err, out)
	}
	resp, err := tokenClient.Get(p.base + "/Patient?family=Reindexfamily")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var bundle struct {
		Entry []struct {
			Resource struct{ ID string }
		}
	}
	json.NewDecoder(resp.Body).Decode(&bundle)
	if len(bundle.Entry) != 1 || bundle.Entry[0].Resource.ID != "kept" {
		t.Errorf("search after reindex: %+v, want Patient/kept alone", bundle.Entry)
	}
}
