// Command subscriptions measures what subscriptions cost and how fast they deliver:
// careslot runs in-process with subscriptions on a fresh database and RabbitMQ virtual
// host; the write throughput of Patient updates is measured without subscriptions, then
// with -subs rest-hook subscriptions (each update matches exactly one of them), in the
// same run; then updates are sent at -rate per second and the latency from commit (the
// version's lastUpdated) to the subscriber's receipt is measured.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/bench/loadgen"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/careslot/careslot/subscriptions"
	"github.com/careslot/careslot/subscriptions/brokertest"
)

func main() {
	subs := flag.Int("subs", 100, "active subscriptions")
	rate := flag.Int("rate", 200, "writes per second in the latency run")
	latencyFor := flag.Duration("latency-for", 15*time.Second, "length of the latency run")
	clients := flag.Int("clients", 16, "clients of the throughput runs")
	throughputFor := flag.Duration("throughput-for", 8*time.Second, "length of each throughput run")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the latency run (careslot runs in this process) to this file")
	flag.Parse()
	ctx := context.Background()

	dbURL, dropDB, err := storagetest.CreateDatabase(ctx)
	check(err)
	defer dropDB()
	amqpURL, _, dropVhost, err := brokertest.CreateVhost(brokertest.Addr())
	check(err)
	defer dropVhost()

	// The subscriber: records the latency of each notification from the version's lastUpdated.
	var mu sync.Mutex
	var latencies []time.Duration
	var received atomic.Int64
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(hookLn, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var res struct {
			Meta struct {
				LastUpdated time.Time `json:"lastUpdated"`
			} `json:"meta"`
		}
		body, _ := io.ReadAll(r.Body)
		if json.Unmarshal(body, &res) == nil && !res.Meta.LastUpdated.IsZero() {
			mu.Lock()
			latencies = append(latencies, now.Sub(res.Meta.LastUpdated))
			mu.Unlock()
			received.Add(1)
		}
	}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	base := "http://" + ln.Addr().String() + "/fhir"
	subCfg := subscriptions.Config{AMQPURL: amqpURL, AllowPrivate: true}
	// As careslot serve: every request carries a token (an admin's), verified, decided
	// and audited; the subscriptions' owner is that admin.
	issuer, err := smarttest.NewIssuer()
	check(err)
	auth := app.AuthConfig{Issuer: smarttest.IssuerURL, Keys: issuer.Keys(), Revocation: issuer.Revocation()}
	a, err := app.New(ctx, app.Config{Addr: ln.Addr().String(), BaseURL: base, DatabaseURL: dbURL, Subscriptions: &subCfg, Auth: auth},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	check(err)
	token, err := issuer.Mint(smarttest.Admin(base, "user/*.cruds"))
	check(err)
	defer a.Close()
	srv := &http.Server{Handler: a.Handler}
	go srv.Serve(ln)
	defer srv.Shutdown(ctx)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	put := func(ctx context.Context, path string, body any) error {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/"+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Prefer", "return=minimal")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("PUT %s: %s", path, resp.Status)
		}
		return nil
	}
	patient := func(k int) map[string]any {
		return map[string]any{"resourceType": "Patient", "id": fmt.Sprintf("p%03d", k), "active": true,
			"name": []any{map[string]any{"family": fmt.Sprintf("bench%03d", k)}}}
	}
	for k := 0; k < *subs; k++ {
		check(put(ctx, fmt.Sprintf("Patient/p%03d", k), patient(k)))
	}
	// Each update matches one subscription once they exist: updated counts the
	// notifications to expect.
	var updated atomic.Int64
	update := func(ctx context.Context, _, i int) error {
		k := (i%*subs + *subs) % *subs // warmup ops have negative numbers
		err := put(ctx, fmt.Sprintf("Patient/p%03d", k), patient(k))
		if err == nil {
			updated.Add(1)
		}
		return err
	}
	throughput := func(name string) loadgen.Result {
		return loadgen.Run(ctx, loadgen.Options{Clients: *clients, Duration: *throughputFor, Warmup: 50}, update).Named(name)
	}

	fmt.Println(loadgen.Header())
	without := throughput("updates, no subscription")
	fmt.Println(without)

	updated.Store(0)
	for k := 0; k < *subs; k++ {
		check(put(ctx, fmt.Sprintf("Subscription/s%03d", k), map[string]any{
			"resourceType": "Subscription", "id": fmt.Sprintf("s%03d", k), "status": "requested", "reason": "benchmark",
			"criteria": fmt.Sprintf("Patient?family=bench%03d", k),
			"channel":  map[string]any{"type": "rest-hook", "endpoint": "http://" + hookLn.Addr().String() + "/", "payload": "application/fhir+json"},
		}))
	}
	waitFor("every subscription active", 60*time.Second, func() bool {
		all, err := a.Store.Subscriptions(ctx)
		if err != nil {
			return false
		}
		n := 0
		for _, s := range all {
			var doc struct{ Status string }
			json.Unmarshal(s.Content, &doc)
			if doc.Status == "active" {
				n++
			}
		}
		return n == *subs
	})
	with := throughput(fmt.Sprintf("updates, %d subscriptions", *subs))
	fmt.Println(with)
	fmt.Printf("write throughput with %d subscriptions: %.0f/s against %.0f/s without: %.1f%% of it (target: falls by less than 10%%)\n",
		*subs, with.Throughput, without.Throughput, 100*with.Throughput/without.Throughput)

	// Let the notifications of the throughput run drain before measuring latency: every
	// update's notification received, not just the outbox empty (the matcher's queue
	// may still hold thousands).
	drainStart := time.Now()
	waitFor("the backlog to drain", 5*time.Minute, func() bool { return received.Load() >= updated.Load() })
	fmt.Printf("the throughput run's %d notifications drained %v after it ended\n", updated.Load(), time.Since(drainStart).Round(100*time.Millisecond))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	mu.Lock()
	latencies = nil
	mu.Unlock()
	start := received.Load()
	interval := time.Second / time.Duration(*rate)
	n := int(latencyFor.Seconds() * float64(*rate))
	var wg sync.WaitGroup
	var errs atomic.Int64
	tick := time.NewTicker(interval)
	for i := 0; i < n; i++ {
		<-tick.C
		wg.Go(func() {
			if err := update(ctx, 0, i); err != nil {
				errs.Add(1)
			}
		})
	}
	tick.Stop()
	wg.Wait()
	waitFor("every notification", 60*time.Second, func() bool { return received.Load()-start >= int64(n)-errs.Load() })
	mu.Lock()
	lat := slices.Clone(latencies)
	mu.Unlock()
	slices.Sort(lat)
	fmt.Printf("notification latency, commit to receipt, %d writes/s with %d subscriptions: %d notifications, p50 %v, p99 %v, max %v (target: p99 < 500ms); %d write errors\n",
		*rate, *subs, len(lat), loadgen.Percentile(lat, 50).Round(100*time.Microsecond), loadgen.Percentile(lat, 99).Round(100*time.Microsecond),
		lat[len(lat)-1].Round(time.Millisecond), errs.Load())
}

func waitFor(what string, timeout time.Duration, cond func() bool) {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			log.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
