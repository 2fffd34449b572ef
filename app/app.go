// Package app wires every careslot package into one running server: storage, rules,
// the FHIR API and its operations. cmd/careslot runs it; tests start it on a fresh
// database through app/apptest, so that they exercise exactly what production runs.
package app

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/resources"
	"github.com/careslot/careslot/storage"
)

// Config is everything careslot needs to run, read once by cmd/careslot.
type Config struct {
	Addr            string // CARESLOT_ADDR: where to listen
	BaseURL         string // CARESLOT_BASE_URL: the public URL of /fhir
	DatabaseURL     string // DATABASE_URL
	RequireCoverage bool   // CARESLOT_REQUIRE_COVERAGE: refuse bookings without active coverage
}

// App is a wired careslot.
type App struct {
	Store   *storage.Store
	Rules   *resources.Rules
	FHIR    *fhir.Server
	Handler http.Handler // everything careslot serves, by path
}

// New connects to the database (creating and migrating it when needed) and wires the server.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := storage.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	store, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	rules := resources.New(resources.Config{RequireCoverage: cfg.RequireCoverage})
	api, err := fhir.NewServer(fhir.Config{BaseURL: cfg.BaseURL}, store, rules, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	for _, op := range api.SchedulingOperations() {
		api.Register(op)
	}
	if err := api.StoreOperationDefinitions(ctx); err != nil {
		store.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/fhir/", api.Handler())
	mux.Handle("/fhir", api.Handler())
	return &App{Store: store, Rules: rules, FHIR: api, Handler: mux}, nil
}

// Close releases the database connections.
func (a *App) Close() { a.Store.Close() }
