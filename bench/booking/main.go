// Command booking measures how many appointments per second careslot books through the
// HTTP API on loopback, in two runs: 16 clients booking distinct slots (no contention),
// and 16 clients fighting over 100 slots (each slot won once, the rest refused with 409).
// Each run is compared with the raw rate of the same transaction shape written directly
// with pgx against identical tables in the same database: lock the slot row, check it is
// free and the patient is insured, insert the appointment and its time (under the same
// exclusion constraint), mark the slot busy, and write a history row and an outbox row
// for each of the two resources, as careslot does; commit. What the raw shape leaves out
// is careslot's own work: HTTP, R4 validation, the rules in Go, the reference rows and
// the search index. A minimal raw shape (no history, no outbox) is printed too.
//
// It starts careslot in-process on a fresh database, dropped at the end.
//
//	go run ./bench/booking [-ops 2000] [-clients 16] [-slots 100] [-rounds 5]
//
// Target (issue 4): bookings per second at least 30% of the raw rate, in both runs.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careslot/careslot/bench/benchserver"
	"github.com/careslot/careslot/bench/loadgen"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// minRatio is issue 4's target: API bookings/s at least this share of the raw rate.
const minRatio = 0.30

type config struct {
	ops, clients, slots, rounds int
	cpuProfile                  string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.ops, "ops", 2000, "bookings of distinct slots")
	flag.IntVar(&cfg.clients, "clients", 16, "concurrent clients")
	flag.IntVar(&cfg.slots, "slots", 100, "slots fought over per round")
	flag.IntVar(&cfg.rounds, "rounds", 5, "rounds of the fight")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (in-process server included) to this file")
	flag.Parse()
	if cfg.ops < cfg.clients || cfg.clients < 1 || cfg.slots < 1 || cfg.rounds < 1 {
		fmt.Fprintln(os.Stderr, "booking: -ops must be at least -clients, and all counts positive")
		os.Exit(2)
	}
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "booking:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	base, dbURL, stop, err := benchserver.StartFresh(ctx, true)
	if err != nil {
		return err
	}
	defer stop()
	// One connection per client for the raw runs, as careslot's own pool gives its clients.
	poolCfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	poolCfg.MaxConns = int32(cfg.clients)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	c := &client{base: base, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.clients * 2}, Timeout: time.Minute}}

	fmt.Println("booking benchmark:", loadgen.Header())
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fx, err := setUp(ctx, c, cfg)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	raw, err := newRawStore(ctx, pool, "bench_raw", true)
	if err != nil {
		return err
	}
	defer raw.drop(ctx)
	minimal, err := newRawStore(ctx, pool, "bench_minimal", false)
	if err != nil {
		return err
	}
	defer minimal.drop(ctx)

	// Distinct slots: op i books slot i/clients of doctor i%clients for patient i%clients,
	// so no two bookings contend and no patient is double-booked.
	distinct := func(book func(ctx context.Context, s slot, patient string) (bool, error)) loadgen.Result {
		return loadgen.Run(ctx, loadgen.Options{Clients: cfg.clients, Ops: cfg.ops}, func(ctx context.Context, _, i int) error {
			d := i % cfg.clients
			won, err := book(ctx, fx.distinct[d][i/cfg.clients], fx.patients[d])
			if err == nil && !won {
				err = errors.New("a distinct slot was refused")
			}
			return err
		})
	}
	minDistinct := distinct(minimal.book).Named("minimal pgx, distinct slots")
	rawDistinct := distinct(raw.book).Named("raw pgx, distinct slots")
	apiDistinct := distinct(c.book).Named("API, distinct slots")

	n := cfg.rounds
	minFight := fightRounds(ctx, cfg, fx.fight[:n], fx.patients, minimal.book).Named("minimal pgx, fight")
	rawFight := fightRounds(ctx, cfg, fx.fight[n:2*n], fx.patients, raw.book).Named("raw pgx, fight")
	apiFight := fightRounds(ctx, cfg, fx.fight[2*n:], fx.patients, c.book).Named("API, fight")

	for _, r := range []loadgen.Result{minDistinct, rawDistinct, apiDistinct, minFight, rawFight, apiFight} {
		fmt.Println(r)
	}
	report := func(what string, api, raw loadgen.Result) {
		ratio := 0.0
		if raw.Throughput > 0 {
			ratio = api.Throughput / raw.Throughput
		}
		verdict := "meets"
		if ratio < minRatio {
			verdict = "MISSES"
		}
		fmt.Printf("%-16s %8.1f bookings/s API vs %8.1f raw: %.0f%% (%s the %.0f%% target)\n",
			what, api.Throughput, raw.Throughput, ratio*100, verdict, minRatio*100)
	}
	report("distinct slots", apiDistinct, rawDistinct)
	report("fight", apiFight, rawFight)
	fmt.Printf("(against the minimal shape: distinct %.0f%%, fight %.0f%%)\n",
		100*apiDistinct.Throughput/minDistinct.Throughput, 100*apiFight.Throughput/minFight.Throughput)
	for _, r := range []loadgen.Result{minDistinct, rawDistinct, apiDistinct, minFight, rawFight, apiFight} {
		if r.Errors > 0 {
			return fmt.Errorf("%s: %d errors, first: %v", r.Name, r.Errors, r.FirstError)
		}
	}
	return nil
}

// fightRounds runs one fight per round, each over its own slots, and sums them: Ops are
// the bookings won, Throughput bookings won per second; latencies are of every attempt.
func fightRounds(ctx context.Context, cfg config, rounds [][]slot, patients []string,
	book func(ctx context.Context, s slot, patient string) (bool, error)) loadgen.Result {
	var total loadgen.Result
	var won, attempts int
	for _, slots := range rounds {
		var taken sync.Map // slot index -> true once anyone has it
		var left atomic.Int64
		left.Store(int64(len(slots)))
		var wins atomic.Int64
		rctx, cancel := context.WithCancel(ctx)
		r := loadgen.Run(rctx, loadgen.Options{Clients: cfg.clients, Ops: len(slots) * cfg.clients * 4}, func(ctx context.Context, client, _ int) error {
			// Pick a slot not yet known to be taken, as a client looking at fresh
			// search results would; everyone sees the same few free slots at the end.
			k := rand.IntN(len(slots))
			for tries := 0; tries < len(slots); tries++ {
				if _, done := taken.Load(k); !done {
					break
				}
				k = (k + 1) % len(slots)
			}
			// The round ends (ctx is cancelled) as soon as every slot is known taken;
			// a booking already on its way must still finish and be counted.
			ok, err := book(context.WithoutCancel(ctx), slots[k], patients[client])
			if err != nil {
				return err
			}
			if _, already := taken.LoadOrStore(k, true); !already && left.Add(-1) == 0 {
				defer cancel()
			}
			if ok {
				wins.Add(1)
			}
			return nil
		})
		cancel()
		won += int(wins.Load())
		attempts += r.Ops
		total.Elapsed += r.Elapsed
		total.Errors += r.Errors
		if total.FirstError == nil {
			total.FirstError = r.FirstError
		}
		// The rounds' percentiles cannot be merged exactly; the worst round's is reported.
		total.P50, total.P90, total.P99, total.Max = max(total.P50, r.P50), max(total.P90, r.P90), max(total.P99, r.P99), max(total.Max, r.Max)
		if int(wins.Load()) != len(slots) {
			total.Errors++
			total.FirstError = fmt.Errorf("a round booked %d of %d slots", wins.Load(), len(slots))
		}
	}
	total.Clients, total.Ops = cfg.clients, won
	if total.Elapsed > 0 {
		total.Throughput = float64(won) / total.Elapsed.Seconds()
	}
	fmt.Printf("  (fight: %d bookings won in %d attempts)\n", won, attempts)
	return total
}

// slot is a bookable slot: its id, time and doctor.
type slot struct {
	id, doctor, start, end string
}

// fixture is what setUp made: per-client doctors' slots, the fight's slots per round,
// and one insured patient per client.
type fixture struct {
	distinct [][]slot // [doctor][k]
	fight    [][]slot // [round][k]; the API and the raw runs get different rounds
	patients []string
}

func setUp(ctx context.Context, c *client, cfg config) (*fixture, error) {
	fx := &fixture{}
	insurer, err := c.create(ctx, map[string]any{"resourceType": "Organization", "name": "Benchmark Insurance"})
	if err != nil {
		return nil, err
	}
	for i := 0; i < cfg.clients; i++ {
		p, err := c.create(ctx, map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": fmt.Sprint("Patient", i)}}})
		if err != nil {
			return nil, err
		}
		if _, err := c.create(ctx, map[string]any{"resourceType": "Coverage", "status": "active",
			"beneficiary": ref("Patient", p), "payor": []any{ref("Organization", insurer)},
			"period": map[string]any{"start": "2020-01-01", "end": "2099-12-31"}}); err != nil {
			return nil, err
		}
		fx.patients = append(fx.patients, p)
	}
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	perDoctor := (cfg.ops + cfg.clients - 1) / cfg.clients
	for i := 0; i < cfg.clients; i++ {
		slots, err := c.doctorWithSlots(ctx, day, perDoctor)
		if err != nil {
			return nil, err
		}
		fx.distinct = append(fx.distinct, slots)
	}
	// The fight's slots come after the distinct ones: the same patients book both.
	fightDay := day.Add(time.Duration(perDoctor)*30*time.Minute).AddDate(0, 0, 1)
	fightSlots, err := c.doctorWithSlots(ctx, fightDay, 3*cfg.rounds*cfg.slots)
	if err != nil {
		return nil, err
	}
	for r := 0; r < 3*cfg.rounds; r++ {
		fx.fight = append(fx.fight, fightSlots[r*cfg.slots:(r+1)*cfg.slots])
	}
	return fx, nil
}

// client is a minimal FHIR client.
type client struct {
	base string
	http *http.Client
}

func (c *client) do(ctx context.Context, method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out, nil
}

func (c *client) create(ctx context.Context, doc map[string]any) (string, error) {
	status, out, err := c.do(ctx, http.MethodPost, doc["resourceType"].(string), doc)
	if err != nil {
		return "", err
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("create %s: %d %v", doc["resourceType"], status, out)
	}
	return out["id"].(string), nil
}

// doctorWithSlots makes a doctor available all day every day, generates n 30-minute
// slots from day on with $generate-slots, and lists them in time order with $find.
func (c *client) doctorWithSlots(ctx context.Context, day time.Time, n int) ([]slot, error) {
	doctor, err := c.create(ctx, map[string]any{"resourceType": "Practitioner"})
	if err != nil {
		return nil, err
	}
	if _, err := c.create(ctx, map[string]any{"resourceType": "PractitionerRole", "practitioner": ref("Practitioner", doctor),
		"availableTime": []any{map[string]any{"allDay": true}}}); err != nil {
		return nil, err
	}
	sched, err := c.create(ctx, map[string]any{"resourceType": "Schedule", "actor": []any{ref("Practitioner", doctor)}})
	if err != nil {
		return nil, err
	}
	end := day.Add(time.Duration(n) * 30 * time.Minute)
	params := map[string]any{"resourceType": "Parameters", "parameter": []any{
		map[string]any{"name": "start", "valueDateTime": day.Format(time.RFC3339)},
		map[string]any{"name": "end", "valueDateTime": end.Format(time.RFC3339)},
		map[string]any{"name": "slot-length", "valueInteger": 30},
	}}
	if status, out, err := c.do(ctx, http.MethodPost, "Schedule/"+sched+"/$generate-slots", params); err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("$generate-slots: %d %v %v", status, out, err)
	}
	q := url.Values{"start": {day.Format(time.RFC3339)}, "end": {end.Format(time.RFC3339)}, "practitioner": {"Practitioner/" + doctor}, "_count": {"500"}}
	var out []slot
	for len(out) < n {
		status, b, err := c.do(ctx, http.MethodGet, "Appointment/$find?"+q.Encode(), nil)
		if err != nil || status != http.StatusOK {
			return nil, fmt.Errorf("$find: %d %v %v", status, b, err)
		}
		entries, _ := b["entry"].([]any)
		if len(entries) == 0 {
			return nil, fmt.Errorf("$find: %d slots, want %d", len(out), n)
		}
		for _, e := range entries {
			a := e.(map[string]any)["resource"].(map[string]any)
			ref := a["slot"].([]any)[0].(map[string]any)["reference"].(string)
			out = append(out, slot{id: ref[len("Slot/"):], doctor: doctor, start: a["start"].(string), end: a["end"].(string)})
		}
		q.Set("start", out[len(out)-1].end)
	}
	return out[:n], nil
}

// appointment is the booking careslot receives and the raw store writes alike.
func appointment(s slot, patient string) map[string]any {
	return map[string]any{"resourceType": "Appointment", "status": "booked", "description": "Benchmark visit",
		"start": s.start, "end": s.end, "slot": []any{ref("Slot", s.id)},
		"participant": []any{
			map[string]any{"actor": ref("Patient", patient), "required": "required", "status": "accepted"},
			map[string]any{"actor": ref("Practitioner", s.doctor), "required": "required", "status": "accepted"},
		}}
}

// book POSTs the appointment: true on 201, false on 409 (someone else has the slot).
func (c *client) book(ctx context.Context, s slot, patient string) (bool, error) {
	status, out, err := c.do(ctx, http.MethodPost, "Appointment", appointment(s, patient))
	switch {
	case err != nil:
		return false, err
	case status == http.StatusCreated:
		return true, nil
	case status == http.StatusConflict:
		return false, nil
	}
	return false, fmt.Errorf("book: %d %v", status, out)
}

func ref(typ, id string) map[string]any { return map[string]any{"reference": typ + "/" + id} }

// rawStore is the same booking written directly with pgx into copies of careslot's
// tables (LIKE ... INCLUDING ALL copies the exclusion constraint and the coverage index),
// holding copies of the slots and coverages. With history it also writes the version
// and outbox rows careslot writes for each resource.
type rawStore struct {
	pool                               *pgxpool.Pool
	history                            bool
	resources, versions, outbox, times string
}

func newRawStore(ctx context.Context, pool *pgxpool.Pool, prefix string, history bool) (*rawStore, error) {
	r := &rawStore{pool: pool, history: history,
		resources: pgx.Identifier{prefix + "_resources"}.Sanitize(), versions: pgx.Identifier{prefix + "_versions"}.Sanitize(),
		outbox: pgx.Identifier{prefix + "_outbox"}.Sanitize(), times: pgx.Identifier{prefix + "_times"}.Sanitize()}
	for _, sql := range []string{
		"CREATE TABLE " + r.resources + " (LIKE resources INCLUDING ALL)",
		"CREATE TABLE " + r.versions + " (LIKE resource_versions INCLUDING ALL)",
		"CREATE TABLE " + r.outbox + " (LIKE outbox INCLUDING ALL)",
		"CREATE TABLE " + r.times + " (LIKE appointment_times INCLUDING ALL)",
		"INSERT INTO " + r.resources + " (type, id, version_id, last_updated, content) " +
			"SELECT type, id, version_id, last_updated, content FROM resources WHERE type IN ('Slot', 'Coverage')",
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("raw tables: %w", err)
		}
	}
	return r, nil
}

func (r *rawStore) drop(ctx context.Context) {
	r.pool.Exec(ctx, "DROP TABLE IF EXISTS "+r.resources+", "+r.versions+", "+r.outbox+", "+r.times)
}

// book is one booking transaction: lock the slot, check it is free and the patient
// insured, insert the appointment and its times, mark the slot busy, commit.
func (r *rawStore) book(ctx context.Context, s slot, patient string) (bool, error) {
	won := false
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		var slotRID int64
		var status string
		if err := tx.QueryRow(ctx, "SELECT rid, content->>'status' FROM "+r.resources+" WHERE type = 'Slot' AND id = $1 FOR UPDATE", s.id).Scan(&slotRID, &status); err != nil {
			return err
		}
		if status != "free" {
			return nil
		}
		var insured bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+r.resources+" WHERE type = 'Coverage' AND content -> 'beneficiary' ->> 'reference' = $1 AND content->>'status' = 'active')",
			"Patient/"+patient).Scan(&insured); err != nil {
			return err
		}
		if !insured {
			return errors.New("raw: patient not insured")
		}
		id := fmt.Sprintf("raw-%d", rand.Int64())
		body, _ := json.Marshal(appointment(s, patient))
		var rid int64
		if err := tx.QueryRow(ctx, "INSERT INTO "+r.resources+" (type, id, version_id, last_updated, content) VALUES ('Appointment', $1, 1, now(), $2) RETURNING rid", id, body).Scan(&rid); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "INSERT INTO "+r.times+" (appointment_id, actor_type, actor_id, during) VALUES "+
			"($1, 'Patient', $2, tstzrange($4::timestamptz, $5::timestamptz)), ($1, 'Practitioner', $3, tstzrange($4::timestamptz, $5::timestamptz)) ON CONFLICT DO NOTHING",
			id, patient, s.doctor, s.start, s.end)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 2 {
			return errRefused
		}
		var slotBody []byte
		if err := tx.QueryRow(ctx, "UPDATE "+r.resources+" SET content = jsonb_set(content, '{status}', '\"busy\"'), version_id = version_id + 1, last_updated = now() WHERE rid = $1 RETURNING content", slotRID).Scan(&slotBody); err != nil {
			return err
		}
		if r.history {
			for _, w := range []struct {
				rid     int64
				typ, id string
				version int
				body    []byte
			}{{rid, "Appointment", id, 1, body}, {slotRID, "Slot", s.id, 2, slotBody}} {
				if _, err := tx.Exec(ctx, "INSERT INTO "+r.versions+" (rid, version_id, type, id, last_updated, method, content) VALUES ($1, $2, $3, $4, now(), 'PUT', $5)",
					w.rid, w.version, w.typ, w.id, w.body); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "INSERT INTO "+r.outbox+" (rid, type, id, version_id, action) VALUES ($1, $2, $3, $4, 'update')",
					w.rid, w.typ, w.id, w.version); err != nil {
					return err
				}
			}
		}
		won = true
		return nil
	})
	if errors.Is(err, errRefused) {
		return false, nil
	}
	return won, err
}

var errRefused = errors.New("refused")
