// Command search measures careslot's typical searches at scale (issue 3): it loads N
// resources (patients, practitioners, schedules, slots and appointments, generated),
// then runs each typical search from 8 concurrent clients through the HTTP API on
// loopback and prints p50/p99 against the targets (p50 < 10 ms, p99 < 50 ms).
//
// The load writes through storage.Tx.Write, the same path (and search index) a create
// takes, in batches of 1,000 per transaction; it skips the HTTP layer, validation and
// the scheduling rules, which are not what is measured here.
//
//	go run ./bench/search                   # 1,000,000 resources (make bench)
//	go run ./bench/search -n 20000          # a quick run
//	go run ./bench/search -n 1000000 -keep  # keep the database, print its URL
//	go run ./bench/search -database URL     # search an already loaded database
//	go run ./bench/search -explain plans.txt  # also write EXPLAIN ANALYZE of each search
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/careslot/careslot/bench/benchserver"
	"github.com/careslot/careslot/bench/loadgen"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/search"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Targets from issue 3.
const (
	maxP50 = 10 * time.Millisecond
	maxP99 = 50 * time.Millisecond
)

type config struct {
	n, clients, ops int
	database        string
	keep            bool
	explain         string
	only            string
	cpuprofile      string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.n, "n", 1_000_000, "resources to load")
	flag.IntVar(&cfg.clients, "clients", 8, "concurrent clients")
	flag.IntVar(&cfg.ops, "ops", 2000, "requests per search")
	flag.StringVar(&cfg.database, "database", "", "search this already loaded database instead of loading a new one")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the database the run loads, and print its URL")
	flag.StringVar(&cfg.explain, "explain", "", "write EXPLAIN ANALYZE of each typical search to this file")
	flag.StringVar(&cfg.only, "only", "", "run only the typical searches whose name contains this")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the searches (server and clients) to this file")
	flag.Parse()
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "search bench:", err)
		os.Exit(1)
	}
}

// shape is how many resources of each kind n resources make.
type shape struct{ doctors, patients, slots, appointments int }

func shapeOf(n int) shape {
	s := shape{doctors: max(10, n/2000), patients: n / 5, slots: n * 2 / 5}
	s.appointments = n - 2*s.doctors - s.patients - s.slots
	return s
}

// epoch anchors generated times: slots start a month ago, appointments span a year
// back and a year ahead. It is fixed per day so a kept database stays meaningful.
var epoch = time.Now().UTC().Truncate(24 * time.Hour)

func run(ctx context.Context, cfg config) error {
	fmt.Println("careslot search benchmark;", loadgen.Header())
	dbURL := cfg.database
	sh := shapeOf(cfg.n)
	if dbURL == "" {
		u, drop, err := storagetest.CreateDatabase(ctx)
		if err != nil {
			return err
		}
		dbURL = u
		if cfg.keep {
			fmt.Println("database:", dbURL)
		} else {
			defer drop()
		}
	} else if err := loadgen.RequireLoopback(dbURL); err != nil {
		return err
	}
	store, err := storage.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	// The benchmark's own look at the database (counts, VACUUM, EXPLAIN) goes through a
	// pool of its own: the store keeps its pool to itself.
	db, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var have int
	db.QueryRow(ctx, `SELECT count(*) FROM resources`).Scan(&have)
	if have == 0 {
		start := time.Now()
		if err := load(ctx, store, sh); err != nil {
			return err
		}
		fmt.Printf("loaded %d resources in %s (%.0f/s)\n", cfg.n, time.Since(start).Round(time.Second), float64(cfg.n)/time.Since(start).Seconds())
		if _, err := db.Exec(ctx, `VACUUM ANALYZE`); err != nil {
			return err
		}
	} else {
		fmt.Printf("searching %d resources already loaded\n", have)
		if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE type = 'Practitioner'), count(*) FILTER (WHERE type = 'Patient'),
			count(*) FILTER (WHERE type = 'Slot'), count(*) FILTER (WHERE type = 'Appointment') FROM resources`).
			Scan(&sh.doctors, &sh.patients, &sh.slots, &sh.appointments); err != nil {
			return err
		}
	}
	var size string
	db.QueryRow(ctx, `SELECT pg_size_pretty(pg_database_size(current_database()))`).Scan(&size)
	fmt.Println("database size:", size)

	base, stop, err := benchserver.Start(ctx, dbURL, false)
	if err != nil {
		return err
	}
	defer stop()
	searches := typicalSearches(sh)
	if cfg.explain != "" {
		if err := explain(ctx, db, searches, cfg.explain); err != nil {
			return err
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.clients}}
	failed := false
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, s := range searches {
		if !strings.Contains(s.name, cfg.only) {
			continue
		}
		res := loadgen.Run(ctx, loadgen.Options{Clients: cfg.clients, Ops: cfg.ops, Warmup: 100}, s.op(client, base, cfg.clients))
		verdict := "ok"
		if res.P50 > maxP50 || res.P99 > maxP99 || res.Errors > 0 {
			verdict, failed = "MISSES TARGET", true
		}
		fmt.Printf("%s  [%s]\n", res.Named(s.name), verdict)
		if res.FirstError != nil {
			fmt.Println("  first error:", res.FirstError)
		}
	}
	if failed {
		fmt.Printf("targets: p50 < %s and p99 < %s for each search, at %d clients\n", maxP50, maxP99, cfg.clients)
	}
	return nil
}

var syllables = strings.Fields("ab ar bel ca del do fer gar hol jo ka lin mar mo nor pe qui ros san ta ur val wen xi yor zan bra cro dre fla gri har ive kel lor mis nes ost pra ter")

// surname i: 1,600 surnames, each shared by about one patient in 1,600.
func surname(i int) string {
	s := syllables[i%len(syllables)] + syllables[(i/len(syllables))%len(syllables)]
	return strings.ToUpper(s[:1]) + s[1:]
}

func slotStart(n int) time.Time {
	return epoch.AddDate(0, 0, -30+n/8).Add(time.Duration(8+n%8) * time.Hour)
}

func appointmentStart(j, total int) time.Time {
	step := 2 * 365 * 24 * time.Hour / time.Duration(max(total, 1))
	return epoch.AddDate(-1, 0, 0).Add(time.Duration(j) * step).Truncate(time.Minute)
}

// load writes the resources kind by kind (references must resolve at each commit), each
// kind in batches from as many workers as there are CPUs.
func load(ctx context.Context, store *storage.Store, sh shape) error {
	phases := []struct {
		typ   string
		count int
		body  func(i int) map[string]any
	}{
		{"Practitioner", sh.doctors, func(i int) map[string]any {
			return map[string]any{"resourceType": "Practitioner", "id": fmt.Sprintf("doc-%d", i), "active": true,
				"identifier": []any{map[string]any{"system": "urn:bench:npi", "value": fmt.Sprintf("NPI%d", i)}},
				"name":       []any{map[string]any{"family": surname(i * 7), "given": []any{"Dana"}, "prefix": []any{"Dr"}}}}
		}},
		{"Schedule", sh.doctors, func(i int) map[string]any {
			return map[string]any{"resourceType": "Schedule", "id": fmt.Sprintf("sch-%d", i), "active": true,
				"actor": []any{map[string]any{"reference": fmt.Sprintf("Practitioner/doc-%d", i)}}}
		}},
		{"Patient", sh.patients, func(i int) map[string]any {
			return map[string]any{"resourceType": "Patient", "id": fmt.Sprintf("p-%d", i), "active": true,
				"identifier": []any{map[string]any{"system": "urn:bench:mrn", "value": fmt.Sprintf("MRN%d", i)}},
				"name":       []any{map[string]any{"family": surname(i), "given": []any{fmt.Sprintf("Given%d", i%97)}}},
				"gender":     []string{"female", "male"}[i%2], "birthDate": fmt.Sprintf("%d-%02d-%02d", 1940+i%70, 1+i%12, 1+i%28),
				"telecom": []any{map[string]any{"system": "phone", "value": fmt.Sprintf("+1555%07d", i)}},
				"address": []any{map[string]any{"city": surname(i/3) + "ville", "postalCode": fmt.Sprintf("%05d", i%100000)}}}
		}},
		{"Slot", sh.slots, func(j int) map[string]any {
			n := j / sh.doctors
			start := slotStart(n)
			status := "free"
			if n%3 == 0 {
				status = "busy"
			}
			return map[string]any{"resourceType": "Slot", "id": fmt.Sprintf("slot-%d", j), "status": status,
				"schedule": map[string]any{"reference": fmt.Sprintf("Schedule/sch-%d", j%sh.doctors)},
				"start":    start.Format(time.RFC3339), "end": start.Add(45 * time.Minute).Format(time.RFC3339)}
		}},
		{"Appointment", sh.appointments, func(j int) map[string]any {
			start := appointmentStart(j, sh.appointments)
			status := "booked"
			switch {
			case j%10 == 0:
				status = "cancelled"
			case start.Before(epoch):
				status = "fulfilled"
			}
			return map[string]any{"resourceType": "Appointment", "id": fmt.Sprintf("a-%d", j), "status": status,
				"start": start.Format(time.RFC3339), "end": start.Add(20 * time.Minute).Format(time.RFC3339),
				"participant": []any{
					map[string]any{"actor": map[string]any{"reference": fmt.Sprintf("Patient/p-%d", j%sh.patients)}, "status": "accepted"},
					map[string]any{"actor": map[string]any{"reference": fmt.Sprintf("Practitioner/doc-%d", (j*7)%sh.doctors)}, "status": "accepted"}}}
		}},
	}
	const batch = 1000
	workers := 2
	for _, ph := range phases {
		start := time.Now()
		batches := make(chan int)
		errc := make(chan error, workers)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for from := range batches {
					err := store.InTx(ctx, func(tx *storage.Tx) error {
						for i := from; i < min(from+batch, ph.count); i++ {
							body, _ := json.Marshal(ph.body(i))
							if _, err := tx.Write(ctx, nil, ph.typ, fmt.Sprint(ph.body(i)["id"]), body, http.MethodPost); err != nil {
								return err
							}
							if err := keepSchedulingTables(ctx, tx, ph.typ, ph.body(i)); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		var err error
	send:
		for from := 0; from < ph.count; from += batch {
			select {
			case batches <- from:
			case err = <-errc:
				break send
			}
		}
		close(batches)
		wg.Wait()
		if err == nil {
			select {
			case err = <-errc:
			default:
			}
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", ph.typ, err)
		}
		fmt.Printf("  %d %s in %s\n", ph.count, ph.typ, time.Since(start).Round(time.Second))
	}
	return nil
}

// keepSchedulingTables does what the scheduling rules (package resources) do on a create
// through the API: a Schedule and a Slot also go into schedules and schedule_slots, which
// $find and the Slot search plan read.
func keepSchedulingTables(ctx context.Context, tx *storage.Tx, typ string, body map[string]any) error {
	id := fmt.Sprint(body["id"])
	switch typ {
	case "Schedule":
		actor := body["actor"].([]any)[0].(map[string]any)["reference"].(string)
		return tx.SetSchedule(ctx, id, &storage.ScheduleIndex{ID: id, Active: true, Actors: []string{actor}})
	case "Slot":
		start, _ := time.Parse(time.RFC3339, body["start"].(string))
		end, _ := time.Parse(time.RFC3339, body["end"].(string))
		schedule := strings.TrimPrefix(body["schedule"].(map[string]any)["reference"].(string), "Schedule/")
		return tx.SetSlot(ctx, id, &storage.SlotIndex{ID: id, ScheduleID: schedule, Start: start, End: end, Status: body["status"].(string)})
	}
	return nil
}

// typicalSearch is one search of issue 3: a name, and a query made afresh for each request.
type typicalSearch struct {
	name  string
	query func(r *rand.Rand) string
	paged bool // follow next links to page 10, each page one request
}

func typicalSearches(sh shape) []typicalSearch {
	week := epoch.AddDate(0, 0, 7)
	return []typicalSearch{
		{name: "patient by identifier", query: func(r *rand.Rand) string {
			return "Patient?identifier=" + url.QueryEscape(fmt.Sprintf("urn:bench:mrn|MRN%d", r.Intn(sh.patients)))
		}},
		{name: "patient by family prefix", query: func(r *rand.Rand) string {
			return "Patient?family=" + strings.ToLower(surname(r.Intn(1600))[:4]) + "&_count=20"
		}},
		{name: "patient by family prefix, sent 300 times", query: func(r *rand.Rand) string {
			// Issue 14: 300 repeats of one parameter kept the planner busy for minutes.
			return "Patient?" + strings.Repeat("family="+strings.ToLower(surname(r.Intn(1600))[:4])+"&", 300) + "_count=20"
		}},
		{name: "doctor's free slots in a week", query: func(r *rand.Rand) string {
			return fmt.Sprintf("Slot?schedule.actor=Practitioner/doc-%d&status=free&start=ge%s&start=lt%s", r.Intn(sh.doctors),
				week.Format("2006-01-02"), week.AddDate(0, 0, 7).Format("2006-01-02"))
		}},
		{name: "patient's upcoming appointments + _include", query: func(r *rand.Rand) string {
			return fmt.Sprintf("Appointment?patient=Patient/p-%d&date=ge%s&_sort=date&_include=Appointment:actor:Practitioner",
				r.Intn(sh.patients), epoch.Format("2006-01-02"))
		}},
		{name: "Appointment?date= day, _sort, pages 1-10", paged: true, query: func(r *rand.Rand) string {
			day := epoch.AddDate(0, 0, -300+r.Intn(600))
			return fmt.Sprintf("Appointment?date=ge%s&date=lt%s&_sort=date&_count=20", day.Format("2006-01-02"), day.AddDate(0, 0, 1).Format("2006-01-02"))
		}},
	}
}

// op makes the loadgen operation of a search: one GET; paged searches keep each client's
// place and follow its next link, starting a new search after page 10.
func (s typicalSearch) op(client *http.Client, base string, clients int) loadgen.Op {
	type place struct {
		next string
		page int
		rnd  *rand.Rand
	}
	places := make([]*place, clients)
	for i := range places {
		places[i] = &place{rnd: rand.New(rand.NewSource(int64(i + 1)))}
	}
	return func(ctx context.Context, c, _ int) error {
		p := places[c]
		u := p.next
		if u == "" || !s.paged {
			u, p.page = base+"/"+s.query(p.rnd), 1
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %d %s", u, resp.StatusCode, body)
		}
		if s.paged {
			var b struct {
				Link []struct{ Relation, URL string }
			}
			if err := json.Unmarshal(body, &b); err != nil {
				return err
			}
			p.next = ""
			for _, l := range b.Link {
				if l.Relation == "next" && p.page < 10 {
					p.next, p.page = l.URL, p.page+1
				}
			}
		}
		return nil
	}
}

// explain writes the plan Postgres runs for the page query of each typical search.
func explain(ctx context.Context, db *pgxpool.Pool, searches []typicalSearch, path string) error {
	var out strings.Builder
	r := rand.New(rand.NewSource(99))
	for _, s := range searches {
		rawType, rawQuery, _ := strings.Cut(s.query(r), "?")
		params, _ := url.ParseQuery(rawQuery)
		q, err := search.Definitions().Parse(rawType, params, search.ParseOptions{DefaultCount: 50, MaxCount: 1000})
		if err != nil {
			return err
		}
		sql, args := q.PageSQL(search.Definitions(), q.Count+1)
		// The second run is the one shown: warm, as the benchmark's searches are.
		var lines []string
		for run := 0; run < 2; run++ {
			rows, err := db.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF) "+sql, append([]any{pgx.QueryExecModeExec}, args...)...)
			if err != nil {
				return fmt.Errorf("explain %s: %w", s.name, err)
			}
			lines = lines[:0]
			for rows.Next() {
				var line string
				rows.Scan(&line)
				lines = append(lines, line)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return errors.Join(fmt.Errorf("explain %s", s.name), err)
			}
		}
		fmt.Fprintf(&out, "## %s\n%s?%s\n\n", s.name, rawType, rawQuery)
		for _, line := range lines {
			out.WriteString("    " + line + "\n")
		}
		out.WriteString("\n")
	}
	return os.WriteFile(path, []byte(out.String()), 0o644)
}
