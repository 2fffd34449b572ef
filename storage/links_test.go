package storage_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage"
)

// TestEveryReferenceIsChecked: whether the write's own statement finds a reference's
// target or the commit-time check does, a transaction commits exactly when every
// reference it leaves names a live resource.
func TestEveryReferenceIsChecked(t *testing.T) {
	ctx := context.Background()
	write := func(tx *storage.Tx, typ, id, body string) error {
		prev, err := tx.Lock(ctx, typ, id)
		if err != nil {
			return err
		}
		_, err = tx.Write(ctx, prev, typ, id, []byte(body), http.MethodPut)
		return err
	}
	remove := func(tx *storage.Tx, typ, id string) error {
		prev, err := tx.Lock(ctx, typ, id)
		if err != nil {
			return err
		}
		_, err = tx.Delete(ctx, prev)
		return err
	}
	refersTo := func(target string) string {
		return `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"` + target + `"}}`
	}
	selfLink := func(id string) string {
		return `{"resourceType":"Patient","link":[{"type":"seealso","other":{"reference":"Patient/` + id + `"}}]}`
	}
	put(t, "Patient", "review3-live", `{"resourceType":"Patient"}`)

	cases := []struct {
		name string
		run  func(tx *storage.Tx) error
		want int // status of the commit; 0 when it succeeds
	}{
		{"found, then rewritten to a missing target", func(tx *storage.Tx) error {
			if err := write(tx, "Observation", "review3-l1", refersTo("Patient/review3-live")); err != nil {
				return err
			}
			return write(tx, "Observation", "review3-l1", refersTo("Patient/review3-missing"))
		}, http.StatusUnprocessableEntity},
		{"missing, then rewritten to a live target", func(tx *storage.Tx) error {
			if err := write(tx, "Observation", "review3-l2", refersTo("Patient/review3-missing")); err != nil {
				return err
			}
			return write(tx, "Observation", "review3-l2", refersTo("Patient/review3-live"))
		}, 0},
		{"found, then the target deleted", func(tx *storage.Tx) error {
			put(t, "Patient", "review3-doomed", `{"resourceType":"Patient"}`)
			if err := write(tx, "Observation", "review3-l3", refersTo("Patient/review3-doomed")); err != nil {
				return err
			}
			return remove(tx, "Patient", "review3-doomed")
		}, http.StatusConflict},
		{"target deleted, then referred to", func(tx *storage.Tx) error {
			put(t, "Patient", "review3-gone", `{"resourceType":"Patient"}`)
			if err := remove(tx, "Patient", "review3-gone"); err != nil {
				return err
			}
			return write(tx, "Observation", "review3-l4", refersTo("Patient/review3-gone"))
		}, http.StatusUnprocessableEntity},
		{"target written later in the transaction", func(tx *storage.Tx) error {
			if err := write(tx, "Observation", "review3-l5", refersTo("Patient/review3-later")); err != nil {
				return err
			}
			return write(tx, "Patient", "review3-later", `{"resourceType":"Patient"}`)
		}, 0},
		{"self-reference on create", func(tx *storage.Tx) error {
			return write(tx, "Patient", "review3-self-1", selfLink("review3-self-1"))
		}, 0},
		{"self-reference on update", func(tx *storage.Tx) error {
			put(t, "Patient", "review3-self-2", `{"resourceType":"Patient"}`)
			return write(tx, "Patient", "review3-self-2", selfLink("review3-self-2"))
		}, 0},
		{"self-reference bringing a deleted resource back", func(tx *storage.Tx) error {
			put(t, "Patient", "review3-self-3", `{"resourceType":"Patient"}`)
			if err := remove(tx, "Patient", "review3-self-3"); err != nil {
				return err
			}
			return write(tx, "Patient", "review3-self-3", selfLink("review3-self-3"))
		}, 0},
		{"self-reference, then deleted", func(tx *storage.Tx) error {
			if err := write(tx, "Patient", "review3-self-4", selfLink("review3-self-4")); err != nil {
				return err
			}
			return remove(tx, "Patient", "review3-self-4")
		}, 0},
		{"contained resource refers to a missing target", func(tx *storage.Tx) error {
			return write(tx, "Observation", "review3-l6", `{"resourceType":"Observation","status":"final","code":{"text":"x"},
				"contained":[{"resourceType":"Observation","id":"inner","status":"final","code":{"text":"y"},"subject":{"reference":"Patient/review3-missing"}}],
				"subject":{"reference":"Patient/review3-live"},"hasMember":[{"reference":"#inner"}]}`)
		}, http.StatusUnprocessableEntity},
		{"contained resource refers to a live target", func(tx *storage.Tx) error {
			return write(tx, "Observation", "review3-l7", `{"resourceType":"Observation","status":"final","code":{"text":"x"},
				"contained":[{"resourceType":"Observation","id":"inner","status":"final","code":{"text":"y"},"subject":{"reference":"Patient/review3-live"}}],
				"subject":{"reference":"Patient/review3-live"},"hasMember":[{"reference":"#inner"}]}`)
		}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := store.InTx(ctx, c.run)
			if c.want == 0 {
				if err != nil {
					t.Fatalf("commit: %v, want success", err)
				}
				return
			}
			if fe, ok := fhirerr.As(err); !ok || fe.Status() != c.want {
				t.Fatalf("commit: %v, want %d", err, c.want)
			}
		})
	}
	if n := idleInTransaction(t); n != 0 {
		t.Errorf("%d connections left in a transaction", n)
	}
}
