// Run: CARESLOT_SOAK=1 [CARESLOT_SOAK_DURATION=90s] [CARESLOT_SOAK_WORKERS=24] go test -run TestSoak -count=1 -v ./fhir/
package fhir_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TestSoak drives one careslot with many clients doing what a busy clinic does at once:
// patients and observations that refer to each other, Bundles, conditional
// interactions, history and paged searches, and booking, rescheduling, cancelling and
// answering appointments on a few slots of a few doctors. Every answer must be one the
// interaction defines (no 5xx); at the end the data must hold its invariants.
func TestSoak(t *testing.T) {
	if os.Getenv("CARESLOT_SOAK") == "" {
		t.Skip("set CARESLOT_SOAK=1 to run the soak test")
	}
	duration := soakEnvDuration(t, "CARESLOT_SOAK_DURATION", 90*time.Second)
	workers := soakEnvInt(t, "CARESLOT_SOAK_WORKERS", 24)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CARESLOT_SOAK_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("soak: %v, %d workers, seed %d", duration, workers, seed)

	s := startSoakServer(t)
	w := newSoakWorld(t, s)
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for time.Now().Before(deadline) {
				w.step(rng)
			}
		}()
	}
	stuck := watchIdleInTransaction(s, deadline)
	wg.Wait()

	w.stats.report(t)
	for _, l := range <-stuck {
		t.Errorf("a transaction sat idle for over 2 s during the run: %s", l)
	}
	s.reportLogs(t)
	checkSoakInvariants(t, s, w)
	if n := w.stats.failureCount(); n > 0 {
		t.Errorf("%d answers were not a status the interaction defines (see above)", n)
	}
}

func soakEnvDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func soakEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s must be a positive number, not %q", name, v)
	}
	return n
}

// soakServer is careslot on a database of its own, with its error log kept: a 500's
// body says nothing, the log says why.
type soakServer struct {
	*app.App
	db     *pgxpool.Pool // the test's own look at the tables
	base   string
	client *http.Client
	token  string // the clinic back end's (system/*.*), trusted through smarttest's key
	logMu  sync.Mutex
	log    bytes.Buffer
}

func (s *soakServer) Write(p []byte) (int, error) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.Write(p)
}

func startSoakServer(t *testing.T) *soakServer {
	t.Helper()
	db := storagetest.NewDatabase(t)
	ts := httptest.NewUnstartedServer(nil)
	s := &soakServer{base: "http://" + ts.Listener.Addr().String() + "/fhir"}
	issuer := smarttest.Shared(t)
	cfg := app.Config{DatabaseURL: db, BaseURL: s.base, RequireCoverage: true,
		Auth: app.AuthConfig{Issuer: smarttest.IssuerURL, Keys: issuer.Keys(), Revocation: issuer.Revocation()}}
	s.token = issuer.MustMint(t, smarttest.System(s.base, "soak", "system/*.*"))
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(s, &slog.HandlerOptions{Level: slog.LevelError})))
	if err != nil {
		ts.Listener.Close()
		t.Fatalf("start careslot: %v", err)
	}
	s.App = a
	if s.db, err = pgxpool.New(context.Background(), db); err != nil {
		ts.Listener.Close()
		a.Close()
		t.Fatal(err)
	}
	ts.Config.Handler = a.Handler
	ts.Start()
	t.Cleanup(func() { ts.Close(); a.Close(); s.db.Close() })
	s.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: 60 * time.Second}
	return s
}

// reportLogs fails the test for every error the server logged, except those of requests
// whose client gave up (context canceled): nobody reads their answer.
func (s *soakServer) reportLogs(t *testing.T) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	var errs []string
	gaveUp := 0
	for _, l := range strings.Split(strings.TrimSpace(s.log.String()), "\n") {
		switch {
		case l == "":
		case strings.Contains(l, "context canceled"):
			gaveUp++
		default:
			errs = append(errs, l)
		}
	}
	if gaveUp > 0 {
		t.Logf("the server logged %d internal errors (500) for requests whose client had gone", gaveUp)
	}
	if len(errs) == 0 {
		return
	}
	t.Errorf("the server logged %d errors; the first ones:", len(errs))
	for _, l := range errs[:min(len(errs), 30)] {
		t.Log("  " + l)
	}
}

// watchIdleInTransaction looks every second, until deadline, for transactions that sit
// idle for over 2 s: no request of the soak holds one open that long between statements.
func watchIdleInTransaction(s *soakServer, deadline time.Time) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		var found []string
		for time.Now().Before(deadline) {
			time.Sleep(time.Second)
			rows, err := s.db.Query(context.Background(), `SELECT pid, now() - state_change, left(query, 200)
				FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'
				AND state_change < now() - interval '2 seconds'`)
			if err != nil {
				found = append(found, err.Error())
				break
			}
			for rows.Next() {
				vals, _ := rows.Values()
				if len(found) < 10 {
					found = append(found, fmt.Sprint(vals...))
				}
			}
			rows.Close()
		}
		out <- found
	}()
	return out
}

// soakAnswer is one response.
type soakAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a soakAnswer) json() map[string]any {
	var m map[string]any
	json.Unmarshal(a.body, &m)
	return m
}

// do sends a request; path is relative to the base or an absolute URL (a paging link).
// A transport error is status 0.
func (s *soakServer) do(method, path string, body any, header ...string) soakAnswer {
	return s.doCtx(context.Background(), method, path, body, header...)
}

// doCtx is do with a context, for clients that give up.
func (s *soakServer) doCtx(ctx context.Context, method, path string, body any, header ...string) soakAnswer {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = s.base + "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return soakAnswer{body: []byte(err.Error())}
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return soakAnswer{body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return soakAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

// soakStats counts answers by operation and status and keeps the ones not allowed.
type soakStats struct {
	mu        sync.Mutex
	counts    map[string]map[int]int
	conflicts map[string]int    // 409 diagnostics that speak of concurrency, by operation
	raced     []string          // the first of those 409s
	samples   map[string]string // the first 4xx body of each operation and status
	failures  []string
	failed    int
}

// raced409 allows a 409 only when it says that a concurrent change got in the way
// (a deadlock PostgreSQL broke, a concurrent create of one id): the client may retry.
const raced409 = 4090

// check records an answer of op; anything but the allowed statuses is a failure, and so
// is any 5xx or transport error whatever is allowed.
func (st *soakStats) check(op, what string, a soakAnswer, allowed ...int) bool {
	raced := a.status == http.StatusConflict && bytes.Contains(a.body, []byte("concurrently"))
	ok := a.status > 0 && a.status < 500
	if ok {
		ok = false
		for _, s := range allowed {
			ok = ok || s == a.status || s == raced409 && raced
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.counts[op] == nil {
		st.counts[op] = map[int]int{}
	}
	st.counts[op][a.status]++
	if key := fmt.Sprintf("%s %d", op, a.status); a.status >= 400 && st.samples[key] == "" {
		st.samples[key] = fmt.Sprintf("%.300s", a.body)
	}
	if raced {
		st.conflicts[op]++
		if len(st.raced) < 10 {
			st.raced = append(st.raced, fmt.Sprintf("%s: %s: %.400s", op, what, a.body))
		}
	}
	if !ok {
		st.failed++
		if len(st.failures) < 40 {
			st.failures = append(st.failures, fmt.Sprintf("%s: %s: status %d (allowed %v): %.600s", op, what, a.status, allowed, a.body))
		}
	}
	return ok
}

func (st *soakStats) failureCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.failed
}

func (st *soakStats) report(t *testing.T) {
	st.mu.Lock()
	defer st.mu.Unlock()
	ops := make([]string, 0, len(st.counts))
	for op := range st.counts {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		statuses := make([]int, 0, len(st.counts[op]))
		for s := range st.counts[op] {
			statuses = append(statuses, s)
		}
		sort.Ints(statuses)
		var b strings.Builder
		for _, s := range statuses {
			fmt.Fprintf(&b, " %d×%d", s, st.counts[op][s])
		}
		if n := st.conflicts[op]; n > 0 {
			fmt.Fprintf(&b, " (409 'concurrently'×%d)", n)
		}
		t.Logf("%-22s%s", op, b.String())
	}
	if testing.Verbose() {
		keys := make([]string, 0, len(st.samples))
		for k := range st.samples {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("sample %s: %s", k, st.samples[k])
		}
	}
	for _, r := range st.raced {
		t.Log("409 concurrently: " + r)
	}
	for _, f := range st.failures {
		t.Log("UNEXPECTED " + f)
	}
}

// soakPool is a set of ids that workers pick from.
type soakPool struct {
	mu  sync.Mutex
	ids []string
}

func (p *soakPool) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) >= 400 { // keep the pool small so that workers meet on the same resources
		p.ids[rand.IntN(len(p.ids))] = id
		return
	}
	p.ids = append(p.ids, id)
}

func (p *soakPool) pick(rng *rand.Rand) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) == 0 {
		return ""
	}
	return p.ids[rng.IntN(len(p.ids))]
}

// soakSlot is one bookable slot of a doctor.
type soakSlot struct {
	id         string
	doctor     int
	start, end time.Time
}

// soakWorld is the clinic the workers share.
type soakWorld struct {
	s            *soakServer
	stats        *soakStats
	insurer      string
	doctors      []string
	slots        []soakSlot
	bookers      []string // insured patients who book; never deleted
	patients     soakPool // patients that come and go
	observations soakPool
	appointments soakPool
}

const (
	soakDoctors        = 3
	soakSlotsPerDoctor = 6
	soakBookers        = 10
	soakIdentifiers    = 8
	soakMRN            = "http://soak.example/mrn"
)

var soakDay = time.Date(2031, 3, 3, 9, 0, 0, 0, time.UTC)

func newSoakWorld(t *testing.T, s *soakServer) *soakWorld {
	t.Helper()
	w := &soakWorld{s: s, stats: &soakStats{counts: map[string]map[int]int{}, conflicts: map[string]int{}, samples: map[string]string{}}}
	w.insurer = w.mustCreate(t, map[string]any{"resourceType": "Organization", "name": "Soak Insurance"})
	for d := 0; d < soakDoctors; d++ {
		doc := w.mustCreate(t, map[string]any{"resourceType": "Practitioner", "name": []any{map[string]any{"family": fmt.Sprintf("Doctor%d", d)}}})
		w.doctors = append(w.doctors, doc)
		sched := w.mustCreate(t, map[string]any{"resourceType": "Schedule", "actor": []any{soakRef("Practitioner", doc)}})
		for i := 0; i < soakSlotsPerDoctor; i++ {
			start := soakDay.Add(time.Duration(i) * 30 * time.Minute)
			end := start.Add(30 * time.Minute)
			id := w.mustCreate(t, map[string]any{"resourceType": "Slot", "schedule": soakRef("Schedule", sched), "status": "free",
				"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)})
			w.slots = append(w.slots, soakSlot{id: id, doctor: d, start: start, end: end})
		}
	}
	for i := 0; i < soakBookers; i++ {
		p := w.mustCreate(t, map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": fmt.Sprintf("Booker%d", i)}}})
		w.mustCreate(t, map[string]any{"resourceType": "Coverage", "status": "active", "beneficiary": soakRef("Patient", p),
			"payor": []any{soakRef("Organization", w.insurer)}, "period": map[string]any{"start": "2020-01-01", "end": "2040-12-31"}})
		w.bookers = append(w.bookers, p)
	}
	for i := 0; i < 20; i++ {
		w.patients.add(w.mustCreate(t, soakPatient("Churn")))
	}
	return w
}

func (w *soakWorld) mustCreate(t *testing.T, doc map[string]any) string {
	t.Helper()
	a := w.s.do("POST", doc["resourceType"].(string), doc)
	if a.status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", doc["resourceType"], a.status, a.body)
	}
	return a.json()["id"].(string)
}

func soakRef(typ, id string) map[string]any { return map[string]any{"reference": typ + "/" + id} }

func soakPatient(family string) map[string]any {
	return map[string]any{"resourceType": "Patient", "active": true, "name": []any{map[string]any{"family": family}}}
}

func soakObservation(subject string, derivedFrom string) map[string]any {
	o := map[string]any{"resourceType": "Observation", "status": "final", "code": map[string]any{"text": "heart rate"},
		"subject": map[string]any{"reference": subject}, "valueQuantity": map[string]any{"value": 72, "unit": "/min"}}
	if derivedFrom != "" {
		o["derivedFrom"] = []any{map[string]any{"reference": derivedFrom}}
	}
	return o
}

func soakIdentifier(k int) string { return soakMRN + "|" + strconv.Itoa(k) }

// createdID reads the id out of a create's Location or body.
func createdID(a soakAnswer) string {
	if id, _ := a.json()["id"].(string); id != "" {
		return id
	}
	return idFromLocation(a.header.Get("Location"))
}

// idFromLocation returns the id of [base]/Type/id/_history/n.
func idFromLocation(loc string) string {
	parts := strings.Split(loc, "/")
	for i := len(parts) - 1; i >= 2; i-- {
		if parts[i-1] == "_history" {
			return parts[i-2]
		}
	}
	return ""
}

// soakOp is one kind of request and how often workers choose it.
type soakOp struct {
	weight int
	run    func(w *soakWorld, rng *rand.Rand)
}

var soakOps = []soakOp{
	{6, (*soakWorld).createPatient},
	{4, (*soakWorld).updatePatient},
	{4, (*soakWorld).deletePatient},
	{8, (*soakWorld).createObservation},
	{3, (*soakWorld).updateObservation},
	{3, (*soakWorld).deleteObservation},
	{5, (*soakWorld).transaction},
	{3, (*soakWorld).batch},
	{4, (*soakWorld).conditionalCreate},
	{3, (*soakWorld).conditionalUpdate},
	{1, (*soakWorld).conditionalDelete},
	{3, (*soakWorld).history},
	{4, (*soakWorld).search},
	{8, (*soakWorld).book},
	{5, (*soakWorld).reschedule},
	{4, (*soakWorld).cancel},
	{2, (*soakWorld).deleteAppointment},
	{5, (*soakWorld).respond},
	{2, (*soakWorld).bookOperation},
	{2, (*soakWorld).holdOperation},
	{4, (*soakWorld).bookInTransaction},
	{3, (*soakWorld).putSharedID},
	{1, (*soakWorld).deleteSharedID},
	{1, (*soakWorld).cascadeDelete},
	{3, (*soakWorld).impatient},
}

func (w *soakWorld) step(rng *rand.Rand) {
	total := 0
	for _, op := range soakOps {
		total += op.weight
	}
	n := rng.IntN(total)
	for _, op := range soakOps {
		if n < op.weight {
			op.run(w, rng)
			return
		}
		n -= op.weight
	}
}

func (w *soakWorld) createPatient(rng *rand.Rand) {
	a := w.s.do("POST", "Patient", soakPatient("Churn"))
	if w.stats.check("create Patient", "POST Patient", a, 201) {
		w.patients.add(createdID(a))
	}
}

// updatePatient updates a patient, half the time with If-Match of the version just read.
// A deleted patient is created again (201).
func (w *soakWorld) updatePatient(rng *rand.Rand) {
	id := w.patients.pick(rng)
	body := soakPatient(fmt.Sprintf("Churn%d", rng.IntN(100)))
	body["id"] = id
	var header []string
	if rng.IntN(2) == 0 {
		r := w.s.do("GET", "Patient/"+id, nil)
		w.stats.check("read Patient", "GET Patient/"+id, r, 200, 410)
		if r.status == 200 {
			header = []string{"If-Match", r.header.Get("ETag")}
		}
	}
	a := w.s.do("PUT", "Patient/"+id, body, header...)
	// 409: a concurrent PUT created the deleted patient again first.
	w.stats.check("update Patient", "PUT Patient/"+id, a, 200, 201, 409, 412)
}

// deletePatient deletes a patient: 409 while observations still refer to it.
func (w *soakWorld) deletePatient(rng *rand.Rand) {
	id := w.patients.pick(rng)
	a := w.s.do("DELETE", "Patient/"+id, nil)
	w.stats.check("delete Patient", "DELETE Patient/"+id, a, 204, 409)
}

// createObservation refers to a patient and sometimes to another observation: 422 when
// either was deleted.
func (w *soakWorld) createObservation(rng *rand.Rand) {
	derived := ""
	if rng.IntN(2) == 0 {
		if o := w.observations.pick(rng); o != "" {
			derived = "Observation/" + o
		}
	}
	a := w.s.do("POST", "Observation", soakObservation("Patient/"+w.patients.pick(rng), derived))
	if w.stats.check("create Observation", "POST Observation", a, 201, 422) && a.status == 201 {
		w.observations.add(createdID(a))
	}
}

func (w *soakWorld) updateObservation(rng *rand.Rand) {
	id := w.observations.pick(rng)
	if id == "" {
		return
	}
	body := soakObservation("Patient/"+w.patients.pick(rng), "")
	body["id"] = id
	a := w.s.do("PUT", "Observation/"+id, body)
	w.stats.check("update Observation", "PUT Observation/"+id, a, 200, 201, 409, 422)
}

func (w *soakWorld) deleteObservation(rng *rand.Rand) {
	id := w.observations.pick(rng)
	if id == "" {
		return
	}
	a := w.s.do("DELETE", "Observation/"+id, nil)
	w.stats.check("delete Observation", "DELETE Observation/"+id, a, 204, 409)
}

// transaction creates a patient and observations that refer to it by urn:uuid, and
// sometimes conditionally creates a patient, refers to one by a conditional reference,
// updates an existing patient, deletes an observation or reads a patient.
func (w *soakWorld) transaction(rng *rand.Rand) {
	pat, obs1, obs2 := "urn:uuid:"+storage.NewID(), "urn:uuid:"+storage.NewID(), "urn:uuid:"+storage.NewID()
	entries := []any{
		map[string]any{"fullUrl": pat, "resource": soakPatient("Bundle"), "request": map[string]any{"method": "POST", "url": "Patient"}},
		map[string]any{"fullUrl": obs1, "resource": soakObservation(pat, ""), "request": map[string]any{"method": "POST", "url": "Observation"}},
		map[string]any{"fullUrl": obs2, "resource": soakObservation(pat, obs1), "request": map[string]any{"method": "POST", "url": "Observation"}},
	}
	allowed := []int{200}
	if rng.IntN(2) == 0 {
		k := rng.IntN(soakIdentifiers)
		cond := "urn:uuid:" + storage.NewID()
		p := soakPatient("Conditional")
		p["identifier"] = []any{map[string]any{"system": soakMRN, "value": strconv.Itoa(k)}}
		entries = append(entries,
			map[string]any{"fullUrl": cond, "resource": p, "request": map[string]any{"method": "POST", "url": "Patient", "ifNoneExist": "identifier=" + soakIdentifier(k)}},
			map[string]any{"resource": soakObservation(cond, ""), "request": map[string]any{"method": "POST", "url": "Observation"}})
		// A conditional delete of that patient may have 409ed meanwhile: nothing to allow.
	}
	if rng.IntN(3) == 0 {
		// A conditional reference: 412 when no patient has the identifier now.
		entries = append(entries, map[string]any{"resource": soakObservation("Patient?identifier="+soakIdentifier(rng.IntN(soakIdentifiers)), ""),
			"request": map[string]any{"method": "POST", "url": "Observation"}})
		allowed = append(allowed, 412)
	}
	existing := w.patients.pick(rng)
	switch rng.IntN(4) {
	case 0:
		p := soakPatient("BundleUpdate")
		p["id"] = existing
		entries = append(entries, map[string]any{"resource": p, "request": map[string]any{"method": "PUT", "url": "Patient/" + existing}})
		allowed = append(allowed, 409) // a concurrent PUT created the deleted patient first
	case 1:
		if o := w.observations.pick(rng); o != "" {
			entries = append(entries, map[string]any{"request": map[string]any{"method": "DELETE", "url": "Observation/" + o}})
			allowed = append(allowed, 409) // it is still referenced
		}
	case 2:
		entries = append(entries, map[string]any{"request": map[string]any{"method": "GET", "url": "Patient/" + existing}})
		allowed = append(allowed, 410)
	}
	// Entries in any order: a reference to a later entry is resolved when the transaction commits.
	rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	// A deadlock PostgreSQL breaks is a 409 to retry: entries lock rows in any order.
	allowed = append(allowed, raced409)
	a := w.s.do("POST", "", map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if w.stats.check("transaction", "POST transaction", a, allowed...) && a.status == 200 {
		w.collectCreated(a)
	}
}

// collectCreated puts the patients and observations a Bundle created into the pools.
func (w *soakWorld) collectCreated(a soakAnswer) {
	out, _ := a.json()["entry"].([]any)
	for _, e := range out {
		resp, _ := e.(map[string]any)["response"].(map[string]any)
		status, _ := resp["status"].(string)
		loc, _ := resp["location"].(string)
		if !strings.HasPrefix(status, "201") || loc == "" {
			continue
		}
		id := idFromLocation(loc)
		switch {
		case strings.Contains(loc, "/Patient/") && rand.IntN(2) == 0:
			w.patients.add(id)
		case strings.Contains(loc, "/Observation/"):
			w.observations.add(id)
		}
	}
}

// batch runs independent entries; each answers for itself.
func (w *soakWorld) batch(rng *rand.Rand) {
	k := rng.IntN(soakIdentifiers)
	p := soakPatient("BatchConditional")
	p["identifier"] = []any{map[string]any{"system": soakMRN, "value": strconv.Itoa(k)}}
	entries := []any{
		map[string]any{"resource": soakPatient("Batch"), "request": map[string]any{"method": "POST", "url": "Patient"}},
		map[string]any{"resource": soakObservation("Patient/"+w.patients.pick(rng), ""), "request": map[string]any{"method": "POST", "url": "Observation"}},
		map[string]any{"resource": p, "request": map[string]any{"method": "PUT", "url": "Patient?identifier=" + url.QueryEscape(soakIdentifier(k))}},
		map[string]any{"request": map[string]any{"method": "GET", "url": "Patient?_count=3"}},
	}
	allowed := [][]int{{201}, {201, 422}, {200, 201}, {200}}
	if o := w.observations.pick(rng); o != "" {
		entries = append(entries, map[string]any{"request": map[string]any{"method": "DELETE", "url": "Observation/" + o}})
		allowed = append(allowed, []int{204, 409})
	}
	a := w.s.do("POST", "", map[string]any{"resourceType": "Bundle", "type": "batch", "entry": entries})
	if !w.stats.check("batch", "POST batch", a, 200) {
		return
	}
	out, _ := a.json()["entry"].([]any)
	if len(out) != len(entries) {
		w.stats.check("batch entry", "batch-response entries", soakAnswer{status: 999, body: a.body})
		return
	}
	for i, e := range out {
		resp, _ := e.(map[string]any)["response"].(map[string]any)
		status, _ := resp["status"].(string)
		code, _ := strconv.Atoi(strings.Fields(status + " 0")[0])
		body, _ := json.Marshal(resp["outcome"])
		w.stats.check("batch entry", fmt.Sprintf("entry %d", i), soakAnswer{status: code, body: body}, allowed[i]...)
	}
	w.collectCreated(a)
}

// conditionalCreate races other workers creating the patient of the same identifier:
// there must never be two.
func (w *soakWorld) conditionalCreate(rng *rand.Rand) {
	k := rng.IntN(soakIdentifiers)
	p := soakPatient("Conditional")
	p["identifier"] = []any{map[string]any{"system": soakMRN, "value": strconv.Itoa(k)}}
	a := w.s.do("POST", "Patient", p, "If-None-Exist", "identifier="+soakIdentifier(k))
	w.stats.check("conditional create", "POST Patient If-None-Exist "+soakIdentifier(k), a, 200, 201)
	if rng.IntN(2) == 0 && a.status < 300 {
		// An observation of that patient, which makes deleting it 409.
		o := w.s.do("POST", "Observation", soakObservation("Patient/"+createdID(a), ""))
		w.stats.check("create Observation", "POST Observation of a conditional patient", o, 201, 422)
	}
}

func (w *soakWorld) conditionalUpdate(rng *rand.Rand) {
	k := rng.IntN(soakIdentifiers)
	p := soakPatient(fmt.Sprintf("ConditionalUpdate%d", rng.IntN(100)))
	p["identifier"] = []any{map[string]any{"system": soakMRN, "value": strconv.Itoa(k)}}
	a := w.s.do("PUT", "Patient?identifier="+url.QueryEscape(soakIdentifier(k)), p)
	w.stats.check("conditional update", "PUT Patient?identifier="+soakIdentifier(k), a, 200, 201)
}

func (w *soakWorld) conditionalDelete(rng *rand.Rand) {
	k := rng.IntN(soakIdentifiers)
	a := w.s.do("DELETE", "Patient?identifier="+url.QueryEscape(soakIdentifier(k)), nil)
	w.stats.check("conditional delete", "DELETE Patient?identifier="+soakIdentifier(k), a, 204, 409)
}

// history reads one resource's history or pages through a type's.
func (w *soakWorld) history(rng *rand.Rand) {
	if rng.IntN(2) == 0 {
		id := w.patients.pick(rng)
		a := w.s.do("GET", "Patient/"+id+"/_history", nil)
		w.stats.check("history", "GET Patient/"+id+"/_history", a, 200)
		return
	}
	types := []string{"Patient", "Observation", "Appointment", "Slot"}
	w.pages("history", types[rng.IntN(len(types))]+"/_history?_count=7", 3)
}

// search pages through searches that change under it.
func (w *soakWorld) search(rng *rand.Rand) {
	queries := []string{
		"Observation?subject=Patient/" + w.patients.pick(rng) + "&_count=2",
		"Patient?_count=5&_sort=-_lastUpdated",
		"Patient?identifier=" + url.QueryEscape(soakIdentifier(rng.IntN(soakIdentifiers))),
		"Appointment?practitioner=Practitioner/" + w.doctors[rng.IntN(len(w.doctors))] + "&_count=3",
		"Slot?status=free&_count=4",
		"Appointment?status=booked&date=ge2031-03-03&_count=3&_sort=date",
	}
	w.pages("search", queries[rng.IntN(len(queries))], 4)
}

// pages reads up to n pages from path on, following next links.
func (w *soakWorld) pages(op, path string, n int) {
	for i := 0; i < n && path != ""; i++ {
		a := w.s.do("GET", path, nil)
		if !w.stats.check(op, "GET "+path, a, 200) {
			return
		}
		path = ""
		links, _ := a.json()["link"].([]any)
		for _, l := range links {
			if m := l.(map[string]any); m["relation"] == "next" {
				path, _ = m["url"].(string)
			}
		}
	}
}

// appointmentBody is an appointment of a booker with a doctor in a slot; pending ones
// wait for the doctor's answer.
func (w *soakWorld) appointmentBody(status, patient string, slot soakSlot) map[string]any {
	doctorStatus := "accepted"
	if status == "pending" {
		doctorStatus = "needs-action"
	}
	return map[string]any{"resourceType": "Appointment", "status": status,
		"start": slot.start.Format(time.RFC3339), "end": slot.end.Format(time.RFC3339),
		"slot": []any{soakRef("Slot", slot.id)},
		"participant": []any{
			map[string]any{"actor": soakRef("Patient", patient), "status": "accepted"},
			map[string]any{"actor": soakRef("Practitioner", w.doctors[slot.doctor]), "status": doctorStatus},
		}}
}

// book books (or requests) a random slot for a random booker: 409 when the slot or
// either person's time is taken.
func (w *soakWorld) book(rng *rand.Rand) {
	status := "booked"
	if rng.IntN(3) == 0 {
		status = "pending"
	}
	slot := w.slots[rng.IntN(len(w.slots))]
	a := w.s.do("POST", "Appointment", w.appointmentBody(status, w.bookers[rng.IntN(len(w.bookers))], slot))
	if w.stats.check("book", "POST Appointment "+status, a, 201, 409) && a.status == 201 {
		w.appointments.add(createdID(a))
	}
}

// readAppointment reads an appointment for a change; nil when it is gone.
func (w *soakWorld) readAppointment(rng *rand.Rand) (string, map[string]any, string) {
	id := w.appointments.pick(rng)
	if id == "" {
		return "", nil, ""
	}
	a := w.s.do("GET", "Appointment/"+id, nil)
	if !w.stats.check("read Appointment", "GET Appointment/"+id, a, 200, 410) || a.status != 200 {
		return "", nil, ""
	}
	return id, a.json(), a.header.Get("ETag")
}

// reschedule moves an appointment to another slot of its doctor, with If-Match.
func (w *soakWorld) reschedule(rng *rand.Rand) {
	id, appt, etag := w.readAppointment(rng)
	if appt == nil || (appt["status"] != "booked" && appt["status"] != "pending") {
		return
	}
	doctor := appt["participant"].([]any)[1].(map[string]any)["actor"].(map[string]any)["reference"].(string)
	var mine []soakSlot
	for _, s := range w.slots {
		if "Practitioner/"+w.doctors[s.doctor] == doctor {
			mine = append(mine, s)
		}
	}
	slot := mine[rng.IntN(len(mine))]
	appt["slot"] = []any{soakRef("Slot", slot.id)}
	appt["start"], appt["end"] = slot.start.Format(time.RFC3339), slot.end.Format(time.RFC3339)
	delete(appt, "meta")
	a := w.s.do("PUT", "Appointment/"+id, appt, "If-Match", etag)
	w.stats.check("reschedule", "PUT Appointment/"+id, a, 200, 409, 412)
}

// cancel cancels a booked or pending appointment, with If-Match.
func (w *soakWorld) cancel(rng *rand.Rand) {
	id, appt, etag := w.readAppointment(rng)
	if appt == nil || (appt["status"] != "booked" && appt["status"] != "pending") {
		return
	}
	appt["status"] = "cancelled"
	appt["cancelationReason"] = map[string]any{"text": "soak"}
	delete(appt, "meta")
	a := w.s.do("PUT", "Appointment/"+id, appt, "If-Match", etag)
	w.stats.check("cancel", "PUT Appointment/"+id, a, 200, 412)
}

// deleteAppointment deletes one: 409 while AppointmentResponses refer to it.
func (w *soakWorld) deleteAppointment(rng *rand.Rand) {
	id := w.appointments.pick(rng)
	if id == "" {
		return
	}
	a := w.s.do("DELETE", "Appointment/"+id, nil)
	w.stats.check("delete Appointment", "DELETE Appointment/"+id, a, 204, 409)
}

// respond is the doctor accepting or declining: 409 when the appointment can no longer
// be answered or the acceptance would double-book, 422 when it was deleted.
func (w *soakWorld) respond(rng *rand.Rand) {
	id, appt, _ := w.readAppointment(rng)
	if appt == nil {
		return
	}
	doctor := appt["participant"].([]any)[1].(map[string]any)["actor"]
	answer := "accepted"
	if rng.IntN(3) == 0 {
		answer = "declined"
	}
	a := w.s.do("POST", "AppointmentResponse", map[string]any{"resourceType": "AppointmentResponse",
		"appointment": soakRef("Appointment", id), "actor": doctor, "participantStatus": answer})
	w.stats.check("respond", "POST AppointmentResponse "+answer, a, 201, 409, 422)
}

// bookOperation books a pending appointment with $book.
func (w *soakWorld) bookOperation(rng *rand.Rand) {
	id := w.appointments.pick(rng)
	if id == "" {
		return
	}
	a := w.s.do("POST", "Appointment/$book", map[string]any{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "appt-id", "valueUri": "Appointment/" + id}}})
	// 404: deleted; 409: taken or lapsed; 422: not a status that may become booked.
	w.stats.check("$book", "POST Appointment/$book", a, 200, 404, 409, 422)
}

// holdOperation holds a random slot with $hold.
func (w *soakWorld) holdOperation(rng *rand.Rand) {
	slot := w.slots[rng.IntN(len(w.slots))]
	appt := w.appointmentBody("proposed", w.bookers[rng.IntN(len(w.bookers))], slot)
	a := w.s.do("POST", "Appointment/$hold", map[string]any{"resourceType": "Parameters",
		"parameter": []any{map[string]any{"name": "appt-resource", "resource": appt}}})
	if w.stats.check("$hold", "POST Appointment/$hold", a, 200, 409) && a.status == 200 {
		entries, _ := a.json()["entry"].([]any)
		if len(entries) == 1 {
			id, _ := entries[0].(map[string]any)["resource"].(map[string]any)["id"].(string)
			w.appointments.add(id)
		}
	}
}

// bookInTransaction requests an appointment and has the doctor accept it in one
// transaction, which books it; sometimes it also cancels another appointment (a
// reschedule by Bundle).
func (w *soakWorld) bookInTransaction(rng *rand.Rand) {
	slot := w.slots[rng.IntN(len(w.slots))]
	appt := "urn:uuid:" + storage.NewID()
	entries := []any{
		map[string]any{"fullUrl": appt, "resource": w.appointmentBody("pending", w.bookers[rng.IntN(len(w.bookers))], slot),
			"request": map[string]any{"method": "POST", "url": "Appointment"}},
		map[string]any{"resource": map[string]any{"resourceType": "AppointmentResponse", "appointment": map[string]any{"reference": appt},
			"actor": soakRef("Practitioner", w.doctors[slot.doctor]), "participantStatus": "accepted"},
			"request": map[string]any{"method": "POST", "url": "AppointmentResponse"}},
	}
	allowed := []int{200, 409}
	if rng.IntN(2) == 0 {
		if id, old, etag := w.readAppointment(rng); old != nil && (old["status"] == "booked" || old["status"] == "pending") {
			old["status"] = "cancelled"
			old["cancelationReason"] = map[string]any{"text": "moved"}
			delete(old, "meta")
			entries = append(entries, map[string]any{"resource": old, "request": map[string]any{"method": "PUT", "url": "Appointment/" + id, "ifMatch": etag}})
			allowed = append(allowed, 412)
		}
	}
	a := w.s.do("POST", "", map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	if w.stats.check("book in transaction", "POST transaction", a, allowed...) && a.status == 200 {
		out, _ := a.json()["entry"].([]any)
		resp, _ := out[0].(map[string]any)["response"].(map[string]any)
		loc, _ := resp["location"].(string)
		w.appointments.add(idFromLocation(loc))
	}
}

// putSharedID creates or updates one of a few patients with ids that clients choose, so
// that several create the same id at once.
func (w *soakWorld) putSharedID(rng *rand.Rand) {
	id := fmt.Sprintf("soak-shared-%d", rng.IntN(4))
	p := soakPatient("Shared")
	p["id"] = id
	a := w.s.do("PUT", "Patient/"+id, p)
	// 409: a concurrent PUT created it first.
	if w.stats.check("put shared id", "PUT Patient/"+id, a, 200, 201, 409) && rng.IntN(2) == 0 {
		o := w.s.do("POST", "Observation", soakObservation("Patient/"+id, ""))
		w.stats.check("create Observation", "POST Observation of a shared patient", o, 201, 422)
	}
}

func (w *soakWorld) deleteSharedID(rng *rand.Rand) {
	id := fmt.Sprintf("soak-shared-%d", rng.IntN(4))
	a := w.s.do("DELETE", "Patient/"+id+"?_cascade=delete", nil)
	w.stats.check("delete shared id", "DELETE Patient/"+id+"?_cascade=delete", a, 204, raced409)
}

// cascadeDelete deletes a patient with everything that refers to it.
func (w *soakWorld) cascadeDelete(rng *rand.Rand) {
	id := w.patients.pick(rng)
	a := w.s.do("DELETE", "Patient/"+id+"?_cascade=delete", nil)
	w.stats.check("cascade delete", "DELETE Patient/"+id+"?_cascade=delete", a, 204, raced409)
}

// impatient sends a write and gives up after a few milliseconds, as a client on a bad
// network does: the server must end the transaction cleanly whatever point it reached.
func (w *soakWorld) impatient(rng *rand.Rand) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rng.IntN(40))*time.Millisecond)
	defer cancel()
	slot := w.slots[rng.IntN(len(w.slots))]
	pat, appt := "urn:uuid:"+storage.NewID(), "urn:uuid:"+storage.NewID()
	var a soakAnswer
	switch rng.IntN(4) {
	case 0:
		a = w.s.doCtx(ctx, "POST", "Appointment", w.appointmentBody("booked", w.bookers[rng.IntN(len(w.bookers))], slot))
	case 1:
		a = w.s.doCtx(ctx, "POST", "", map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
			map[string]any{"fullUrl": appt, "resource": w.appointmentBody("pending", w.bookers[rng.IntN(len(w.bookers))], slot),
				"request": map[string]any{"method": "POST", "url": "Appointment"}},
			map[string]any{"resource": map[string]any{"resourceType": "AppointmentResponse", "appointment": map[string]any{"reference": appt},
				"actor": soakRef("Practitioner", w.doctors[slot.doctor]), "participantStatus": "accepted"},
				"request": map[string]any{"method": "POST", "url": "AppointmentResponse"}},
			map[string]any{"resource": soakObservation(pat, ""), "request": map[string]any{"method": "POST", "url": "Observation"}},
			map[string]any{"fullUrl": pat, "resource": soakPatient("Impatient"), "request": map[string]any{"method": "POST", "url": "Patient"}},
		}})
	case 2:
		a = w.s.doCtx(ctx, "DELETE", "Patient/"+w.patients.pick(rng)+"?_cascade=delete", nil)
	default:
		k := rng.IntN(soakIdentifiers)
		p := soakPatient("Impatient")
		p["identifier"] = []any{map[string]any{"system": soakMRN, "value": strconv.Itoa(k)}}
		a = w.s.doCtx(ctx, "PUT", "Patient?identifier="+url.QueryEscape(soakIdentifier(k)), p)
	}
	if a.status != 0 { // 0: the client gave up first
		w.stats.check("impatient", "a write given up on", a, a.status)
	} else {
		w.stats.check("impatient", "a write given up on", soakAnswer{status: 1}, 1)
	}
}

// checkSoakInvariants checks the data once every client has stopped.
func checkSoakInvariants(t *testing.T, s *soakServer, w *soakWorld) {
	ctx := context.Background()
	pool := s.db
	query := func(name, sql string) {
		t.Helper()
		rows, err := pool.Query(ctx, sql)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			vals, _ := rows.Values()
			if n < 10 {
				t.Errorf("%s: %v", name, vals)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n > 0 {
			t.Errorf("%s: %d violations", name, n)
		} else {
			t.Logf("invariant holds: %s", name)
		}
	}
	// Give connections of requests that just ended a moment to go back to the pool.
	time.Sleep(500 * time.Millisecond)
	query("no connection idle in transaction", `SELECT pid, state, left(query, 200) FROM pg_stat_activity
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)
	query("no overlapping live appointments of one practitioner or patient", `
		WITH busy AS (
			SELECT r.id, p->'actor'->>'reference' AS actor,
			       tstzrange((r.content->>'start')::timestamptz, (r.content->>'end')::timestamptz) AS during
			FROM resources r, jsonb_array_elements(r.content->'participant') p
			WHERE r.type = 'Appointment' AND NOT r.deleted AND r.content ? 'start'
			  AND r.content->>'status' IN ('pending', 'booked', 'arrived', 'checked-in')
			  AND coalesce(p->>'status', '') <> 'declined'
			  AND p->'actor'->>'reference' ~ '^(Patient|Practitioner)/')
		SELECT a.actor, a.id, b.id FROM busy a JOIN busy b ON a.actor = b.actor AND a.id < b.id AND a.during && b.during`)
	query("no slot held by two appointments", `
		SELECT s->>'reference', array_agg(r.id) FROM resources r, jsonb_array_elements(r.content->'slot') s
		WHERE r.type = 'Appointment' AND NOT r.deleted AND r.content->>'status' IN ('pending', 'booked', 'arrived', 'checked-in', 'fulfilled')
		GROUP BY 1 HAVING count(DISTINCT r.id) > 1`)
	query("every slot held by an appointment is busy, every busy slot is held", `
		WITH held AS (
			SELECT DISTINCT substr(s->>'reference', 6) AS slot_id FROM resources r, jsonb_array_elements(r.content->'slot') s
			WHERE r.type = 'Appointment' AND NOT r.deleted AND r.content->>'status' IN ('pending', 'booked', 'arrived', 'checked-in', 'fulfilled'))
		SELECT sl.id, sl.content->>'status', h.slot_id IS NOT NULL, b.appointment_id FROM resources sl
		LEFT JOIN held h ON h.slot_id = sl.id LEFT JOIN slot_bookings b ON b.slot_id = sl.id
		WHERE sl.type = 'Slot' AND NOT sl.deleted
		  AND ((h.slot_id IS NOT NULL) <> (sl.content->>'status' IN ('busy', 'busy-tentative'))
		    OR (h.slot_id IS NOT NULL) <> (b.slot_id IS NOT NULL))`)
	query("appointment_times are the times of the live appointments", `
		WITH want AS (
			SELECT r.id, p->'actor'->>'reference' AS actor,
			       tstzrange((r.content->>'start')::timestamptz, (r.content->>'end')::timestamptz) AS during
			FROM resources r, jsonb_array_elements(r.content->'participant') p
			WHERE r.type = 'Appointment' AND NOT r.deleted AND r.content ? 'start'
			  AND r.content->>'status' IN ('pending', 'booked', 'arrived', 'checked-in')
			  AND coalesce(p->>'status', '') <> 'declined'
			  AND p->'actor'->>'reference' ~ '^(Patient|Practitioner)/'),
		have AS (SELECT appointment_id AS id, actor_type || '/' || actor_id AS actor, during FROM appointment_times)
		(SELECT 'missing', * FROM want EXCEPT SELECT 'missing', * FROM have)
		UNION ALL
		(SELECT 'extra', * FROM have EXCEPT SELECT 'extra', * FROM want)`)
	query("every resource's version count equals its history length", `
		SELECT r.type, r.id, r.version_id, count(v.rid), min(v.version_id), max(v.version_id)
		FROM resources r LEFT JOIN resource_versions v ON v.rid = r.rid
		GROUP BY r.rid HAVING count(v.rid) <> r.version_id OR min(v.version_id) <> 1 OR max(v.version_id) <> r.version_id`)
	query("the current row is its last version", `
		SELECT r.type, r.id, r.version_id FROM resources r JOIN resource_versions v ON v.rid = r.rid AND v.version_id = r.version_id
		WHERE r.deleted <> (v.method = 'DELETE') OR (NOT r.deleted AND r.content <> v.content) OR r.last_updated <> v.last_updated`)
	query("the outbox has one row per version", `
		SELECT 'missing', v.type, v.id, v.version_id FROM resource_versions v
		WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.rid = v.rid AND o.version_id = v.version_id)
		UNION ALL
		SELECT 'extra', o.type, o.id, o.version_id FROM outbox o
		WHERE NOT EXISTS (SELECT 1 FROM resource_versions v WHERE v.rid = o.rid AND v.version_id = o.version_id)
		UNION ALL
		SELECT 'twice', type, id, version_id FROM outbox GROUP BY rid, type, id, version_id HAVING count(*) > 1`)
	query("at most one live patient per identifier of the conditional interactions", `
		SELECT i->>'value', array_agg(r.id) FROM resources r, jsonb_array_elements(r.content->'identifier') i
		WHERE r.type = 'Patient' AND NOT r.deleted AND i->>'system' = '`+soakMRN+`'
		GROUP BY 1 HAVING count(*) > 1`)
	query("deleted resources keep no resource_links", `
		SELECT l.rid, l.target_type, l.target_id FROM resource_links l JOIN resources r ON r.rid = l.rid WHERE r.deleted`)
	checkSoakReferences(t, s)
	checkSoakHistoryThroughAPI(t, s, w)
}

// checkSoakReferences resolves every reference of every live resource, from its content.
func checkSoakReferences(t *testing.T, s *soakServer) {
	ctx := context.Background()
	live := map[string]bool{}
	contents := map[string][]byte{}
	rows, err := s.db.Query(ctx, `SELECT type, id, content FROM resources WHERE NOT deleted`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var typ, id string
		var content []byte
		if err := rows.Scan(&typ, &id, &content); err != nil {
			t.Fatal(err)
		}
		live[typ+"/"+id] = true
		contents[typ+"/"+id] = content
	}
	rows.Close()
	broken := 0
	for key, content := range contents {
		links, err := storage.ExtractLinks(strings.Split(key, "/")[0], content)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		for _, l := range links {
			if !live[l.TargetType+"/"+l.TargetID] {
				if broken < 10 {
					t.Errorf("%s refers at %s to %s/%s, which is not live", key, l.Path, l.TargetType, l.TargetID)
				}
				broken++
			}
		}
	}
	if broken > 0 {
		t.Errorf("every live resource's references resolve: %d broken references", broken)
	} else {
		t.Logf("invariant holds: every live resource's references resolve (%d live resources)", len(live))
	}
}

// checkSoakHistoryThroughAPI compares, for the resources with the most versions, the
// version in the ETag with the number of entries the history interaction lists.
func checkSoakHistoryThroughAPI(t *testing.T, s *soakServer, w *soakWorld) {
	rows, err := s.db.Query(context.Background(),
		`SELECT type, id, version_id FROM resources WHERE type IN ('Patient', 'Observation', 'Appointment', 'Slot') ORDER BY version_id DESC LIMIT 40`)
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		typ, id string
		version int
	}
	var all []res
	for rows.Next() {
		var r res
		rows.Scan(&r.typ, &r.id, &r.version)
		all = append(all, r)
	}
	rows.Close()
	bad := 0
	for _, r := range all {
		a := s.do("GET", fmt.Sprintf("%s/%s/_history?_count=1000", r.typ, r.id), nil)
		entries, _ := a.json()["entry"].([]any)
		if a.status != 200 || len(entries) != r.version {
			bad++
			t.Errorf("%s/%s: version %d, history lists %d entries (status %d)", r.typ, r.id, r.version, len(entries), a.status)
		}
	}
	if bad == 0 {
		t.Logf("invariant holds: the history interaction lists every version (%d resources checked)", len(all))
	}
}
