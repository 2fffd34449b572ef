package fhir_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// _count=0 asks for no entries; it used to index out of range and answer 500.
func TestHistoryCountZero(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/hist-zero", patient("hist-zero"))
	for _, path := range []string{"Patient/hist-zero/_history?_count=0", "Patient/_history?_count=0", "_history?_count=0"} {
		b := srv.Must(t, http.StatusOK, "GET", path, nil).JSON(t)
		if b["type"] != "history" || b["entry"] != nil {
			t.Errorf("GET %s: %v", path, b)
		}
	}
}

// A _cursor is client input: one whose version does not fit the database's integer is a 400, not a 500.
func TestHistoryCursorOutOfRange(t *testing.T) {
	cursor := base64.RawURLEncoding.EncodeToString([]byte("1.1.99999999999"))
	r := srv.Must(t, http.StatusBadRequest, "GET", "_history?_cursor="+cursor, nil)
	if expression(t, r) != "_cursor" {
		t.Errorf("expression: %s", r.Body)
	}
}

// PostgreSQL's jsonb cannot store \u0000; where the R4 parser lets it through (xhtml,
// markdown) it must be refused as a 400, not fail at the INSERT with a 500.
func TestNulEscapeRefused(t *testing.T) {
	for name, body := range map[string]string{
		"narrative": `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">a\u0000b</div>"}}`,
		"markdown":  `{"resourceType":"Patient","extension":[{"url":"http://example.org/x","valueMarkdown":"a\u0000b"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := srv.Must(t, http.StatusBadRequest, "POST", "Patient", body)
			if issue(t, r)["code"] != "structure" {
				t.Errorf("code: %s", r.Body)
			}
		})
	}
	// An escaped backslash followed by u0000 is ordinary text.
	srv.Must(t, http.StatusCreated, "POST", "Basic", `{"resourceType":"Basic","code":{"text":"a\\u0000b"}}`)
}

// A Bundle posted to the base from inside a transaction used to run in a database
// transaction of its own: it committed although the outer transaction failed (and it
// waited forever on rows the outer transaction had locked). Bundles do not nest.
func TestNestedBundleRefused(t *testing.T) {
	inner := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":%s,"request":{"method":"PUT","url":"Patient/nested-1"}}]}`, patient("nested-1"))
	outer := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":%s,"request":{"method":"POST","url":"/"}},
	 {"resource":{"resourceType":"Patient","id":"nested-2","birthDate":"bad"},"request":{"method":"PUT","url":"Patient/nested-2"}}]}`, inner)
	r := srv.Do(t, "POST", "", outer)
	if r.Status < 400 || r.Status >= 500 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	srv.Must(t, http.StatusNotFound, "GET", "Patient/nested-1", nil)

	// Alone in a transaction, the nested Bundle is refused too, and in a batch its entry fails.
	outer = fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":%s,"request":{"method":"POST","url":"/"}}]}`, inner)
	r = srv.Must(t, http.StatusBadRequest, "POST", "", outer)
	if expression(t, r) != "Bundle.entry[0]" {
		t.Errorf("expression: %s", r.Body)
	}
	outer = fmt.Sprintf(`{"resourceType":"Bundle","type":"batch","entry":[{"resource":%s,"request":{"method":"POST","url":"%s"}}]}`, inner, srv.URL)
	b := srv.Must(t, http.StatusOK, "POST", "", outer).JSON(t)
	if es := entries(t, b); len(es) != 1 || status(es[0]) != "400 Bad Request" {
		t.Errorf("batch entries: %v", es)
	}
	srv.Must(t, http.StatusNotFound, "GET", "Patient/nested-1", nil)
}

// The fullUrl of a conditional update entry is replaced by the Type/id it became, like a
// POST's: it used to be left in the references as a urn:uuid that names nothing.
func TestTransactionResolvesConditionalUpdateFullURL(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprint("existing=", existing), func(t *testing.T) {
			ident := fmt.Sprint("cu-urn-", existing)
			pat := `{"resourceType":"Patient","identifier":[{"system":"http://example.org/mrn","value":"` + ident + `"}]}`
			if existing {
				srv.Must(t, http.StatusCreated, "POST", "Patient", pat)
			}
			bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
			 {"fullUrl":"urn:uuid:0b0f6a6e-6c1c-4c55-9a8e-` + map[bool]string{false: "000000000000", true: "000000000001"}[existing] + `","resource":` + pat + `,
			  "request":{"method":"PUT","url":"Patient?identifier=http://example.org/mrn|` + ident + `"}},
			 {"resource":{"resourceType":"Observation","status":"final","code":{"text":"weight"},
			   "subject":{"reference":"urn:uuid:0b0f6a6e-6c1c-4c55-9a8e-` + map[bool]string{false: "000000000000", true: "000000000001"}[existing] + `"}},
			  "request":{"method":"POST","url":"Observation"}}]}`
			es := entries(t, srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t))
			pid := es[0]["resource"].(map[string]any)["id"].(string)
			subject := es[1]["resource"].(map[string]any)["subject"].(map[string]any)["reference"]
			if subject != "Patient/"+pid {
				t.Errorf("subject = %v, want Patient/%s", subject, pid)
			}
		})
	}
}

// A conditional update entry whose condition is bad fails the transaction with a 4xx.
func TestTransactionConditionalUpdateBadCondition(t *testing.T) {
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:0b0f6a6e-6c1c-4c55-9a8e-000000000002","resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient?identifier=%ff%fe"}}]}`
	r := srv.Do(t, "POST", "", bundle)
	if r.Status != http.StatusBadRequest {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
}

func TestElementsKeepsMetaExactly(t *testing.T) {
	body := `{"resourceType":"Patient","id":"meta-exact","meta":{"extension":[{"url":"http://example.org/x","valueDecimal":1.10}],"tag":[{"code":"a"}]},"gender":"male"}`
	srv.Must(t, http.StatusCreated, "PUT", "Patient/meta-exact", body)
	r := srv.Must(t, http.StatusOK, "GET", "Patient/meta-exact?_elements=gender", nil)
	if !regexp.MustCompile(`"valueDecimal": ?1\.10\b`).Match(r.Body) {
		t.Errorf("meta decimal changed form: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"code":"a"`) && !strings.Contains(string(r.Body), `"code": "a"`) || !strings.Contains(string(r.Body), "SUBSETTED") {
		t.Errorf("tags: %s", r.Body)
	}
}

func TestVreadOfANonNumericVersionIs404(t *testing.T) {
	srv.Must(t, http.StatusCreated, "PUT", "Patient/vread-abc", patient("vread-abc"))
	r := srv.Must(t, http.StatusNotFound, "GET", "Patient/vread-abc/_history/abc", nil)
	if !strings.Contains(string(r.Body), `no version \"abc\"`) {
		t.Errorf("%s", r.Body)
	}
}

func TestHistoryInsideATransactionSeesItsWrites(t *testing.T) {
	bundle := fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[
	 {"resource":%s,"request":{"method":"PUT","url":"Patient/tx-hist"}},
	 {"request":{"method":"GET","url":"Patient/tx-hist/_history"}}]}`, patient("tx-hist"))
	b := srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t)
	es := entries(t, b)
	if status(es[1]) != "200 OK" {
		t.Fatalf("history entry: %v", es[1]["response"])
	}
	hist := es[1]["resource"].(map[string]any)
	if got := len(hist["entry"].([]any)); got != 1 {
		t.Errorf("the transaction's history of Patient/tx-hist has %d entries, want 1", got)
	}
}

func TestTransactionTwoIdenticalConditionalCreates(t *testing.T) {
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	 {"fullUrl":"urn:uuid:6f1c2b8e-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"twin-1"}]},
	  "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:test|twin-1"}},
	 {"fullUrl":"urn:uuid:6f1c2b8e-0000-4000-8000-000000000002","resource":{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"twin-1"}]},
	  "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:test|twin-1"}},
	 {"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:6f1c2b8e-0000-4000-8000-000000000002"}},
	  "request":{"method":"POST","url":"Observation"}}]}`
	es := entries(t, srv.Must(t, http.StatusOK, "POST", "", bundle).JSON(t))
	if status(es[0]) != "201 Created" || status(es[1]) != "200 OK" {
		t.Fatalf("statuses %s, %s: want the first to create and the second to match it", status(es[0]), status(es[1]))
	}
	id := es[0]["resource"].(map[string]any)["id"]
	if es[1]["resource"].(map[string]any)["id"] != id {
		t.Errorf("the twins are different resources")
	}
	if ref := es[2]["resource"].(map[string]any)["subject"].(map[string]any)["reference"]; ref != "Patient/"+id.(string) {
		t.Errorf("reference to the second twin is %v, want Patient/%v", ref, id)
	}
}
