package search_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/careslot/careslot/r4examples"
	"github.com/careslot/careslot/storage/search"
)

// extractCase is one resource to extract from, named for the failure message.
type extractCase struct {
	name, typ string
	body      []byte
}

// TestFastPathMatchesEngine is the differential test of the fast path: for every official
// example (and each resource inside the example Bundles), the generated corpus, each of
// them as storage stamps it, and hand-made edge cases, Extract must give exactly the rows
// of the engine-only path: the same rows in the same order (compared with
// reflect.DeepEqual, New flag and Multi marks included).
func TestFastPathMatchesEngine(t *testing.T) {
	reg := search.Definitions()
	cases := exampleCases(t)
	if len(cases) < 703 {
		t.Fatalf("only %d official examples read", len(cases))
	}
	for i, b := range generated() {
		cases = append(cases, extractCase{fmt.Sprintf("generated-%d", i), resourceType(b), b})
	}
	cases = append(cases, edgeCases()...)
	for _, c := range cases[:len(cases):len(cases)] {
		if stamped, ok := stamp(c.body); ok {
			cases = append(cases, extractCase{c.name + " (stamped)", c.typ, stamped})
		}
	}
	searchable, rows := 0, 0
	for _, c := range cases {
		fast := reg.Extract(c.typ, c.body)
		slow := reg.ExtractWithEngine(c.typ, c.body)
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: fast path differs from the engine:\n%s", c.name, rowsDiff(fast, slow))
			continue
		}
		if reg.Searchable(c.typ) {
			searchable++
			rows += count(slow)
		}
	}
	t.Logf("%d resources compared, %d of searchable types, %d rows", len(cases), searchable, rows)
	if searchable < 1000 || rows < 10000 {
		t.Errorf("the comparison covered too little: %d resources, %d rows", searchable, rows)
	}
}

// exampleCases reads every official example, and each resource in the example Bundles.
func exampleCases(t *testing.T) []extractCase {
	t.Helper()
	examples, err := r4examples.All()
	if err != nil {
		t.Fatal(err)
	}
	var out []extractCase
	for _, e := range examples {
		b, name := e.Body, e.File
		out = append(out, extractCase{name, resourceType(b), b})
		var bundle struct {
			Entry []struct{ Resource json.RawMessage }
		}
		if json.Unmarshal(b, &bundle) != nil {
			continue
		}
		for i, e := range bundle.Entry {
			if len(e.Resource) > 0 {
				out = append(out, extractCase{fmt.Sprintf("%s entry %d", name, i), resourceType(e.Resource), e.Resource})
			}
		}
	}
	return out
}

func resourceType(b []byte) string {
	var head struct{ ResourceType string }
	json.Unmarshal(b, &head)
	return head.ResourceType
}

// stamp sets meta as storage does before indexing (versionId "1", lastUpdated), which
// also sorts the top-level keys.
func stamp(body []byte) ([]byte, bool) {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return nil, false
	}
	meta := map[string]json.RawMessage{}
	if raw, ok := doc["meta"]; ok && json.Unmarshal(raw, &meta) != nil || meta == nil {
		return nil, false
	}
	meta["versionId"] = json.RawMessage(`"1"`)
	meta["lastUpdated"] = json.RawMessage(`"2025-01-06T08:00:00.123456Z"`)
	doc["meta"], _ = json.Marshal(meta)
	b, err := json.Marshal(doc)
	return b, err == nil
}

// edgeCases are resources that exercise the engine's own rules: choice types, dates it
// reprints, numbers, nulls, nested arrays, unions it deduplicates, filters on odd values,
// meta it reads case-insensitively, and documents the fast path refuses to read.
func edgeCases() []extractCase {
	narrative := `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + strings.Repeat("long narrative ", 40) + `</div>"}`
	docs := map[string]string{
		"deceased absent":            `{"resourceType":"Patient","id":"a"}`,
		"deceased true":              `{"resourceType":"Patient","id":"a","deceasedBoolean":true}`,
		"deceased false":             `{"resourceType":"Patient","id":"a","deceasedBoolean":false}`,
		"deceased dateTime":          `{"resourceType":"Patient","id":"a","deceasedDateTime":"2015-02-07T13:28:17.239+02:00"}`,
		"deceased null":              `{"resourceType":"Patient","id":"a","deceasedBoolean":null}`,
		"deceased array":             `{"resourceType":"Patient","id":"a","deceasedBoolean":[true,false]}`,
		"deceased string":            `{"resourceType":"Patient","id":"a","deceasedString":"false"}`,
		"deceased plain":             `{"resourceType":"Patient","id":"a","deceased":false}`,
		"telecom odd":                `{"resourceType":"Patient","id":"a","telecom":[null,[{"system":"phone","value":"1"}],{"system":["phone"],"value":"2"},{"system":"phone"},{"system":"email","value":"x@y"},{"systemCode":"phone","value":"3"},{"system":["phone","phone"],"value":"4"},"phone",{"system":"phone","value":5}]}`,
		"dates reprinted":            `{"resourceType":"Patient","id":"a","birthDate":"2015-02-07T13:28:17.239456+02:00","name":[{"family":"2019","given":["2019-13","1999-01-01T10:00"]}],"address":[{"city":"1234","postalCode":"12345","line":["2020-02-30"]}]}`,
		"short and odd strings":      `{"resourceType":"Patient","id":"a","gender":"TZ","name":[{"family":"Zed","given":["T"]}],"identifier":[{"system":"urn:x","value":"2020T"}]}`,
		"nulls and empties":          `{"resourceType":"Patient","id":"a","name":null,"identifier":[],"address":[null],"telecom":[[]],"gender":null}`,
		"escapes and unicode":        `{"resourceType":"Patient","id":"a","name":[{"family":"O\u0027Brien \"the\" \\ \ud83d\ude00","given":["Zoë","\u00e9"]}]}`,
		"observation numbers":        `{"resourceType":"Observation","id":"o","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1"}]},"valueQuantity":{"value":1e3,"unit":"g"},"component":[{"code":{"text":"a"},"valueQuantity":{"value":-0,"code":"mg"}},{"code":{"coding":[{"code":"b"},{"code":"c"}]},"valueQuantity":{"value":1.50}},{"code":{"coding":[{"code":"d"}]},"valueQuantity":{"value":12345678901234567890}}]}`,
		"observation union":          `{"resourceType":"Observation","id":"o","status":"final","code":{"coding":[{"code":"1"}]},"valueDateTime":"2020-01-01T10:00:00.123456Z","valuePeriod":{"start":"2020-01-01"}}`,
		"observation union list":     `{"resourceType":"Observation","id":"o","status":"final","code":{"coding":[{"code":"1"}]},"valueDateTime":["2020-01-01","2020-01-01"]}`,
		"observation effective":      `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"effectiveInstant":"2020-01-01T10:00:00.5+01:00","issued":"2020-01-01T10:00:00Z","valueString":"2020"}`,
		"observation micros":         `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"effectiveDateTime":"2020-01-01T10:00:00.123456Z","valueDateTime":"2020-01-01T10:00:00.987654-03:00"}`,
		"choice behind nesting":      `{"resourceType":"Patient","id":"a","gender":[["x"]],"genderCode":"male","active":[null],"activeBoolean":false}`,
		"observation timing":         `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"effectiveTiming":{"event":["2020-01-01","2020-02"],"repeat":{"boundsPeriod":{"start":"2020"}}},"valueCodeableConcept":{"text":"pos"}}`,
		"observation effective both": `{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"},"effectiveDateTime":"2020-01-01","effectivePeriod":{"start":"2019"}}`,
		"appointment refs":           `{"resourceType":"Appointment","id":"a","status":"booked","participant":[{"actor":{"reference":"http://other.org/fhir/Patient/1/_history/2"},"status":"accepted"},{"actor":{"reference":"Practitioner/x","type":"Patient"},"status":"accepted"},{"actor":{"identifier":{"system":"s","value":"v"},"type":"Practitioner"},"status":"accepted"},{"actor":{"reference":"#c"},"status":"accepted"},{"actor":{"reference":"urn:uuid:1"},"status":"accepted"}],"start":"2020-01-01T10:00:00+05:30","_start":{"extension":[]}}`,
		"large narrative":            `{"resourceType":"Patient","id":"a",` + narrative + `,"name":[{"family":"Narr"}]}`,
		"meta cases":                 `{"resourceType":"Patient","id":"a","meta":{"VersionId":"1","tag":[{"system":"s","code":"c"}],"profile":["http://p"],"security":[{"code":"R"}]}}`,
		"meta two versions":          `{"resourceType":"Patient","id":"a","meta":{"versionId":"1","VERSIONID":"2"}}`,
		"meta number":                `{"resourceType":"Patient","id":"a","meta":{"versionId":1}}`,
		"meta not an object":         `{"resourceType":"Patient","id":"a","meta":["x"]}`,
		"meta null":                  `{"resourceType":"Patient","id":"a","meta":null}`,
		"no resourceType":            `{"id":"a","gender":"male"}`,
		"resourceType number":        `{"resourceType":1,"id":"a","gender":"male"}`,
		"other resourceType":         `{"resourceType":"Practitioner","id":"a","gender":"male","name":[{"family":"X"}]}`,
		"repeated key":               `{"resourceType":"Patient","id":"a","gender":"male","name":[{"family":"A","family":"B"}],"gender":"female"}`,
		"trailing data":              `{"resourceType":"Patient","id":"a","gender":"male"} {"x":1}`,
		"not an object":              `["Patient"]`,
		"invalid json":               `{"resourceType":"Patient","gender":"male",}`,
		"location near":              `{"resourceType":"Location","id":"l","position":{"latitude":42.25,"longitude":-83.69,"altitude":0},"address":{"city":"Ann Arbor"}}`,
		"document relates":           `{"resourceType":"DocumentReference","id":"d","status":"current","content":[{"attachment":{"url":"http://x"}}],"relatesTo":[{"code":"replaces","target":{"reference":"DocumentReference/1"}},{"code":"appends"}]}`,
		"slot":                       `{"resourceType":"Slot","id":"s","status":"free","schedule":{"reference":"Schedule/1"},"start":"2025-01-06T08:00:00Z","end":"2025-01-06T08:30:00.000Z","serviceType":[{"coding":[{"system":"s","code":"c","display":"Ça"}]}]}`,
	}
	var out []extractCase
	for name, d := range docs {
		typ := resourceType([]byte(d))
		if typ == "" {
			typ = "Patient"
		}
		out = append(out, extractCase{"edge case " + name, typ, []byte(d)})
	}
	return out
}

func count(r *search.Rows) int {
	return len(r.Strings) + len(r.Tokens) + len(r.References) + len(r.Dates) + len(r.Numbers) + len(r.Quantities) + len(r.URIs) + len(r.Composites)
}

// rowsDiff shows the index tables in which two extractions differ.
func rowsDiff(fast, slow *search.Rows) string {
	var b strings.Builder
	f, s := reflect.ValueOf(*fast), reflect.ValueOf(*slow)
	for i := 0; i < f.NumField(); i++ {
		if !reflect.DeepEqual(f.Field(i).Interface(), s.Field(i).Interface()) {
			fj, _ := json.Marshal(f.Field(i).Interface())
			sj, _ := json.Marshal(s.Field(i).Interface())
			fmt.Fprintf(&b, "  %s\n    fast:   %s\n    engine: %s\n", f.Type().Field(i).Name, fj, sj)
		}
	}
	return b.String()
}
