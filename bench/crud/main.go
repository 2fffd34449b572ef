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
// machine weighs on all sides alike. Each line also says what one operation cost in
// CPU, in this process and in the database's backends: on a shared machine that moves
// far less than throughput, and on a saturated one throughput is about its inverse.
// A "storage read" line (storage.Store.Read, no HTTP) is the same-run reference of the
// read's latency. One more line says what google/fhir's R4 validation of the Patient
// costs in CPU.
//
// By default it starts careslot in-process on a fresh database (dropped at the end);
// -target points it at a running server instead (loopback only), and -database then
// names that server's database for the raw inserts and storage writes.
//
// The in-process server requires tokens as careslot serve does, and every request
// carries an admin's (-token admin, the default): the real verifier (its cache), the
// access decision and the audit of each request are measured with the rest. -token none
// serves without tokens, with the server's own access, to see what they add.
//
//	go run ./bench/crud [-ops 2000] [-rounds 3] [-clients 1,16] [-token admin|none]
//	    [-cpuprofile cpu.out] [-mutexprofile mutex.out] [-blockprofile block.out]
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
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/careslot/careslot/bench/benchserver"
	"github.com/careslot/careslot/bench/loadgen"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/smart-auth/smarttest"
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
	token      string
	cpuProfile string
	// mutexProfile and blockProfile are where the contention of the run goes, if anywhere.
	mutexProfile, blockProfile string
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
	flag.StringVar(&cfg.token, "token", "admin", "the in-process server's authentication: admin (every request with an admin's token) or none (no token, the server's own access)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (in-process server included) to this file")
	flag.StringVar(&cfg.mutexProfile, "mutexprofile", "", "write a mutex contention profile of the whole run to this file")
	flag.StringVar(&cfg.blockProfile, "blockprofile", "", "write a blocking profile of the whole run to this file")
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
	if cfg.token != "admin" && cfg.token != "none" {
		return cfg, fmt.Errorf("-token: %q is neither admin nor none", cfg.token)
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
	var token string
	if base == "" {
		var stop func()
		var err error
		if cfg.token == "none" {
			base, dbURL, stop, err = benchserver.StartFresh(ctx, false)
		} else {
			var issuer *smarttest.Issuer
			if issuer, err = smarttest.NewIssuer(); err != nil {
				return err
			}
			if base, dbURL, stop, err = benchserver.StartFreshWithTokens(ctx, false, issuer); err != nil {
				return err
			}
			token, err = issuer.Mint(smarttest.Admin(base, "user/*.cruds"))
		}
		if err != nil {
			return err
		}
		defer stop()
	}
	base = strings.TrimRight(base, "/")
	if cfg.mutexProfile != "" {
		runtime.SetMutexProfileFraction(5)
		defer writeProfile("mutex", cfg.mutexProfile)
	}
	if cfg.blockProfile != "" {
		runtime.SetBlockProfileRate(int(50 * time.Microsecond))
		defer writeProfile("block", cfg.blockProfile)
	}
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

	api := newAPI(base, token, cfg.clients)
	org, err := api.createOrganization(ctx)
	if err != nil {
		return err
	}
	fmt.Println("careslot CRUD benchmark:", loadgen.Header())
	fmt.Printf("target %s, %d ops per measurement, Patient body %d bytes, token: %s\n\n", base, cfg.ops, len(patientBody("x", org, 0)), cfg.token)

	if err := reportValidation(patientBody("", org, 0)); err != nil {
		return err
	}
	direct, err := storage.Open(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("open storage for the direct writes: %w", err)
	}
	defer direct.Close()

	m := &meter{pool: pool}
	var verdicts []string
	for _, clients := range cfg.clients {
		opts := loadgen.Options{Clients: clients, Ops: cfg.ops, Warmup: min(cfg.ops/10, 200)}
		ids := make([]string, 0, cfg.ops*cfg.rounds)
		var mu sync.Mutex

		// Creates, raw inserts and storage writes alternate, round after round, so that
		// whatever else the machine is doing weighs on all; a ratio is the median of the
		// rounds' ratios.
		fmt.Printf("%d client(s)\n", clients)
		var toInsert, toWrite, cpuToWrite []float64
		var results []loadgen.Result
		for round := 1; round <= cfg.rounds; round++ {
			create := m.run(ctx, fmt.Sprintf("API create (round %d)", round), opts, func(ctx context.Context, _, i int) error {
				id, err := api.create(ctx, org, i)
				if err == nil && i >= 0 {
					mu.Lock()
					ids = append(ids, id)
					mu.Unlock()
				}
				return err
			})
			insert := m.run(ctx, fmt.Sprintf("pgx raw insert (round %d)", round), opts, func(ctx context.Context, _, i int) error {
				return raw.insert(ctx, org, i, clients)
			})
			write := m.run(ctx, fmt.Sprintf("storage write (round %d)", round), opts, func(ctx context.Context, _, i int) error {
				return direct.InTx(ctx, func(tx *storage.Tx) error {
					_, err := tx.Write(ctx, nil, "Patient", storage.NewID(), patientBody("", org, i), http.MethodPost)
					return err
				})
			})
			toInsert = append(toInsert, ratio(create.Result, insert.Result))
			toWrite = append(toWrite, ratio(create.Result, write.Result))
			if write.cpu > 0 {
				cpuToWrite = append(cpuToWrite, float64(create.cpu)/float64(write.cpu))
			}
			results = append(results, create.Result, insert.Result, write.Result)
			for _, r := range []measured{create, insert, write} {
				fmt.Println(" ", r)
			}
			fmt.Printf("  round %d: create/storage-write throughput %.1f%%, create/raw-insert %.1f%%\n",
				round, 100*ratio(create.Result, write.Result), 100*ratio(create.Result, insert.Result))
		}
		read := m.run(ctx, "API read", opts, func(ctx context.Context, _, i int) error {
			return api.read(ctx, ids[wrap(i, len(ids))])
		})
		storageRead := m.run(ctx, "storage read", opts, func(ctx context.Context, _, i int) error {
			_, err := direct.Read(ctx, "Patient", ids[wrap(i, len(ids))])
			return err
		})
		update := m.run(ctx, "API update", opts, func(ctx context.Context, _, i int) error {
			id := ids[wrap(i, len(ids))]
			return api.update(ctx, org, id, i)
		})
		results = append(results, read.Result, storageRead.Result, update.Result)
		fmt.Println(" ", read)
		fmt.Println(" ", storageRead)
		fmt.Println(" ", update)
		createToWrite := median(toWrite)
		fmt.Printf("  create/storage-write throughput, median of %d rounds: %.1f%%; create/raw-insert %.1f%%\n",
			len(toWrite), 100*createToWrite, 100*median(toInsert))
		if len(cpuToWrite) > 0 {
			fmt.Printf("  CPU per create / CPU per storage write, median: %.2f (throughput on a saturated machine is about its inverse)\n", median(cpuToWrite))
		}
		fmt.Println()
		for _, r := range results {
			if r.Errors > 0 {
				verdicts = append(verdicts, fmt.Sprintf("ERRORS  %s at %d clients: %d failed (%v)", r.Name, clients, r.Errors, r.FirstError))
			}
		}
		if clients == 16 {
			verdicts = append(verdicts, verdict(createToWrite >= minCreateToWrite,
				fmt.Sprintf("create throughput at 16 clients is %.1f%% of storage write (target >= %.0f%%)", 100*createToWrite, 100*minCreateToWrite)))
		}
		verdicts = append(verdicts, verdict(read.Result.P99 < maxReadP99,
			fmt.Sprintf("p99 read at %d client(s) is %s (target < %s; storage read's p99 in the same run %s)", clients,
				read.Result.P99.Round(10*time.Microsecond), maxReadP99, storageRead.Result.P99.Round(10*time.Microsecond))))
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

// meter runs a measurement and adds what it cost in CPU per operation: this process
// (the load generator and, unless -target, careslot itself) and the database's backends.
// Unlike throughput, that hardly moves when other programs load the machine.
type meter struct{ pool *pgxpool.Pool }

type measured struct {
	loadgen.Result
	self, others time.Duration
	cpu          time.Duration // per operation, both together
}

func (m measured) String() string {
	return m.Result.String() + "  " + loadgen.CPUPerOp(m.Result, m.self, m.others)
}

func (m *meter) run(ctx context.Context, name string, opts loadgen.Options, op loadgen.Op) measured {
	before := loadgen.SampleCPU(m.backends(ctx))
	r := loadgen.Run(ctx, opts, op).Named(name)
	after := loadgen.SampleCPU(m.backends(ctx))
	self, others := loadgen.CPUUsed(before, after)
	out := measured{Result: r, self: self, others: others}
	if r.Ops > 0 {
		out.cpu = (self + others) / time.Duration(r.Ops)
	}
	return out
}

// backends are the process ids of the database's server processes: careslot's
// connections, the benchmark's own, autovacuum's.
func (m *meter) backends(ctx context.Context) []int {
	rows, err := m.pool.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		return nil
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil
	}
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out
}

// writeProfile writes the named runtime profile (mutex, block) to path.
func writeProfile(name, path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crud:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "crud:", err)
	}
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

// api is a minimal FHIR client with enough idle connections for every client; token,
// if any, goes with every request.
type api struct {
	base  string
	token string
	http  *http.Client
}

func newAPI(base, token string, clients []int) *api {
	most := 1
	for _, c := range clients {
		most = max(most, c)
	}
	tr := &http.Transport{MaxIdleConns: most * 2, MaxIdleConnsPerHost: most * 2, IdleConnTimeout: time.Minute}
	return &api{base: base, token: token, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
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
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
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
