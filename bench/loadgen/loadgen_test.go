package loadgen

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunDoesExactlyOpsWithUniqueNumbers(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]bool{}
	r := Run(context.Background(), Options{Clients: 8, Ops: 500}, func(ctx context.Context, c, i int) error {
		mu.Lock()
		defer mu.Unlock()
		if seen[i] {
			t.Errorf("op %d ran twice", i)
		}
		seen[i] = true
		return nil
	})
	if r.Ops != 500 || len(seen) != 500 || r.Errors != 0 {
		t.Fatalf("ops=%d seen=%d errors=%d, want 500/500/0", r.Ops, len(seen), r.Errors)
	}
	for i := range 500 {
		if !seen[i] {
			t.Fatalf("op %d never ran", i)
		}
	}
	if r.Clients != 8 || r.Throughput <= 0 || r.P50 > r.P90 || r.P90 > r.P99 || r.P99 > r.Max {
		t.Errorf("inconsistent summary: %+v", r)
	}
}

// The first op of each client waits until every client has started one: a runner that
// did not run Clients callers at once would never get there.
func TestRunRunsClientsConcurrently(t *testing.T) {
	const clients = 8
	var arrived sync.WaitGroup
	arrived.Add(clients)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	var mu sync.Mutex
	clientOf := map[int]int{}
	r := Run(context.Background(), Options{Clients: clients, Ops: clients}, func(ctx context.Context, c, i int) error {
		mu.Lock()
		clientOf[i] = c
		mu.Unlock()
		arrived.Done()
		select {
		case <-all:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("the other clients never started")
		}
	})
	if r.Ops != clients || r.Errors != 0 {
		t.Fatalf("ops=%d errors=%d (%v)", r.Ops, r.Errors, r.FirstError)
	}
	distinct := map[int]bool{}
	for _, c := range clientOf {
		distinct[c] = true
	}
	if len(distinct) != clients {
		t.Errorf("%d ops ran on %d distinct clients", clients, len(distinct))
	}
}

func TestRunCountsErrorsAndKeepsTheFirst(t *testing.T) {
	boom := errors.New("boom")
	r := Run(context.Background(), Options{Clients: 1, Ops: 10}, func(ctx context.Context, c, i int) error {
		if i%2 == 1 {
			return boom
		}
		return nil
	})
	if r.Ops != 5 || r.Errors != 5 || !errors.Is(r.FirstError, boom) {
		t.Fatalf("ops=%d errors=%d first=%v", r.Ops, r.Errors, r.FirstError)
	}
	if s := r.Named("x").String(); !strings.Contains(s, "errors=5") || !strings.Contains(s, "boom") {
		t.Errorf("String() = %q", s)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	start := time.Now()
	r := Run(context.Background(), Options{Clients: 4, Duration: 100 * time.Millisecond}, func(ctx context.Context, c, i int) error {
		select {
		case <-time.After(time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("ran %v, want about 100ms", el)
	}
	if r.Ops == 0 || r.Errors != 0 {
		t.Fatalf("ops=%d errors=%d (ops cut by the deadline must not count as errors)", r.Ops, r.Errors)
	}
}

func TestRunIsBoundedWithoutLimits(t *testing.T) {
	var n atomic.Int64
	r := Run(context.Background(), Options{}, func(ctx context.Context, c, i int) error { n.Add(1); return nil })
	if r.Ops != DefaultOps || n.Load() != DefaultOps {
		t.Fatalf("ops=%d calls=%d, want %d", r.Ops, n.Load(), DefaultOps)
	}
}

func TestWarmupIsNotMeasured(t *testing.T) {
	var warm atomic.Int64
	r := Run(context.Background(), Options{Clients: 2, Ops: 10, Warmup: 4}, func(ctx context.Context, c, i int) error {
		if i < 0 {
			warm.Add(1)
		}
		return nil
	})
	if r.Ops != 10 || warm.Load() != 4 {
		t.Fatalf("ops=%d warmup=%d", r.Ops, warm.Load())
	}
}

func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {0, 1}} {
		if got := Percentile(lat, tc.p); got != tc.want {
			t.Errorf("p%v = %d, want %d", tc.p, got, tc.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty percentile should be 0")
	}
}

func TestRequireLoopback(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080/fhir", "http://localhost/fhir", "http://[::1]:80/"} {
		if err := RequireLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1/fhir", "https://example.org/fhir", "http://0.0.0.0:8080"} {
		if err := RequireLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// Spinning for a while shows up in this process's CPU time, and the process itself
// can be read as an "other" process too.
func TestCPUSampleCountsWork(t *testing.T) {
	pid := os.Getpid()
	before := SampleCPU([]int{pid, -1})
	if _, ok := before.Others[pid]; !ok {
		t.Skip("no /proc on this system")
	}
	if _, ok := before.Others[-1]; ok {
		t.Fatal("a process that does not exist was read")
	}
	x := 0
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		x++
	}
	after := SampleCPU([]int{pid})
	self, others := CPUUsed(before, after)
	if self < 50*time.Millisecond || others < 30*time.Millisecond {
		t.Errorf("200 ms of spinning counted as self %v, as a /proc process %v (x=%d)", self, others, x)
	}
	if s := CPUPerOp(Result{Ops: 4}, 4*time.Millisecond, 2*time.Millisecond); s != "cpu/op: go 1ms + postgres 500µs = 1.5ms" {
		t.Errorf("CPUPerOp = %q", s)
	}
}
