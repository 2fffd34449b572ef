package storage_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/careslot/careslot/storage"
)

// TestReindexDuringUpdate: a reindex that runs while an update of a resource is open
// (careslot reindex beside running servers) leaves the index of the updated version,
// not rows of the version it replaced.
func TestReindexDuringUpdate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openStore(t)
	var prev *storage.Resource
	err := st.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		prev, err = tx.Write(ctx, nil, "Patient", "review3-reindexed", []byte(`{"resourceType":"Patient","name":[{"family":"Before"}]}`), http.MethodPost)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	update, err := st.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer update.Rollback(ctx)
	if prev, err = update.Lock(ctx, "Patient", "review3-reindexed"); err != nil {
		t.Fatal(err)
	}
	if _, err := update.Write(ctx, prev, "Patient", "review3-reindexed", []byte(`{"resourceType":"Patient","name":[{"family":"After"}]}`), http.MethodPut); err != nil {
		t.Fatal(err)
	}
	reindexed := make(chan error, 1)
	go func() {
		_, err := st.Reindex(ctx, nil)
		reindexed <- err
	}()
	time.Sleep(300 * time.Millisecond) // the reindex reads the resource and waits on the update
	if err := update.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-reindexed; err != nil {
		t.Fatal(err)
	}
	rows, err := storage.PoolOf(st).Query(ctx, `SELECT value FROM search_string WHERE rid = $1 AND sp = 'Patient.family' ORDER BY value`, prev.RID)
	if err != nil {
		t.Fatal(err)
	}
	var families []string
	for rows.Next() {
		var v string
		rows.Scan(&v)
		families = append(families, v)
	}
	rows.Close()
	if len(families) != 1 || families[0] != "after" {
		t.Errorf("family rows %q, want [after]", families)
	}
}
