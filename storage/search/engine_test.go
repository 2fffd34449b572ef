package search_test

import (
	"context"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/search"
)

func urlParse(q string) (url.Values, error) { return url.ParseQuery(q) }

// fold is the oracle's own case and accent folding, independent of search.Normalize.
func fold(s string) string {
	r := strings.NewReplacer("ü", "u", "Ü", "u", "ë", "e", "í", "i", "ö", "o", "Ö", "o", "á", "a", "é", "e", "ó", "o", "ñ", "n", "ç", "c", "è", "e", "à", "a")
	return strings.ToLower(r.Replace(s))
}

func anyPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(fold(s), fold(prefix)) {
			return true
		}
	}
	return false
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func nameParts(m map[string]any) []string {
	var out []string
	for _, f := range []string{"family", "given", "prefix", "suffix", "text"} {
		out = append(out, strs(m, "name."+f)...)
	}
	return out
}

func TestStringSearch(t *testing.T) {
	family := func(m map[string]any) []string { return strs(m, "name.family") }
	cases := []struct {
		typ, query string
		want       []string
	}{
		{"Patient", "family=smith", matching("Patient", func(m map[string]any) bool { return anyPrefix(family(m), "smith") })},
		{"Patient", "family=MULLER", matching("Patient", func(m map[string]any) bool { return anyPrefix(family(m), "muller") })},
		{"Patient", "family=garc", matching("Patient", func(m map[string]any) bool { return anyPrefix(family(m), "garc") })},
		{"Patient", "family:exact=Smith", matching("Patient", func(m map[string]any) bool { return has(family(m), "Smith") })},
		{"Patient", "family:exact=smith", nil},
		{"Patient", "family:contains=ith", matching("Patient", func(m map[string]any) bool {
			for _, f := range family(m) {
				if strings.Contains(fold(f), "ith") {
					return true
				}
			}
			return false
		})},
		{"Patient", "family=smith_", matching("Patient", func(m map[string]any) bool { return anyPrefix(family(m), "smith_") })},
		{"Patient", "family=100%25", matching("Patient", func(m map[string]any) bool { return anyPrefix(family(m), "100%") })},
		{"Patient", "name=dr,peter", matching("Patient", func(m map[string]any) bool { return anyPrefix(nameParts(m), "dr") || anyPrefix(nameParts(m), "peter") })},
		{"Patient", "address-city=koln", matching("Patient", func(m map[string]any) bool { return anyPrefix(strs(m, "address.city"), "koln") })},
		{"Patient", "given=given1&family=jones", matching("Patient", func(m map[string]any) bool {
			return anyPrefix(strs(m, "name.given"), "given1") && anyPrefix(family(m), "jones")
		})},
		{"Practitioner", "name=dr", matching("Practitioner", func(m map[string]any) bool { return anyPrefix(nameParts(m), "dr") })},
	}
	for _, c := range cases {
		t.Run(c.typ+"?"+c.query, func(t *testing.T) {
			t.Parallel()
			if len(c.want) == 0 && !strings.Contains(c.query, "exact=smith") {
				t.Errorf("%s?%s: the oracle found nothing; the case tests nothing", c.typ, c.query)
			}
			sameSet(t, c.typ+"?"+c.query, find(t, c.typ, c.query), c.want)
		})
	}
}

func tokens(m map[string]any, path string) [][2]string {
	var out [][2]string
	for _, v := range values(m, path) {
		if o, ok := v.(map[string]any); ok {
			sys, _ := o["system"].(string)
			if code, ok := o["code"].(string); ok {
				out = append(out, [2]string{sys, code})
			}
			if val, ok := o["value"].(string); ok {
				out = append(out, [2]string{sys, val})
			}
			for _, c := range values(o, "coding") {
				cm, _ := c.(map[string]any)
				s, _ := cm["system"].(string)
				code, _ := cm["code"].(string)
				out = append(out, [2]string{s, code})
			}
		} else if s, ok := v.(string); ok {
			out = append(out, [2]string{"", s})
		} else if b, ok := v.(bool); ok {
			out = append(out, [2]string{"", strconv.FormatBool(b)})
		}
	}
	return out
}

func hasToken(m map[string]any, path, system, code string, bySystem bool) bool {
	for _, tk := range tokens(m, path) {
		if (code == "" || tk[1] == code) && (!bySystem || tk[0] == system) {
			return true
		}
	}
	return false
}

func TestTokenSearch(t *testing.T) {
	tok := func(path, system, code string, bySystem bool) func(map[string]any) bool {
		return func(m map[string]any) bool { return hasToken(m, path, system, code, bySystem) }
	}
	cases := []struct {
		typ, query string
		want       []string
	}{
		{"Patient", "gender=female", matching("Patient", tok("gender", "", "female", false))},
		{"Patient", "gender=male,female", matching("Patient", func(m map[string]any) bool {
			return tok("gender", "", "male", false)(m) || tok("gender", "", "female", false)(m)
		})},
		{"Patient", "gender:not=male", matching("Patient", func(m map[string]any) bool { return !tok("gender", "", "male", false)(m) })},
		{"Patient", "identifier=urn:careslot:mrn|MRN5", matching("Patient", tok("identifier", "urn:careslot:mrn", "MRN5", true))},
		{"Patient", "identifier=MRN5", matching("Patient", tok("identifier", "", "MRN5", false))},
		{"Patient", "identifier=urn:careslot:ssn|", matching("Patient", tok("identifier", "urn:careslot:ssn", "", true))},
		{"Patient", "identifier=|NOSYS-0", matching("Patient", tok("identifier", "", "NOSYS-0", true))},
		{"Patient", "identifier=NOSYS-0", []string{"gen-p0"}},
		{"Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|SS|SSN-4", []string{"gen-p4"}},
		{"Patient", "active=false", matching("Patient", tok("active", "", "false", false))},
		{"Patient", "email=p6@example.org", []string{"gen-p6"}},
		{"Observation", "code=http://loinc.org|29463-7", matching("Observation", tok("code", "http://loinc.org", "29463-7", true))},
		{"Observation", "code:text=generated 8480", matching("Observation", func(m map[string]any) bool {
			return anyPrefix(strs(m, "code.text"), "generated 8480") || anyPrefix(strs(m, "code.coding.display"), "generated 8480")
		})},
		{"Appointment", "status=booked,pending", matching("Appointment", func(m map[string]any) bool {
			return m["status"] == "booked" || m["status"] == "pending"
		})},
		{"Patient", "_tag=urn:careslot:tag|t0", matching("Patient", tok("meta.tag", "urn:careslot:tag", "t0", true))},
		{"Patient", "_id=gen-p1,gen-p2,example", []string{"gen-p1", "gen-p2", "example"}},
	}
	for _, c := range cases {
		t.Run(c.typ+"?"+c.query, func(t *testing.T) {
			t.Parallel()
			if len(c.want) == 0 {
				t.Errorf("%s?%s: the oracle found nothing; the case tests nothing", c.typ, c.query)
			}
			sameSet(t, c.typ+"?"+c.query, find(t, c.typ, c.query), c.want)
		})
	}
}

func refersTo(m map[string]any, path, ref string) bool {
	for _, r := range strs(m, path+".reference") {
		if r == ref || strings.HasSuffix(r, "/"+ref) {
			return true
		}
	}
	return false
}

func TestReferenceSearch(t *testing.T) {
	appts := func(keep func(m map[string]any) bool) []string { return matching("Appointment", keep) }
	cases := []struct {
		typ, query string
		want       []string
	}{
		{"Appointment", "patient=Patient/gen-p5", appts(func(m map[string]any) bool { return refersTo(m, "participant.actor", "Patient/gen-p5") })},
		{"Appointment", "patient=gen-p5", appts(func(m map[string]any) bool { return refersTo(m, "participant.actor", "Patient/gen-p5") })},
		{"Appointment", "actor:Practitioner=gen-d3", appts(func(m map[string]any) bool { return refersTo(m, "participant.actor", "Practitioner/gen-d3") })},
		{"Appointment", "practitioner=http://careslot.test/fhir/Practitioner/gen-d3", appts(func(m map[string]any) bool { return refersTo(m, "participant.actor", "Practitioner/gen-d3") })},
		{"Appointment", "patient:identifier=urn:careslot:mrn|MRN26", []string{"gen-a25", "gen-a225"}},
		{"Slot", "schedule=Schedule/gen-sch3", matching("Slot", func(m map[string]any) bool { return refersTo(m, "schedule", "Schedule/gen-sch3") })},
		{"Observation", "subject:Patient=gen-p3", matching("Observation", func(m map[string]any) bool { return refersTo(m, "subject", "Patient/gen-p3") })},
		{"Observation", "subject=Patient/example", matching("Observation", func(m map[string]any) bool { return refersTo(m, "subject", "Patient/example") })},
	}
	for _, c := range cases {
		t.Run(c.typ+"?"+c.query, func(t *testing.T) {
			t.Parallel()
			if len(c.want) == 0 {
				t.Errorf("%s?%s: the oracle found nothing", c.typ, c.query)
			}
			sameSet(t, c.typ+"?"+c.query, find(t, c.typ, c.query), c.want)
		})
	}
}

// span is the oracle's half-open range of a FHIR date: [start, end).
func span(s string) (time.Time, time.Time, bool) {
	layouts := []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006-01-02T15:04:05", func(t time.Time) time.Time { return t.Add(time.Second) }},
		{"2006-01-02T15:04:05.999999999Z07:00", func(t time.Time) time.Time { return t.Add(time.Microsecond) }},
	}
	for _, l := range layouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			return t, l.next(t), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// compare applies a prefix as R4 words it, on half-open ranges.
func compare(prefix string, l, h, sl, sh time.Time) bool {
	eq := !l.Before(sl) && !h.After(sh)
	switch prefix {
	case "ne":
		return !eq
	case "gt":
		return h.After(sh)
	case "lt":
		return l.Before(sl)
	case "ge":
		return h.After(sh) || eq
	case "le":
		return l.Before(sl) || eq
	case "sa":
		return !l.Before(sh)
	case "eb":
		return !h.After(sl)
	}
	return eq
}

// dateSpans are the ranges of the date values at path: dateTimes and Periods.
func dateSpans(m map[string]any, paths ...string) [][2]time.Time {
	var out [][2]time.Time
	for _, p := range paths {
		for _, v := range values(m, p) {
			switch x := v.(type) {
			case string:
				if l, h, ok := span(x); ok {
					out = append(out, [2]time.Time{l, h})
				}
			case map[string]any:
				l, h := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).Add(time.Microsecond)
				if s, ok := x["start"].(string); ok {
					l, _, _ = span(s)
				}
				if e, ok := x["end"].(string); ok {
					_, h, _ = span(e)
				}
				out = append(out, [2]time.Time{l, h})
			}
		}
	}
	return out
}

func TestDateSearch(t *testing.T) {
	type dc struct {
		typ, query string
		paths      []string
		conds      []string // prefix+date, all must hold for the resource
	}
	cases := []dc{}
	for _, v := range []string{"1974", "1974-12", "1974-12-25", "ge1975", "lt1960-03", "gt1980-02-01", "le1975-06", "sa1990", "eb1955", "ne1975", "ge1960-02-10"} {
		cases = append(cases, dc{"Patient", "birthdate=" + v, []string{"birthDate"}, []string{v}})
	}
	for _, v := range []string{"2025-03", "2025-05", "gt2025-06-30T12:00:00Z", "le2025-02-01T10:00:00%2B02:00", "sa2025-12", "eb2025-01-15"} {
		cases = append(cases, dc{"Appointment", "date=" + v, []string{"start"}, []string{v}})
	}
	cases = append(cases,
		dc{"Appointment", "date=ge2025-03-01&date=lt2025-04-01", []string{"start"}, []string{"ge2025-03-01", "lt2025-04-01"}},
		dc{"Slot", "start=ge2025-01-13&start=lt2025-01-20", []string{"start"}, []string{"ge2025-01-13", "lt2025-01-20"}},
		dc{"MedicationRequest", "date=ge2025-03-01&date=lt2025-04-01", []string{"dosageInstruction.timing.event"}, []string{"ge2025-03-01", "lt2025-04-01"}},
		dc{"MedicationRequest", "date=ge2025-04-01&date=le2025-06-01", []string{"dosageInstruction.timing.event"}, []string{"ge2025-04-01", "le2025-06-01"}},
	)
	for _, v := range []string{"2025-02", "gt2025-03-01", "eb2025-02-01", "sa2025-03-01", "2016-03-28", "le2025-01-08", "ne2025-02"} {
		cases = append(cases, dc{"Observation", "date=" + v, []string{"effectiveDateTime", "effectivePeriod", "effectiveInstant"}, []string{v}})
	}
	for _, c := range cases {
		t.Run(c.typ+"?"+c.query, func(t *testing.T) {
			t.Parallel()
			want := matching(c.typ, func(m map[string]any) bool {
				spans := dateSpans(m, c.paths...)
				for _, cond := range c.conds {
					cond, _ = url.QueryUnescape(cond)
					prefix, val := "eq", cond
					if len(cond) > 2 && cond[0] >= 'a' && cond[0] <= 'z' {
						prefix, val = cond[:2], cond[2:]
					}
					sl, sh, ok := span(val)
					if !ok {
						t.Fatalf("oracle cannot read %q", val)
					}
					hit := false
					for _, s := range spans {
						if compare(prefix, s[0], s[1], sl, sh) {
							hit = true
						}
					}
					if !hit {
						return false
					}
				}
				return true
			})
			if len(want) == 0 {
				t.Errorf("%s?%s: the oracle found nothing", c.typ, c.query)
			}
			sameSet(t, c.typ+"?"+c.query, find(t, c.typ, c.query), want)
		})
	}
	// _lastUpdated is read from the resource row.
	if got := find(t, "Patient", "_lastUpdated=lt2000-01-01"); len(got) != 0 {
		t.Errorf("_lastUpdated=lt2000: %v", got)
	}
	if got, all := find(t, "Patient", "_lastUpdated=ge"+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)), corpus["Patient"]; len(got) != len(all) {
		t.Errorf("_lastUpdated=ge an hour ago: %d of %d", len(got), len(all))
	}
	// ap: the birthdate of 1974-12-25 is approximately 1974-12-20, but not 1960.
	if got := find(t, "Patient", "birthdate=ap1974-12-20&_id=example"); len(got) != 1 {
		t.Errorf("birthdate=ap1974-12-20 misses Patient/example")
	}
	if got := find(t, "Patient", "birthdate=ap1960-01-01&_id=example"); len(got) != 0 {
		t.Errorf("birthdate=ap1960-01-01 matches Patient/example")
	}
}

func quantityValues(m map[string]any, path string) []struct {
	v            float64
	system, code string
} {
	var out []struct {
		v            float64
		system, code string
	}
	for _, q := range values(m, path) {
		o, ok := q.(map[string]any)
		if !ok {
			continue
		}
		var f float64
		switch n := o["value"].(type) {
		case float64:
			f = n
		default:
			continue
		}
		s, _ := o["system"].(string)
		c, _ := o["code"].(string)
		out = append(out, struct {
			v            float64
			system, code string
		}{f, s, c})
	}
	return out
}

func TestQuantityAndCompositeSearch(t *testing.T) {
	qv := func(keep func(v float64, system, code string) bool) []string {
		return matching("Observation", func(m map[string]any) bool {
			for _, q := range quantityValues(m, "valueQuantity") {
				if keep(q.v, q.system, q.code) {
					return true
				}
			}
			return false
		})
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"value-quantity=gt200", qv(func(v float64, _, _ string) bool { return v > 200 })},
		{"value-quantity=lt50.5", qv(func(v float64, _, _ string) bool { return v < 50.5 })},
		{"value-quantity=le60", qv(func(v float64, _, _ string) bool { return v <= 60 })},
		{"value-quantity=185", qv(func(v float64, _, _ string) bool { return v >= 184.5 && v < 185.5 })},
		{"value-quantity=ge150|http://unitsofmeasure.org|mm[Hg]", qv(func(v float64, s, c string) bool {
			return v >= 150 && s == "http://unitsofmeasure.org" && c == "mm[Hg]"
		})},
		{"value-quantity=ne100||kg", qv(func(v float64, s, c string) bool { return !(v >= 99.5 && v < 100.5) && c == "kg" })},
		{"code-value-quantity=http://loinc.org|29463-7$gt150", matching("Observation", func(m map[string]any) bool {
			if !hasToken(m, "code", "http://loinc.org", "29463-7", true) {
				return false
			}
			for _, q := range quantityValues(m, "valueQuantity") {
				if q.v > 150 {
					return true
				}
			}
			return false
		})},
	}
	for _, c := range cases {
		t.Run("Observation?"+c.query, func(t *testing.T) {
			t.Parallel()
			if len(c.want) == 0 {
				t.Errorf("Observation?%s: the oracle found nothing", c.query)
			}
			sameSet(t, "Observation?"+c.query, find(t, "Observation", c.query), c.want)
		})
	}
}

func TestURIAndMissingSearch(t *testing.T) {
	missing := func(typ string, present func(m map[string]any) bool) []string {
		return matching(typ, func(m map[string]any) bool { return !present(m) })
	}
	hasPath := func(path string) func(m map[string]any) bool {
		return func(m map[string]any) bool { return len(values(m, path)) > 0 }
	}
	cases := []struct {
		typ, query string
		want       []string
	}{
		{"Patient", "_profile=http://example.org/StructureDefinition/generated-patient", matching("Patient", func(m map[string]any) bool {
			return has(strs(m, "meta.profile"), "http://example.org/StructureDefinition/generated-patient")
		})},
		{"Subscription", "url=https://biliwatch.com/customers/mount-auburn-miu/on-result", matching("Subscription", hasPath("channel.endpoint"))},
		{"Subscription", "url:below=https://biliwatch.com/", matching("Subscription", hasPath("channel.endpoint"))},
		{"Subscription", "url:above=https://biliwatch.com/customers/mount-auburn-miu/on-result/more", matching("Subscription", hasPath("channel.endpoint"))},
		{"Patient", "birthdate:missing=true", missing("Patient", hasPath("birthDate"))},
		{"Patient", "birthdate:missing=false", matching("Patient", hasPath("birthDate"))},
		{"Patient", "gender:missing=true", missing("Patient", hasPath("gender"))},
		{"Patient", "family:missing=true", missing("Patient", hasPath("name.family"))},
		{"Patient", "organization:missing=false", matching("Patient", hasPath("managingOrganization.reference"))},
		{"Observation", "value-quantity:missing=true", missing("Observation", hasPath("valueQuantity.value"))},
		{"Appointment", "date:missing=true", missing("Appointment", hasPath("start"))},
	}
	for _, c := range cases {
		t.Run(c.typ+"?"+c.query, func(t *testing.T) {
			t.Parallel()
			if len(c.want) == 0 {
				t.Errorf("%s?%s: the oracle found nothing", c.typ, c.query)
			}
			sameSet(t, c.typ+"?"+c.query, find(t, c.typ, c.query), c.want)
		})
	}
}

func TestChainsAndHas(t *testing.T) {
	patientsNamed := func(prefix string) map[string]bool {
		out := map[string]bool{}
		for _, id := range matching("Patient", func(m map[string]any) bool { return anyPrefix(strs(m, "name.family"), prefix) }) {
			out["Patient/"+id] = true
		}
		return out
	}
	smiths := patientsNamed("smith")
	want := matching("Appointment", func(m map[string]any) bool {
		for _, r := range strs(m, "participant.actor.reference") {
			if smiths[r] {
				return true
			}
		}
		return false
	})
	sameSet(t, "Appointment?patient.family=smith", find(t, "Appointment", "patient.family=smith"), want)

	want = matching("Appointment", func(m map[string]any) bool { return refersTo(m, "participant.actor", "Practitioner/gen-d2") })
	sameSet(t, "Appointment?actor:Practitioner.family=doctorc", find(t, "Appointment", "actor:Practitioner.family=doctorc"), want)

	// A doctor's free slots in a week: slot -> schedule -> actor.
	want = matching("Slot", func(m map[string]any) bool {
		l, _, _ := span(m["start"].(string))
		return refersTo(m, "schedule", "Schedule/gen-sch2") && m["status"] == "free" &&
			!l.Before(time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)) && l.Before(time.Date(2025, 2, 6, 0, 0, 0, 0, time.UTC))
	})
	if len(want) == 0 {
		t.Fatal("no free slots of gen-d2 in the oracle")
	}
	sameSet(t, "Slot?schedule.actor=Practitioner/gen-d2&status=free&start=ge2025-01-06&start=lt2025-02-06",
		find(t, "Slot", "schedule.actor=Practitioner/gen-d2&status=free&start=ge2025-01-06&start=lt2025-02-06"), want)

	cancelled := map[string]bool{}
	for _, d := range corpus["Appointment"] {
		if d.m["status"] == "cancelled" {
			for _, r := range strs(d.m, "participant.actor.reference") {
				cancelled[r] = true
			}
		}
	}
	want = matching("Patient", func(m map[string]any) bool { return cancelled["Patient/"+m["id"].(string)] })
	sameSet(t, "Patient?_has:Appointment:patient:status=cancelled", find(t, "Patient", "_has:Appointment:patient:status=cancelled"), want)

	// Nested: patients with an appointment with a doctor called DoctorB.
	withB := map[string]bool{}
	for _, d := range corpus["Appointment"] {
		if refersTo(d.m, "participant.actor", "Practitioner/gen-d1") {
			for _, r := range strs(d.m, "participant.actor.reference") {
				withB[r] = true
			}
		}
	}
	want = matching("Patient", func(m map[string]any) bool { return withB["Patient/"+m["id"].(string)] })
	sameSet(t, "Patient?_has:Appointment:patient:practitioner.family=doctorb", find(t, "Patient", "_has:Appointment:patient:practitioner.family=doctorb"), want)
}

func TestSortOrders(t *testing.T) {
	ids := find(t, "Patient", "identifier=urn:careslot:mrn|&_sort=birthdate,-_id")
	if len(ids) != 200 {
		t.Fatalf("sorted search returned %d of 200", len(ids))
	}
	byID := map[string]map[string]any{}
	for _, d := range corpus["Patient"] {
		byID[d.id] = d.m
	}
	low := func(id string) time.Time {
		s, ok := byID[id]["birthDate"].(string)
		if !ok {
			return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) // missing sorts last
		}
		l, _, _ := span(s)
		return l
	}
	for i := 1; i < len(ids); i++ {
		a, b := low(ids[i-1]), low(ids[i])
		if a.After(b) || a.Equal(b) && ids[i-1] < ids[i] {
			t.Fatalf("order broken at %d: %s (%v) before %s (%v)", i, ids[i-1], a, ids[i], b)
		}
	}
	ids = find(t, "Appointment", "_sort=-date&date:missing=false&_count=7")
	for i := 1; i < len(ids); i++ {
		a, _ := time.Parse(time.RFC3339, apptStart(ids[i-1]))
		b, _ := time.Parse(time.RFC3339, apptStart(ids[i]))
		if a.Before(b) {
			t.Fatalf("_sort=-date broken at %d: %v before %v", i, a, b)
		}
	}
}

func apptStart(id string) string {
	for _, d := range corpus["Appointment"] {
		if d.id == id {
			s, _ := d.m["start"].(string)
			return s
		}
	}
	return ""
}

func TestIncludesAndCompartment(t *testing.T) {
	ctx := context.Background()
	run := func(typ, query string) (matches, included []string) {
		params, _ := url.ParseQuery(query)
		q, err := search.Definitions().Parse(typ, params, search.ParseOptions{Strict: true, DefaultCount: 100, MaxCount: 100})
		if err != nil {
			t.Fatalf("%s?%s: %v", typ, query, err)
		}
		res, err := store.Search(ctx, q)
		if err != nil {
			t.Fatalf("%s?%s: %v", typ, query, err)
		}
		for _, m := range res.Matches {
			matches = append(matches, m.Type+"/"+m.ID)
		}
		for _, m := range res.Included {
			included = append(included, m.Type+"/"+m.ID)
		}
		return matches, included
	}
	_, inc := run("Appointment", "_id=gen-a1&_include=Appointment:patient")
	sameSet(t, "_include=Appointment:patient", inc, []string{"Patient/gen-p1"})
	_, inc = run("Appointment", "_id=gen-a1&_include=Appointment:actor")
	sameSet(t, "_include=Appointment:actor", inc, []string{"Patient/gen-p1", "Practitioner/gen-d1"})
	_, inc = run("Appointment", "_id=gen-a1&_include=Appointment:actor:Practitioner")
	sameSet(t, "_include=Appointment:actor:Practitioner", inc, []string{"Practitioner/gen-d1"})
	_, inc = run("Patient", "_id=gen-p3&_revinclude=Appointment:patient")
	var want []string
	for _, id := range matching("Appointment", func(m map[string]any) bool { return refersTo(m, "participant.actor", "Patient/gen-p3") }) {
		want = append(want, "Appointment/"+id)
	}
	sameSet(t, "_revinclude=Appointment:patient", inc, want)
	_, inc = run("Slot", "_id=gen-s3&_include=Slot:schedule&_include:iterate=Schedule:actor")
	sameSet(t, "_include:iterate=Schedule:actor", inc, []string{"Schedule/gen-sch3", "Practitioner/gen-d3"})

	got, err := tryFind("Appointment", "", &search.Compartment{Type: "Patient", ID: "gen-p7"})
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, "Appointment in the compartment of Patient/gen-p7", got,
		matching("Appointment", func(m map[string]any) bool { return refersTo(m, "participant.actor", "Patient/gen-p7") }))
	got, _ = tryFind("Patient", "", &search.Compartment{Type: "Patient", ID: "gen-p7"})
	sameSet(t, "Patient in its own compartment", got, []string{"gen-p7"})
	got, _ = tryFind("Practitioner", "", &search.Compartment{Type: "Patient", ID: "gen-p7"})
	sameSet(t, "Practitioner outside the Patient compartment", got, nil)
}

func TestNearSearch(t *testing.T) {
	haversine := func(lat1, lon1, lat2, lon2 float64) float64 {
		rad := math.Pi / 180
		dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
		a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
		return 2 * 6371 * math.Asin(math.Sqrt(a))
	}
	for _, km := range []float64{1, 5000} {
		want := matching("Location", func(m map[string]any) bool {
			p, ok := m["position"].(map[string]any)
			if !ok {
				return false
			}
			return haversine(42.2565, -83.6947, p["latitude"].(float64), p["longitude"].(float64)) <= km
		})
		q := "near=42.2565|-83.6947|" + strconv.FormatFloat(km, 'f', -1, 64) + "|km"
		sameSet(t, "Location?"+q, find(t, "Location", q), want)
	}
}

// TestEveryParameterAnswers runs one query per search parameter of every product type,
// with a value of its kind and with :missing, and requires an answer without error.
func TestEveryParameterAnswers(t *testing.T) {
	reg := search.Definitions()
	sample := map[search.Kind]string{
		search.KindString: "a", search.KindToken: "http://loinc.org|1234", search.KindDate: "ge2020-01",
		search.KindNumber: "gt5", search.KindQuantity: "le5.4|http://unitsofmeasure.org|mg", search.KindURI: "http://example.org/x",
		search.KindSpecial: "42|-83|10|km",
	}
	n := 0
	for _, typ := range reg.Types() {
		for _, p := range reg.Params(typ) {
			v := sample[p.Kind]
			switch p.Kind {
			case search.KindReference:
				v = "x1"
				if len(p.Targets) > 0 {
					v = p.Targets[0] + "/x1"
				}
			case search.KindComposite:
				var parts []string
				for _, c := range p.Components {
					if c.Kind == search.KindReference {
						parts = append(parts, "DocumentReference/x1")
					} else {
						parts = append(parts, sample[c.Kind])
					}
				}
				v = strings.Join(parts, "$")
			}
			for _, q := range []string{p.Code + "=" + url.QueryEscape(v), p.Code + ":missing=true", "_sort=" + p.Code} {
				if strings.HasPrefix(q, "_sort=") && (p.Kind == search.KindComposite || p.Kind == search.KindSpecial) {
					continue
				}
				if _, err := tryFind(typ, q, nil); err != nil {
					t.Errorf("%s?%s: %v", typ, q, err)
				}
				n++
			}
		}
	}
	if n < 300 {
		t.Errorf("only %d queries ran", n)
	}
	t.Logf("%d queries over %d types answered", n, len(reg.Types()))
}

func TestSearchableTypes(t *testing.T) {
	types := search.Definitions().Types()
	if !sort.StringsAreSorted(types) || len(types) != 22 {
		t.Errorf("searchable types: %v", types)
	}
}
