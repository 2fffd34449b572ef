package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/careslot/careslot/app"
)

// seed answers `careslot seed`: it writes the demo clinic into the database, whatever is
// there already. Resources have fixed ids, so running it again updates rather than
// duplicates, and slots are generated idempotently.
func seed(ctx context.Context, cfg config, log *slog.Logger) error {
	a, err := app.New(ctx, cfg.Config, log)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Store.Exclusive(ctx, "careslot seed", func() error {
		ctx, cancel := seedContext(ctx)
		defer cancel()
		return seedDemoClinic(ctx, a.FHIR.Handler(), time.Now().UTC(), log)
	})
}

// seedTimeout bounds a seed that SIGTERM no longer stops; a seed takes about a second.
const seedTimeout = 5 * time.Minute

// seedContext lets a seed that has begun run to its end when ctx is cancelled (SIGTERM),
// so that the demo clinic is never left half-written.
func seedContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), seedTimeout)
}

// seedIfEmpty seeds the demo clinic into a database that has never held anything, so
// that `make run` on a fresh machine shows something. CARESLOT_DEMO_SEED=false turns it
// off, for a production database that must start empty.
func seedIfEmpty(ctx context.Context, a *app.App, log *slog.Logger) error {
	return a.Store.Exclusive(ctx, "careslot seed", func() error {
		ctx, cancel := seedContext(ctx)
		defer cancel()
		empty, err := neverWritten(ctx, a)
		if err != nil || !empty {
			return err
		}
		log.Info("empty database: seeding the demo clinic")
		return seedDemoClinic(ctx, a.FHIR.Handler(), time.Now().UTC(), log)
	})
}

// neverWritten tells whether the database holds no resource, live or deleted, but the
// OperationDefinitions that careslot stores itself at start. A database with data of
// its own but no practitioner yet, or one whose demo data was deleted, is not empty.
func neverWritten(ctx context.Context, a *app.App) (bool, error) {
	written, err := a.Store.HasData(ctx, "OperationDefinition")
	if err != nil {
		return false, err
	}
	return !written, nil
}

// fhirClient calls the FHIR API in process, so the demo data goes through exactly the
// validation and rules that any client's writes do.
type fhirClient struct {
	ctx     context.Context
	handler http.Handler
}

// call sends a request to path under /fhir and decodes the JSON answer.
func (c *fhirClient) call(method, path string, body any) (int, map[string]any, error) {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, "/fhir/"+path, rd).WithContext(c.ctx)
	req.Header.Set("Content-Type", "application/fhir+json")
	rec := httptest.NewRecorder()
	c.handler.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			return rec.Code, nil, fmt.Errorf("%s %s: answer is not JSON: %w", method, path, err)
		}
	}
	return rec.Code, out, nil
}

// must sends a request and fails unless the status is one of ok.
func (c *fhirClient) must(method, path string, body any, ok ...int) (map[string]any, error) {
	status, out, err := c.call(method, path, body)
	if err != nil {
		return nil, err
	}
	for _, s := range ok {
		if status == s {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s %s: status %d: %v", method, path, status, out)
}

// put writes doc as typ/id (creating or updating it).
func (c *fhirClient) put(doc map[string]any) error {
	doc["id"] = doc["id"].(string)
	_, err := c.must("PUT", doc["resourceType"].(string)+"/"+doc["id"].(string), doc, http.StatusOK, http.StatusCreated)
	return err
}
