package search_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
)

// TestDatePageMatchesGeneric is the differential test of datepage.go: sorted date
// searches, paged forward to the end and back through previous links, give the same
// sequence with the ordered-index plan as with the index tables alone. Encounters have
// periods (some start before a searched window and still overlap it); appointments share
// start times (ties go by rid); some are updated or deleted.
func TestDatePageMatchesGeneric(t *testing.T) {
	ctx := context.Background()
	st := ownStore(ctx, t)
	rnd := rand.New(rand.NewSource(11))
	base := time.Date(2032, 5, 1, 0, 0, 0, 0, time.UTC)
	put := func(typ, id string, body map[string]any) {
		t.Helper()
		err := st.InTx(ctx, func(tx *storage.Tx) error {
			prev, err := tx.Lock(ctx, typ, id)
			if err != nil {
				return err
			}
			if body == nil {
				_, err = tx.Delete(ctx, prev)
				return err
			}
			body["resourceType"], body["id"] = typ, id
			b, _ := json.Marshal(body)
			method := http.MethodPut
			if prev == nil {
				method = http.MethodPost
			}
			_, err = tx.Write(ctx, prev, typ, id, b, method)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	at := func() time.Time { return base.Add(time.Duration(rnd.Intn(4*24*4)) * 15 * time.Minute) }
	for i := 0; i < 120; i++ {
		start := at()
		put("Appointment", fmt.Sprintf("dp-a%d", i), map[string]any{"status": "booked",
			"start": start.Format(time.RFC3339), "end": start.Add(20 * time.Minute).Format(time.RFC3339),
			"participant": []any{map[string]any{"status": "accepted", "actor": map[string]any{"display": "x"}}}})
		from := at()
		period := map[string]any{"start": from.Format(time.RFC3339)}
		switch i % 4 {
		case 0:
			period["end"] = from.Add(time.Duration(1+rnd.Intn(60)) * time.Hour).Format(time.RFC3339)
		case 1:
			period["start"] = from.Format("2006-01-02")
		case 2:
			period["end"] = from.Add(30 * time.Minute).Format(time.RFC3339)
		}
		put("Encounter", fmt.Sprintf("dp-e%d", i), map[string]any{"status": "finished",
			"class": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}, "period": period})
	}
	for i := 0; i < 120; i += 9 {
		put("Appointment", fmt.Sprintf("dp-a%d", i), nil)
		start := at()
		put("Appointment", fmt.Sprintf("dp-a%d", i+1), map[string]any{"status": "booked", "start": start.Format(time.RFC3339),
			"end": start.Add(time.Hour).Format(time.RFC3339), "participant": []any{map[string]any{"status": "accepted", "actor": map[string]any{"display": "y"}}}})
	}
	value := func() string {
		v := at().Add(time.Duration(rnd.Intn(3)) * 7 * time.Minute)
		switch rnd.Intn(3) {
		case 0:
			return v.Format("2006-01-02")
		case 1:
			return v.Format("2006-01-02T15:04")
		}
		return v.Format(time.RFC3339)
	}
	prefixes := []string{"ge", "gt", "le", "lt", "eq", "sa", "eb", "ap", "ne", ""}
	var planned, nonEmpty int
	for n := 0; n < 100; n++ {
		typ := []string{"Appointment", "Encounter"}[n%2]
		var parts []string
		for k := 1 + rnd.Intn(2); k > 0; k-- {
			parts = append(parts, "date="+prefixes[rnd.Intn(len(prefixes))]+url.QueryEscape(value()))
		}
		parts = append(parts, "_sort=date", fmt.Sprintf("_count=%d", 3+rnd.Intn(10)))
		raw := strings.Join(parts, "&")
		fast, used := datePages(ctx, t, st, typ, raw, false)
		generic, _ := datePages(ctx, t, st, typ, raw, true)
		if !slices.Equal(fast, generic) {
			t.Errorf("%s?%s: the ordered-index plan paged %v, the index tables %v", typ, raw, fast, generic)
		}
		if used {
			planned++
			if len(fast) > 2 {
				nonEmpty++
			}
		}
	}
	if planned < 50 || nonEmpty < 25 {
		t.Errorf("the plan was used for %d queries, %d with several matches: the test compares too little", planned, nonEmpty)
	}
	t.Logf("%d of 100 queries used the ordered-index plan, %d of them with several matches", planned, nonEmpty)
}

// datePages pages typ?raw forward to the end, then back from the last page through the
// previous links, and returns the ids in order (the backward walk must agree); used tells
// whether the first page's SQL was the ordered-index plan.
func datePages(ctx context.Context, t *testing.T, st *storage.Store, typ, raw string, generic bool) ([]string, bool) {
	t.Helper()
	params, _ := url.ParseQuery(raw)
	q, err := search.Definitions().Parse(typ, params, search.ParseOptions{Strict: true, DefaultCount: 7, MaxCount: 100})
	if err != nil {
		t.Fatalf("%s?%s: %v", typ, raw, err)
	}
	q.Generic = generic
	sql, _ := q.PageSQL(search.Definitions(), q.Count+1)
	used := strings.Contains(sql, "JOIN resources r ON r.rid = x.rid")
	var forward [][]string
	var last *storage.SearchResult
	for page := 0; page < 200; page++ {
		res, err := st.Search(ctx, q)
		if err != nil {
			t.Fatalf("%s?%s: %v", typ, raw, err)
		}
		forward = append(forward, ids(res))
		last = res
		if res.Next == nil {
			break
		}
		q.Cursor = res.Next
	}
	var backward [][]string
	for page := 0; last.Previous != nil && page < 200; page++ {
		q.Cursor = last.Previous
		res, err := st.Search(ctx, q)
		if err != nil {
			t.Fatalf("%s?%s (previous): %v", typ, raw, err)
		}
		backward = append([][]string{ids(res)}, backward...)
		last = res
	}
	if want := forward[:len(forward)-1]; !slices.EqualFunc(backward, want, slices.Equal) {
		t.Errorf("%s?%s (generic=%v): previous links gave %v, next links %v", typ, raw, generic, backward, want)
	}
	var out []string
	for _, p := range forward {
		out = append(out, p...)
	}
	return out, used
}
