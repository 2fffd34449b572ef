package fhir_test

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkSearchRepeatedParams: Patient?name=a sent 300 times (issue 14: no answer within
// 30 s, and 500 repeats ran for more than 15 minutes) against name=a sent once, the
// reference, both through HTTP in the same run. Repeats are merged, so the ratio is near 1.
func BenchmarkSearchRepeatedParams(b *testing.B) {
	srv.Do(b, "PUT", "Patient/bench-repeat", patient("bench-repeat")) // 201, or 200 on a later round
	once, many := srv.URL+"/Patient?name=a", srv.URL+"/Patient?"+repeat("name=a", 300)
	get := func(u string) time.Duration {
		start := time.Now()
		resp, err := srv.Client.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %.80s: %d", u, resp.StatusCode)
		}
		return time.Since(start)
	}
	var tOnce, tMany time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tOnce += get(once)
		tMany += get(many)
	}
	b.ReportMetric(float64(tOnce.Microseconds())/1000/float64(b.N), "ms/search-x1")
	b.ReportMetric(float64(tMany.Microseconds())/1000/float64(b.N), "ms/search-x300")
	b.ReportMetric(float64(tMany)/float64(tOnce), "x300/x1")
}
