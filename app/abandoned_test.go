package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/storage/storagetest"
)

// TestAbandonedRequestIsNoError: a request whose client has gone is logged as abandoned,
// not as an internal error to alert on.
func TestAbandonedRequestIsNoError(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, err := app.New(ctx, app.Config{DatabaseURL: storagetest.NewDatabase(t), BaseURL: "http://127.0.0.1/fhir"}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/fhir/Patient/anyone", nil).WithContext(gone)
	a.FHIR.Handler().ServeHTTP(httptest.NewRecorder(), req) // as the server itself: no token needed
	if strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "abandoned") {
		t.Errorf("logs of an abandoned request:\n%s", logs.String())
	}
}
