package fhir_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hostileBound is how long any hostile request may take to be answered: generous, so the
// test holds on a loaded machine; before issue 14 some took minutes.
const hostileBound = 5 * time.Second

// hostile is one request a hostile or careless client sends (issue 14).
type hostile struct {
	name         string
	method, path string
	body         string
	header       []string
	status       int    // the status it must get
	expression   string // a prefix of the issue's expression, when it must name an element
}

// repeat is param=value sent n times.
func repeat(param string, n int) string {
	return strings.TrimSuffix(strings.Repeat(param+"&", n), "&")
}

func distinct(param string, n int) string {
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, fmt.Sprintf("%s%d", param, i))
	}
	return strings.Join(parts, "&")
}

func gzipped(s string) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	zw.Close()
	return buf.String()
}

func hostileObservation(value string) string {
	return `{"resourceType":"Observation","status":"final","code":{"text":"weight"},"valueQuantity":{"value":` + value + `,"unit":"kg"}}`
}

// hostileRequests are the requests of issue 14, each with the answer it must get.
func hostileRequests() []hostile {
	tiny := []string{"1e-999999", "-1e-999999", "0e-999999", "1e-20000", "1e-16384", "0." + strings.Repeat("1", 20000), "1e999999"}
	cases := []hostile{
		{name: "name=a x300", method: "GET", path: "Patient?" + repeat("name=a", 300), status: 200},
		{name: "gender=male x300", method: "GET", path: "Patient?" + repeat("gender=male", 300), status: 200},
		{name: "Appointment status=booked x300", method: "GET", path: "Appointment?" + repeat("status=booked", 300), status: 200},
		{name: "name=a x10000", method: "GET", path: "Patient?" + repeat("name=a", 10000), status: 400},
		{name: "name=a x1001", method: "GET", path: "Patient?" + repeat("name=a", 1001), status: 400},
		{name: "101 different names", method: "GET", path: "Patient?" + distinct("name=a", 101), status: 400},
		{name: "21 different names", method: "GET", path: "Patient?" + distinct("name=a", 21), status: 400},
		{name: "1001 values", method: "GET", path: "Patient?name=" + strings.Repeat("a,", 1000) + "a", status: 400},
		{name: "POST _search name=a x1001", method: "POST", path: "Patient/_search", body: repeat("name=a", 1001),
			header: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 400},
		{name: "search value-quantity=1e-999999", method: "GET", path: "Observation?value-quantity=1e-999999", status: 400},
		{name: "search value-quantity=0.(20000 digits)", method: "GET", path: "Observation?value-quantity=0." + strings.Repeat("1", 20000), status: 400},
		{name: "null in an array", method: "POST", path: "Patient", body: `{"resourceType":"Patient","name":[null]}`, status: 400, expression: "Patient.name[0]"},
		{name: "null among given names", method: "POST", path: "Patient", body: `{"resourceType":"Patient","name":[{"given":["a",null]}]}`, status: 400, expression: "Patient.name[0].given[1]"},
		{name: "contained in contained (dom-2)", method: "POST", path: "Patient",
			body:   `{"resourceType":"Patient","contained":[{"resourceType":"Patient","id":"a","contained":[{"resourceType":"Patient","id":"b"}]}]}`,
			status: 400, expression: "Patient.contained[0].contained"},
		{name: "Appointment.start in year 0000", method: "POST", path: "Appointment", status: 400, expression: "Appointment.start",
			body: `{"resourceType":"Appointment","status":"proposed","start":"0000-01-01T10:00:00Z","end":"0001-01-01T11:00:00Z","participant":[{"actor":{"reference":"Patient/hostile-p"},"status":"accepted"}]}`},
		{name: "Appointment.start in year 0000 at +01:00", method: "POST", path: "Appointment", status: 400, expression: "Appointment.start",
			body: `{"resourceType":"Appointment","status":"booked","start":"0000-12-31T10:00:00+01:00","end":"0001-01-01T11:00:00Z","participant":[{"actor":{"reference":"Patient/hostile-p"},"status":"accepted"}]}`},
		{name: "birthDate in year 0000", method: "POST", path: "Patient", body: `{"resourceType":"Patient","birthDate":"0000-01-01"}`, status: 400, expression: "Patient.birthDate"},
		{name: "effectiveDateTime in year 0000", method: "POST", path: "Observation", status: 400, expression: "Observation.effectiveDateTime",
			body: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"0000"}`},
		{name: "transaction reference to a urn:uuid of no entry", method: "POST", path: "", status: 422, expression: "Bundle.entry[0].resource.subject.reference",
			body: `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:0b8e5a3c-1111-4c8e-9f3a-000000000001","request":{"method":"POST","url":"Observation"},` +
				`"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:0b8e5a3c-2222-4c8e-9f3a-000000000002"}}}]}`},
		{name: "gzip body", method: "POST", path: "Patient", body: gzipped(patient("hostile-gz")), header: []string{"Content-Encoding", "gzip"}, status: 201},
		{name: "gzip form body of _search", method: "POST", path: "Patient/_search", body: gzipped("family=Chalmers"),
			header: []string{"Content-Type", "application/x-www-form-urlencoded", "Content-Encoding", "gzip"}, status: 200},
		{name: "gzip bomb: 17 MiB decoded", method: "POST", path: "Patient", status: 413, header: []string{"Content-Encoding", "gzip"},
			body: gzipped(`{"resourceType":"Patient","name":[{"text":"` + strings.Repeat("a", 17<<20) + `"}]}`)},
		{name: "gzip that is not", method: "POST", path: "Patient", body: patient("hostile-notgz"), header: []string{"Content-Encoding", "gzip"}, status: 400},
		{name: "gzip cut short", method: "POST", path: "Patient", body: gzipped(patient("hostile-cut"))[:40], header: []string{"Content-Encoding", "gzip"}, status: 400},
		{name: "Content-Encoding br", method: "POST", path: "Patient", body: patient("hostile-br"), header: []string{"Content-Encoding", "br"}, status: 415},
		{name: "Content-Encoding gzip, br", method: "POST", path: "Patient", body: patient("hostile-br2"), header: []string{"Content-Encoding", "gzip, br"}, status: 415},
		{name: "Content-Encoding deflate on a transaction", method: "POST", path: "", body: `{"resourceType":"Bundle","type":"transaction","entry":[]}`,
			header: []string{"Content-Encoding", "deflate"}, status: 415},
	}
	for _, v := range tiny {
		short := v
		if len(short) > 12 {
			short = short[:12] + "…"
		}
		cases = append(cases,
			hostile{name: "Observation value " + short, method: "POST", path: "Observation", body: hostileObservation(v), status: 400, expression: "Observation.valueQuantity.value"},
			hostile{name: "Coverage valueMoney " + short, method: "POST", path: "Coverage", status: 400, expression: "Coverage.costToBeneficiary[0].valueMoney.value",
				body: `{"resourceType":"Coverage","status":"active","beneficiary":{"reference":"Patient/hostile-p"},"payor":[{"reference":"Patient/hostile-p"}],` +
					`"costToBeneficiary":[{"valueMoney":{"value":` + v + `,"currency":"USD"}}]}`},
			hostile{name: "Location latitude " + short, method: "POST", path: "Location", status: 400, expression: "Location.position.latitude",
				body: `{"resourceType":"Location","position":{"longitude":1,"latitude":` + v + `}}`},
		)
	}
	return cases
}

// TestHostileRequestsAnsweredInTime sends each hostile request to a live server: each is
// answered within hostileBound with its status, a refusal as an OperationOutcome naming
// the element when there is one.
func TestHostileRequestsAnsweredInTime(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/hostile-p", patient("hostile-p"))
	client := &http.Client{Timeout: hostileBound, Transport: srv.Client.Transport} // with the back end's token
	for _, c := range hostileRequests() {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			req, err := http.NewRequest(c.method, srv.URL+"/"+c.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/fhir+json")
			}
			for i := 0; i+1 < len(c.header); i += 2 {
				req.Header.Set(c.header[i], c.header[i+1])
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("no answer within %s: %v", hostileBound, err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			took := time.Since(start)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d after %s, want %d: %.300s", resp.StatusCode, took, c.status, raw)
			}
			if c.status < 400 {
				return
			}
			var oo struct {
				ResourceType string
				Issue        []struct {
					Code       string
					Expression []string
				}
			}
			if err := json.Unmarshal(raw, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
				t.Fatalf("not an OperationOutcome: %.300s", raw)
			}
			if c.expression != "" && (len(oo.Issue[0].Expression) == 0 || !strings.HasPrefix(oo.Issue[0].Expression[0], c.expression)) {
				t.Errorf("expression %v, want %s: %.300s", oo.Issue[0].Expression, c.expression, raw)
			}
		})
	}
}
