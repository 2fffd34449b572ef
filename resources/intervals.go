package resources

import (
	"slices"
	"time"
)

// takenTimes answers whether a candidate slot overlaps a slot the schedule already has or
// one generated in this call, in O(log n): a year of one-minute candidates over a
// densely slotted schedule must not cost candidates × slots comparisons while the
// schedule is locked.
type takenTimes struct {
	existing []interval  // sorted by from; may overlap one another
	reach    []time.Time // reach[i]: the latest `to` among existing[:i+1]
	made     []interval  // sorted by from; never overlapping
}

func newTakenTimes(existing []interval) *takenTimes {
	sorted := slices.Clone(existing)
	slices.SortFunc(sorted, func(a, b interval) int { return a.from.Compare(b.from) })
	reach := make([]time.Time, len(sorted))
	for i, x := range sorted {
		reach[i] = x.to
		if i > 0 && reach[i-1].After(x.to) {
			reach[i] = reach[i-1]
		}
	}
	return &takenTimes{existing: sorted, reach: reach}
}

// overlaps reports whether c overlaps any taken interval.
func (t *takenTimes) overlaps(c interval) bool {
	// Existing intervals starting before c ends; one of them overlaps c iff the latest
	// end among them is after c starts.
	n, _ := slices.BinarySearchFunc(t.existing, c.to, func(x interval, to time.Time) int {
		if x.from.Before(to) {
			return -1
		}
		return 1
	})
	if n > 0 && t.reach[n-1].After(c.from) {
		return true
	}
	// Made intervals do not overlap one another, so only the last one starting before c
	// ends can reach into c.
	m, _ := slices.BinarySearchFunc(t.made, c.to, func(x interval, to time.Time) int {
		if x.from.Before(to) {
			return -1
		}
		return 1
	})
	return m > 0 && t.made[m-1].to.After(c.from)
}

// add records a generated interval, which must not overlap any taken one.
func (t *takenTimes) add(c interval) {
	i, _ := slices.BinarySearchFunc(t.made, c.from, func(x interval, from time.Time) int { return x.from.Compare(from) })
	t.made = slices.Insert(t.made, i, c)
}
