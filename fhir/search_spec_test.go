package fhir_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// These tests check search answers against the R4 search spec (search.html), with
// expectations worked out by hand from the spec for small fixed data sets.

// specPut creates or replaces typ/id with body (a JSON object without its id).
func specPut(t *testing.T, typ, id, body string) {
	t.Helper()
	body = fmt.Sprintf(`{"resourceType":%q,"id":%q,%s`, typ, id, strings.TrimPrefix(body, "{"))
	r := srv.Do(t, "PUT", typ+"/"+id, body)
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("PUT %s/%s: %d %s", typ, id, r.Status, r.Body)
	}
}

// specFind runs a search and returns the ids of every match, over every page, sorted.
func specFind(t *testing.T, query string) []string {
	t.Helper()
	var ids []string
	page := readPage(t, srv.Must(t, http.StatusOK, "GET", query, nil))
	for {
		for _, m := range page.matches {
			ids = append(ids, m[strings.Index(m, "/")+1:])
		}
		next, ok := page.links["next"]
		if !ok {
			break
		}
		page = readPage(t, get(t, next))
	}
	sort.Strings(ids)
	return ids
}

// specOrder runs a search and returns the ids of the matches in order over every page.
func specOrder(t *testing.T, prefix, query string) string {
	t.Helper()
	var ids []string
	page := readPage(t, srv.Must(t, http.StatusOK, "GET", query, nil))
	for {
		for _, m := range page.matches {
			ids = append(ids, strings.TrimPrefix(m[strings.Index(m, "/")+1:], prefix))
		}
		next, ok := page.links["next"]
		if !ok {
			break
		}
		page = readPage(t, get(t, next))
	}
	return strings.Join(ids, ",")
}

// specCheck runs each query and compares its matches (ids without the run's prefix) with want.
func specCheck(t *testing.T, prefix string, cases map[string][]string) {
	t.Helper()
	for query, want := range cases {
		var got []string
		for _, id := range specFind(t, query) {
			got = append(got, strings.TrimPrefix(id, prefix))
		}
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v, want %v", query, got, want)
		}
	}
}

// An absolute reference to another server's Patient/x is not a reference to this server's
// Patient/x: the spec matches Patient/x with relative references and with absolute ones
// under this server's base only. Chains, _has, _include, _revinclude and compartments
// must not follow it to the local resource either.
func TestForeignAbsoluteReference(t *testing.T) {
	p := unique("r2f")
	tag := `"meta":{"tag":[{"system":"urn:r2","code":"` + p + `"}]}`
	T := "&_tag=urn:r2|" + p
	foreign := "http://other.example.org/fhir/Patient/"
	specPut(t, "Patient", p+"pa", `{`+tag+`,"name":[{"family":"Alpha"}]}`)
	specPut(t, "Patient", p+"pc", `{`+tag+`,"name":[{"family":"Gamma"}]}`)
	obs := func(id, subject string) {
		specPut(t, "Observation", p+id, `{`+tag+`,"status":"final","code":{"text":"x"},"subject":{"reference":"`+subject+`"}}`)
	}
	obs("rel", "Patient/"+p+"pa")
	obs("self", srv.URL+"/Patient/"+p+"pa")
	obs("far", foreign+p+"pa")
	obs("farc", foreign+p+"pc")
	specCheck(t, p, map[string][]string{
		"Observation?subject=Patient/" + p + "pa" + T:                       {"rel", "self"},
		"Observation?subject=" + p + "pa" + T:                               {"rel", "self"},
		"Observation?subject:Patient=" + p + "pa" + T:                       {"rel", "self"},
		"Observation?subject=" + srv.URL + "/Patient/" + p + "pa" + T:       {"rel", "self"},
		"Observation?subject=" + foreign + p + "pa" + T:                     {"far"},
		"Observation?subject=Patient/" + p + "pa," + foreign + p + "pa" + T: {"far", "rel", "self"},
		"Observation?subject.name=alpha" + T:                                {"rel", "self"},
		"Observation?subject.name=gamma" + T:                                {},
		"Patient?_has:Observation:subject:status=final" + T:                 {"pa"},
		"Patient/" + p + "pc/Observation?_tag=urn:r2|" + p:                  {},
		"Patient/" + p + "pa/Observation?_tag=urn:r2|" + p:                  {"rel", "self"},
	})
	page := readPage(t, srv.Must(t, http.StatusOK, "GET", "Observation?_id="+p+"far&_include=Observation:subject", nil))
	if len(page.matches) != 1 || len(page.included) != 0 {
		t.Errorf("_include of a foreign reference: matches %v, included %v; want the match alone", page.matches, page.included)
	}
	page = readPage(t, srv.Must(t, http.StatusOK, "GET", "Patient?_id="+p+"pc&_revinclude=Observation:subject", nil))
	if len(page.matches) != 1 || len(page.included) != 0 {
		t.Errorf("_revinclude through a foreign reference: matches %v, included %v; want the match alone", page.matches, page.included)
	}
}

// A Reference that names its target by identifier alone is a value of the parameter:
// :missing=true must not return it, :missing=false must.
func TestMissingLogicalReference(t *testing.T) {
	p := unique("r2m")
	tag := `"meta":{"tag":[{"system":"urn:r2","code":"` + p + `"}]}`
	T := "&_tag=urn:r2|" + p
	specPut(t, "Patient", p+"pa", `{`+tag+`}`)
	specPut(t, "Observation", p+"lit", `{`+tag+`,"status":"final","code":{"text":"x"},"subject":{"reference":"Patient/`+p+`pa"}}`)
	specPut(t, "Observation", p+"ident", `{`+tag+`,"status":"final","code":{"text":"x"},"subject":{"identifier":{"system":"urn:mrn","value":"A1"}}}`)
	specPut(t, "Observation", p+"none", `{`+tag+`,"status":"final","code":{"text":"x"}}`)
	specCheck(t, p, map[string][]string{
		"Observation?subject:missing=true" + T:          {"none"},
		"Observation?subject:missing=false" + T:         {"ident", "lit"},
		"Observation?subject:identifier=urn:mrn|A1" + T: {"ident"},
	})
}

// :text matches CodeableConcept.text and each Coding.display (R4 search, token :text):
// a CodeableConcept with a text of its own still matches on its codings' displays.
func TestTokenTextMatchesDisplay(t *testing.T) {
	p := unique("r2x")
	tag := `"meta":{"tag":[{"system":"urn:r2","code":"` + p + `"}]}`
	T := "&_tag=urn:r2|" + p
	specPut(t, "Observation", p+"both", `{`+tag+`,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}],"text":"BP high value"}}`)
	specPut(t, "Observation", p+"display", `{`+tag+`,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8462-4","display":"Diastolic blood pressure"}]}}`)
	specPut(t, "Observation", p+"text", `{`+tag+`,"status":"final","code":{"text":"Systolic, estimated"}}`)
	specCheck(t, p, map[string][]string{
		"Observation?code:text=systolic" + T:                              {"both", "text"},
		"Observation?code:text=bp" + T:                                    {"both"},
		"Observation?code:text=diastolic" + T:                             {"display"},
		"Observation?code=http://loinc.org|8480-6" + T:                    {"both"},
		"Observation?code-value-quantity=http://loinc.org|8480-6$gt0" + T: {},
	})
}

// _sort puts a resource without a value last (docs/search.md); a CodeableConcept with
// only a text has no code and sorts with them, not first.
func TestSortTokenWithoutCode(t *testing.T) {
	p := unique("r2k")
	tag := `"meta":{"tag":[{"system":"urn:r2","code":"` + p + `"}]}`
	T := "&_tag=urn:r2|" + p
	specPut(t, "Observation", p+"b", `{`+tag+`,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic blood pressure"}],"text":"BP"}}`)
	specPut(t, "Observation", p+"a", `{`+tag+`,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]}}`)
	specPut(t, "Observation", p+"t", `{`+tag+`,"status":"final","code":{"text":"Systolic, estimated"}}`)
	for q, want := range map[string]string{
		"Observation?_sort=code" + T:           "a,b,t",
		"Observation?_sort=-code" + T:          "b,a,t",
		"Observation?_sort=code&_count=1" + T:  "a,b,t",
		"Observation?_sort=-code&_count=1" + T: "b,a,t",
	} {
		if got := specOrder(t, p, q); got != want {
			t.Errorf("%s: got %s, want %s", q, got, want)
		}
	}
}

// A search with more values than one Postgres statement can carry is a 4xx, not a 500.
func TestTooManyValues(t *testing.T) {
	vals := make([]string, 70000)
	for i := range vals {
		vals[i] = fmt.Sprintf("v%d", i)
	}
	for _, body := range []string{"family=" + strings.Join(vals, ","), "family=" + strings.Join(vals, ",") + "&_summary=count"} {
		r := srv.Do(t, "POST", "Patient/_search", body, "Content-Type", "application/x-www-form-urlencoded")
		if r.Status != http.StatusBadRequest {
			t.Fatalf("%d values: status %d, want 400: %.300s", len(vals), r.Status, r.Body)
		}
		if got := issue(t, r)["code"]; got != "too-costly" {
			t.Errorf("issue code %v, want too-costly", got)
		}
	}
}

// Two date prefixes whose windows do not meet can still both hold for one Period:
// an encounter from May to August started before May 21 (lt) and ended after July 14
// (gt). Each parameter is tested on its own (R4: AND per resource).
func TestDateRangeOfDisjointWindows(t *testing.T) {
	p := unique("r2w")
	tag := `"meta":{"tag":[{"system":"urn:r2","code":"` + p + `"}]}`
	specPut(t, "Encounter", p+"long", `{`+tag+`,"status":"finished","class":{"code":"AMB"},"period":{"start":"2027-05-01","end":"2027-08-01"}}`)
	specPut(t, "Encounter", p+"may", `{`+tag+`,"status":"finished","class":{"code":"AMB"},"period":{"start":"2027-05-01","end":"2027-05-02"}}`)
	specPut(t, "Encounter", p+"open", `{`+tag+`,"status":"in-progress","class":{"code":"AMB"},"period":{"start":"2027-05-10"}}`)
	// Without other parameters (the sorted date page plan) and with one.
	for _, extra := range []string{"", "&_tag=urn:r2|" + p} {
		var got []string
		for _, id := range specFind(t, "Encounter?date=lt2027-05-21&date=gt2027-07-14&_sort=date"+extra) {
			if strings.HasPrefix(id, p) {
				got = append(got, strings.TrimPrefix(id, p))
			}
		}
		if strings.Join(got, ",") != "long,open" {
			t.Errorf("date=lt2027-05-21&date=gt2027-07-14&_sort=date%s: got %v, want [long open]", extra, got)
		}
	}
	specCheck(t, p, map[string][]string{
		"Encounter?date=lt2027-05-21&date=gt2027-07-14&_tag=urn:r2|" + p:                {"long", "open"},
		"Encounter?date=le2027-05-02&date=ge2027-07-31&date=ne2027-06&_tag=urn:r2|" + p: {"long"},
	})
}
