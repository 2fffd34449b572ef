package fhir_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/smart-auth/scope"
	"github.com/careslot/careslot/storage/storagetest"
)

// syncBuffer is a log sink that the server's goroutines may write to concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestHandlerErrors: what an interaction returns is rendered and logged in one place. A
// panic is a 500 OperationOutcome, logged with its stack (in a batch, that entry's 500
// only); a refusal made from another error shows the client its diagnostics and keeps
// the cause for the log.
func TestHandlerErrors(t *testing.T) {
	logs := &syncBuffer{}
	a, err := app.New(context.Background(), app.Config{DatabaseURL: storagetest.NewDatabase(t), BaseURL: "http://127.0.0.1/fhir"},
		slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.FHIR.Register(&fhir.Operation{Name: "test-panic", Needs: &fhir.Need{Interaction: scope.Read, Type: "Patient"}, Handler: func(http.ResponseWriter, *http.Request) error {
		panic("test-panic went wrong")
	}})
	a.FHIR.Register(&fhir.Operation{Name: "test-refuse", Needs: &fhir.Need{Interaction: scope.Read, Type: "Patient"}, Handler: func(http.ResponseWriter, *http.Request) error {
		return fhirerr.Conflict("try again later").WithCause(errors.New("the database said 40P01"))
	}})
	call := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		rec := httptest.NewRecorder()
		a.FHIR.Handler().ServeHTTP(rec, req) // as the server itself: no token, no caller
		return rec
	}

	t.Run("panic", func(t *testing.T) {
		rec := call(http.MethodGet, "/fhir/$test-panic", "")
		if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"code":"exception"`) ||
			strings.Contains(rec.Body.String(), "went wrong") {
			t.Fatalf("a panic answered %d %s, want a 500 OperationOutcome that does not show the panic", rec.Code, rec.Body)
		}
		if l := logs.String(); !strings.Contains(l, "level=ERROR msg=panic") || !strings.Contains(l, "test-panic went wrong") ||
			!strings.Contains(l, "handle_test.go") {
			t.Errorf("the panic is not logged with its stack:\n%s", l)
		}
	})
	t.Run("panic in a batch entry", func(t *testing.T) {
		rec := call(http.MethodPost, "/fhir", `{"resourceType":"Bundle","type":"batch","entry":[
			{"request":{"method":"GET","url":"$test-panic"}},
			{"request":{"method":"GET","url":"metadata"}}]}`)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, `"status":"500 Internal Server Error"`) || !strings.Contains(body, `"status":"200 OK"`) {
			t.Fatalf("a batch with a panicking entry answered %d %s, want 200 with a 500 entry and a 200 entry", rec.Code, body)
		}
	})
	t.Run("refusal with a cause", func(t *testing.T) {
		rec := call(http.MethodGet, "/fhir/$test-refuse", "")
		if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "try again later") || strings.Contains(rec.Body.String(), "40P01") {
			t.Fatalf("answered %d %s, want a 409 with the diagnostics and without the cause", rec.Code, rec.Body)
		}
		if l := logs.String(); !strings.Contains(l, "level=WARN msg=refused") || !strings.Contains(l, "the database said 40P01") {
			t.Errorf("the cause is not logged:\n%s", l)
		}
	})
}
