package storage_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
)

func openStore(t *testing.T) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), storagetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func countIndexRows(t *testing.T, st *storage.Store, rid int64) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"search_string", "search_token", "search_reference", "search_date"} {
		var n int
		if err := storage.PoolOf(st).QueryRow(context.Background(), "SELECT count(*) FROM "+table+" WHERE rid = $1", rid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// TestSearchIndexFollowsWrites: a write fills the index in its transaction, an update
// replaces the rows, a delete removes them.
func TestSearchIndexFollowsWrites(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var res *storage.Resource
	err := st.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		res, err = tx.Write(ctx, nil, "Patient", "p1", []byte(`{"resourceType":"Patient","name":[{"family":"Zoë","given":["Ann"]}],"gender":"female","birthDate":"1980-02-03"}`), http.MethodPost)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := countIndexRows(t, st, res.RID)
	if got["search_string"] == 0 || got["search_token"] == 0 || got["search_date"] == 0 {
		t.Fatalf("index rows after create: %v", got)
	}
	var family string
	storage.PoolOf(st).QueryRow(ctx, `SELECT value FROM search_string WHERE rid = $1 AND sp = 'Patient.family'`, res.RID).Scan(&family)
	if family != "zoe" {
		t.Errorf("Patient.family indexed as %q, want zoe", family)
	}

	err = st.InTx(ctx, func(tx *storage.Tx) error {
		prev, err := tx.Lock(ctx, "Patient", "p1")
		if err != nil {
			return err
		}
		_, err = tx.Write(ctx, prev, "Patient", "p1", []byte(`{"resourceType":"Patient","name":[{"family":"Smith"}]}`), http.MethodPut)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var families []string
	rows, _ := storage.PoolOf(st).Query(ctx, `SELECT value FROM search_string WHERE rid = $1 AND sp = 'Patient.family'`, res.RID)
	for rows.Next() {
		var v string
		rows.Scan(&v)
		families = append(families, v)
	}
	if len(families) != 1 || families[0] != "smith" {
		t.Errorf("after update Patient.family rows are %v, want [smith]", families)
	}
	if got := countIndexRows(t, st, res.RID); got["search_date"] != 0 {
		t.Errorf("birthdate row survived an update that removed it: %v", got)
	}

	err = st.InTx(ctx, func(tx *storage.Tx) error {
		prev, err := tx.Lock(ctx, "Patient", "p1")
		if err != nil {
			return err
		}
		_, err = tx.Delete(ctx, prev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for table, n := range countIndexRows(t, st, res.RID) {
		if n != 0 {
			t.Errorf("%s keeps %d rows of a deleted resource", table, n)
		}
	}
}

// TestReindexRebuildsRows: after the index is lost (as when definitions change), Reindex
// writes the same rows again, and leaves deleted resources out.
func TestReindexRebuildsRows(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	err := st.InTx(ctx, func(tx *storage.Tx) error {
		for i := 0; i < 3; i++ {
			body := []byte(`{"resourceType":"Patient","name":[{"family":"Again"}]}`)
			if _, err := tx.Write(ctx, nil, "Patient", storage.NewID(), body, http.MethodPost); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := func() int {
		var n int
		storage.PoolOf(st).QueryRow(ctx, `SELECT count(*) FROM search_string WHERE sp = 'Patient.family' AND value = 'again'`).Scan(&n)
		return n
	}
	if rows() != 3 {
		t.Fatalf("%d family rows before", rows())
	}
	storage.PoolOf(st).Exec(ctx, `DELETE FROM search_string`)
	n, err := st.Reindex(ctx, nil)
	if err != nil || n != 3 || rows() != 3 {
		t.Errorf("reindex: %d resources, %v; %d family rows", n, err, rows())
	}
}

// TestReindexIsIdempotent: reindexing an index that is already whole changes nothing,
// first versions included (they must not get their rows twice).
func TestReindexIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	var res *storage.Resource
	err := st.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		res, err = tx.Write(ctx, nil, "Patient", "once", []byte(`{"resourceType":"Patient","name":[{"family":"Once"}],"birthDate":"1990-01-01"}`), http.MethodPost)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	before := countIndexRows(t, st, res.RID)
	for range 2 {
		if _, err := st.Reindex(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	after := countIndexRows(t, st, res.RID)
	for table, n := range before {
		if after[table] != n {
			t.Errorf("%s: %d rows before reindexing, %d after", table, n, after[table])
		}
	}
}
