package search

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// TestMalformedValuesAre400 names the parameter in every refusal.
func TestMalformedValuesAre400(t *testing.T) {
	reg := Definitions()
	for _, c := range []struct{ typ, query, param string }{
		{"Patient", "birthdate=1974-13", "birthdate"},
		{"Patient", "birthdate=xx1974", "birthdate"},
		{"Patient", "birthdate=2024-02-30", "birthdate"},
		{"Appointment", "date=ge2024-01-01T25:00:00Z", "date"},
		{"Observation", "value-quantity=abc", "value-quantity"},
		{"Observation", "value-quantity=5|a", "value-quantity"},
		{"Patient", "family:fuzzy=x", "family:fuzzy"},
		{"Patient", "gender:in=http://x", "gender:in"},
		{"Patient", "organization=Patient/1", "organization"},
		{"Patient", "organization=a b", "organization"},
		{"Patient", "birthdate:missing=maybe", "birthdate:missing"},
		{"Patient", "birthdate:missing=1", "birthdate:missing"},
		{"Patient", "birthdate:missing=TRUE", "birthdate:missing"},
		{"Patient", "_count=-1", "_count"},
		{"Patient", "_count=ten", "_count"},
		{"Patient", "_total=some", "_total"},
		{"Patient", "_summary=all", "_summary"},
		{"Patient", "_cursor=!!!", "_cursor"},
		{"Patient", "_include=Patient", "_include"},
		{"Patient", "_include=Appointment:patient", "_include"},
		{"Observation", "_sort=code-value-quantity", "_sort"},
		{"Patient", "identifier:of-type=a|b", "identifier:of-type"},
		{"Observation", "code-value-quantity=a", "code-value-quantity"},
		{"Location", "near=1|2|3|furlongs", "near"},
		{"Location", "near=91|2", "near"},
		{"Patient", "family.name=x", "family.name"},
		{"Patient", "_has:Appointment:patient=x", "_has:Appointment:patient"},
	} {
		t.Run(c.typ+"?"+c.query, func(t *testing.T) {
			t.Parallel()
			params, _ := url.ParseQuery(c.query)
			_, err := reg.Parse(c.typ, params, ParseOptions{DefaultCount: 10, MaxCount: 100})
			fe, ok := fhirerr.As(err)
			if !ok || fe.Status() != 400 {
				t.Fatalf("%s?%s: %v, want a 400", c.typ, c.query, err)
			}
			if c.param != "" && (len(fe.Expression) == 0 || fe.Expression[0] != c.param) {
				t.Errorf("%s?%s: expression %v, want %s", c.typ, c.query, fe.Expression, c.param)
			}
		})
	}
}

// TestLenientAndStrict: unknown parameters are ignored and listed, or refused when strict.
func TestLenientAndStrict(t *testing.T) {
	reg := Definitions()
	params, _ := url.ParseQuery("family=x&colour=red&_text=hello&patient.nothing=1")
	q, err := reg.Parse("Patient", params, ParseOptions{DefaultCount: 10, MaxCount: 100})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ig := range q.Ignored {
		names = append(names, ig.Name)
	}
	if strings.Join(names, ",") != "_text,colour,patient.nothing" || len(q.Clauses) != 1 {
		t.Errorf("ignored %v, clauses %d", names, len(q.Clauses))
	}
	_, err = reg.Parse("Patient", params, ParseOptions{Strict: true, DefaultCount: 10, MaxCount: 100})
	if fe, ok := fhirerr.As(err); !ok || fe.Status() != 400 {
		t.Errorf("strict: %v", err)
	}
}

func TestDateRangePrecision(t *testing.T) {
	for _, c := range []struct{ in, low, high string }{
		{"2024", "2024-01-01T00:00:00Z", "2024-12-31T23:59:59.999999Z"},
		{"2024-02", "2024-02-01T00:00:00Z", "2024-02-29T23:59:59.999999Z"},
		{"2024-02-10", "2024-02-10T00:00:00Z", "2024-02-10T23:59:59.999999Z"},
		{"2024-02-10T10:00", "2024-02-10T10:00:00Z", "2024-02-10T10:00:59.999999Z"},
		{"2024-02-10T10:00:00+02:00", "2024-02-10T08:00:00Z", "2024-02-10T08:00:00.999999Z"},
		{"2024-02-10T10:00:00.5Z", "2024-02-10T10:00:00.5Z", "2024-02-10T10:00:00.599999Z"},
		{"2024-02-10T10:00:00.123Z", "2024-02-10T10:00:00.123Z", "2024-02-10T10:00:00.123999Z"},
		{"2024-02-10T10:00:00.1234567Z", "2024-02-10T10:00:00.123456Z", "2024-02-10T10:00:00.123456Z"},
	} {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			low, high, err := DateRange(c.in)
			wl, _ := time.Parse(time.RFC3339Nano, c.low)
			wh, _ := time.Parse(time.RFC3339Nano, c.high)
			if err != nil || !low.Equal(wl) || !high.Equal(wh) {
				t.Errorf("%s: [%v, %v] %v, want [%v, %v]", c.in, low, high, err, wl, wh)
			}
		})
	}
}

func TestNumberRangePrecision(t *testing.T) {
	for _, c := range []struct{ in, lo, hi string }{
		{"100", "99.5", "100.5"},
		{"100.0", "99.95", "100.05"},
		{"1e2", "50", "150"},
		{"-2.5", "-2.55", "-2.45"},
	} {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			_, lo, hi, err := NumberRange(c.in)
			if err != nil || lo != c.lo || hi != c.hi {
				t.Errorf("%s: [%s, %s) %v, want [%s, %s)", c.in, lo, hi, err, c.lo, c.hi)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"Müller": "muller", "  ZOË  Smith ": "zoe smith", "García": "garcia", "O'Brien": "o'brien"} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := &Cursor{Keys: []string{"2024-01-01 00:00:00+00", "smith"}, RID: 42, Before: true, Snapshot: time.UnixMicro(1700000000123456).UTC()}
	got, err := DecodeCursor(c.Encode())
	if err != nil || got.RID != 42 || !got.Before || got.Keys[1] != "smith" || !got.Snapshot.Equal(c.Snapshot) {
		t.Errorf("round trip: %+v %v", got, err)
	}
}
