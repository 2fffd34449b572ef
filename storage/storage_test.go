package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/r4examples"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
)

var store *storage.Store

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	url, drop, err := storagetest.CreateDatabase(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer drop()
	store, err = storage.Open(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	return m.Run()
}

func put(t *testing.T, typ, id, body string) *storage.Resource {
	t.Helper()
	ctx := context.Background()
	var res *storage.Resource
	err := store.InTx(ctx, func(tx *storage.Tx) error {
		prev, err := tx.Lock(ctx, typ, id)
		if err != nil {
			return err
		}
		res, err = tx.Write(ctx, prev, typ, id, []byte(body), http.MethodPut)
		return err
	})
	if err != nil {
		t.Fatalf("put %s/%s: %v", typ, id, err)
	}
	return res
}

func count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := storage.PoolOf(store).QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateIsIdempotent(t *testing.T) {
	if err := storage.Migrate(context.Background(), storage.PoolOf(store)); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if n := count(t, `SELECT count(*) FROM schema_migrations WHERE name = '0001_core.sql'`); n != 1 {
		t.Fatalf("0001 applied %d times", n)
	}
}

func TestWriteKeepsHistoryLinksAndOutboxTogether(t *testing.T) {
	put(t, "Patient", "st-1", `{"resourceType":"Patient"}`)
	res := put(t, "Observation", "st-obs", `{"resourceType":"Observation","status":"final","code":{"text":"x"},
		"subject":{"reference":"Patient/st-1"},"performer":[{"reference":"Patient/st-1/_history/1"},{"reference":"#contained"},{"reference":"http://elsewhere.org/fhir/Patient/9"}]}`)
	if res.VersionID != 1 {
		t.Fatalf("version %d", res.VersionID)
	}
	put(t, "Observation", "st-obs", `{"resourceType":"Observation","status":"amended","code":{"text":"x"},"subject":{"reference":"Patient/st-1"}}`)
	if n := count(t, `SELECT count(*) FROM resource_versions WHERE type = 'Observation' AND id = 'st-obs'`); n != 2 {
		t.Errorf("versions: %d", n)
	}
	// Links follow the current version only: the second version dropped the performers.
	if n := count(t, `SELECT count(*) FROM resource_links l JOIN resources r USING (rid) WHERE r.id = 'st-obs'`); n != 1 {
		t.Errorf("links of the current version: %d, want 1", n)
	}
	if n := count(t, `SELECT count(*) FROM outbox WHERE id = 'st-obs'`); n != 2 {
		t.Errorf("outbox rows: %d", n)
	}
	if n := count(t, `SELECT count(*) FROM outbox WHERE id = 'st-obs' AND action = 'create'`); n != 1 {
		t.Errorf("outbox create rows: %d", n)
	}
}

func TestRolledBackWriteLeavesNothing(t *testing.T) {
	ctx := context.Background()
	err := store.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Write(ctx, nil, "Patient", "st-rollback", []byte(`{"resourceType":"Patient"}`), http.MethodPost); err != nil {
			return err
		}
		return fmt.Errorf("abandon")
	})
	if err == nil {
		t.Fatal("want the error back")
	}
	for _, table := range []string{"resources", "resource_versions", "outbox"} {
		if n := count(t, `SELECT count(*) FROM `+table+` WHERE id = 'st-rollback'`); n != 0 {
			t.Errorf("%s has %d rows after rollback", table, n)
		}
	}
}

func TestDanglingReferenceRefusedAtCommit(t *testing.T) {
	ctx := context.Background()
	err := store.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.Write(ctx, nil, "Observation", "st-dangling", []byte(`{"resourceType":"Observation","subject":{"reference":"Patient/nobody"}}`), http.MethodPost)
		return err
	})
	fe, ok := fhirerr.As(err)
	if !ok || fe.Status() != http.StatusUnprocessableEntity || fe.Expression[0] != "Observation.subject" || fe.Resource != "Observation/st-dangling" {
		t.Fatalf("err = %v", err)
	}
	if n := count(t, `SELECT count(*) FROM resources WHERE id = 'st-dangling'`); n != 0 {
		t.Error("refused write was stored")
	}
}

func TestExtractLinksPaths(t *testing.T) {
	links, err := storage.ExtractLinks("Appointment", []byte(`{"resourceType":"Appointment","slot":[{"reference":"Slot/s1"}],
		"participant":[{"actor":{"reference":"Patient/p1"}},{"actor":{"reference":"Practitioner/dr.x/_history/4"}},{"actor":{"display":"no reference"}}],
		"basedOn":[{"reference":"urn:uuid:1234"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Appointment.slot[0]":              "Slot/s1",
		"Appointment.participant[0].actor": "Patient/p1",
		"Appointment.participant[1].actor": "Practitioner/dr.x",
	}
	if len(links) != len(want) {
		t.Fatalf("links %v", links)
	}
	for _, l := range links {
		if want[l.Path] != l.TargetType+"/"+l.TargetID {
			t.Errorf("link %v", l)
		}
	}
}

func TestEnsureDatabaseCreatesOnce(t *testing.T) {
	ctx := context.Background()
	url, drop, err := storagetest.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	drop() // now it does not exist
	if err := storage.EnsureDatabase(ctx, url); err != nil {
		t.Fatalf("create: %v", err)
	}
	defer drop()
	if err := storage.EnsureDatabase(ctx, url); err != nil {
		t.Fatalf("second call: %v", err)
	}
	s, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatalf("open created database: %v", err)
	}
	s.Close()
}

func TestExtractLinksMatchesEveryExample(t *testing.T) {
	examples, err := r4examples.All()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range examples {
		body := e.Body
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		typ, _ := doc["resourceType"].(string)
		got, err := storage.ExtractLinks(typ, body)
		if err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		want := map[string]bool{}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				if ref, ok := v["reference"].(string); ok {
					if rt, id, ok := storage.ParseReference(ref); ok {
						want[path+"→"+rt+"/"+id] = true
					}
				}
				for k, c := range v {
					walk(path+"."+k, c)
				}
			case []any:
				for i, c := range v {
					walk(fmt.Sprintf("%s[%d]", path, i), c)
				}
			}
		}
		walk(typ, doc)
		if len(got) != len(want) {
			t.Errorf("%s: %d links, want %d", e.File, len(got), len(want))
		}
		for _, l := range got {
			if !want[l.Path+"→"+l.TargetType+"/"+l.TargetID] {
				t.Errorf("%s: unexpected link %v", e.File, l)
			}
		}
		total += len(got)
	}
	t.Logf("%d links in %d examples", total, len(examples))
}

func BenchmarkExtractLinks(b *testing.B) {
	body, err := r4examples.Read("Appointment-example.json")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := storage.ExtractLinks("Appointment", body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLargeContentCompressedWithLZ4: resource JSON big enough to be compressed is
// compressed with lz4 in both the current row and the version (migration 0005).
func TestLargeContentCompressedWithLZ4(t *testing.T) {
	text := strings.Repeat("careslot ", 400) // well past the 2 kB threshold
	put(t, "Basic", "lz4", `{"resourceType":"Basic","code":{"text":"`+text+`"}}`)
	for _, table := range []string{"resources", "resource_versions"} {
		var method string
		err := storage.PoolOf(store).QueryRow(context.Background(),
			`SELECT coalesce(pg_column_compression(content), 'none') FROM `+table+` WHERE type = 'Basic' AND id = 'lz4'`).Scan(&method)
		if err != nil {
			t.Fatal(err)
		}
		if method != "lz4" {
			t.Errorf("%s.content compressed with %s, want lz4", table, method)
		}
	}
}

// TestMigrateRefusesANewerSchema: a database migrated by a newer careslot (a migration
// this binary does not embed) is refused rather than served with the old code.
func TestMigrateRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	st, err := storage.Open(ctx, storagetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := storage.PoolOf(st).Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future.sql')`); err != nil {
		t.Fatal(err)
	}
	err = storage.Migrate(ctx, storage.PoolOf(st))
	if err == nil || !strings.Contains(err.Error(), "9999_from_the_future.sql") {
		t.Fatalf("migrate over a newer schema: %v", err)
	}
}
