package fhir_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

// FuzzBinaryUpload sends arbitrary bytes under arbitrary Content-Type, Content-Encoding
// and X-Security-Context headers, as a raw upload and as a Binary's JSON data: never a
// 5xx, and a stored Binary reads back as exactly the bytes sent (raw, and in base64 in
// its JSON form).
func FuzzBinaryUpload(f *testing.F) {
	f.Add("application/pdf", "", "", []byte("%PDF-1.4\n..."))
	f.Add("text/plain; charset=utf-8", "identity", "Patient/nobody", []byte("hello"))
	f.Add("image/png", "gzip", "", []byte("not gzip"))
	f.Add("application/fhir+json", "", "", []byte(`{"resourceType":"Binary","contentType":"text/plain","data":"aGk="}`))
	f.Add("text/plain", "", "http://elsewhere.example/x", []byte{})
	f.Add(";;", "br", "Binary/x", []byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, contentType, encoding, securityContext string, data []byte) {
		header := []string{}
		if encoding != "" {
			header = append(header, "Content-Encoding", encoding)
		}
		if securityContext != "" {
			header = append(header, "X-Security-Context", securityContext)
		}
		for _, c := range contentType + encoding + securityContext {
			if c < 0x20 || c == 0x7f {
				return // not a header value net/http sends
			}
		}
		resp := upload(t, srv, "POST", "Binary", contentType, bytes.NewReader(data), header...)
		body := readAll(t, resp)
		if resp.StatusCode >= 500 {
			t.Fatalf("raw upload: %d %s", resp.StatusCode, body)
		}
		raw := resp.StatusCode == http.StatusCreated && !strings.Contains(contentType, "json") && encoding == ""
		if raw {
			id := binaryID(t, resp)
			if got := srv.Must(t, http.StatusOK, "GET", "Binary/"+id, nil, "Accept", "*/*"); !bytes.Equal(got.Body, data) {
				t.Fatalf("read back %d bytes, sent %d", len(got.Body), len(data))
			}
			res := srv.Must(t, http.StatusOK, "GET", "Binary/"+id, nil, "Accept", "application/fhir+json").JSON(t)
			if d, _ := res["data"].(string); len(data) > 0 && d != base64.StdEncoding.EncodeToString(data) {
				t.Fatalf("JSON data differs from the bytes sent")
			}
		}
		r := srv.Do(t, "POST", "Binary", map[string]any{"resourceType": "Binary", "contentType": contentType,
			"data": base64.StdEncoding.EncodeToString(data)})
		if r.Status >= 500 {
			t.Fatalf("JSON upload: %d %s", r.Status, r.Body)
		}
	})
}
