package audit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/audit"
	smartauth "github.com/careslot/careslot/smart-auth"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/storage/storagetest"
)

// BenchmarkReadPatientAuditOverhead reads one Patient over loopback from the same
// careslot, alternating the whole server (every read audited) and its FHIR handler
// alone (nothing audited), from 1 and 8 concurrent clients, and reports the p50 and p99
// of each and what the audit adds: the cost a caller sees, the writer's INSERTs included.
func BenchmarkReadPatientAuditOverhead(b *testing.B) {
	s := apptest.New(b)
	s.Must(b, http.StatusCreated, "PUT", "Patient/au-bench", patient("au-bench"))
	// The same token check in front of the same FHIR handler, without the audit.
	verifier, err := s.Tokens.Verifier(s.URL)
	if err != nil {
		b.Fatal(err)
	}
	bare := httptest.NewServer(smartauth.Authentication{Verifier: verifier}.Middleware(s.App.FHIR.Handler()))
	b.Cleanup(bare.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	get := func(base string) time.Duration {
		req, _ := http.NewRequest("GET", base+"/fhir/Patient/au-bench", nil)
		req.Header.Set("Authorization", "Bearer "+s.SystemToken)
		start := time.Now()
		resp, err := client.Do(req)
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

// BenchmarkCreatePatientAuditOverhead creates Patients through storage, alternating a
// store that audits its writes (the AuditEvent rides with the COMMIT) and one that does
// not, on the same database, and reports the p50 of each and what the audit adds.
func BenchmarkCreatePatientAuditOverhead(b *testing.B) {
	db := storagetest.NewDatabase(b)
	ctx := context.Background()
	open := func() *storage.Store {
		st, err := storage.Open(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(st.Close)
		return st
	}
	audited, plain := open(), open()
	rec := audit.NewRecorder(audited, slog.New(slog.NewTextHandler(io.Discard, nil)), audit.Config{})
	b.Cleanup(func() { rec.Close(ctx) })
	audited.SetWriteAudit(rec.WriteAudit)
	create := func(st *storage.Store) time.Duration {
		id := storage.NewID()
		start := time.Now()
		err := st.InTx(ctx, func(tx *storage.Tx) error {
			_, err := tx.Write(ctx, nil, "Patient", id, []byte(patient(id)), http.MethodPost)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	create(audited)
	create(plain)
	var on, off []time.Duration
	for b.Loop() {
		on = append(on, create(audited))
		off = append(off, create(plain))
	}
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds())
	}
	b.ReportMetric(p50(off), "p50-µs-unaudited")
	b.ReportMetric(p50(on), "p50-µs-audited")
	b.ReportMetric(p50(on)-p50(off), "p50-µs-added")
}
