// Package loadgen drives a function from N concurrent clients for a bounded
// number of operations or a bounded time and reports throughput and latency
// percentiles. It is for the load programs under bench/ and must only ever be
// aimed at loopback: RequireLoopback guards targets given on a command line.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultOps bounds a run when the caller gives neither Ops nor Duration.
const DefaultOps = 1000

// Options says how hard and how long to push.
type Options struct {
	// Clients is the number of concurrent callers (default 1).
	Clients int
	// Ops is the total number of operations across all clients (0: no count limit).
	Ops int
	// Duration stops the run after this long (0: no time limit).
	// With neither Ops nor Duration the run does DefaultOps operations.
	Duration time.Duration
	// Warmup operations run before measuring, spread over the clients, not recorded.
	Warmup int
}

// Op is one operation: client is 0..Clients-1, i the global operation number
// (0..Ops-1), unique across clients so it can name the row an op creates.
type Op func(ctx context.Context, client, i int) error

// Result summarises one run. Latencies cover successful operations only.
type Result struct {
	Name       string
	Clients    int
	Ops        int // successful operations
	Errors     int
	FirstError error
	Elapsed    time.Duration
	Throughput float64 // successful operations per second
	Mean       time.Duration
	P50        time.Duration
	P90        time.Duration
	P99        time.Duration
	Max        time.Duration
}

// Run calls op from opts.Clients goroutines until opts.Ops operations have been
// started, opts.Duration has passed, or ctx is done, whichever comes first.
func Run(ctx context.Context, opts Options, op Op) Result {
	clients := max(opts.Clients, 1)
	limit := opts.Ops
	if limit <= 0 && opts.Duration <= 0 {
		limit = DefaultOps
	}
	if opts.Warmup > 0 {
		runClients(ctx, clients, opts.Warmup, func(ctx context.Context, c, i int) error {
			// Warmup op numbers are negative so they never collide with measured ones.
			return op(ctx, c, -1-i)
		})
	}
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	start := time.Now()
	lat, errs, first := runClients(ctx, clients, limit, op)
	elapsed := time.Since(start)
	return summarise(clients, lat, errs, first, elapsed)
}

// runClients returns the latencies of successful ops, the error count and the first error.
func runClients(ctx context.Context, clients, limit int, op Op) ([]time.Duration, int, error) {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		all      []time.Duration
		errCount int
		first    error
		wg       sync.WaitGroup
	)
	for c := range clients {
		wg.Go(func() {
			var mine []time.Duration
			var myErrs int
			var myFirst error
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if limit > 0 && i >= limit {
					break
				}
				t0 := time.Now()
				err := op(ctx, c, i)
				d := time.Since(t0)
				switch {
				case err == nil:
					mine = append(mine, d)
				case ctx.Err() != nil && errors.Is(err, ctx.Err()):
					// Cut short by the deadline: neither a success nor a failure.
				default:
					myErrs++
					if myFirst == nil {
						myFirst = fmt.Errorf("client %d op %d: %w", c, i, err)
					}
				}
			}
			mu.Lock()
			all = append(all, mine...)
			errCount += myErrs
			if first == nil {
				first = myFirst
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, errCount, first
}

func summarise(clients int, lat []time.Duration, errs int, first error, elapsed time.Duration) Result {
	r := Result{Clients: clients, Ops: len(lat), Errors: errs, FirstError: first, Elapsed: elapsed}
	if len(lat) == 0 {
		return r
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	r.Mean = sum / time.Duration(len(lat))
	r.P50 = Percentile(lat, 50)
	r.P90 = Percentile(lat, 90)
	r.P99 = Percentile(lat, 99)
	r.Max = lat[len(lat)-1]
	if elapsed > 0 {
		r.Throughput = float64(len(lat)) / elapsed.Seconds()
	}
	return r
}

// Percentile is the nearest-rank p-th percentile of sorted latencies.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// Named returns r with a label for String.
func (r Result) Named(name string) Result {
	r.Name = name
	return r
}

// String is one line: name, clients, ops, errors, throughput, p50/p90/p99/max.
func (r Result) String() string {
	s := fmt.Sprintf("%-28s clients=%-3d ops=%-6d errors=%-4d %9.1f ops/s  p50=%-9s p90=%-9s p99=%-9s max=%s",
		r.Name, r.Clients, r.Ops, r.Errors, r.Throughput, round(r.P50), round(r.P90), round(r.P99), round(r.Max))
	if r.FirstError != nil {
		s += "  first error: " + r.FirstError.Error()
	}
	return s
}

// Header describes the machine so numbers can be compared between runs.
func Header() string {
	return fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS=%d, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// RequireLoopback refuses a target URL whose host is not a loopback address:
// load is only ever generated against this machine.
func RequireLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("target %q: %w", rawURL, err)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("target %q is not loopback: load is only generated against 127.0.0.1/::1/localhost", rawURL)
	}
	return nil
}
