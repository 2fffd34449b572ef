package openapi_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/openapi"
)

func TestDocumentIsServed(t *testing.T) {
	srv := apptest.New(t)
	resp, err := http.Get(srv.HTTP.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || !bytes.Equal(body, openapi.Document) {
		t.Fatalf("GET /openapi.json: %d %s, %d bytes (want %d)", resp.StatusCode, resp.Header.Get("Content-Type"), len(body), len(openapi.Document))
	}
}
