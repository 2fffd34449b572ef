// Command crud measures careslot's create, read and update of a realistic Patient
// through the HTTP API on loopback, with 1 and 16 concurrent clients, and the same rows
// inserted directly with pgx into a table identical to careslot's resources table, in
// the same run, on the same database. It prints throughput, p50/p99 and the ratios of
// API create throughput to "storage write" (the target) and to raw insert throughput.
//
// "storage write" is the same create through storage.Tx.Write without HTTP or
// validation: the current row, version, reference, outbox and search index rows, all
// the database work of a create. Creates, raw inserts and storage writes alternate over
// -rounds rounds and each ratio is the median of the rounds', so that other load on the
// machine weighs on all sides alike. One more line says what google/fhir's R4
// validation of the Patient costs in CPU.
//
// By default it starts careslot in-process on a fresh database (dropped at the end);
// -target points it at a running server instead (loopback only), and -database then
// names that server's database for the raw inserts and storage writes.
//
//	go run ./bench/crud [-ops 2000] [-rounds 3] [-clients 1,16] [-cpuprofile cpu.out]
//
// Targets (issue 8, restating issue 2's): create throughput at 16 clients >= 75% of the
// storage write rate (HTTP, JSON handling and validation together cost at most a
// quarter); p99 read latency < 5 ms at 16 clients.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/careslot/careslot/bench/benchserver"
	"github.com/careslot/careslot/bench/loadgen"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/storage"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Targets (issue 8).
const (
	minCreateToWrite = 0.75
	maxReadP99       = 5 * time.Millisecond
)

type config struct {
	target     string
	database   string
	ops        int
	rounds     int
	clients    []int
	cpuProfile string
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "crud:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "crud:", err)
		os.Exit(1)
	}
}

func parseFlags() (config, error) {
	var cfg config
	var clients string
	flag.StringVar(&cfg.target, "target", "", "FHIR base URL of a running careslot (loopback only); default: start one in-process on a fresh database")
	flag.StringVar(&cfg.database, "database", "", "with -target: that server's DATABASE_URL, for the raw insert comparison")
	flag.IntVar(&cfg.ops, "ops", 2000, "operations per measurement")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds of create, raw insert and storage write per client count")
	flag.StringVar(&clients, "clients", "1,16", "comma-separated concurrent client counts")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (in-process server included) to this file")
	flag.Parse()
	for _, c := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 || n > 256 {
			return cfg, fmt.Errorf("-clients: %q is not a count between 1 and 256", c)
		}
		cfg.clients = append(cfg.clients, n)
	}
	if cfg.rounds < 1 || cfg.rounds > 20 {
		return cfg, errors.New("-rounds must be between 1 and 20")
	}
	if cfg.ops < 1 || cfg.ops > 1_000_000 {
		return cfg, errors.New("-ops must be between 1 and 1000000")
	}
	if cfg.target != "" {
		if err := loadgen.RequireLoopback(cfg.target); err != nil {
			return cfg, err
		}
		if cfg.database == "" {
			return cfg, errors.New("-target needs -database (the server's DATABASE_URL) for the raw insert comparison")
		}
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config) error {
	base, dbURL := cfg.target, cfg.database
	if base == "" {
		var stop func()
		var err error
		base, dbURL, stop, err = benchserver.StartFresh(ctx, false)
		if err != nil {
			return err
		}
		defer stop()
	}
	base = strings.TrimRight(base, "/")
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

	// One connection per client, as careslot's own pool (20) gives each of 16 clients.
	poolCfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("connect for raw inserts: %w", err)
	}
	poolCfg.MaxConns = int32(slices.Max(cfg.clients))
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return fmt.Errorf("connect for raw inserts: %w", err)
	}
	defer pool.Close()
	raw, err := newRawTable(ctx, pool)
	if err != nil {
		return err
	}
	defer raw.drop(ctx)

	api := newAPI(base, cfg.clients)
	org, err := api.createOrganization(ctx)
	if err != nil {
		return err
	}
	fmt.Println("careslot CRUD benchmark:", loadgen.Header())
	fmt.Printf("target %s, %d ops per measurement, Patient body %d bytes\n\n", base, cfg.ops, len(patientBody("x", org, 0)))

	if err := reportValidation(patientBody("", org, 0)); err != nil {
		return err
	}
	direct, err := storage.Open(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("open storage for the direct writes: %w", err)
	}
	defer direct.Close()

	var verdicts []string
	for _, clients := range cfg.clients {
		opts := loadgen.Options{Clients: clients, Ops: cfg.ops, Warmup: min(cfg.ops/10, 200)}
		ids := make([]string, 0, cfg.ops*cfg.rounds)
		var mu sync.Mutex

		// Creates, raw inserts and storage writes alternate, round after round, so that
		// whatever else the machine is doing weighs on all; a ratio is the median of the
		// rounds' ratios.
		fmt.Printf("%d client(s)\n", clients)
		var toInsert, toWrite []float64
		var results []loadgen.Result
		for round := 1; round <= cfg.rounds; round++ {
			create := loadgen.Run(ctx, opts, func(ctx context.Context, _, i int) error {
				id, err := api.create(ctx, org, i)
				if err == nil && i >= 0 {
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
				return err
			}).Named(fmt.Sprintf("API create (round %d)", round))
			insert := loadgen.Run(ctx, opts, func(ctx context.Context, _, i int) error {
				return raw.insert(ctx, org, i, clients)
			}).Named(fmt.Sprintf("pgx raw insert (round %d)", round))
			write := loadgen.Run(ctx, opts, func(ctx context.Context, _, i int) error {
				return direct.InTx(ctx, func(tx *storage.Tx) error {
					_, err := tx.Write(ctx, nil, "Patient", storage.NewID(), patientBody("", org, i), http.MethodPost)
					return err
				})
			}).Named(fmt.Sprintf("storage write (round %d)", round))
			toInsert = append(toInsert, ratio(create, insert))
			toWrite = append(toWrite, ratio(create, write))
			results = append(results, create, insert, write)
			for _, r := range []loadgen.Result{create, insert, write} {
				fmt.Println(" ", r)
			}
			fmt.Printf("  round %d: create/storage-write throughput %.1f%%, create/raw-insert %.1f%%\n",
				round, 100*ratio(create, write), 100*ratio(create, insert))
		}
		read := loadgen.Run(ctx, opts, func(ctx context.Context, _, i int) error {
			return api.read(ctx, ids[wrap(i, len(ids))])
		}).Named("API read")
		update := loadgen.Run(ctx, opts, func(ctx context.Context, _, i int) error {
			id := ids[wrap(i, len(ids))]
			return api.update(ctx, org, id, i)
		}).Named("API update")
		results = append(results, read, update)
		fmt.Println(" ", read)
		fmt.Println(" ", update)
		createToWrite := median(toWrite)
		fmt.Printf("  create/storage-write throughput, median of %d rounds: %.1f%%; create/raw-insert %.1f%%\n\n",
			len(toWrite), 100*createToWrite, 100*median(toInsert))
		for _, r := range results {
			if r.Errors > 0 {
				verdicts = append(verdicts, fmt.Sprintf("ERRORS  %s at %d clients: %d failed (%v)", r.Name, clients, r.Errors, r.FirstError))
			}
		}
		if clients == 16 {
			verdicts = append(verdicts, verdict(createToWrite >= minCreateToWrite,
				fmt.Sprintf("create throughput at 16 clients is %.1f%% of storage write (target >= %.0f%%)", 100*createToWrite, 100*minCreateToWrite)))
		}
		verdicts = append(verdicts, verdict(read.P99 < maxReadP99,
			fmt.Sprintf("p99 read at %d client(s) is %s (target < %s)", clients, read.P99.Round(10*time.Microsecond), maxReadP99)))
	}
	fmt.Println(strings.Join(verdicts, "\n"))
	return nil
}

// reportValidation prints what google/fhir's R4 parse and validation of the benchmark
// Patient costs on one core: CPU every create and update pays before any database work.
func reportValidation(body []byte) error {
	v, err := fhir.NewValidator()
	if err != nil {
		return err
	}
	const n = 500
	start := time.Now()
	for range n {
		if _, err := v.Validate(body); err != nil {
			return fmt.Errorf("the benchmark Patient does not validate: %w", err)
		}
	}
	fmt.Printf("R4 parse and validation (google/fhir) of this Patient: %s per resource on one core\n\n", (time.Since(start) / n).Round(time.Microsecond))
	return nil
}

// ratio is a's throughput over b's, 0 when b did nothing.
func ratio(a, b loadgen.Result) float64 {
	if b.Throughput <= 0 {
		return 0
	}
	return a.Throughput / b.Throughput
}

// median of a non-empty list.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func verdict(ok bool, what string) string {
	if ok {
		return "MET     " + what
	}
	return "MISSED  " + what
}

// wrap maps an op number (negative for warmup) onto 0..n-1.
func wrap(i, n int) int { return ((i % n) + n) % n }

// api is a minimal FHIR client with enough idle connections for every client.
type api struct {
	base string
	http *http.Client
}

func newAPI(base string, clients []int) *api {
	most := 1
	for _, c := range clients {
		most = max(most, c)
	}
	tr := &http.Transport{MaxIdleConns: most * 2, MaxIdleConnsPerHost: most * 2, IdleConnTimeout: time.Minute}
	return &api{base: base, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request and fails unless the status is want; it drains the body so the
// connection is reused.
func (a *api) do(ctx context.Context, method, path string, body []byte, want int) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/"+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: %d, want %d: %.300s", method, path, resp.StatusCode, want, out)
	}
	return resp, out, nil
}

// createOrganization stores the organization every benchmark patient refers to, so the
// writes pay for a reference check as real ones do.
func (a *api) createOrganization(ctx context.Context) (string, error) {
	id := "bench-org-" + uuid.NewString()[:8]
	body := `{"resourceType":"Organization","id":"` + id + `","active":true,"name":"Benchmark General Hospital",` +
		`"identifier":[{"system":"http://example.org/fhir/sid/org","value":"` + id + `"}]}`
	_, _, err := a.do(ctx, http.MethodPut, "Organization/"+id, []byte(body), http.StatusCreated)
	return id, err
}

// create POSTs a patient and returns the id from its Location.
func (a *api) create(ctx context.Context, org string, i int) (string, error) {
	resp, _, err := a.do(ctx, http.MethodPost, "Patient", patientBody("", org, i), http.StatusCreated)
	if err != nil {
		return "", err
	}
	// Location: [base]/Patient/[id]/_history/1
	loc := strings.TrimPrefix(resp.Header.Get("Location"), a.base+"/Patient/")
	id, _, _ := strings.Cut(loc, "/")
	if id == "" {
		return "", fmt.Errorf("create: no id in Location %q", resp.Header.Get("Location"))
	}
	return id, nil
}

func (a *api) read(ctx context.Context, id string) error {
	_, _, err := a.do(ctx, http.MethodGet, "Patient/"+id, nil, http.StatusOK)
	return err
}

func (a *api) update(ctx context.Context, org, id string, i int) error {
	_, _, err := a.do(ctx, http.MethodPut, "Patient/"+id, patientBody(id, org, i+1), http.StatusOK)
	return err
}

// rawTable is a copy of careslot's resources table, for the raw insert comparison.
type rawTable struct {
	pool *pgxpool.Pool
	name string
}

func newRawTable(ctx context.Context, pool *pgxpool.Pool) (*rawTable, error) {
	name := "bench_raw_resources_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	ident := pgx.Identifier{name}.Sanitize()
	// LIKE ... INCLUDING ALL copies columns, defaults, identity, constraints and indexes.
	if _, err := pool.Exec(ctx, "CREATE TABLE "+ident+" (LIKE resources INCLUDING ALL)"); err != nil {
		return nil, fmt.Errorf("create the raw insert table: %w", err)
	}
	return &rawTable{pool: pool, name: ident}, nil
}

// insert writes one patient row the way a minimal JSONB store would: one INSERT,
// autocommitted. clients keeps the ids of different runs apart.
func (t *rawTable) insert(ctx context.Context, org string, i, clients int) error {
	id := uuid.NewString()
	_, err := t.pool.Exec(ctx, "INSERT INTO "+t.name+" (type, id, version_id, last_updated, content) VALUES ($1, $2, 1, now(), $3)",
		"Patient", id, patientBody(id, org, i*clients))
	return err
}

func (t *rawTable) drop(ctx context.Context) {
	t.pool.Exec(ctx, "DROP TABLE IF EXISTS "+t.name)
}

// patientBody is a realistic Patient (about 1.5 kB): identifiers, names, contacts, an
// address, a contact person, communication and a reference to its organization.
// id may be empty for a create; i varies the content.
func patientBody(id, org string, i int) []byte {
	idField := ""
	if id != "" {
		idField = `"id":"` + id + `",`
	}
	n := strconv.Itoa(i)
	return []byte(`{"resourceType":"Patient",` + idField +
		`"identifier":[{"use":"usual","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},` +
		`"system":"urn:oid:1.2.36.146.595.217.0.1","value":"MRN-` + n + `","period":{"start":"2001-05-06"},"assigner":{"display":"Acme Healthcare"}},` +
		`{"use":"official","system":"http://ns.electronichealth.net.au/id/hi/ihi/1.0","value":"800360816669` + n + `"}],` +
		`"active":true,` +
		`"name":[{"use":"official","family":"Chalmers-` + n + `","given":["Peter","James"],"prefix":["Mr."]},` +
		`{"use":"usual","given":["Jim"]},{"use":"maiden","family":"Windsor","given":["Peter","James"],"period":{"end":"2002"}}],` +
		`"telecom":[{"system":"phone","value":"(03) 5555 6473","use":"work","rank":1},{"system":"phone","value":"(03) 3410 5613","use":"mobile","rank":2},` +
		`{"system":"email","value":"peter.chalmers.` + n + `@example.org","use":"home"}],` +
		`"gender":"male","birthDate":"1974-12-25","deceasedBoolean":false,` +
		`"address":[{"use":"home","type":"both","text":"534 Erewhon St PeasantVille, Rainbow, Vic  3999","line":["534 Erewhon St"],` +
		`"city":"PleasantVille","district":"Rainbow","state":"Vic","postalCode":"3999","period":{"start":"1974-12-25"}}],` +
		`"maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M","display":"Married"}]},` +
		`"contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"N"}]}],` +
		`"name":{"family":"du Marché","given":["Bénédicte"]},"telecom":[{"system":"phone","value":"+33 (237) 998327"}],` +
		`"address":{"use":"home","type":"both","line":["534 Erewhon St"],"city":"PleasantVille","district":"Rainbow","state":"Vic","postalCode":"3999"},` +
		`"gender":"female","period":{"start":"2012"}}],` +
		`"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en-AU"}]},"preferred":true}],` +
		`"managingOrganization":{"reference":"Organization/` + org + `"}}`)
}
