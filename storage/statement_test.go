package storage_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
)

// indexedRows returns, table by table, the search index rows of rid as text, sorted: in
// the form of expectedRows, dates by parameter only, and NULL composite parts left out.
func indexedRows(t *testing.T, rid int64) map[string][]string {
	t.Helper()
	columns := map[string]string{
		"search_string":    "sp, value, exact",
		"search_token":     "sp, system, code, text",
		"search_reference": "sp, target_type, target_id, url",
		"search_date":      "sp",
		"search_number":    "sp, value",
		"search_quantity":  "sp, system, code, unit, low, high",
		"search_uri":       "sp, value",
		"search_composite": "sp, c1_system, c1_code, c2_system, c2_code, c2_low, c2_high, " +
			"CASE WHEN c2_from IS NOT NULL OR c2_to IS NOT NULL THEN 'dates' END, c2_text",
	}
	out := map[string][]string{}
	for table, cols := range columns {
		rows, err := storage.PoolOf(store).Query(context.Background(), `SELECT concat_ws('|', `+cols+`) FROM `+table+` WHERE rid = $1`, rid)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

// expectedRows is indexedRows as the extraction of content says it should be, for the
// columns whose text does not depend on the server's formatting.
func expectedRows(typ string, content []byte) map[string][]string {
	out := map[string][]string{}
	reg := search.Definitions()
	if !reg.Searchable(typ) {
		return out
	}
	add := func(table string, fields ...string) { out[table] = append(out[table], strings.Join(fields, "|")) }
	rows := reg.Extract(typ, content)
	for _, r := range rows.Strings {
		add("search_string", r.SP, r.Value, r.Exact)
	}
	for _, r := range rows.Tokens {
		add("search_token", r.SP, r.System, r.Code, r.Text)
	}
	for _, r := range rows.References {
		add("search_reference", r.SP, r.Type, r.ID, r.URL)
	}
	for _, r := range rows.Dates {
		add("search_date", r.SP) // compared by parameter only
	}
	for _, r := range rows.Numbers {
		add("search_number", r.SP, r.Value)
	}
	for _, r := range rows.Quantities {
		add("search_quantity", r.SP, r.System, r.Code, r.Unit, r.Low, r.High)
	}
	for _, r := range rows.URIs {
		add("search_uri", r.SP, r.Value)
	}
	for _, r := range rows.Composites {
		fields := []string{r.SP, r.C1System, r.C1Code, r.C2System, r.C2Code}
		for _, p := range []*string{r.C2Low, r.C2High} {
			if p != nil {
				fields = append(fields, *p)
			}
		}
		if r.C2From != nil || r.C2To != nil {
			fields = append(fields, "dates")
		}
		if r.C2Text != nil {
			fields = append(fields, *r.C2Text)
		}
		add("search_composite", fields...)
	}
	for table := range out {
		slices.Sort(out[table])
	}
	return out
}

// TestWriteStatementStoresEveryRow: for resources with and without references, with
// every kind of search row, and of a type with no search parameters, the single write
// statement stores exactly the extracted rows, an update replaces them, and a delete
// leaves none.
func TestWriteStatementStoresEveryRow(t *testing.T) {
	ctx := context.Background()
	put(t, "Patient", "review3-subject", `{"resourceType":"Patient"}`)
	cases := []struct{ typ, id, body string }{
		{"Observation", "review3-quantities", `{"resourceType":"Observation","status":"final",
			"code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"reference":"Patient/review3-subject"},
			"valueQuantity":{"value":5.4,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},
			"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
			             {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"1"}]}}]}`},
		{"Observation", "review3-string", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1"}]},
			"valueString":"Fine","effectivePeriod":{"start":"2020-01-01","end":"2020-02-01"}}`},
		{"Observation", "review3-date", `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2"}]},
			"valueDateTime":"2021-03-04T05:06:07Z"}`},
		{"Condition", "review3-open-range", `{"resourceType":"Condition","subject":{"reference":"Patient/review3-subject"},
			"onsetRange":{"low":{"value":10,"system":"http://unitsofmeasure.org","code":"a"}}}`},
		{"AuditEvent", "review3-uris", `{"resourceType":"AuditEvent","meta":{"profile":["http://example.org/p"]},"type":{"code":"rest"},
			"recorded":"2020-01-01T00:00:00Z","agent":[{"requestor":true,"policy":["http://example.org/policy"]}],"source":{"observer":{"display":"x"}}}`},
		{"Basic", "review3-unsearchable", `{"resourceType":"Basic","code":{"text":"x"},"subject":{"reference":"Patient/review3-subject"}}`},
		{"Basic", "review3-bare", `{"resourceType":"Basic","code":{"text":"x"}}`},
		{"Patient", "review3-nothing", `{"resourceType":"Patient"}`},
	}
	for _, c := range cases {
		t.Run(c.typ+"/"+c.id, func(t *testing.T) {
			check := func(res *storage.Resource) {
				t.Helper()
				got, want := indexedRows(t, res.RID), expectedRows(c.typ, res.Content)
				for _, table := range []string{"search_string", "search_token", "search_reference", "search_date",
					"search_number", "search_quantity", "search_uri", "search_composite"} {
					if !slices.Equal(got[table], want[table]) {
						t.Errorf("%s:\n got  %q\n want %q", table, got[table], want[table])
					}
				}
				links, err := storage.ExtractLinks(c.typ, res.Content)
				if err != nil {
					t.Fatal(err)
				}
				if n := count(t, `SELECT count(*) FROM resource_links WHERE rid = $1`, res.RID); n != len(links) {
					t.Errorf("%d reference rows, want %d", n, len(links))
				}
			}
			var res *storage.Resource
			err := store.InTx(ctx, func(tx *storage.Tx) error {
				var err error
				res, err = tx.Write(ctx, nil, c.typ, c.id, []byte(c.body), http.MethodPost)
				return err
			})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			check(res)
			check(put(t, c.typ, c.id, c.body))
			if err := deleteIn(ctx, c.typ, c.id); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if rows := indexedRows(t, res.RID); len(rows) != 0 {
				t.Errorf("search rows left after delete: %v", rows)
			}
			if n := count(t, `SELECT count(*) FROM resource_links WHERE rid = $1`, res.RID); n != 0 {
				t.Errorf("%d reference rows left after delete", n)
			}
			methods := count(t, `SELECT count(*) FROM resource_versions WHERE rid = $1 AND method = ANY('{POST,PUT,DELETE}') AND version_id IN (1, 2, 3)`, res.RID)
			if methods != 3 {
				t.Errorf("%d versions 1-3, want 3", methods)
			}
			if n := count(t, `SELECT count(*) FROM outbox WHERE rid = $1`, res.RID); n != 3 {
				t.Errorf("%d outbox rows, want 3", n)
			}
		})
	}
}
