package search_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
)

// TestPagingUnderConcurrentWrites pages through a search with a small _count while other
// goroutines create, update (moving sort values) and delete matching resources; no
// resource may come back twice, and every match that nobody touched must come back.
func TestPagingUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	const n = 120
	put := func(id, family, birth string) error {
		return store.InTx(ctx, func(tx *storage.Tx) error {
			prev, err := tx.Lock(ctx, "Patient", id)
			if err != nil {
				return err
			}
			body := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"urn:paging","value":"%s"}],"name":[{"family":"%s"}],"birthDate":"%s"}`, id, family, birth)
			_, err = tx.Write(ctx, prev, "Patient", id, []byte(body), http.MethodPut)
			return err
		})
	}
	for i := 0; i < n; i++ {
		if err := put(fmt.Sprintf("page-%03d", i), fmt.Sprintf("Pager%03d", i), fmt.Sprintf("19%02d-01-01", i%100)); err != nil {
			t.Fatal(err)
		}
	}
	for _, order := range []string{"", "&_sort=family", "&_sort=-birthdate,family"} {
		t.Run("order"+order, func(t *testing.T) {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			touched := sync.Map{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					// Move a resource from the end of the order to the front and back again,
					// and create new matches.
					id := fmt.Sprintf("page-%03d", n-1-i%40)
					touched.Store(id, true)
					put(id, fmt.Sprintf("Aaa%03d", i), "2099-01-01")
					put(fmt.Sprintf("page-new-%d%s", i, order), "Pagernew", "1950-01-01")
				}
			}()
			params, _ := url.ParseQuery("identifier=urn:paging|&_count=7" + order)
			q, err := search.Definitions().Parse("Patient", params, search.ParseOptions{Strict: true, DefaultCount: 7, MaxCount: 100})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for page := 0; page < 200; page++ {
				res, err := store.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range res.Matches {
					seen[m.ID]++
				}
				if res.Next == nil {
					break
				}
				q.Cursor = res.Next
			}
			close(stop)
			wg.Wait()
			for id, c := range seen {
				if c > 1 {
					t.Errorf("%s returned %d times", id, c)
				}
			}
			for i := 0; i < n; i++ {
				id := fmt.Sprintf("page-%03d", i)
				if _, moved := touched.Load(id); !moved && seen[id] == 0 {
					t.Errorf("%s, untouched, was skipped", id)
				}
			}
			// Put the moved resources back for the next order.
			for i := 0; i < n; i++ {
				put(fmt.Sprintf("page-%03d", i), fmt.Sprintf("Pager%03d", i), fmt.Sprintf("19%02d-01-01", i%100))
			}
		})
	}
}

// TestPreviousLinks walks forward and then back with the previous cursors: the pages
// must be the same in both directions.
func TestPreviousLinks(t *testing.T) {
	ctx := context.Background()
	params, _ := url.ParseQuery("identifier=urn:careslot:mrn|&_sort=family&_count=9")
	q, err := search.Definitions().Parse("Patient", params, search.ParseOptions{Strict: true, DefaultCount: 9, MaxCount: 100})
	if err != nil {
		t.Fatal(err)
	}
	var forward [][]string
	var last *storage.SearchResult
	for {
		res, err := store.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		forward = append(forward, ids(res))
		last = res
		if res.Next == nil {
			break
		}
		q.Cursor = res.Next
	}
	for i := len(forward) - 2; i >= 0; i-- {
		if last.Previous == nil {
			t.Fatalf("page %d has no previous link", i+1)
		}
		q.Cursor = last.Previous
		res, err := store.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(ids(res)) != fmt.Sprint(forward[i]) {
			t.Fatalf("page %d backwards is %v, forwards %v", i, ids(res), forward[i])
		}
		last = res
	}
	if last.Previous != nil {
		t.Errorf("the first page has a previous link")
	}
}

func ids(res *storage.SearchResult) []string {
	var out []string
	for _, m := range res.Matches {
		out = append(out, m.ID)
	}
	return out
}
