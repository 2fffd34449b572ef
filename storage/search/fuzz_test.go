package search_test

// Fuzz tests of the search query parser. `go test` runs the seed corpora in
// testdata/fuzz/<Target>; `make fuzz` runs each target with -fuzz for a while.

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/storage/search"
)

// fuzzOptions are the server's parse options (fhir.parseOptions), with a base URL.
func fuzzOptions(strict bool) search.ParseOptions {
	return search.ParseOptions{Strict: strict, BaseURL: "http://fuzz.example/fhir", DefaultCount: 50, MaxCount: 1000}
}

// splitSearch reads a seed "Type?query" into its resource type and query string.
func splitSearch(s string) (typ, query string) {
	typ, query, _ = strings.Cut(s, "?")
	return typ, query
}

// FuzzParseQuery: a search of any type with any query string either parses or is refused
// with a 4xx *fhirerr.Error, leniently and strictly; a parsed query builds its SQL (page,
// count, includes, with and without a compartment and multi-valued date ranges) without
// panicking, and every bind parameter the SQL names is one it passes, and the other way round.
func FuzzParseQuery(f *testing.F) {
	reg := search.Definitions()
	f.Add("Patient?family=smith&birthdate=ge1970-01-01&_sort=-birthdate&_count=10")
	f.Fuzz(func(t *testing.T, input string) {
		typ, query := splitSearch(input)
		params, err := url.ParseQuery(query)
		if err != nil {
			return // the server refuses a malformed query string before parsing it
		}
		ignored := -1 // parameters the lenient parse ignored; -1 when it refused the query
		for _, strict := range []bool{false, true} {
			q, err := reg.Parse(typ, params, fuzzOptions(strict))
			// Strict handling refuses exactly what lenient handling ignores.
			if strict && (err == nil) != (ignored == 0) {
				t.Fatalf("%q: the lenient parse ignored %d parameters (-1: refused the query), the strict parse: %v", input, ignored, err)
			}
			if err != nil {
				requireClientError(t, input, err)
				continue
			}
			if !strict {
				ignored = len(q.Ignored)
			}
			checkQuery(t, input, q)
			checkSQL(t, reg, input, q)
		}
	})
}

// requireClientError fails unless err is a 4xx *fhirerr.Error with a code and a diagnostic.
func requireClientError(t *testing.T, input string, err error) {
	t.Helper()
	fe, ok := fhirerr.As(err)
	if !ok {
		t.Fatalf("%q: refused with %T, not a *fhirerr.Error: %v", input, err, err)
	}
	if fe.Status() < 400 || fe.Status() > 499 || fe.Code == "" || fe.Diagnostics == "" {
		t.Fatalf("%q: refusal is not a 4xx with a code and a diagnostic: %+v", input, fe)
	}
}

// checkQuery asserts what the SQL builder relies on.
func checkQuery(t *testing.T, input string, q *search.Query) {
	t.Helper()
	if q.Count < 0 || q.Count > 1000 {
		t.Fatalf("%q: _count %d is outside [0, 1000]", input, q.Count)
	}
	if q.Cursor != nil && len(q.Cursor.Keys) != len(q.Sort) {
		t.Fatalf("%q: a cursor of %d keys for %d sort keys", input, len(q.Cursor.Keys), len(q.Sort))
	}
	for _, c := range q.Clauses {
		checkClause(t, input, c)
	}
}

func checkClause(t *testing.T, input string, c *search.Clause) {
	t.Helper()
	if c.Has != nil {
		checkClause(t, input, c.Has.Clause)
		return
	}
	if c.Param == nil {
		t.Fatalf("%q: a clause without a parameter: %+v", input, c)
	}
	for _, sub := range c.Chain {
		checkClause(t, input, sub)
	}
	if len(c.Chain) == 0 && c.Missing == nil && len(c.Values) == 0 {
		t.Fatalf("%q: clause %s has no value", input, c.Param.Code)
	}
	for _, v := range c.Values {
		if d, ok := v.(search.DateValue); ok && d.High.Before(d.Low) {
			t.Fatalf("%q: date range [%v, %v] ends before it starts", input, d.Low, d.High)
		}
	}
}

var placeholderRE = regexp.MustCompile(`\$(\d+)`)

// checkSQL builds every statement a search of q can run.
func checkSQL(t *testing.T, reg *search.Registry, input string, q *search.Query) {
	t.Helper()
	check := func(what, sql string, args []any) {
		t.Helper()
		used := map[int]bool{}
		for _, m := range placeholderRE.FindAllStringSubmatch(sql, -1) {
			n, _ := strconv.Atoi(m[1])
			if n < 1 || n > len(args) {
				t.Fatalf("%q: %s names $%d but passes %d arguments: %s", input, what, n, len(args), sql)
			}
			used[n] = true
		}
		if len(used) != len(args) {
			t.Fatalf("%q: %s passes %d arguments but names %d of them: %s", input, what, len(args), len(used), sql)
		}
	}
	for _, multi := range []bool{false, true} {
		for _, c := range q.DateRangeKeys() {
			c.MultiValued = multi
		}
		sql, args := q.PageSQL(reg, q.Count+1)
		check("PageSQL", sql, args)
		sql, args = q.CountSQL(reg)
		check("CountSQL", sql, args)
	}
	q.ReusablePlan()
	for _, inc := range q.Include {
		sql, args := inc.IncludeSQL(reg, []int64{1, 2}, 1000)
		check("IncludeSQL", sql, args)
	}
	for _, inc := range q.RevInclude {
		sql, args := inc.RevIncludeSQL(reg, []int64{1, 2}, 1000)
		check("RevIncludeSQL", sql, args)
	}
	// The HTTP layer narrows a search to a compartment when its type is in it.
	if reg.CompartmentParams("Patient", q.Type) != nil {
		q.Compartment = &search.Compartment{Type: "Patient", ID: "p1"}
		sql, args := q.PageSQL(reg, q.Count+1)
		check("PageSQL in a compartment", sql, args)
		sql, args = q.CountSQL(reg)
		check("CountSQL in a compartment", sql, args)
	}
}

// FuzzSearchHTTP sends GET [type]?query to a running careslot over the corpus database
// shape (a fresh database with a few resources): never a 5xx, and a refusal is an
// OperationOutcome.
func FuzzSearchHTTP(f *testing.F) {
	srv := apptest.New(f, apptest.WithoutCoverageCheck())
	for _, body := range []struct{ path, json string }{
		{"Patient/fz1", `{"resourceType":"Patient","id":"fz1","name":[{"family":"Fuzz","given":["Ada"]}],"birthDate":"1970-01-01","gender":"female"}`},
		{"Practitioner/fz1", `{"resourceType":"Practitioner","id":"fz1","name":[{"family":"Doc"}]}`},
		{"Schedule/fz1", `{"resourceType":"Schedule","id":"fz1","actor":[{"reference":"Practitioner/fz1"}]}`},
		{"Slot/fz1", `{"resourceType":"Slot","id":"fz1","schedule":{"reference":"Schedule/fz1"},"status":"free","start":"2030-01-01T09:00:00Z","end":"2030-01-01T09:30:00Z"}`},
		{"Appointment/fz1", `{"resourceType":"Appointment","id":"fz1","status":"booked","start":"2030-01-01T09:00:00Z","end":"2030-01-01T09:30:00Z",` +
			`"participant":[{"actor":{"reference":"Patient/fz1"},"status":"accepted"},{"actor":{"reference":"Practitioner/fz1"},"status":"accepted"}]}`},
		{"Observation/fz1", `{"resourceType":"Observation","id":"fz1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},` +
			`"subject":{"reference":"Patient/fz1"},"effectiveDateTime":"2024-02-29T10:00:00+01:00","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`},
	} {
		srv.Must(f, http.StatusCreated, http.MethodPut, body.path, body.json)
	}
	client := srv.Client
	f.Add("Patient?family=fuzz&_revinclude=Appointment:patient")
	f.Fuzz(func(t *testing.T, input string) {
		typ, query := splitSearch(input)
		u := srv.URL + "/" + url.PathEscape(typ) + "?" + asSent(query)
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return // not a URL a client could send
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v (did the server crash?)", u, err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("GET %s answered %d: %s", u, resp.StatusCode, answer)
		}
		if resp.StatusCode >= 400 && !strings.Contains(string(answer), `"OperationOutcome"`) {
			t.Fatalf("GET %s refused with %d without an OperationOutcome: %s", u, resp.StatusCode, answer)
		}
	})
}

// asSent is query as a client puts it on the request line: space, controls, non-ASCII
// and # percent-encoded (Go's HTTP server refuses a request line with them before
// careslot sees it, and # starts a fragment), everything else, escapes included, as is.
func asSent(query string) string {
	var b strings.Builder
	for i := 0; i < len(query); i++ {
		c := query[i]
		if c > ' ' && c < 0x7f && c != '#' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestHugeExponentsAre400 pins what FuzzParseQuery found: value-quantity=-0e999000000
// made NumberRange compute 10^999000000 (the process hung and ran out of memory), and
// 1e999999 a number of a million digits. Numbers of more than 1,000 digits before or
// after the point (search.MaxDecimalDigits) are now a 400.
func TestHugeExponentsAre400(t *testing.T) {
	reg := search.Definitions()
	for _, c := range []struct {
		value string
		ok    bool
	}{
		{"1e999", true},
		{"-2.5e-999", true},
		{"1e-1000", true},
		{"1e1000", false},
		{"-2.5e-1000", false},
		{"1e1001", false},
		{"1e999999", false},
		{"-0e999000000", false},
		{"1e-999999", false},
		{"1e99999999999999999999", false},
	} {
		params := url.Values{"value-quantity": {c.value}}
		_, err := reg.Parse("Observation", params, fuzzOptions(false))
		if c.ok && err != nil {
			t.Errorf("%s refused: %v", c.value, err)
		}
		if !c.ok {
			fe, isFHIR := fhirerr.As(err)
			if !isFHIR || fe.Status() != http.StatusBadRequest || len(fe.Expression) == 0 || fe.Expression[0] != "value-quantity" {
				t.Errorf("%s: got %v, want a 400 on value-quantity", c.value, err)
			}
		}
	}
}

// TestTimeZoneOffsetsOutOfRangeAre400: +99:99 shifted a date by more than four days
// instead of being refused; R4 offsets run from -14:00 to +14:00.
func TestTimeZoneOffsetsOutOfRangeAre400(t *testing.T) {
	reg := search.Definitions()
	for _, c := range []struct {
		value string
		ok    bool
	}{
		{"2024-01-01T10:00:00+14:00", true},
		{"2024-01-01T10:00:00-12:00", true},
		{"2024-01-01T10:00:00+05:45", true},
		{"2024-01-01T10:00:00+99:99", false},
		{"2024-01-01T10:00:00+14:01", false},
		{"2024-01-01T10:00:00-15:00", false},
		{"2024-01-01T10:00:00+05:60", false},
	} {
		params := url.Values{"birthdate": {c.value}}
		_, err := reg.Parse("Patient", params, fuzzOptions(false))
		if c.ok && err != nil {
			t.Errorf("%s refused: %v", c.value, err)
		}
		if !c.ok {
			if fe, isFHIR := fhirerr.As(err); !isFHIR || fe.Status() != http.StatusBadRequest {
				t.Errorf("%s: got %v, want a 400", c.value, err)
			}
		}
	}
}

// TestEmptyAndHugeResultParameters: an empty _count, _include or _cursor is ignored like
// any empty parameter (it was a 400), and a _count beyond int is the largest page (it was
// a 400 saying it is not a non-negative integer).
func TestEmptyAndHugeResultParameters(t *testing.T) {
	reg := search.Definitions()
	for _, c := range []struct {
		query string
		count int // -1: refused with a 400
	}{
		{"_count=&_include=&_revinclude:iterate=&_cursor=&_total=&_summary=&_sort=", 50},
		{"_count=99999999999999999999999", 1000},
		{"_count=%2B99999999999999999999999", 1000},
		{"_count=7", 7},
		{"_count=-99999999999999999999999", -1},
		{"_count=-1", -1},
	} {
		params, _ := url.ParseQuery(c.query)
		q, err := reg.Parse("Patient", params, fuzzOptions(true))
		if c.count < 0 {
			if fe, isFHIR := fhirerr.As(err); !isFHIR || fe.Status() != http.StatusBadRequest {
				t.Errorf("%s: got %v, want a 400", c.query, err)
			}
			continue
		}
		if err != nil || q.Count != c.count {
			t.Errorf("%s: %v, want _count %d", c.query, err, c.count)
			continue
		}
		if q.Cursor != nil || len(q.Include)+len(q.RevInclude)+len(q.Sort) != 0 || q.Total != "" || q.Summary != "" {
			t.Errorf("%s: empty values were not ignored: %+v", c.query, q)
		}
	}
}

// TestTinyNumbersKeepTheirDigits: the places written were counted from the digits after
// the point only, so 1e-20 was searched as 0 in [0, 0) and matched nothing.
func TestTinyNumbersKeepTheirDigits(t *testing.T) {
	for _, c := range []struct{ in, value, lo, hi string }{
		{"1e-20", "0.00000000000000000001", "0.000000000000000000005", "0.000000000000000000015"},
		{"2.5e-15", "0.0000000000000025", "0.00000000000000245", "0.00000000000000255"},
		{"-3E-12", "-0.000000000003", "-0.0000000000035", "-0.0000000000025"},
		{"1.5e3", "1500", "1450", "1550"},
		{"100.0", "100", "99.95", "100.05"},
	} {
		value, lo, hi, err := search.NumberRange(c.in)
		if err != nil || value != c.value || lo != c.lo || hi != c.hi {
			t.Errorf("%s: %s in [%s, %s) %v, want %s in [%s, %s)", c.in, value, lo, hi, err, c.value, c.lo, c.hi)
		}
	}
}

// TestIdentifierModifierKeepsEscapes: patient:identifier=sys|a\|b is the identifier a|b
// of system sys; the value was unescaped before it was split, so it was a 400.
func TestIdentifierModifierKeepsEscapes(t *testing.T) {
	reg := search.Definitions()
	for value, want := range map[string]search.TokenValue{
		`http://x|a\|b`: {System: "http://x", Code: "a|b", HasSystem: true},
		`a\|b`:          {Code: "a|b"},
		`s\\|v`:         {System: `s\`, Code: "v", HasSystem: true},
		`|v\,w`:         {Code: "v,w", HasSystem: true},
	} {
		q, err := reg.Parse("Appointment", url.Values{"patient:identifier": {value}}, fuzzOptions(true))
		if err != nil {
			t.Errorf("%s: %v", value, err)
			continue
		}
		if got := q.Clauses[0].Values; len(got) != 1 || got[0] != want {
			t.Errorf("%s: %+v, want %+v", value, got, want)
		}
	}
}

// TestLeapSeconds: R4 allows a 60th second. It is read as the next second wherever it
// falls; at the end of a month it was refused as an invalid date.
func TestLeapSeconds(t *testing.T) {
	for in, want := range map[string]string{
		"2016-12-31T23:59:60Z":      "2017-01-01T00:00:00Z",
		"2015-06-30T23:59:60Z":      "2015-07-01T00:00:00Z",
		"2016-12-31T23:59:60.5Z":    "2017-01-01T00:00:00.5Z",
		"2016-12-31T18:59:60-05:00": "2017-01-01T00:00:00Z",
		"2024-03-05T10:00:60Z":      "2024-03-05T10:01:00Z",
	} {
		low, _, err := search.DateRange(in)
		if err != nil || low.Format(time.RFC3339Nano) != want {
			t.Errorf("%s: %v %v, want %s", in, low, err, want)
		}
	}
	if _, _, err := search.DateRange("2024-02-30T23:59:60Z"); err == nil {
		t.Errorf("2024-02-30T23:59:60Z was accepted")
	}
}
