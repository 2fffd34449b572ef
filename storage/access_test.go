package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
)

// ReadVisible answers in one query what Read and Visible answer in two: the same
// resource or error (404 missing, 410 deleted) and the same visibility, for every kind
// of access: everything, nothing, a patient's compartment, another patient's.
func TestReadVisibleAnswersAsReadThenVisible(t *testing.T) {
	ctx := context.Background()
	put(t, "Patient", "rv-a", `{"resourceType":"Patient"}`)
	put(t, "Patient", "rv-b", `{"resourceType":"Patient"}`)
	obs := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/rv-a"}}`
	put(t, "Observation", "rv-obs", obs)
	put(t, "Observation", "rv-gone", obs)
	err := store.InTx(ctx, func(tx *storage.Tx) error {
		prev, err := tx.Lock(ctx, "Observation", "rv-gone")
		if err != nil {
			return err
		}
		_, err = tx.Delete(ctx, prev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	patient := func(id string) *search.Access {
		g := search.Grant{Compartments: []search.Compartment{{Type: "Patient", ID: id}}}
		return &search.Access{Types: map[string]search.Filter{"Patient": {g}, "Observation": {g}}}
	}
	accesses := map[string]*search.Access{"everything": nil, "nothing": {}, "patient a": patient("rv-a"), "patient b": patient("rv-b")}
	// What the patients see, so that the comparison below is of a check that decides.
	want := map[string]bool{"patient a Observation/rv-obs": true, "patient b Observation/rv-obs": false,
		"patient a Patient/rv-a": true, "patient b Patient/rv-a": false, "nothing Patient/rv-a": false, "everything Observation/rv-gone": true}
	for name, a := range accesses {
		for _, ref := range [][2]string{{"Patient", "rv-a"}, {"Patient", "rv-b"}, {"Observation", "rv-obs"}, {"Observation", "rv-gone"}, {"Observation", "rv-none"}} {
			typ, id := ref[0], ref[1]
			key := fmt.Sprintf("%s %s/%s", name, typ, id)
			res, readErr := store.Read(ctx, typ, id)
			visible := false
			if res != nil {
				var err error
				if visible, err = store.Visible(ctx, a, typ, res.RID); err != nil {
					t.Fatal(err)
				}
			}
			got, gotVisible, gotErr := store.ReadVisible(ctx, a, typ, id)
			if fmt.Sprint(gotErr) != fmt.Sprint(readErr) {
				t.Errorf("%s: error %v, Read's %v", key, gotErr, readErr)
			}
			if (got == nil) != (res == nil) || got != nil && (got.RID != res.RID || got.VersionID != res.VersionID ||
				got.Deleted != res.Deleted || !bytes.Equal(got.Content, res.Content) || !got.LastUpdated.Equal(res.LastUpdated)) {
				t.Errorf("%s: read %+v, Read's %+v", key, got, res)
			}
			if gotVisible != visible {
				t.Errorf("%s: visible %v, Visible's %v", key, gotVisible, visible)
			}
			if w, ok := want[key]; ok && gotVisible != w {
				t.Errorf("%s: visible %v, want %v", key, gotVisible, w)
			}
		}
	}
	// In a transaction it sees the transaction's own writes, index rows included.
	err = store.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Write(ctx, nil, "Observation", "rv-new", []byte(obs), "POST"); err != nil {
			return err
		}
		res, visible, err := tx.ReadVisible(ctx, patient("rv-a"), "Observation", "rv-new")
		if err != nil || res == nil || !visible {
			t.Errorf("the transaction's own Observation of patient a: %v, visible %v, %v", res, visible, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// As the first statement of a transaction, where the others ride in one batch with
// BEGIN, a read with its access check (a search's exec mode) still works: it failed
// with a 500 as the first entry of a transaction Bundle.
func TestReadVisibleFirstInATransaction(t *testing.T) {
	ctx := context.Background()
	put(t, "Patient", "rv-first", `{"resourceType":"Patient"}`)
	a := &search.Access{Types: map[string]search.Filter{"Patient": {{Compartments: []search.Compartment{{Type: "Patient", ID: "rv-other"}}}}}}
	err := store.InTx(ctx, func(tx *storage.Tx) error {
		res, visible, err := tx.ReadVisible(ctx, a, "Patient", "rv-first")
		if err != nil || res == nil || visible {
			t.Errorf("another patient's Patient first in a transaction: %v, visible %v, %v", res, visible, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
