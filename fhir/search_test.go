package fhir_test

import (
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

// unique makes names that no other test of the package uses, since they share a server.
func unique(prefix string) string { return fmt.Sprintf("%s%06d", prefix, rand.Intn(1000000)) }

// searchPage is the part of a searchset Bundle the tests read.
type searchPage struct {
	total    *float64
	links    map[string]string
	matches  []string // Type/id of search.mode=match entries
	included []string
	outcomes []map[string]any
	fullURLs []string
}

func readPage(t *testing.T, r *apptest.Response) searchPage {
	t.Helper()
	b := r.JSON(t)
	if b["resourceType"] != "Bundle" || b["type"] != "searchset" {
		t.Fatalf("not a searchset Bundle: %s", r.Body)
	}
	p := searchPage{links: map[string]string{}}
	if tot, ok := b["total"].(float64); ok {
		p.total = &tot
	}
	links, _ := b["link"].([]any)
	for _, l := range links {
		m := l.(map[string]any)
		p.links[m["relation"].(string)] = m["url"].(string)
	}
	for _, e := range entries(t, b) {
		res, _ := e["resource"].(map[string]any)
		mode, _ := e["search"].(map[string]any)["mode"].(string)
		switch mode {
		case "match", "include":
			ref := fmt.Sprintf("%s/%s", res["resourceType"], res["id"])
			if mode == "match" {
				p.matches = append(p.matches, ref)
			} else {
				p.included = append(p.included, ref)
			}
			fu, _ := e["fullUrl"].(string)
			p.fullURLs = append(p.fullURLs, fu)
		case "outcome":
			p.outcomes = append(p.outcomes, res)
		default:
			t.Fatalf("entry without search.mode: %v", e)
		}
	}
	return p
}

func get(t *testing.T, absolute string) *apptest.Response {
	t.Helper()
	return srv.Must(t, http.StatusOK, "GET", strings.TrimPrefix(absolute, srv.URL+"/"), nil)
}

func createPatients(t *testing.T, family string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"%s","given":["G%d"]}],"identifier":[{"system":"urn:e2e:%s","value":"%d"}],"birthDate":"19%02d-01-01"}`, family, i, family, i, 50+i)
		r := srv.Must(t, http.StatusCreated, "POST", "Patient", body)
		ids = append(ids, "Patient/"+r.JSON(t)["id"].(string))
	}
	return ids
}

func TestSearchPagesThroughLinks(t *testing.T) {
	family := unique("Shape")
	want := createPatients(t, family, 5)
	p := readPage(t, srv.Must(t, http.StatusOK, "GET", "Patient?family="+family+"&_count=2&_sort=birthdate", nil))
	if p.links["self"] == "" || p.links["next"] == "" || p.links["previous"] != "" {
		t.Fatalf("first page links: %v", p.links)
	}
	for i, fu := range p.fullURLs {
		if fu != srv.URL+"/"+p.matches[i] {
			t.Errorf("fullUrl %s for %s", fu, p.matches[i])
		}
	}
	got := append([]string{}, p.matches...)
	for p.links["next"] != "" {
		p = readPage(t, get(t, p.links["next"]))
		got = append(got, p.matches...)
		if p.links["previous"] == "" {
			t.Errorf("a later page has no previous link")
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("pages gave %v, want %v in birthdate order", got, want)
	}
	p = readPage(t, srv.Must(t, http.StatusOK, "GET", "Patient?family="+family+"&_total=accurate&_count=1", nil))
	if p.total == nil || *p.total != 5 {
		t.Errorf("_total=accurate: %v", p.total)
	}
	p = readPage(t, srv.Must(t, http.StatusOK, "GET", "Patient?family="+family+"&_summary=count", nil))
	if p.total == nil || *p.total != 5 || len(p.matches) != 0 {
		t.Errorf("_summary=count: total %v, %d entries", p.total, len(p.matches))
	}
}

func TestSearchByPost(t *testing.T) {
	family := unique("Posted")
	want := createPatients(t, family, 3)
	r := srv.Must(t, http.StatusOK, "POST", "Patient/_search", "family="+family+"&_count=10",
		"Content-Type", "application/x-www-form-urlencoded")
	got := readPage(t, r).matches
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("POST _search: %v, want %v", got, want)
	}
	srv.Must(t, http.StatusUnsupportedMediaType, "POST", "Patient/_search", `{"family":"x"}`)
}

func TestSearchUnknownParameters(t *testing.T) {
	family := unique("Lenient")
	createPatients(t, family, 1)
	p := readPage(t, srv.Must(t, http.StatusOK, "GET", "Patient?family="+family+"&favourite-colour=blue", nil))
	if len(p.matches) != 1 || len(p.outcomes) != 1 {
		t.Fatalf("lenient: %d matches, %d outcomes", len(p.matches), len(p.outcomes))
	}
	if diag := fmt.Sprint(p.outcomes[0]["issue"]); !strings.Contains(diag, "favourite-colour") {
		t.Errorf("the outcome does not name the parameter: %s", diag)
	}
	r := srv.Must(t, http.StatusBadRequest, "GET", "Patient?family="+family+"&favourite-colour=blue", nil, "Prefer", "handling=strict")
	if expression(t, r) != "favourite-colour" {
		t.Errorf("strict refusal names %q", expression(t, r))
	}
}

func TestSearchMalformedValues(t *testing.T) {
	for _, c := range []struct{ path, param string }{
		{"Patient?birthdate=31-12-1999", "birthdate"},
		{"Patient?birthdate=zz2000", "birthdate"},
		{"Observation?value-quantity=lots", "value-quantity"},
		{"Patient?_count=many", "_count"},
		{"Patient?family:sounds-like=x", "family:sounds-like"},
		{"Patient?_cursor=garbage", "_cursor"},
	} {
		r := srv.Must(t, http.StatusBadRequest, "GET", c.path, nil)
		if got := expression(t, r); got != c.param {
			t.Errorf("%s: expression %q, want %q", c.path, got, c.param)
		}
	}
}

func TestSearchIncludesAndChains(t *testing.T) {
	family := unique("Incl")
	pats := createPatients(t, family, 2)
	var obs []string
	for i, p := range pats {
		body := fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"%s"},"valueQuantity":{"value":%d,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`, p, 60+i*30)
		r := srv.Must(t, http.StatusCreated, "POST", "Observation", body)
		obs = append(obs, "Observation/"+r.JSON(t)["id"].(string))
	}
	p := readPage(t, srv.Must(t, http.StatusOK, "GET", "Observation?subject.family="+family+"&value-quantity=gt70&_include=Observation:subject", nil))
	if strings.Join(p.matches, ",") != obs[1] || strings.Join(p.included, ",") != pats[1] {
		t.Errorf("chain + include: matches %v included %v, want %s and %s", p.matches, p.included, obs[1], pats[1])
	}
	p = readPage(t, srv.Must(t, http.StatusOK, "GET", "Patient?family="+family+"&_has:Observation:subject:value-quantity=lt70&_revinclude=Observation:subject", nil))
	if strings.Join(p.matches, ",") != pats[0] || strings.Join(p.included, ",") != obs[0] {
		t.Errorf("_has + _revinclude: matches %v included %v", p.matches, p.included)
	}
}

// TestSearchInjection sends SQL through every kind of parameter: each answer is a 4xx or
// an empty page, and nothing in the database changes.
func TestSearchInjection(t *testing.T) {
	family := unique("Inject")
	createPatients(t, family, 2)
	count := func() float64 {
		p := readPage(t, srv.Must(t, http.StatusOK, "GET", "Patient?_summary=count", nil))
		return *p.total
	}
	before := count()
	attacks := []string{`'; DROP TABLE resources; --`, `x' OR '1'='1`, `%`, `_`, `\`, `$1`, `"; DELETE FROM search_string; --`, `1) OR (1=1`, `Patient/1' OR 'a'='a`}
	params := []string{"Patient?family", "Patient?family:exact", "Patient?name:contains", "Patient?identifier", "Patient?identifier:of-type",
		"Patient?gender:not", "Patient?organization", "Patient?general-practitioner:identifier", "Patient?birthdate", "Observation?value-quantity",
		"Patient?_profile", "Subscription?url:below", "Observation?code-value-quantity", "Patient?_sort", "Patient?_include",
		"Appointment?patient.family", "Patient?_has:Observation:subject:code", "Patient?_id", "Patient?_lastUpdated", "Patient?_cursor", "Location?near"}
	for _, p := range params {
		for _, a := range attacks {
			r := srv.Do(t, "GET", p+"="+url.QueryEscape(a), nil)
			switch {
			case r.Status >= 400 && r.Status < 500:
			case r.Status == http.StatusOK:
				m := readPage(t, r).matches
				switch {
				case strings.HasPrefix(p, "Patient?_sort"), strings.HasPrefix(p, "Patient?_include"):
					// Ignored or refused; any page of Patients is right.
				case strings.HasSuffix(p, ":not"):
					// No gender equals the attack, so :not keeps every Patient.
					if float64(len(m)) != min(before, 50) {
						t.Errorf("%s=%s matched %d of %v resources", p, a, len(m), before)
					}
				case len(m) != 0:
					t.Errorf("%s=%s matched %d resources", p, a, len(m))
				}
			default:
				t.Errorf("%s=%s: status %d: %s", p, a, r.Status, r.Body)
			}
		}
	}
	if after := count(); after != before {
		t.Errorf("Patients before %v, after %v", before, after)
	}
	if p := readPage(t, srv.Must(t, http.StatusOK, "GET", "Patient?family="+family, nil)); len(p.matches) != 2 {
		t.Errorf("the index lost rows: %d matches", len(p.matches))
	}
}

func TestConditionalInteractionsSearch(t *testing.T) {
	system := unique("urn:cond:")
	body := fmt.Sprintf(`{"resourceType":"Patient","identifier":[{"system":"%s","value":"1"}],"name":[{"family":"Cond"}]}`, system)
	cond := "identifier=" + url.QueryEscape(system+"|1")
	first := srv.Must(t, http.StatusCreated, "POST", "Patient", body, "If-None-Exist", cond).JSON(t)["id"]
	again := srv.Must(t, http.StatusOK, "POST", "Patient", body, "If-None-Exist", cond).JSON(t)["id"]
	if first != again {
		t.Errorf("conditional create made %v and %v", first, again)
	}
	srv.Must(t, http.StatusOK, "PUT", "Patient?"+cond, body)
	r := srv.Must(t, http.StatusBadRequest, "POST", "Patient", body, "If-None-Exist", "colour=blue")
	if expression(t, r) != "colour" {
		t.Errorf("unknown condition parameter: %s", r.Body)
	}
}

func TestTransactionSearchSeesItsOwnWrites(t *testing.T) {
	system := unique("urn:tx:")
	bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:0c1a1b2c-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","identifier":[{"system":"%s","value":"7"}]},"request":{"method":"POST","url":"Patient"}},
	 {"request":{"method":"GET","url":"Patient?identifier=%s"}}]}`, system, url.QueryEscape(system+"|7"))
	b := srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t)
	es := entries(t, b)
	if len(es) != 2 {
		t.Fatalf("entries: %v", es)
	}
	res, _ := es[1]["resource"].(map[string]any)
	if res["type"] != "searchset" || res["total"] != float64(1) {
		t.Errorf("the GET entry did not find the Patient written before it: %v", res)
	}
}

func TestCapabilityStatementListsSearch(t *testing.T) {
	cs := srv.Must(t, http.StatusOK, "GET", "metadata", nil).JSON(t)
	rest := cs["rest"].([]any)[0].(map[string]any)
	found := 0
	for _, r := range rest["resource"].([]any) {
		res := r.(map[string]any)
		switch res["type"] {
		case "Patient":
			for _, sp := range res["searchParam"].([]any) {
				m := sp.(map[string]any)
				if m["name"] == "family" && m["type"] == "string" && m["documentation"] != "" {
					found++
				}
			}
			if !strings.Contains(fmt.Sprint(res["searchInclude"]), "Patient:organization") ||
				!strings.Contains(fmt.Sprint(res["searchRevInclude"]), "Appointment:patient") {
				t.Errorf("Patient includes: %v / %v", res["searchInclude"], res["searchRevInclude"])
			}
		case "Slot":
			if strings.Contains(fmt.Sprint(res["searchParam"]), "schedule") {
				found++
			}
		}
	}
	if found != 2 {
		t.Errorf("CapabilityStatement misses search parameters (%d of 2 found)", found)
	}
}

func TestCompartmentSearch(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/comp-a", patient("comp-a"))
	srv.Must(t, http.StatusCreated, "PUT", "Patient/comp-b", patient("comp-b"))
	for i, subject := range []string{"comp-a", "comp-a", "comp-a", "comp-b"} {
		obs := fmt.Sprintf(`{"resourceType":"Observation","id":"comp-obs-%d","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/%s"}}`, i, subject)
		srv.Must(t, http.StatusCreated, "PUT", fmt.Sprintf("Observation/comp-obs-%d", i), obs)
	}
	var ids []string
	next := "Patient/comp-a/Observation?_count=2"
	for next != "" {
		b := srv.Must(t, http.StatusOK, "GET", next, nil).JSON(t)
		for _, e := range entries(t, b) {
			ids = append(ids, e["resource"].(map[string]any)["id"].(string))
		}
		next = ""
		for _, l := range b["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = strings.TrimPrefix(l.(map[string]any)["url"].(string), srv.URL+"/")
				if !strings.HasPrefix(next, "Patient/comp-a/Observation?") {
					t.Fatalf("next link leaves the compartment: %s", next)
				}
			}
		}
	}
	sort.Strings(ids)
	if strings.Join(ids, ",") != "comp-obs-0,comp-obs-1,comp-obs-2" {
		t.Errorf("Patient/comp-a/Observation gave %v", ids)
	}
	// Search parameters still apply inside the compartment.
	b := srv.Must(t, http.StatusOK, "GET", "Patient/comp-b/Observation?_id=comp-obs-0", nil).JSON(t)
	if len(entries(t, b)) != 0 {
		t.Errorf("an Observation of comp-a appeared in comp-b's compartment")
	}
	// Organization is not in the Patient compartment.
	srv.Must(t, http.StatusBadRequest, "GET", "Patient/comp-a/Organization", nil)
}

// TestCapabilityStatementSearchTypeOnlyWhereSearchable: search-type is claimed exactly
// for the types a search answers (Binary has no search parameters: 400).
func TestCapabilityStatementSearchTypeOnlyWhereSearchable(t *testing.T) {
	cs := srv.Must(t, http.StatusOK, "GET", "metadata", nil).JSON(t)
	admin := apptest.Bearer(srv.Token(t, smarttest.Admin(srv.URL, "user/*.cruds"))) // AuditEvents are for admins
	for _, r := range cs["rest"].([]any)[0].(map[string]any)["resource"].([]any) {
		res := r.(map[string]any)
		typ := res["type"].(string)
		claims := strings.Contains(fmt.Sprint(res["interaction"]), "search-type")
		answers := srv.Do(t, "GET", typ+"?_count=1", nil, admin...).Status == http.StatusOK
		if claims != answers {
			t.Errorf("%s: CapabilityStatement claims search-type %v, a search answers %v", typ, claims, answers)
		}
	}
}
