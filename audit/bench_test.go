package audit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
)

// BenchmarkReadPatientAuditOverhead reads one Patient over loopback from the same
// careslot, alternating the whole server (every read audited) and its FHIR handler
// alone (nothing audited), from 1 and 8 concurrent clients, and reports the p50 and p99
// of each and what the audit adds: the cost a caller sees, the writer's INSERTs included.
func BenchmarkReadPatientAuditOverhead(b *testing.B) {
	s := apptest.New(b)
	s.Must(b, http.StatusCreated, "PUT", "Patient/au-bench", patient("au-bench"))
	bare := httptest.NewServer(s.App.FHIR.Handler())
	b.Cleanup(bare.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	get := func(base string) time.Duration {
		start := time.Now()
		resp, err := client.Get(base + "/fhir/Patient/au-bench")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		return time.Since(start)
	}
	audited, plain := s.HTTP.URL, bare.URL
	get(audited)
	get(plain)
	const clients = 8
	var on, off, onParallel, offParallel []time.Duration
	var mu sync.Mutex
	for b.Loop() {
		on = append(on, get(audited))
		off = append(off, get(plain))
		// The same from several clients at once, so that the writer competes with reads.
		for _, side := range []struct {
			base string
			into *[]time.Duration
		}{{audited, &onParallel}, {plain, &offParallel}} {
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					d := get(side.base)
					mu.Lock()
					*side.into = append(*side.into, d)
					mu.Unlock()
				})
			}
			wg.Wait()
		}
	}
	pct := func(d []time.Duration, p float64) float64 {
		slices.Sort(d)
		return float64(d[int(float64(len(d)-1)*p)].Microseconds())
	}
	b.ReportMetric(pct(off, 0.5), "p50-µs-unaudited")
	b.ReportMetric(pct(on, 0.5), "p50-µs-audited")
	b.ReportMetric(pct(on, 0.5)-pct(off, 0.5), "p50-µs-added")
	b.ReportMetric(pct(offParallel, 0.5), "p50-µs-unaudited-8c")
	b.ReportMetric(pct(onParallel, 0.5), "p50-µs-audited-8c")
	b.ReportMetric(pct(offParallel, 0.99), "p99-µs-unaudited-8c")
	b.ReportMetric(pct(onParallel, 0.99), "p99-µs-audited-8c")
}
