package search_test

import (
	"context"
	"fmt"
	"math/rand"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/search"
)

// r2Date is a date value written at a precision, with the inclusive range of instants
// it stands for, worked out here from how it was made (not by parsing it back).
type r2Date struct {
	text      string
	low, high time.Time
}

// r2MakeDate writes at (in zone z) at precision p: 0 year, 1 month, 2 day, 3 minute,
// 4 second, 5 milliseconds.
func r2MakeDate(at time.Time, z *time.Location, p int) r2Date {
	at = at.In(z)
	var start, next time.Time
	var text string
	switch p {
	case 0:
		start = time.Date(at.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		next, text = start.AddDate(1, 0, 0), start.Format("2006")
	case 1:
		start = time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
		next, text = start.AddDate(0, 1, 0), start.Format("2006-01")
	case 2:
		start = time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, time.UTC)
		next, text = start.AddDate(0, 0, 1), start.Format("2006-01-02")
	case 3:
		start = at.Truncate(time.Minute)
		next, text = start.Add(time.Minute), start.Format("2006-01-02T15:04Z07:00")
	case 4:
		start = at.Truncate(time.Second)
		next, text = start.Add(time.Second), start.Format("2006-01-02T15:04:05Z07:00")
	default:
		start = at.Truncate(time.Millisecond)
		// A fraction is taken as exact to the microsecond (docs/search.md).
		next, text = start.Add(time.Microsecond), start.Format("2006-01-02T15:04:05.000Z07:00")
	}
	return r2Date{text: text, low: start.UTC(), high: next.UTC().Add(-time.Microsecond)}
}

// r2Matches is the R4 prefix rule for a target range [tl, th] and a searched range [sl, sh].
func r2Matches(prefix string, tl, th, sl, sh time.Time) bool {
	contained := !tl.Before(sl) && !th.After(sh)
	switch prefix {
	case "eq":
		return contained
	case "ne":
		return !contained
	case "gt":
		return th.After(sh)
	case "lt":
		return tl.Before(sl)
	case "ge":
		return th.After(sh) || contained
	case "le":
		return tl.Before(sl) || contained
	case "sa":
		return tl.After(sh)
	case "eb":
		return th.Before(sl)
	}
	panic(prefix)
}

// TestPeriodPrefixes compares Encounter?date searches over random Periods (open
// ends, every precision, several time zones), single and as ranges of two prefixes, with
// the prefix rules of the spec applied to ranges computed independently.
func TestPeriodPrefixes(t *testing.T) {
	ctx := context.Background()
	st := ownStore(ctx, t)
	rnd := rand.New(rand.NewSource(42))
	zones := []*time.Location{time.UTC, time.FixedZone("", 14*3600), time.FixedZone("", -11*3600), time.FixedZone("", 5*3600+1800)}
	base := time.Date(2027, 6, 15, 12, 0, 0, 0, time.UTC)
	random := func() time.Time {
		return base.Add(time.Duration(rnd.Int63n(int64(90*24*time.Hour))) - 45*24*time.Hour)
	}
	type enc struct{ low, high time.Time }
	encs := map[string]enc{}
	for i := 0; i < 80; i++ {
		a, b := random(), random()
		if b.Before(a) {
			a, b = b, a
		}
		s, e := r2MakeDate(a, zones[rnd.Intn(len(zones))], 2+rnd.Intn(4)), r2MakeDate(b, zones[rnd.Intn(len(zones))], 2+rnd.Intn(4))
		if e.high.Before(s.low) {
			e = s
		}
		period := map[string]any{}
		got := enc{search.MinTime, search.MaxTime}
		if rnd.Intn(6) > 0 {
			period["start"], got.low = s.text, s.low
		}
		if rnd.Intn(6) > 0 || len(period) == 0 {
			period["end"], got.high = e.text, e.high
		}
		id := fmt.Sprintf("r2-enc-%d", i)
		encs[id] = got
		if err := writeThroughRules(ctx, t, st, "Encounter", id, map[string]any{"status": "finished",
			"class": map[string]any{"code": "AMB"}, "period": period}); err != nil {
			t.Fatal(err)
		}
	}
	prefixes := []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"}
	for n := 0; n < 250; n++ {
		var terms []string
		var values []r2Date
		var pfx []string
		for k := 1 + rnd.Intn(2); k > 0; k-- {
			d := r2MakeDate(random(), zones[rnd.Intn(len(zones))], rnd.Intn(6))
			p := prefixes[rnd.Intn(len(prefixes))]
			terms, values, pfx = append(terms, "date="+p+url.QueryEscape(d.text)), append(values, d), append(pfx, p)
		}
		raw := strings.Join(terms, "&")
		var want []string
		for id, e := range encs {
			ok := true
			for i, d := range values {
				ok = ok && r2Matches(pfx[i], e.low, e.high, d.low, d.high)
			}
			if ok {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		for _, sorted := range []string{"", "&_sort=date"} {
			params, _ := url.ParseQuery(raw + sorted + "&_count=1000")
			q, err := search.Definitions().Parse("Encounter", params, search.ParseOptions{Strict: true, DefaultCount: 1000, MaxCount: 1000})
			if err != nil {
				t.Fatalf("Encounter?%s: %v", raw, err)
			}
			res, err := st.Search(ctx, q)
			if err != nil {
				t.Fatalf("Encounter?%s: %v", raw, err)
			}
			var got []string
			for _, m := range res.Matches {
				got = append(got, m.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("Encounter?%s%s: got %v, want %v", raw, sorted, got, want)
			}
		}
	}
}
