package resources

import (
	"math/rand"
	"testing"
	"time"
)

// TestTakenTimesMatchesPairwise: the indexed overlap test answers as comparing the
// candidate with every taken interval would, over random overlapping existing slots and
// candidates added as they are found free.
func TestTakenTimesMatchesPairwise(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewSource(3))
	base := time.Date(2030, 1, 7, 0, 0, 0, 0, time.UTC)
	span := func() interval {
		from := base.Add(time.Duration(rnd.Intn(600)) * time.Minute)
		return interval{from, from.Add(time.Duration(1+rnd.Intn(90)) * time.Minute)}
	}
	for round := 0; round < 200; round++ {
		var existing []interval
		for range rnd.Intn(30) {
			existing = append(existing, span())
		}
		taken := newTakenTimes(existing)
		all := append([]interval(nil), existing...)
		for range 60 {
			c := span()
			want := overlapsAny(c, all)
			if got := taken.overlaps(c); got != want {
				t.Fatalf("round %d: %v overlaps = %v, pairwise says %v (taken %v)", round, c, got, want, all)
			}
			if !want {
				taken.add(c)
				all = append(all, c)
			}
		}
	}
}
