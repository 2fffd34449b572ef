package search

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Open ends of a date range: a Period without start or end, stored as real instants
// so that every comparison stays a plain index comparison.
var (
	MinTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// dateRE is an R4 date, dateTime or instant: any prefix of YYYY-MM-DDThh:mm:ss.fff±zz:zz.
// Minutes without seconds are accepted for search values, as the search spec allows.
var dateRE = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

// DateRange is the inclusive range of instants a date value stands for at its precision:
// 2024-03 is every instant of March 2024. Values without a time zone are taken as UTC.
func DateRange(s string) (low, high time.Time, err error) {
	m := dateRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return low, high, fmt.Errorf("%q is not a date like 2024-01-31 or 2024-01-31T09:00:00Z", s)
	}
	atoi := func(v string, def int) int {
		if v == "" {
			return def
		}
		n := 0
		for _, c := range v {
			n = n*10 + int(c-'0')
		}
		return n
	}
	loc := time.UTC
	if tz := m[8]; tz != "" && tz != "Z" {
		sign := 1
		if tz[0] == '-' {
			sign = -1
		}
		offset := atoi(tz[1:3], 0)*60 + atoi(tz[4:6], 0)
		// R4 offsets run from -14:00 to +14:00.
		if offset > 14*60 || atoi(tz[4:6], 0) > 59 {
			return low, high, fmt.Errorf("%q has no valid time zone offset", s)
		}
		loc = time.FixedZone("", sign*offset*60)
	}
	year, month, day := atoi(m[1], 0), atoi(m[2], 1), atoi(m[3], 1)
	hour, minute, sec := atoi(m[4], 0), atoi(m[5], 0), atoi(m[6], 0)
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return low, high, fmt.Errorf("%q is not a valid date", s)
	}
	nanos := 0
	if f := m[7]; f != "" {
		nanos = atoi((f + "000000000")[:9], 0)
	}
	leap := sec == 60
	if leap {
		sec = 59
	}
	low = time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if low.Day() != day {
		return low, high, fmt.Errorf("%q is not a valid date", s)
	}
	if leap {
		// A leap second (R4 allows :60) is read as the second after it, as Postgres does;
		// on the last day of a month it was refused as an invalid date.
		low = low.Add(time.Second)
	}
	var next time.Time
	switch {
	case m[2] == "":
		next = low.AddDate(1, 0, 0)
	case m[3] == "":
		next = low.AddDate(0, 1, 0)
	case m[4] == "":
		next = low.AddDate(0, 0, 1)
	case m[6] == "":
		next = low.Add(time.Minute)
	case m[7] == "":
		next = low.Add(time.Second)
	default:
		// A fraction is as precise as its digits (.5 is [.5, .6)), down to the
		// microsecond Postgres keeps.
		unit := time.Microsecond
		for digits := len(m[7]); digits < 6; digits++ {
			unit *= 10
		}
		next = low.Truncate(time.Microsecond).Add(unit)
	}
	return low.UTC().Truncate(time.Microsecond), next.UTC().Add(-time.Microsecond), nil
}

// Normalize makes a string comparable the way FHIR string search asks: case- and
// accent-insensitive, with runs of white space made one space.
func Normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// likeEscape escapes the LIKE wildcards of s (the SQL uses ESCAPE '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// numberRE is a FHIR decimal, optionally in exponent form as search allows.
var numberRE = regexp.MustCompile(`^[+-]?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$`)

// maxExponent bounds the exponent of a search number, far beyond any measured value.
const maxExponent = 1000

// MaxDecimalDigits is how many digits a decimal may have on either side of its point,
// exponent applied. PostgreSQL's numeric holds 16,383 after the point and 131,072 before
// (1e-16384 failed the INSERT with a 500); the search index stores bounds a few digits
// finer than the value, so careslot keeps far inside both.
const MaxDecimalDigits = 1000

// CheckDecimal refuses a decimal (JSON number or search number) with more than
// MaxDecimalDigits digits before or after its point, or that is not a number at all.
func CheckDecimal(s string) error {
	m := numberRE.FindStringSubmatch(s)
	if m == nil {
		return fmt.Errorf("%.40q is not a number", s)
	}
	exp := 0
	if m[3] != "" {
		var err error
		if exp, err = strconv.Atoi(m[3]); err != nil || abs(exp) > 2*MaxDecimalDigits+len(m[1])+len(m[2]) {
			return fmt.Errorf("%.40q is out of range: a decimal has at most %d digits before and after the point", s, MaxDecimalDigits)
		}
	}
	whole := len(strings.TrimLeft(m[1], "0"))
	if whole+exp > MaxDecimalDigits || len(m[2])-exp > MaxDecimalDigits {
		return fmt.Errorf("%.40q is out of range: a decimal has at most %d digits before and after the point", s, MaxDecimalDigits)
	}
	return nil
}

// NumberRange is the value of a search number and the half-open range its precision
// implies: 100 stands for [99.5, 100.5), 100.0 for [99.95, 100.05). Exact decimal
// strings are returned so that Postgres compares numerics, not floats.
func NumberRange(s string) (value, lo, hi string, err error) {
	if err := CheckDecimal(s); err != nil {
		return "", "", "", err
	}
	m := numberRE.FindStringSubmatch(s)
	exp := 0
	if m[3] != "" {
		var err error
		// 10^exp is computed below: a huge exponent would take the process's memory.
		if exp, err = strconv.Atoi(m[3]); err != nil || abs(exp) > maxExponent {
			return "", "", "", fmt.Errorf("%q is out of range: the exponent must be within ±%d", s, maxExponent)
		}
	}
	v, ok := new(big.Rat).SetString(s)
	if !ok {
		return "", "", "", fmt.Errorf("%q is not a number", s)
	}
	// Half a unit of the last significant digit.
	digits := len(m[2])
	half := new(big.Rat).SetFrac64(1, 2)
	scale := digits - exp
	pow := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(scale))), nil))
	if scale >= 0 {
		half.Quo(half, pow)
	} else {
		half.Mul(half, pow)
	}
	// Enough places for the last significant digit (1e-20 has 20) and the half after it.
	prec := max(scale+2, 2)
	return decimalString(v, prec), decimalString(new(big.Rat).Sub(v, half), prec+1), decimalString(new(big.Rat).Add(v, half), prec+1), nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// decimalString writes r with enough digits for the comparisons search makes.
func decimalString(r *big.Rat, prec int) string {
	s := r.FloatString(prec + 10)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// splitEscaped splits s at sep, honouring the search escape \ (\, \$ \| \\).
func splitEscaped(s string, sep byte) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
			continue
		}
		if c == sep {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}

// unescape removes the search escapes from one value.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
