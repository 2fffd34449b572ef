package search_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/r4examples"
	"github.com/careslot/careslot/resources"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/careslot/careslot/storage/storagetest"
)

// The engine tests search a database holding the official examples of the product types
// and generated data, and compare each answer with one computed in plain Go over the
// same JSON (the oracle), never with the engine's own SQL.

var (
	store  *storage.Store
	corpus = map[string][]doc{} // by type
)

type doc struct {
	typ, id string
	m       map[string]any
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	url, drop, err := storagetest.CreateDatabase(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer drop()
	store, err = storage.Open(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer store.Close()
	if err := loadCorpus(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "load corpus:", err)
		return 1
	}
	return m.Run()
}

func loadCorpus(ctx context.Context) error {
	reg := search.Definitions()
	var bodies [][]byte
	examples, err := r4examples.All()
	if err != nil {
		return err
	}
	for _, e := range examples {
		if reg.Searchable(e.Type) && e.ID != "" {
			bodies = append(bodies, e.Body)
		}
	}
	bodies = append(bodies, generated()...)
	rules := resources.New(resources.Config{})
	return store.InTx(ctx, func(tx *storage.Tx) error {
		for _, b := range bodies {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				return err
			}
			typ, id := m["resourceType"].(string), m["id"].(string)
			if typ == "Slot" || typ == "Schedule" {
				// As a FHIR write does: the scheduling rules keep schedule_slots, which
				// the Slot search plan reads (slotplan.go).
				if err := rules.Check(ctx, tx, &resources.Change{Action: resources.ActionCreate, Type: typ, ID: id, New: b}); err != nil {
					return fmt.Errorf("%s/%s: %w", typ, id, err)
				}
			}
			res, err := tx.Write(ctx, nil, typ, id, b, http.MethodPost)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", typ, id, err)
			}
			var stored map[string]any
			json.Unmarshal(res.Content, &stored)
			corpus[typ] = append(corpus[typ], doc{typ: typ, id: id, m: stored})
		}
		// The examples refer to resources outside the corpus; reference integrity is not
		// what these tests are about.
		_, err := tx.PG().Exec(ctx, `DELETE FROM resource_links`)
		return err
	})
}

var families = []string{"Müller", "Muller", "Smith", "Smithers", "Jones", "O'Brien", "García", "Garcia", "Nguyen", "Zoë", "Smith_Jr", "100%Real"}

// generated makes patients, practitioners, schedules, slots, appointments and
// observations with values spread over every case the tests look at.
func generated() [][]byte {
	rnd := rand.New(rand.NewSource(7))
	var out [][]byte
	add := func(v map[string]any) {
		b, _ := json.Marshal(v)
		out = append(out, b)
	}
	genders := []string{"male", "female", "other", ""}
	for i := 0; i < 200; i++ {
		p := map[string]any{"resourceType": "Patient", "id": fmt.Sprintf("gen-p%d", i),
			"name":       []any{map[string]any{"family": families[i%len(families)], "given": []any{fmt.Sprintf("Given%d", i%17)}}},
			"identifier": []any{map[string]any{"system": "urn:careslot:mrn", "value": fmt.Sprintf("MRN%d", i)}},
			"active":     i%3 != 0,
		}
		if g := genders[i%4]; g != "" {
			p["gender"] = g
		}
		switch i % 5 {
		case 0:
			p["birthDate"] = fmt.Sprintf("19%02d", 50+i%50)
		case 1:
			p["birthDate"] = fmt.Sprintf("19%02d-%02d", 50+i%50, 1+i%12)
		case 2, 3:
			p["birthDate"] = fmt.Sprintf("19%02d-%02d-%02d", 50+i%50, 1+i%12, 1+i%28)
		}
		if i%4 == 0 {
			p["identifier"] = append(p["identifier"].([]any), map[string]any{"system": "urn:careslot:ssn", "value": fmt.Sprintf("SSN-%d", i),
				"type": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}}}})
		}
		if i%50 == 0 {
			p["identifier"] = append(p["identifier"].([]any), map[string]any{"value": fmt.Sprintf("NOSYS-%d", i)})
		}
		if i%6 == 0 {
			p["telecom"] = []any{map[string]any{"system": "email", "value": fmt.Sprintf("p%d@example.org", i)}}
		}
		if i%7 == 0 {
			p["address"] = []any{map[string]any{"city": []string{"Köln", "Paris", "Oslo"}[i%3], "postalCode": fmt.Sprintf("%05d", i)}}
		}
		if i%9 == 0 {
			p["meta"] = map[string]any{"tag": []any{map[string]any{"system": "urn:careslot:tag", "code": fmt.Sprintf("t%d", i%2)}},
				"profile": []any{"http://example.org/StructureDefinition/generated-patient"}}
		}
		add(p)
	}
	for i := 0; i < 20; i++ {
		add(map[string]any{"resourceType": "Practitioner", "id": fmt.Sprintf("gen-d%d", i),
			"name":       []any{map[string]any{"family": fmt.Sprintf("Doctor%c", 'A'+i), "prefix": []any{"Dr"}}},
			"identifier": []any{map[string]any{"system": "urn:careslot:npi", "value": fmt.Sprintf("NPI%d", i)}}})
		add(map[string]any{"resourceType": "Schedule", "id": fmt.Sprintf("gen-sch%d", i),
			"actor": []any{map[string]any{"reference": fmt.Sprintf("Practitioner/gen-d%d", i)}}})
	}
	base := time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 300; i++ {
		// Slots of one schedule never overlap (the scheduling rules refuse that): slot
		// i+120 has i's schedule, day and hour, so it starts half an hour later.
		start := base.Add(time.Duration(i%60)*24*time.Hour + time.Duration(i%8)*time.Hour + time.Duration(i/120)*30*time.Minute)
		status := []string{"free", "busy", "free", "busy-unavailable"}[i%4]
		add(map[string]any{"resourceType": "Slot", "id": fmt.Sprintf("gen-s%d", i), "status": status,
			"schedule": map[string]any{"reference": fmt.Sprintf("Schedule/gen-sch%d", i%20)},
			"start":    start.Format(time.RFC3339), "end": start.Add(30 * time.Minute).Format(time.RFC3339)})
	}
	statuses := []string{"booked", "pending", "cancelled", "proposed", "fulfilled"}
	for i := 0; i < 400; i++ {
		start := base.Add(time.Duration(rnd.Intn(365*24)) * time.Hour)
		st := start.Format(time.RFC3339)
		if i%10 == 0 {
			st = start.In(time.FixedZone("", 2*3600)).Format(time.RFC3339)
		}
		parts := []any{
			map[string]any{"actor": map[string]any{"reference": fmt.Sprintf("Patient/gen-p%d", i%200)}, "status": "accepted"},
			map[string]any{"actor": map[string]any{"reference": fmt.Sprintf("Practitioner/gen-d%d", i%20)}, "status": "accepted"},
		}
		if i%25 == 0 {
			parts = append(parts, map[string]any{"actor": map[string]any{"identifier": map[string]any{"system": "urn:careslot:mrn", "value": fmt.Sprintf("MRN%d", (i+1)%200)}, "type": "Patient"}, "status": "needs-action"})
		}
		a := map[string]any{"resourceType": "Appointment", "id": fmt.Sprintf("gen-a%d", i), "status": statuses[i%5],
			"participant": parts}
		if statuses[i%5] != "proposed" || i%2 == 0 {
			a["start"], a["end"] = st, start.Add(30*time.Minute).Format(time.RFC3339)
		}
		add(a)
	}
	// Medication requests have several dates (timing events): a date range must then be
	// met value by value, not by one value.
	for i, events := range [][]any{{"2025-01-01", "2025-06-01"}, {"2025-03-15"}, {"2025-05-01", "2025-07-01"}} {
		add(map[string]any{"resourceType": "MedicationRequest", "id": fmt.Sprintf("gen-mr%d", i), "status": "active", "intent": "order",
			"medicationCodeableConcept": map[string]any{"text": "aspirin"}, "subject": map[string]any{"reference": "Patient/gen-p1"},
			"dosageInstruction": []any{map[string]any{"timing": map[string]any{"event": events}}}})
	}
	codes := []struct{ code, unit string }{{"29463-7", "kg"}, {"8480-6", "mm[Hg]"}, {"8867-4", "/min"}}
	for i := 0; i < 120; i++ {
		c := codes[i%3]
		o := map[string]any{"resourceType": "Observation", "id": fmt.Sprintf("gen-o%d", i), "status": "final",
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": c.code}}, "text": "Generated " + c.code},
			"subject":       map[string]any{"reference": fmt.Sprintf("Patient/gen-p%d", i%200)},
			"valueQuantity": map[string]any{"value": json.Number(fmt.Sprintf("%d.%d", 40+rnd.Intn(200), rnd.Intn(10))), "unit": c.unit, "system": "http://unitsofmeasure.org", "code": c.unit},
		}
		if i%2 == 0 {
			o["effectiveDateTime"] = base.Add(time.Duration(i) * 36 * time.Hour).Format(time.RFC3339)
		} else {
			s := base.Add(time.Duration(i) * 36 * time.Hour)
			o["effectivePeriod"] = map[string]any{"start": s.Format(time.RFC3339), "end": s.Add(48 * time.Hour).Format(time.RFC3339)}
		}
		if i%11 == 0 {
			delete(o, "valueQuantity")
		}
		add(o)
	}
	return out
}

// find runs a search of typ and returns the ids of every match, following the pages.
func find(t *testing.T, typ, query string) []string {
	t.Helper()
	ids, err := tryFind(typ, query, nil)
	if err != nil {
		t.Fatalf("%s?%s: %v", typ, query, err)
	}
	return ids
}

func tryFind(typ, query string, compartment *search.Compartment) ([]string, error) {
	params, err := urlParse(query)
	if err != nil {
		return nil, err
	}
	q, err := search.Definitions().Parse(typ, params, search.ParseOptions{Strict: true, BaseURL: "http://careslot.test/fhir", DefaultCount: 1000, MaxCount: 1000})
	if err != nil {
		return nil, err
	}
	q.Compartment = compartment
	var ids []string
	for page := 0; page < 100; page++ {
		res, err := store.Search(context.Background(), q)
		if err != nil {
			return nil, err
		}
		for _, m := range res.Matches {
			ids = append(ids, m.ID)
		}
		if res.Next == nil {
			break
		}
		q.Cursor = res.Next
	}
	return ids, nil
}

// matching is the oracle: the ids of typ's documents for which keep holds.
func matching(typ string, keep func(m map[string]any) bool) []string {
	var out []string
	for _, d := range corpus[typ] {
		if keep(d.m) {
			out = append(out, d.id)
		}
	}
	return out
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := append([]string{}, got...), append([]string{}, want...)
	sort.Strings(g)
	sort.Strings(w)
	if strings.Join(g, ",") != strings.Join(w, ",") {
		t.Errorf("%s: got %d %v\nwant %d %v", what, len(g), g, len(w), w)
	}
}

// values walks a dotted path through objects and arrays and returns the leaves.
func values(v any, path string) []any {
	if path == "" {
		if arr, ok := v.([]any); ok {
			return arr
		}
		if v == nil {
			return nil
		}
		return []any{v}
	}
	head, rest, _ := strings.Cut(path, ".")
	switch x := v.(type) {
	case map[string]any:
		return values(x[head], rest)
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, values(e, path)...)
		}
		return out
	}
	return nil
}

func strs(v any, path string) []string {
	var out []string
	for _, x := range values(v, path) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
