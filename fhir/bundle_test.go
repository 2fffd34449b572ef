package fhir_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func entries(t *testing.T, b map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	list, _ := b["entry"].([]any)
	for _, e := range list {
		out = append(out, e.(map[string]any))
	}
	return out
}

func status(e map[string]any) string {
	resp, _ := e["response"].(map[string]any)
	s, _ := resp["status"].(string)
	return s
}

func TestTransactionResolvesUUIDReferences(t *testing.T) {
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Observation","status":"final","code":{"text":"weight"},
	   "subject":{"reference":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"},"valueQuantity":{"value":72.50,"unit":"kg"}},
	   "request":{"method":"POST","url":"Observation"}},
	 {"fullUrl":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059","resource":{"resourceType":"Patient","name":[{"family":"Uuid"}]},
	   "request":{"method":"POST","url":"Patient"}}]}`
	b := srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t)
	if b["type"] != "transaction-response" {
		t.Fatalf("type %v", b["type"])
	}
	es := entries(t, b)
	if len(es) != 2 || status(es[0]) != "201 Created" || status(es[1]) != "201 Created" {
		t.Fatalf("entries: %v", es)
	}
	// Responses come in the order of the request, whatever the processing order was.
	obs, pat := es[0]["resource"].(map[string]any), es[1]["resource"].(map[string]any)
	if obs["resourceType"] != "Observation" || pat["resourceType"] != "Patient" {
		t.Fatalf("response order: %v / %v", obs["resourceType"], pat["resourceType"])
	}
	want := "Patient/" + pat["id"].(string)
	if got := obs["subject"].(map[string]any)["reference"]; got != want {
		t.Errorf("subject = %v, want %s", got, want)
	}
	stored := srv.Must(t, http.StatusOK, "GET", "Observation/"+obs["id"].(string), nil)
	if !regexp.MustCompile(`"value": ?72\.50\b`).Match(stored.Body) {
		t.Errorf("decimal precision lost: %s", stored.Body)
	}
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	cases := map[string]string{
		// The second entry is invalid: the first must not be stored either.
		"invalid entry": `{"resourceType":"Patient","id":"tx-aon-1","birthDate":"not-a-date"}`,
		// The second entry's reference cannot resolve: found only at commit.
		"dangling reference": `{"resourceType":"Patient","id":"tx-aon-1","managingOrganization":{"reference":"Organization/nowhere"}}`,
	}
	for name, second := range cases {
		t.Run(name, func(t *testing.T) {
			bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[
			 {"resource":%s,"request":{"method":"PUT","url":"Patient/tx-aon-0"}},
			 {"resource":%s,"request":{"method":"PUT","url":"Patient/tx-aon-1"}}]}`, patient("tx-aon-0"), second)
			r := srv.Do(t, "POST", "", bundle)
			if r.Status < 400 || r.Status >= 500 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if ex := expression(t, r); !strings.HasPrefix(ex, "Bundle.entry[1]") {
				t.Errorf("expression %q should point into entry 1", ex)
			}
			srv.Must(t, http.StatusNotFound, "GET", "Patient/tx-aon-0", nil)
			srv.Must(t, http.StatusNotFound, "GET", "Patient/tx-aon-1", nil)
		})
	}
}

func TestTransactionProcessingOrder(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/tx-old", patient("tx-old"))
	// GET is processed after PUT and DELETE before POST, whatever the entry order.
	bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[
	 {"request":{"method":"GET","url":"Patient/tx-order"}},
	 {"resource":%s,"request":{"method":"PUT","url":"Patient/tx-order"}},
	 {"request":{"method":"DELETE","url":"Patient/tx-old"}}]}`, patient("tx-order"))
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t))
	if status(es[0]) != "200 OK" || status(es[1]) != "201 Created" || status(es[2]) != "204 No Content" {
		t.Fatalf("statuses %s %s %s", status(es[0]), status(es[1]), status(es[2]))
	}
	srv.Must(t, http.StatusGone, "GET", "Patient/tx-old", nil)
}

func TestTransactionRefusesTwoEntriesForOneResource(t *testing.T) {
	bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":%s,"request":{"method":"PUT","url":"Patient/tx-dup"}},
	 {"request":{"method":"DELETE","url":"Patient/tx-dup"}}]}`, patient("tx-dup"))
	r := srv.Must(t, http.StatusBadRequest, "POST", "", bundle)
	if issue(t, r)["code"] != "duplicate" {
		t.Errorf("%s", r.Body)
	}
}

func TestTransactionConditionalCreateReusesMatch(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/tx-cond", patient("tx-cond"))
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:0b8bd6a8-2b4b-4a30-9d41-fb3cbf7ee7b7","resource":{"resourceType":"Patient"},
	  "request":{"method":"POST","url":"Patient","ifNoneExist":"_id=tx-cond"}},
	 {"resource":{"resourceType":"Observation","status":"final","code":{"text":"bp"},"subject":{"reference":"urn:uuid:0b8bd6a8-2b4b-4a30-9d41-fb3cbf7ee7b7"}},
	  "request":{"method":"POST","url":"Observation"}}]}`
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t))
	if status(es[0]) != "200 OK" {
		t.Errorf("conditional create with a match should answer 200, got %s", status(es[0]))
	}
	obs := es[1]["resource"].(map[string]any)
	if ref := obs["subject"].(map[string]any)["reference"]; ref != "Patient/tx-cond" {
		t.Errorf("reference resolved to %v, want the existing Patient/tx-cond", ref)
	}
}

func TestBatchEntriesAreIndependent(t *testing.T) {
	bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"batch","entry":[
	 {"resource":%s,"request":{"method":"PUT","url":"Patient/batch-ok"}},
	 {"resource":{"resourceType":"Patient","gender":"robot"},"request":{"method":"POST","url":"Patient"}},
	 {"request":{"method":"GET","url":"Patient/batch-missing"}}]}`, patient("batch-ok"))
	b := srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t)
	if b["type"] != "batch-response" {
		t.Fatalf("type %v", b["type"])
	}
	es := entries(t, b)
	if status(es[0]) != "201 Created" || status(es[1]) != "400 Bad Request" || status(es[2]) != "404 Not Found" {
		t.Fatalf("statuses %s / %s / %s", status(es[0]), status(es[1]), status(es[2]))
	}
	if es[1]["response"].(map[string]any)["outcome"] == nil {
		t.Errorf("failed batch entry has no outcome")
	}
	srv.Must(t, http.StatusOK, "GET", "Patient/batch-ok", nil)
}

func TestBundleRefusals(t *testing.T) {
	cases := map[string]string{
		"not a bundle":      patient("x"),
		"collection":        `{"resourceType":"Bundle","type":"collection"}`,
		"entry no request":  `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"}}]}`,
		"patch no resource": `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"PATCH","url":"Patient/1"}}]}`,
		"bad verb":          `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"FETCH","url":"Patient/1"}}]}`,
		"post no resource":  `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Patient"}}]}`,
		"malformed":         `{"resourceType":"Bundle","type":"transaction","entry":{}}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			r := srv.Must(t, http.StatusBadRequest, "POST", "", body)
			issue(t, r)
		})
	}
}

func TestTransactionDeletesReferrerAndTarget(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/tx-del", patient("tx-del"))
	obs := `{"resourceType":"Observation","id":"tx-del-obs","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/tx-del"}}`
	srv.Must(t, http.StatusCreated, "PUT", "Observation/tx-del-obs", obs)
	// Deleting only the target fails; deleting both in one transaction succeeds,
	// because references are checked when the transaction commits.
	srv.Must(t, http.StatusConflict, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"request":{"method":"DELETE","url":"Patient/tx-del"}}]}`)
	srv.Must(t, http.StatusOK, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"request":{"method":"DELETE","url":"Patient/tx-del"}},
	 {"request":{"method":"DELETE","url":"Observation/tx-del-obs"}}]}`)
	srv.Must(t, http.StatusGone, "GET", "Patient/tx-del", nil)
}

func TestTransactionResolvesConditionalReferences(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/tx-condref", patient("tx-condref"))
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":{"resourceType":"Observation","status":"final","code":{"text":"bp"},"subject":{"reference":"Patient?_id=tx-condref"}},
	  "request":{"method":"POST","url":"Observation"}}]}`
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t))
	if ref := es[0]["resource"].(map[string]any)["subject"].(map[string]any)["reference"]; ref != "Patient/tx-condref" {
		t.Errorf("conditional reference resolved to %v", ref)
	}
	none := strings.Replace(bundle, "_id=tx-condref", "_id=nobody-at-all", 1)
	r := srv.Must(t, http.StatusPreconditionFailed, "POST", "", none)
	if issue(t, r)["code"] != "multiple-matches" {
		t.Errorf("unresolvable conditional reference: %s", r.Body)
	}
}

func TestInvalidUTF8IsRefusedNotAltered(t *testing.T) {
	bad := "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"fullUrl\":\"urn:uuid:9d0f4c0e-1d52-4a0b-9d0c-6b1c8a2f4e11\"," +
		"\"resource\":{\"resourceType\":\"Patient\",\"id\":\"utf8-tx\",\"name\":[{\"family\":\"Bad\xff\xfeName\"}]},\"request\":{\"method\":\"PUT\",\"url\":\"Patient/utf8-tx\"}}]}"
	r := srv.Must(t, http.StatusBadRequest, "POST", "", bad)
	if issue(t, r)["code"] != "structure" {
		t.Errorf("%s", r.Body)
	}
	srv.Must(t, http.StatusNotFound, "GET", "Patient/utf8-tx", nil)
	srv.Must(t, http.StatusBadRequest, "PUT", "Patient/utf8-single", "{\"resourceType\":\"Patient\",\"id\":\"utf8-single\",\"gender\":\"m\xffale\"}")
}

// TestBundleEntryFormat: an entry asking for XML by _format gets 406, as the same
// request outside a Bundle does.
func TestBundleEntryFormat(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/entry-format", patient("entry-format"))
	batch := `{"resourceType":"Bundle","type":"batch","entry":[
		{"request":{"method":"GET","url":"Patient/entry-format?_format=xml"}},
		{"request":{"method":"GET","url":"Patient/entry-format?_format=json"}}]}`
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", batch).JSON(t))
	if len(es) != 2 || status(es[0]) != "406 Not Acceptable" || status(es[1]) != "200 OK" {
		t.Errorf("entries: %v", es)
	}
}
