// The conditions of each kind of value on the columns of its index table, as R4 defines
// each prefix and modifier.

package search

import (
	"fmt"
	"strings"
	"time"
)

// value is the condition of one value on the index row alias x.
func (b *builder) value(c *Clause, x string, v Value) string {
	switch v := v.(type) {
	case StringValue:
		switch c.Modifier {
		case "exact":
			return x + ".exact = " + b.arg(v.Raw)
		case "contains":
			return x + ".value LIKE " + b.arg("%"+likeEscape(v.Norm)+"%")
		}
		return x + ".value LIKE " + b.arg(likeEscape(v.Norm)+"%")
	case TokenValue:
		return b.token(c.Modifier, x+".system", x+".code", x+".text", v)
	case ReferenceValue:
		return b.reference(x, v)
	case DateValue:
		cond := b.dateCond(x+".low", x+".high", v)
		if w, ok := window(v); ok {
			cond = b.window(x, w) + " AND " + cond
		}
		return cond
	case NumberValue:
		return b.numberCond(x+".value", x+".value", v)
	case QuantityValue:
		return b.quantityCond(x+".low", x+".high", x+".system", x+".code", x+".unit", v)
	case URIValue:
		switch c.Modifier {
		case "below":
			return x + ".value LIKE " + b.arg(likeEscape(v.URI)+"%")
		case "above":
			return "left(" + b.arg(v.URI) + "::text, length(" + x + ".value)) = " + x + ".value"
		}
		return x + ".value = " + b.arg(v.URI)
	case CompositeValue:
		return b.composite(x, v)
	}
	return "false"
}

func (b *builder) token(modifier, system, code, text string, v TokenValue) string {
	switch modifier {
	case "of-type":
		return "(" + system + " = " + b.arg(v.TypeSystem) + " AND " + code + " = " + b.arg(v.TypeCode) + " AND " + text + " = " + b.arg(v.Code) + ")"
	case "text":
		return text + " LIKE " + b.arg(likeEscape(v.Code)+"%")
	}
	if !v.HasSystem {
		return code + " = " + b.arg(v.Code)
	}
	cond := system + " = " + b.arg(v.System)
	if v.Code != "" {
		cond = "(" + cond + " AND " + code + " = " + b.arg(v.Code) + ")"
	}
	return cond
}

func (b *builder) reference(x string, v ReferenceValue) string {
	if v.URL != "" {
		return x + ".url = " + b.arg(v.URL)
	}
	cond := x + ".target_id = " + b.arg(v.ID)
	if v.Type != "" {
		cond = "(" + cond + " AND " + x + ".target_type = " + b.arg(v.Type) + ")"
	}
	return cond
}

// dateCond compares the range [lo, hi] of a stored value with a searched date as the
// R4 prefixes define it; the range of the searched value is [v.Low, v.High].
func (b *builder) dateCond(lo, hi string, v DateValue) string {
	a := func() string { return b.arg(v.Low) + "::timestamptz" }
	z := func() string { return b.arg(v.High) + "::timestamptz" }
	switch v.Prefix {
	case "ne":
		return "NOT (" + lo + " >= " + a() + " AND " + hi + " <= " + z() + ")"
	case "gt":
		return hi + " > " + z()
	case "lt":
		return lo + " < " + a()
	case "ge":
		// The range above the value overlaps the target, or the value contains it.
		s := a()
		return "(" + hi + " >= " + s + " AND (" + hi + " > " + z() + " OR " + lo + " >= " + s + "))"
	case "le":
		e := z()
		return "(" + lo + " <= " + e + " AND (" + lo + " < " + a() + " OR " + hi + " <= " + e + "))"
	case "sa":
		return lo + " > " + z()
	case "eb":
		return hi + " < " + a()
	case "ap":
		wl, wh := approximately(v.Low, v.High)
		return "(" + lo + " <= " + b.arg(wh) + "::timestamptz AND " + hi + " >= " + b.arg(wl) + "::timestamptz)"
	}
	return "(" + lo + " >= " + a() + " AND " + hi + " <= " + z() + ")"
}

// window is a range that every stored date matching v overlaps: the GiST index of
// search_date finds those rows without scanning from the start or end of time.
func window(v DateValue) ([2]time.Time, bool) {
	switch v.Prefix {
	case "eq":
		return [2]time.Time{v.Low, v.High}, true
	case "gt", "sa":
		return [2]time.Time{v.High.Add(time.Microsecond), MaxTime}, true
	case "lt", "eb":
		return [2]time.Time{MinTime, v.Low.Add(-time.Microsecond)}, true
	case "ge":
		return [2]time.Time{v.Low, MaxTime}, true
	case "le":
		return [2]time.Time{MinTime, v.High}, true
	case "ap":
		lo, hi := approximately(v.Low, v.High)
		return [2]time.Time{lo, hi}, true
	}
	return [2]time.Time{}, false
}

func (b *builder) window(x string, w [2]time.Time) string {
	if w[0].After(w[1]) {
		return "false"
	}
	return fmt.Sprintf("tstzrange(%s.low, %s.high, '[]') && tstzrange(%s::timestamptz, %s::timestamptz, '[]')", x, x, b.arg(w[0]), b.arg(w[1]))
}

// dateRange answers several ANDed single-value clauses on one date parameter: a value
// that satisfies them all is found with one window scan; a resource with several values
// may satisfy them with different values, which the second branch (few rows) tests.
func (b *builder) dateRange(c *Clause, sp string) string {
	all := append([]*Clause{c}, c.Also...)
	w := [2]time.Time{MinTime, MaxTime}
	for _, cl := range all {
		if cw, ok := window(cl.Values[0].(DateValue)); ok {
			if cw[0].After(w[0]) {
				w[0] = cw[0]
			}
			if cw[1].Before(w[1]) {
				w[1] = cw[1]
			}
		}
	}
	x, y := b.alias("x"), b.alias("x")
	spArg := b.arg(sp)
	var same, each []string
	for _, cl := range all {
		v := cl.Values[0].(DateValue)
		same = append(same, b.dateCond(x+".low", x+".high", v))
		if c.MultiValued {
			each = append(each, "bool_or("+b.dateCond(y+".low", y+".high", v)+")")
		}
	}
	single := fmt.Sprintf("SELECT %s.rid FROM search_date %s WHERE %s.sp = %s AND %s AND %s", x, x, x, spArg, b.window(x, w), strings.Join(same, " AND "))
	if !c.MultiValued {
		// The usual case (Appointment.start, Slot.start): one value per resource, so a plain
		// semi-join that Postgres can drive from either side.
		return single
	}
	return fmt.Sprintf("%s UNION ALL SELECT %s.rid FROM search_date %s WHERE %s.sp = %s AND %s.multi GROUP BY %s.rid HAVING %s",
		single, y, y, y, spArg, y, y, strings.Join(each, " AND "))
}

// numberCond compares a stored number (or range [lo, hi]) with a searched number; eq
// means within the precision of the searched value.
func (b *builder) numberCond(lo, hi string, v NumberValue) string {
	n := func(s string) string { return b.arg(s) + "::numeric" }
	switch v.Prefix {
	case "ne":
		return "NOT (" + lo + " >= " + n(v.Low) + " AND " + hi + " < " + n(v.High) + ")"
	case "gt":
		return hi + " > " + n(v.Value)
	case "lt":
		return lo + " < " + n(v.Value)
	case "ge":
		return hi + " >= " + n(v.Value)
	case "le":
		return lo + " <= " + n(v.Value)
	case "sa":
		return lo + " > " + n(v.Value)
	case "eb":
		return hi + " < " + n(v.Value)
	case "ap":
		// Within 10% of the value.
		val := n(v.Value)
		return "(" + lo + " <= " + val + " + abs(" + val + ") * 0.1 AND " + hi + " >= " + val + " - abs(" + val + ") * 0.1)"
	}
	return "(" + lo + " >= " + n(v.Low) + " AND " + hi + " < " + n(v.High) + ")"
}

func (b *builder) quantityCond(lo, hi, system, code, unit string, v QuantityValue) string {
	cond := b.numberCond(lo, hi, v.NumberValue)
	switch {
	case v.System != "" && v.Code != "":
		cond += " AND " + system + " = " + b.arg(v.System) + " AND " + code + " = " + b.arg(v.Code)
	case v.Code != "":
		c := b.arg(v.Code)
		if unit == "" {
			cond += " AND " + code + " = " + c
		} else {
			cond += " AND (" + code + " = " + c + " OR " + unit + " = " + c + ")"
		}
	case v.System != "":
		cond += " AND " + system + " = " + b.arg(v.System)
	}
	return "(" + cond + ")"
}

func (b *builder) composite(x string, v CompositeValue) string {
	var first string
	switch f := v.First.(type) {
	case TokenValue:
		first = b.token("", x+".c1_system", x+".c1_code", "", f)
	case ReferenceValue:
		if f.Type != "" {
			first = x + ".c1_code = " + b.arg(f.Type+"/"+f.ID)
		} else {
			first = x + ".c1_code LIKE " + b.arg("%/"+likeEscape(f.ID))
		}
	default:
		return "false"
	}
	var second string
	switch s := v.Second.(type) {
	case TokenValue:
		second = b.token("", x+".c2_system", x+".c2_code", "", s)
	case QuantityValue:
		second = b.quantityCond(x+".c2_low", x+".c2_high", x+".c2_system", x+".c2_code", "", s)
	case DateValue:
		second = b.dateCond(x+".c2_from", x+".c2_to", s)
	case StringValue:
		second = x + ".c2_text LIKE " + b.arg(likeEscape(s.Norm)+"%")
	default:
		return "false"
	}
	return "(" + first + " AND " + second + ")"
}
