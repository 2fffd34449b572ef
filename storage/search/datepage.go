// The sorted date page: Appointment?date=ge<day>&date=lt<day+1>&_sort=date&_count=20 reads
// about 20 entries of the (sp, low, rid) index from the page's position, instead of every
// match of the range, each with its sort key probed, sorted to keep 20.

package search

import (
	"fmt"
	"strings"
	"time"
)

// datePageClause is the clause of a query that datePage answers, or nil: a query whose
// only clause is a range (or single value) on the date parameter it is sorted by,
// ascending. package storage also asks the index whether that parameter has resources
// with several values (MultiValued), which this plan cannot order.
func (q *Query) datePageClause() *Clause {
	if q.Generic || q.Compartment != nil || q.ReferencedBy != nil || !q.Access.Unrestricted(q.Type) || len(q.Sort) != 1 || len(q.Clauses) != 1 || q.Sort[0].Descending {
		return nil
	}
	c, s := q.Clauses[0], q.Sort[0]
	if c.Param == nil || c.Param != s.Param || c.Param.Kind != KindDate || c.Param.Code == "_lastUpdated" ||
		c.Modifier != "" || c.Missing != nil || len(c.Chain) > 0 || c.Has != nil {
		return nil
	}
	for _, cl := range append([]*Clause{c}, c.Also...) {
		if len(cl.Values) != 1 {
			return nil
		}
		if _, ok := window(cl.Values[0].(DateValue)); !ok {
			return nil
		}
	}
	if w := dateWindow(c); w[0].After(w[1]) {
		// Windows that do not meet (lt May & gt July) bound no page: a Period from May to
		// August matches both. The generic plan tests each clause.
		return nil
	}
	return c
}

// dateWindow is the intersection of the windows of a date clause and its Also clauses.
// A value that matches every clause overlaps each window, and so (intervals on a line
// that meet pairwise meet together) their intersection, when it is not empty.
func dateWindow(c *Clause) [2]time.Time {
	w := [2]time.Time{MinTime, MaxTime}
	for _, cl := range append([]*Clause{c}, c.Also...) {
		if len(cl.Values) == 1 {
			if cw, ok := window(cl.Values[0].(DateValue)); ok {
				w = intersect(w, cw)
			}
		}
	}
	return w
}

// datePage is the page SQL of such a query. With one value per resource, a resource's
// sort key (its least low) is the low of its only row, so the page is the rows of the
// range in (low, rid) order from the cursor. Every match overlaps the range's window
// [w0, w1]: either its low is in the window (an index range, read in order), or it starts
// before w0 and so contains w0 (a few rows, from the GiST index); all of the second kind
// sort before all of the first. Each branch reads at most limit rows that pass.
func (b *builder) datePage(q *Query, limit int) (string, bool) {
	c := q.datePageClause()
	if c == nil || c.MultiValued {
		return "", false
	}
	w := dateWindow(c)
	before := q.Cursor != nil && q.Cursor.Before
	dir := direction(before)
	conds := []string{"r.type = " + b.arg(q.Type), "NOT r.deleted", "x.sp = " + b.arg(key(c.Type, c.Param.Code))}
	for _, cl := range append([]*Clause{c}, c.Also...) {
		conds = append(conds, b.dateCond("x.low", "x.high", cl.Values[0].(DateValue)))
	}
	if cur := q.Cursor; cur != nil {
		op := " > "
		if before {
			op = " < "
		}
		conds = append(conds, "(x.low, x.rid)"+op+"("+b.arg(cur.Keys[0])+"::timestamptz, "+b.arg(cur.RID)+"::bigint)")
		if !cur.Snapshot.IsZero() {
			conds = append(conds, "r.last_updated <= "+b.arg(cur.Snapshot)+"::timestamptz")
		}
	}
	n := b.arg(limit)
	branch := func(extra ...string) string {
		return "(SELECT r.rid, r.type, r.id, r.version_id, r.last_updated, r.content, x.low AS k FROM search_date x JOIN resources r ON r.rid = x.rid" +
			" WHERE " + strings.Join(append(append([]string{}, conds...), extra...), " AND ") +
			" ORDER BY x.low" + dir + ", x.rid" + dir + " LIMIT " + n + ")"
	}
	var inWindow []string
	if w[0].After(MinTime) {
		inWindow = append(inWindow, "x.low >= "+b.arg(w[0])+"::timestamptz")
	}
	if w[1].Before(MaxTime) {
		inWindow = append(inWindow, "x.low <= "+b.arg(w[1])+"::timestamptz")
	}
	branches := []string{branch(inWindow...)}
	if w[0].After(MinTime) {
		at := b.arg(w[0]) + "::timestamptz"
		branches = append(branches, branch(fmt.Sprintf("tstzrange(x.low, x.high, '[]') && tstzrange(%s, %s, '[]')", at, at), "x.low < "+at))
	}
	return "SELECT m.rid, m.type, m.id, m.version_id, m.last_updated, m.content, m.k::text FROM (" + strings.Join(branches, " UNION ALL ") +
		") m ORDER BY m.k" + dir + ", m.rid" + dir + " LIMIT " + n, true
}
