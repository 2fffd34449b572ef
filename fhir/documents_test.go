package fhir_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/smart-auth/smarttest"
)

// documentReference is a current note about patient whose one attachment is url.
func documentReference(patient string, attachment map[string]any) map[string]any {
	return map[string]any{"resourceType": "DocumentReference", "status": "current", "subject": ref("Patient/" + patient),
		"content": []any{map[string]any{"attachment": attachment}}}
}

func sha1Base64(b []byte) string {
	h := sha1.Sum(b)
	return base64.StdEncoding.EncodeToString(h[:])
}

// postRaw uploads body as a Binary and returns its id, failing unless the status is want.
func postRaw(t *testing.T, want int, contentType string, body []byte, header ...string) string {
	t.Helper()
	resp := upload(t, srv, "POST", "Binary", contentType, bytes.NewReader(body), header...)
	b := readAll(t, resp)
	if resp.StatusCode != want {
		t.Fatalf("POST Binary: %d, want %d: %s", resp.StatusCode, want, b)
	}
	if want != http.StatusCreated {
		return ""
	}
	return binaryID(t, resp)
}

// A DocumentReference's attachment that names a Binary of careslot gets its size and
// hash filled in, must match them when it states them, and must name a Binary that
// exists; the Binary then belongs to the document (securityContext).
func TestDocumentReferenceAttachments(t *testing.T) {
	t.Parallel()
	srv.Must(t, http.StatusCreated, "PUT", "Patient/doc-pat", patient("doc-pat"))
	text := []byte("Discharge note: rest for a week.")
	bin := postRaw(t, http.StatusCreated, "text/plain", text)

	doc := srv.Must(t, http.StatusCreated, "POST", "DocumentReference", documentReference("doc-pat", map[string]any{"url": "Binary/" + bin})).JSON(t)
	att := doc["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
	if att["size"] != float64(len(text)) || att["hash"] != sha1Base64(text) || att["contentType"] != "text/plain" {
		t.Errorf("attachment not filled in: %v", att)
	}
	b := srv.Must(t, http.StatusOK, "GET", "Binary/"+bin, nil, "Accept", "application/fhir+json").JSON(t)
	if sc, _ := b["securityContext"].(map[string]any); sc["reference"] != "DocumentReference/"+doc["id"].(string) {
		t.Errorf("the Binary's securityContext is %v, want the document", b["securityContext"])
	}
	if got := srv.Must(t, http.StatusOK, "GET", "Binary/"+bin, nil).Body; !bytes.Equal(got, text) {
		t.Errorf("the Binary's bytes changed when it was attached: %q", got)
	}

	// Absolute on this base, with the right size and hash: accepted as they are.
	srv.Must(t, http.StatusCreated, "POST", "DocumentReference", documentReference("doc-pat", map[string]any{
		"url": srv.URL + "/Binary/" + bin, "size": len(text), "hash": sha1Base64(text), "contentType": "text/plain"}))

	for _, c := range []struct {
		name       string
		attachment map[string]any
		at         string
	}{
		{"wrong size", map[string]any{"url": "Binary/" + bin, "size": len(text) + 1}, "DocumentReference.content[0].attachment.size"},
		{"wrong hash", map[string]any{"url": "Binary/" + bin, "hash": sha1Base64([]byte("other"))}, "DocumentReference.content[0].attachment.hash"},
		{"no such Binary", map[string]any{"url": "Binary/doc-missing"}, "DocumentReference.content[0].attachment.url"},
		{"no such Binary, absolute", map[string]any{"url": srv.URL + "/Binary/doc-missing"}, "DocumentReference.content[0].attachment.url"},
		{"no such version", map[string]any{"url": "Binary/" + bin + "/_history/9"}, "DocumentReference.content[0].attachment.url"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := srv.Do(t, "POST", "DocumentReference", documentReference("doc-pat", c.attachment))
			if r.Status != http.StatusUnprocessableEntity || expression(t, r) != c.at {
				t.Errorf("status %d at %q, want 422 at %s: %s", r.Status, expression(t, r), c.at, r.Body)
			}
		})
	}
	// A url elsewhere is not careslot's to check.
	srv.Must(t, http.StatusCreated, "POST", "DocumentReference", documentReference("doc-pat", map[string]any{"url": "https://elsewhere.example/Binary/1", "size": 3}))
}

// Access to a Binary follows what it belongs to: a patient reads the Binaries of their
// own documents, a practitioner those of their patients; a Binary of no one is for admins
// and backend services. Every refusal of a read is the 404 of a Binary that does not exist.
func TestBinaryAccessFollowsSecurityContext(t *testing.T) {
	t.Parallel()
	for _, res := range []map[string]any{
		{"resourceType": "Patient", "id": "dac-alice"}, {"resourceType": "Patient", "id": "dac-bob"},
		{"resourceType": "Practitioner", "id": "dac-d1"}, {"resourceType": "Practitioner", "id": "dac-d2"},
		{"resourceType": "Appointment", "id": "dac-a1", "status": "proposed", "participant": []any{
			map[string]any{"actor": ref("Patient/dac-alice"), "status": "needs-action"},
			map[string]any{"actor": ref("Practitioner/dac-d1"), "status": "needs-action"}}},
		{"resourceType": "Appointment", "id": "dac-a2", "status": "proposed", "participant": []any{
			map[string]any{"actor": ref("Patient/dac-bob"), "status": "needs-action"},
			map[string]any{"actor": ref("Practitioner/dac-d2"), "status": "needs-action"}}},
	} {
		srv.Must(t, http.StatusCreated, "PUT", res["resourceType"].(string)+"/"+res["id"].(string), res)
	}
	d1 := apptest.Bearer(srv.Token(t, smarttest.Practitioner(srv.URL, "dac-d1", "", "user/*.cruds")))
	d2 := apptest.Bearer(srv.Token(t, smarttest.Practitioner(srv.URL, "dac-d2", "", "user/*.cruds")))
	alice := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "dac-alice", "patient/*.rs")))
	bob := apptest.Bearer(srv.Token(t, smarttest.Patient(srv.URL, "dac-bob", "patient/*.cruds")))

	// Dr One uploads a scan before writing its note: it is no one's until then, so not
	// even Dr One reads it.
	scan := []byte("\x89PNG scan of Alice's knee")
	bin := postRaw(t, http.StatusCreated, "image/png", scan, d1...)
	srv.Must(t, http.StatusNotFound, "GET", "Binary/"+bin, nil, d1...)
	srv.Must(t, http.StatusNotFound, "GET", "Binary/"+bin, nil, alice...)
	// Another practitioner cannot claim it: to him it does not exist.
	r := srv.Do(t, "POST", "DocumentReference", documentReference("dac-bob", map[string]any{"url": "Binary/" + bin}), d2...)
	if r.Status != http.StatusUnprocessableEntity || expression(t, r) != "DocumentReference.content[0].attachment.url" {
		t.Errorf("Dr Two attaching Dr One's upload: %d %s", r.Status, r.Body)
	}
	srv.Must(t, http.StatusCreated, "POST", "DocumentReference", documentReference("dac-alice", map[string]any{"url": "Binary/" + bin}), d1...)

	missing := srv.Do(t, "GET", "Binary/dac-nothing", nil, alice...)
	for _, c := range []struct {
		name   string
		token  []string
		status int
	}{
		{"Dr One, whose patient's document it is", d1, 200},
		{"Alice, whose document it is", alice, 200},
		{"Bob, another patient", bob, 404},
		{"Dr Two, another practitioner", d2, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"Binary/" + bin, "Binary/" + bin + "/_history/2", "Binary/" + bin + "/_history"} {
				r := srv.Do(t, "GET", path, nil, c.token...)
				if r.Status != c.status {
					t.Fatalf("GET %s: %d, want %d: %.300s", path, r.Status, c.status, r.Body)
				}
				if c.status == 404 && string(bytes.ReplaceAll(r.Body, []byte(bin), []byte("dac-nothing"))) != string(missing.Body) {
					t.Errorf("GET %s: the refusal %s differs from a missing Binary's %s", path, r.Body, missing.Body)
				}
			}
			if r := srv.Do(t, "GET", "Binary/"+bin, nil, append([]string{"Accept", "*/*"}, c.token...)...); c.status == 200 && !bytes.Equal(r.Body, scan) {
				t.Errorf("raw read: %q", r.Body)
			}
		})
	}

	// Writes: a patient uploads nothing; a practitioner may not hang a Binary on a patient
	// not theirs (told as a reference to nothing), nor attach another's Binary to a
	// document (told as a Binary that does not exist), nor change one they cannot see.
	postRaw(t, http.StatusForbidden, "text/plain", []byte("x"), bob...)
	r = srv.Do(t, "POST", "Binary", map[string]any{"resourceType": "Binary", "contentType": "text/plain",
		"securityContext": ref("Patient/dac-alice"), "data": base64.StdEncoding.EncodeToString([]byte("x"))}, d2...)
	if r.Status != http.StatusUnprocessableEntity {
		t.Errorf("Dr Two's Binary for Alice: %d %s", r.Status, r.Body)
	}
	r = srv.Do(t, "POST", "DocumentReference", documentReference("dac-bob", map[string]any{"url": "Binary/" + bin}), d2...)
	if r.Status != http.StatusUnprocessableEntity || expression(t, r) != "DocumentReference.content[0].attachment.url" {
		t.Errorf("Dr Two attaching Alice's Binary: %d %s", r.Status, r.Body)
	}
	resp := upload(t, srv, "PUT", "Binary/"+bin, "text/plain", strings.NewReader("overwritten"), d2...)
	if b := readAll(t, resp); resp.StatusCode != http.StatusNotFound {
		t.Errorf("Dr Two overwriting Alice's Binary: %d %s", resp.StatusCode, b)
	}
	// Dr Two hangs a Binary on his own patient: he and Bob read it, Alice does not.
	own := postRaw(t, http.StatusCreated, "text/plain", []byte("Bob's result"), append([]string{"X-Security-Context", "Patient/dac-bob"}, d2...)...)
	srv.Must(t, http.StatusOK, "GET", "Binary/"+own, nil, d2...)
	srv.Must(t, http.StatusOK, "GET", "Binary/"+own, nil, bob...)
	srv.Must(t, http.StatusNotFound, "GET", "Binary/"+own, nil, alice...)
	if got := srv.Must(t, http.StatusOK, "GET", "Binary/"+bin, nil).Body; !bytes.Equal(got, scan) {
		t.Errorf("a refused write changed the Binary: %q", got)
	}

	// Every read is audited, the refused ones too.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := srv.Must(t, http.StatusOK, "GET", "AuditEvent?entity=Binary/"+bin+"&subtype=read&_count=100", nil)
		var b struct {
			Entry []struct{ Resource struct{ Outcome string } }
		}
		json.Unmarshal(r.Body, &b)
		outcomes := map[string]int{}
		for _, e := range b.Entry {
			outcomes[e.Resource.Outcome]++
		}
		if outcomes["0"] >= 3 && outcomes["4"] >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("audited reads of the Binary: %v", outcomes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A transaction uploads a Binary and its DocumentReference together: the attachment's
// urn:uuid url becomes Binary/[id], and the Binary, written first whatever the order of
// the entries, is filled in and attached within the transaction.
func TestDocumentWithItsBinaryInATransaction(t *testing.T) {
	t.Parallel()
	srv.Must(t, http.StatusCreated, "PUT", "Patient/doc-tx-pat", patient("doc-tx-pat"))
	note := []byte("Referral letter")
	const binURN = "urn:uuid:1d7e8f3a-5b2c-4c1e-9a0f-3e2d1c0b9a8f"
	bundle := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"fullUrl": "urn:uuid:2e8f9a4b-6c3d-4d2f-8b1a-4f3e2d1c0b9a", "resource": documentReference("doc-tx-pat", map[string]any{"url": binURN}),
			"request": map[string]any{"method": "POST", "url": "DocumentReference"}},
		map[string]any{"fullUrl": binURN, "resource": map[string]any{"resourceType": "Binary", "contentType": "text/plain",
			"data": base64.StdEncoding.EncodeToString(note)}, "request": map[string]any{"method": "POST", "url": "Binary"}},
	}}
	out := srv.Must(t, http.StatusOK, "POST", "", bundle, "Prefer", "return=representation").JSON(t)
	entries := out["entry"].([]any)
	doc := entries[0].(map[string]any)["resource"].(map[string]any)
	att := doc["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)
	binID := strings.TrimPrefix(att["url"].(string), "Binary/")
	if att["size"] != float64(len(note)) || att["hash"] != sha1Base64(note) || binID == att["url"] {
		t.Fatalf("attachment %v", att)
	}
	b := srv.Must(t, http.StatusOK, "GET", "Binary/"+binID, nil, "Accept", "application/fhir+json").JSON(t)
	if sc, _ := b["securityContext"].(map[string]any); sc["reference"] != "DocumentReference/"+doc["id"].(string) {
		t.Errorf("the Binary's securityContext is %v", b["securityContext"])
	}
	if got := srv.Must(t, http.StatusOK, "GET", "Binary/"+binID, nil).Body; !bytes.Equal(got, note) {
		t.Errorf("bytes %q", got)
	}
}
