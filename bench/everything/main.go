// Command everything measures Patient/$everything (issue 11) for a Synthea-sized patient
// of about 1,000 resources (encounters, observations, conditions, prescriptions,
// procedures, documents), among other patients with records of their own, through the
// HTTP API on loopback. It prints the p50 of the whole record in one page and of one
// page of 50, each against a reference measured in the same run: a plain search that
// answers as many resources (Observation?_count=N, the rid-ordered page with no
// condition, the cheapest search careslot has), and so shows what the compartment
// walk and the referenced resources cost on top of reading and sending the rows.
//
// The load writes through storage.Tx.Write, the path (and search index) a create takes,
// in transactions of 500; it skips HTTP and validation, which are not what is measured.
//
//	go run ./bench/everything              # make bench
//	go run ./bench/everything -others 50   # more background patients
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/careslot/careslot/bench/benchserver"
	"github.com/careslot/careslot/bench/loadgen"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	others := flag.Int("others", 20, "other patients, each with a record of the same shape")
	ops := flag.Int("ops", 60, "requests per measurement")
	flag.Parse()
	if err := run(context.Background(), *others, *ops); err != nil {
		fmt.Fprintln(os.Stderr, "everything bench:", err)
		os.Exit(1)
	}
}

// record is the shape of one patient's record: 978 resources with the Patient, 1,000
// with the practitioners, medications, organization and location it names.
var record = []struct {
	typ   string
	count int
}{{"Encounter", 150}, {"Observation", 600}, {"Condition", 80}, {"MedicationRequest", 80}, {"Procedure", 27}, {"DocumentReference", 40}}

func run(ctx context.Context, others, ops int) error {
	fmt.Println("careslot Patient/$everything benchmark;", loadgen.Header())
	dbURL, drop, err := storagetest.CreateDatabase(ctx)
	if err != nil {
		return err
	}
	defer drop()
	store, err := storage.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	if err := loadDirectory(ctx, store); err != nil {
		return err
	}
	size := 0
	for p := 0; p <= others; p++ {
		n, err := loadPatient(ctx, store, p)
		if err != nil {
			return err
		}
		if p == 0 {
			size = n
		}
	}
	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return err
	}
	var total int
	db.QueryRow(ctx, `SELECT count(*) FROM resources`).Scan(&total)
	fmt.Printf("loaded %d resources (%d patients) in %s\n", total, others+1, time.Since(start).Round(time.Second))

	base, stop, err := benchserver.Start(ctx, dbURL, false)
	if err != nil {
		return err
	}
	defer stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
	whole := fmt.Sprintf("Patient/p-0/$everything?_count=%d", size+10)
	got, err := entries(ctx, client, base+"/"+whole)
	if err != nil {
		return err
	}
	fmt.Printf("Patient/p-0/$everything answers %d resources in one page\n", got)
	type pair struct{ name, path, reference string }
	for _, m := range []pair{
		{"$everything, whole record in one page", whole, fmt.Sprintf("Observation?_count=%d", got)},
		{"$everything, first page of 50", "Patient/p-0/$everything", "Observation?_count=50"},
	} {
		res := measure(ctx, client, base, m.path, ops)
		ref := measure(ctx, client, base, m.reference, ops)
		fmt.Printf("%s\n%s\n", res.Named(m.name), ref.Named("reference: "+m.reference))
		for _, r := range []loadgen.Result{res, ref} {
			if r.FirstError != nil {
				return r.FirstError
			}
		}
		fmt.Printf("  ratio p50 $everything / reference: %.2f\n", float64(res.P50)/float64(ref.P50))
	}
	return nil
}

func measure(ctx context.Context, client *http.Client, base, path string, ops int) loadgen.Result {
	return loadgen.Run(ctx, loadgen.Options{Clients: 1, Ops: ops, Warmup: 5}, func(ctx context.Context, _, _ int) error {
		_, err := entries(ctx, client, base+"/"+path)
		return err
	})
}

// entries GETs a searchset and counts its entries.
func entries(ctx context.Context, client *http.Client, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %d %s", u, resp.StatusCode, body)
	}
	var b struct{ Entry []json.RawMessage }
	if err := json.Unmarshal(body, &b); err != nil {
		return 0, err
	}
	return len(b.Entry), nil
}

// loadDirectory writes the practitioners, organization, location and medications that
// records refer to.
func loadDirectory(ctx context.Context, store *storage.Store) error {
	return store.InTx(ctx, func(tx *storage.Tx) error {
		docs := []map[string]any{{"resourceType": "Organization", "id": "org", "name": "Bench clinic"},
			{"resourceType": "Location", "id": "room", "name": "Room 1"}}
		for i := 0; i < 10; i++ {
			docs = append(docs, map[string]any{"resourceType": "Practitioner", "id": fmt.Sprintf("doc-%d", i), "name": []any{map[string]any{"family": fmt.Sprintf("Doc%d", i)}}},
				map[string]any{"resourceType": "Medication", "id": fmt.Sprintf("med-%d", i), "code": map[string]any{"text": fmt.Sprintf("drug %d", i)}})
		}
		for _, d := range docs {
			body, _ := json.Marshal(d)
			if _, err := tx.Write(ctx, nil, d["resourceType"].(string), d["id"].(string), body, http.MethodPost); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadPatient writes Patient/p-[p] and its record; it returns how many resources
// $everything should answer for it (the record, and the directory it names).
func loadPatient(ctx context.Context, store *storage.Store, p int) (int, error) {
	pid := fmt.Sprintf("p-%d", p)
	var docs []map[string]any
	docs = append(docs, map[string]any{"resourceType": "Patient", "id": pid, "name": []any{map[string]any{"family": "Bench", "given": []any{pid}}},
		"generalPractitioner": []any{ref("Practitioner/doc-0")}, "managingOrganization": ref("Organization/org")})
	day := func(i int) string {
		return time.Date(2015, 1, 1, 9, 0, 0, 0, time.UTC).AddDate(0, 0, i*7).Format(time.RFC3339)
	}
	subject := ref("Patient/" + pid)
	for _, kind := range record {
		for i := 0; i < kind.count; i++ {
			id := fmt.Sprintf("%s-%s-%d", pid, kind.typ, i)
			enc := ref(fmt.Sprintf("Encounter/%s-Encounter-%d", pid, i%150))
			var d map[string]any
			switch kind.typ {
			case "Encounter":
				d = map[string]any{"status": "finished", "class": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
					"subject": subject, "participant": []any{map[string]any{"individual": ref(fmt.Sprintf("Practitioner/doc-%d", i%10))}},
					"location": []any{map[string]any{"location": ref("Location/room")}}, "serviceProvider": ref("Organization/org"),
					"period": map[string]any{"start": day(i), "end": day(i)}}
			case "Observation":
				d = map[string]any{"status": "final", "code": map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "29463-7", "display": "Body weight"}}},
					"subject": subject, "encounter": enc, "effectiveDateTime": day(i % 150),
					"valueQuantity": map[string]any{"value": 60 + i%30, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}
			case "Condition":
				d = map[string]any{"subject": subject, "encounter": enc, "code": map[string]any{"text": fmt.Sprintf("condition %d", i)}, "onsetDateTime": day(i)}
			case "MedicationRequest":
				d = map[string]any{"status": "active", "intent": "order", "medicationReference": ref(fmt.Sprintf("Medication/med-%d", i%10)),
					"subject": subject, "encounter": enc, "authoredOn": day(i)}
			case "Procedure":
				d = map[string]any{"status": "completed", "subject": subject, "encounter": enc, "code": map[string]any{"text": "procedure"}, "performedDateTime": day(i)}
			case "DocumentReference":
				d = map[string]any{"status": "current", "subject": subject, "context": map[string]any{"encounter": []any{enc}},
					"content": []any{map[string]any{"attachment": map[string]any{"contentType": "text/plain", "data": "VmlzaXQgbm90ZQ=="}}}}
			}
			d["resourceType"], d["id"] = kind.typ, id
			docs = append(docs, d)
		}
	}
	const batch = 500
	for from := 0; from < len(docs); from += batch {
		err := store.InTx(ctx, func(tx *storage.Tx) error {
			for _, d := range docs[from:min(from+batch, len(docs))] {
				body, _ := json.Marshal(d)
				if _, err := tx.Write(ctx, nil, d["resourceType"].(string), d["id"].(string), body, http.MethodPost); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("load %s: %w", pid, err)
		}
	}
	// The record, 10 practitioners, 10 medications, the organization and the location.
	return len(docs) + 22, nil
}

func ref(r string) map[string]any { return map[string]any{"reference": r} }
