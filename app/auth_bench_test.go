package app_test

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

// BenchmarkReadPatientTokenOverhead reads one Patient over loopback, alternating a
// request without a token and one with a valid token (verified by the real verifier,
// cached after its first use as in production), and reports the p50 of each and the
// difference: what checking a token adds to a read. Target: under 0.2 ms at p50.
func BenchmarkReadPatientTokenOverhead(b *testing.B) {
	s := apptest.New(b)
	s.Must(b, http.StatusCreated, "PUT", "Patient/auth-p1", patientBody)
	raw := s.Token(b, smarttest.Patient(s.URL, "auth-p1", "patient/*.rs"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	get := func(token string) time.Duration {
		req, _ := http.NewRequest("GET", s.URL+"/Patient/auth-p1", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
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
	get("")
	get(raw)
	var without, with []time.Duration
	for b.Loop() {
		without = append(without, get(""))
		with = append(with, get(raw))
	}
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds())
	}
	a, t := p50(without), p50(with)
	b.ReportMetric(a, "p50-µs-anonymous")
	b.ReportMetric(t, "p50-µs-token")
	b.ReportMetric(t-a, "p50-µs-added")
}
