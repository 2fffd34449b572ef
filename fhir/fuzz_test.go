package fhir_test

// Fuzz tests of the resource parsing path. `go test` runs the seed corpora in
// testdata/fuzz/<Target>; `make fuzz` runs each target with -fuzz for a while.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/jackc/pgx/v5"
)

// FuzzValidate: the validator never panics, and either names an R4 resource type or
// refuses with a 4xx *fhirerr.Error that says what is wrong.
func FuzzValidate(f *testing.F) {
	v, err := fhir.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Chalmers"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		typ, err := v.Validate(body)
		if err == nil {
			if !v.IsResourceType(typ) {
				t.Fatalf("accepted with %q, which is not an R4 resource type", typ)
			}
			return
		}
		fe, ok := fhirerr.As(err)
		if !ok {
			t.Fatalf("refused with %T, not a *fhirerr.Error: %v", err, err)
		}
		if fe.Status() < 400 || fe.Status() > 499 || fe.Code == "" || fe.Diagnostics == "" {
			t.Fatalf("refusal is not a 4xx with a code and a diagnostic: %+v", fe)
		}
	})
}

// bundleRoutes are where FuzzBundle posts its input: as a Bundle to the base, and as a
// resource to types with careslot rules (scheduling) and to one without. The seed files
// name a route by its index.
var bundleRoutes = []struct{ method, path string }{
	{http.MethodPost, ""},
	{http.MethodPost, "Appointment"},
	{http.MethodPost, "Patient"},
	{http.MethodPut, "Patient/fuzz-put"},
	{http.MethodPost, "Slot"},
	{http.MethodPost, "AppointmentResponse"},
}

// FuzzBundle posts arbitrary bodies to a running careslot: never a 5xx, never a panic,
// and a refused request changes nothing (no version, no outbox row, the data stored
// before reads back as it was).
func FuzzBundle(f *testing.F) {
	dbURL := storagetest.NewDatabase(f)
	srv := apptest.NewOnDatabase(f, dbURL, apptest.WithoutCoverageCheck())
	ctx := context.Background()
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close(ctx) })

	// The data stored before: a patient and an appointment that refers to it.
	anchors := map[string]string{
		"Patient/fuzz-anchor": `{"resourceType":"Patient","id":"fuzz-anchor","name":[{"family":"Anchor","given":["Ada"]}],"birthDate":"1970-01-01"}`,
		"Appointment/fuzz-anchor": `{"resourceType":"Appointment","id":"fuzz-anchor","status":"booked","start":"2030-01-01T09:00:00Z","end":"2030-01-01T09:30:00Z",` +
			`"participant":[{"actor":{"reference":"Patient/fuzz-anchor"},"status":"accepted"}]}`,
	}
	for _, path := range []string{"Patient/fuzz-anchor", "Appointment/fuzz-anchor"} {
		srv.Must(f, http.StatusCreated, http.MethodPut, path, anchors[path])
	}
	stored := readAnchors(f, srv, anchors)
	client := srv.Client

	f.Add(uint8(0), []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/fuzz-anchor"}}]}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		to := bundleRoutes[int(route)%len(bundleRoutes)]
		before := changeCount(t, db)
		req, err := http.NewRequest(to.method, srv.URL+"/"+to.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s /%s: %v (did the server crash?)", to.method, to.path, err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s /%s answered %d: %s", to.method, to.path, resp.StatusCode, answer)
		}
		if resp.StatusCode < 400 {
			// Accepted: it may legitimately have changed the anchors.
			stored = readAnchors(t, srv, anchors)
			return
		}
		if !json.Valid(answer) || !bytes.Contains(answer, []byte(`"OperationOutcome"`)) {
			t.Fatalf("%s /%s refused with %d without an OperationOutcome: %s", to.method, to.path, resp.StatusCode, answer)
		}
		if after := changeCount(t, db); after != before {
			t.Fatalf("a refused request (%d) changed the database: %d changes before, %d after", resp.StatusCode, before, after)
		}
		for path, now := range readAnchors(t, srv, anchors) {
			if now != stored[path] {
				t.Fatalf("a refused request (%d) changed %s:\nbefore %s\nafter  %s", resp.StatusCode, path, stored[path], now)
			}
		}
	})
}

// readAnchors reads each anchor as "status body".
func readAnchors(tb testing.TB, srv *apptest.Server, anchors map[string]string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for path := range anchors {
		r := srv.Do(tb, http.MethodGet, path, nil)
		out[path] = fmt.Sprintf("%d %s", r.Status, r.Body)
	}
	return out
}

// changeCount is the number of versions and outbox rows ever written: a refused request
// must not move it. AuditEvents do not count: a refusal is itself audited.
func changeCount(t *testing.T, db *pgx.Conn) int64 {
	t.Helper()
	var n int64
	err := db.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM resource_versions WHERE type <> 'AuditEvent') + (SELECT coalesce(max(seq), 0) FROM outbox)`).Scan(&n)
	if err != nil {
		t.Fatalf("count changes: %v", err)
	}
	return n
}

// TestValidatorRefusesLoneSurrogates pins what FuzzBundle found: a \u escape of an
// unpaired surrogate passed Go's decoder (as U+FFFD) and then failed PostgreSQL's jsonb
// with a 500. Pairs and escaped backslashes are still fine.
func TestValidatorRefusesLoneSurrogates(t *testing.T) {
	v, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		family string
		ok     bool
	}{
		{`\ud83d\ude00`, true},  // a pair: U+1F600
		{`\\ud800`, true},       // an escaped backslash, then text
		{`a\u00e9\u20ac`, true}, // ordinary escapes
		{`\ud800`, false},
		{`\udc00`, false},
		{`\ud800\ud800`, false},
		{`\ud800x`, false},
		{`\ude00\ud83d`, false},
	} {
		body := `{"resourceType":"Patient","name":[{"family":"` + tc.family + `"}]}`
		_, err := v.Validate([]byte(body))
		if tc.ok && err != nil {
			t.Errorf("%s refused: %v", tc.family, err)
		}
		if !tc.ok {
			fe, isFHIR := fhirerr.As(err)
			if !isFHIR || fe.Status() != http.StatusBadRequest {
				t.Errorf("%s: got %v, want a 400", tc.family, err)
			}
		}
	}
}
