package search_test

import (
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/search"
	"github.com/careslot/careslot/storage/storagetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ with the SQL the planner makes now")

// plannerCases are searches of each shape the planner treats in a way of its own; the
// SQL it makes for each is pinned in testdata/planner/<name>.sql, so that a change of
// plan shows in review as a diff of SQL.
var plannerCases = []struct{ name, typ, query string }{
	{"string", "Patient", "family=smith"},
	{"string-exact-contains", "Patient", "name:exact=Smith&given:contains=ann"},
	{"string-or", "Patient", "family=smith,jones"},
	{"token-system-code", "Patient", "identifier=http://example.org/mrn|123"},
	{"token-not", "Patient", "gender:not=male"},
	{"token-text", "Observation", "code:text=glucose"},
	{"date-range", "Appointment", "date=ge2030-01-07&date=lt2030-01-08"},
	{"date-sorted", "Observation", "date=ge2020-01-01&_sort=-date"},
	{"reference", "Appointment", "actor=Practitioner/1&status=booked"},
	{"reference-chain", "Observation", "subject:Patient.family=smith"},
	{"has", "Patient", "_has:Observation:subject:code=8867-4"},
	{"missing", "Patient", "birthdate:missing=true"},
	{"quantity", "Observation", "value-quantity=ge5.4|http://unitsofmeasure.org|mg"},
	{"composite", "Observation", "code-value-quantity=http://loinc.org|8867-4$gt100"},
	{"uri", "Subscription", "url=https://example.org/hook"},
	{"id-and-lastupdated", "Patient", "_id=a,b&_lastUpdated=ge2030-01-01T00:00:00Z"},
	{"slots", "Slot", "schedule=Schedule/s1&status=free&start=ge2030-01-07T00:00:00Z&_sort=start"},
	{"sort-two-keys", "Patient", "_sort=family,-birthdate&_count=10"},
	{"include", "Appointment", "patient=Patient/p1&_include=Appointment:actor"},
	{"revinclude", "Patient", "_id=p1&_revinclude=Appointment:patient"},
	{"compartment", "Observation", "code=8867-4"},
}

// plannerSQL writes every statement the planner makes for one search, with its arguments.
func plannerSQL(t *testing.T, typ, query string) string {
	t.Helper()
	reg := search.Definitions()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := reg.Parse(typ, params, search.ParseOptions{BaseURL: "http://example.org/fhir", DefaultCount: 50, MaxCount: 1000})
	if err != nil {
		t.Fatalf("parse %s?%s: %v", typ, query, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "-- GET %s?%s\n", typ, query)
	write := func(what, sql string, args []any) {
		fmt.Fprintf(&b, "\n-- %s\n%s\n", what, strings.TrimSpace(sql))
		for i, a := range args {
			if tm, ok := a.(time.Time); ok {
				a = tm.UTC().Format(time.RFC3339Nano)
			}
			fmt.Fprintf(&b, "-- $%d = %#v\n", i+1, a)
		}
	}
	sql, args := q.PageSQL(reg, q.Count+1)
	write("page", sql, args)
	sql, args = q.CountSQL(reg)
	write("count", sql, args)
	for _, inc := range q.Include {
		sql, args := inc.IncludeSQL(reg, []int64{1, 2}, 1000)
		write("include", sql, args)
	}
	for _, inc := range q.RevInclude {
		sql, args := inc.RevIncludeSQL(reg, []int64{1, 2}, 1000)
		write("revinclude", sql, args)
	}
	return b.String()
}

func TestPlannerSQLGolden(t *testing.T) {
	for _, tc := range plannerCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := plannerSQL(t, tc.typ, tc.query)
			if tc.name == "compartment" {
				got += "\n-- in the compartment of Patient/p1\n"
				got += compartmentSQL(t, tc.typ, tc.query)
			}
			storagetest.Golden(t, filepath.Join("testdata", "planner", tc.name+".sql"), got, *update, "go test ./storage/search -run TestPlannerSQLGolden")
		})
	}
}

// compartmentSQL is the page query of a search narrowed to the compartment of Patient/p1.
func compartmentSQL(t *testing.T, typ, query string) string {
	t.Helper()
	reg := search.Definitions()
	params, _ := url.ParseQuery(query)
	q, err := reg.Parse(typ, params, search.ParseOptions{DefaultCount: 50, MaxCount: 1000})
	if err != nil {
		t.Fatal(err)
	}
	q.Compartment = &search.Compartment{Type: "Patient", ID: "p1"}
	sql, args := q.PageSQL(reg, q.Count+1)
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", strings.TrimSpace(sql))
	for i, a := range args {
		fmt.Fprintf(&b, "-- $%d = %#v\n", i+1, a)
	}
	return b.String()
}
