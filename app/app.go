// Package app wires every careslot package into one running server: storage, rules,
// the FHIR API and its operations. cmd/careslot runs it; tests start it on a fresh
// database through app/apptest, so that they exercise exactly what production runs.
package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/careslot/careslot/audit"
	demoui "github.com/careslot/careslot/demo-ui"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/fhir/fhirerr"
	"github.com/careslot/careslot/openapi"
	"github.com/careslot/careslot/resources"
	"github.com/careslot/careslot/smart-auth/discovery"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions"
)

// Config is everything careslot needs to run, read once by cmd/careslot.
type Config struct {
	Addr            string // CARESLOT_ADDR: where to listen
	BaseURL         string // CARESLOT_BASE_URL: the public URL of /fhir
	DatabaseURL     string // DATABASE_URL
	RequireCoverage bool   // CARESLOT_REQUIRE_COVERAGE: refuse bookings without active coverage
	// HoldTTL (CARESLOT_HOLD_TTL) is how long $hold keeps a slot; 5 minutes when zero.
	HoldTTL time.Duration
	// BinaryMaxBytes (CARESLOT_BINARY_MAX_BYTES) is the largest Binary stored; 32 MiB when zero.
	BinaryMaxBytes int64
	// StatementTimeout (CARESLOT_STATEMENT_TIMEOUT) bounds each database statement; 0 is
	// storage.DefaultStatementTimeout.
	StatementTimeout time.Duration
	Auth             AuthConfig
	Audit            audit.Config // how AuditEvents are batched; zero is the defaults
	// Subscriptions runs the outbox relay and notification delivery when set; tests that
	// do not need them leave it nil.
	Subscriptions *subscriptions.Config
}

// App is a wired careslot.
type App struct {
	Store         *storage.Store
	Rules         *resources.Rules
	FHIR          *fhir.Server
	Subscriptions *subscriptions.Service // nil when Config.Subscriptions is
	Audit         *audit.Recorder
	Handler       http.Handler // everything careslot serves, by path

	stop context.CancelFunc // ends the background work (the JWKS cache)
}

// New connects to the database (creating and migrating it when needed) and wires the server.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := storage.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	store, err := storage.OpenWith(ctx, cfg.DatabaseURL, storage.Options{StatementTimeout: cfg.StatementTimeout})
	if err != nil {
		return nil, err
	}
	rulesCfg := resources.Config{RequireCoverage: cfg.RequireCoverage, BaseURL: cfg.BaseURL}
	fhirCfg := fhir.Config{BaseURL: cfg.BaseURL, HoldTTL: cfg.HoldTTL, BinaryMaxBytes: cfg.BinaryMaxBytes}
	var subs *subscriptions.Service
	var rules *resources.Rules
	if cfg.Subscriptions != nil {
		subCfg := *cfg.Subscriptions
		subCfg.BaseURL = cfg.BaseURL
		// A notification carries only what its subscription's owner may read.
		subCfg.Visible = func(ctx context.Context, owner []byte, c storage.Change, content []byte) (bool, error) {
			return rules.OwnerMaySee(ctx, store, owner, c, content)
		}
		subs = subscriptions.New(subCfg, store, log)
		rulesCfg.AllowPrivateEndpoints = subCfg.AllowPrivate
		fhirCfg.Websocket = subs.WebsocketHandler()
	}
	rules = resources.New(rulesCfg)
	rules.Observe = func(ctx context.Context, e resources.Event) {
		if !e.Allowed {
			audit.Denied(ctx, e.Reason)
		}
	}
	discover := cfg.Auth.discovery(cfg.BaseURL)
	if cfg.Auth.HydraPublicURL != "" {
		fhirCfg.Security = discover.CapabilitySecurity()
	}
	api, err := fhir.NewServer(fhirCfg, store, rules, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	RegisterOperations(api)
	if err := api.StoreOperationDefinitions(ctx); err != nil {
		store.Close()
		return nil, err
	}
	background, stop := context.WithCancel(context.WithoutCancel(ctx))
	auth, err := authentication(background, cfg)
	if err != nil {
		stop()
		store.Close()
		return nil, err
	}
	// The audit sits in front of authentication, so that it sees the refusals of bad tokens too.
	recorder := audit.NewRecorder(store, log, cfg.Audit)
	store.SetWriteAudit(recorder.WriteAudit)
	fhirAPI := recorder.Middleware(auth.Middleware(api.Handler()))
	mux := http.NewServeMux()
	mux.Handle("/fhir/", fhirAPI)
	mux.Handle("/fhir", fhirAPI)
	mux.Handle("/fhir/metadata", discovery.CORS("GET, HEAD, OPTIONS", fhirAPI))
	mux.Handle("GET /healthz", healthz(store, subs))
	mux.Handle("GET /openapi.json", openapi.DocumentHandler())
	mux.Handle("GET /swagger", openapi.SwaggerHandler(cfg.BaseURL))
	mux.Handle("GET /swagger/", openapi.SwaggerHandler(cfg.BaseURL))
	if err := mountAuthorization(mux, cfg, discover, auth, store, log); err != nil {
		stop()
		recorder.Close(ctx)
		store.Close()
		return nil, err
	}
	demoui.Mount(mux)
	mux.Handle("/", notFound())
	if subs != nil {
		if err := subs.Start(ctx); err != nil {
			stop()
			recorder.Close(ctx)
			store.Close()
			return nil, err
		}
	}
	return &App{Store: store, Rules: rules, FHIR: api, Subscriptions: subs, Audit: recorder, Handler: mux, stop: stop}, nil
}

// RegisterOperations adds every extended operation careslot serves to api; the OpenAPI
// generator (openapi/spec) describes the same set through it.
func RegisterOperations(api *fhir.Server) {
	for _, op := range append(append(api.SchedulingOperations(), api.SubscriptionOperations()...), api.ValidateOperation(), api.EverythingOperation()) {
		api.Register(op)
	}
}

// auditFlushTimeout bounds how long Close waits for the queued AuditEvents to be stored.
const auditFlushTimeout = 30 * time.Second

// Close stops the background work (subscription workers, the JWKS cache), stores the
// AuditEvents still queued and releases the database connections. Stop serving first:
// the AuditEvent of a request answered after Close can only go to the log.
func (a *App) Close() {
	if a.Subscriptions != nil {
		a.Subscriptions.Stop()
	}
	a.stop()
	ctx, cancel := context.WithTimeout(context.Background(), auditFlushTimeout)
	defer cancel()
	a.Audit.Close(ctx)
	a.Store.Close()
}

// healthz answers 200 when the database answers within two seconds and 503 otherwise,
// for health checks and load balancers: /fhir/metadata answers without the database.
// With subscriptions running it also tells the broker's and the relay's state and the
// relay's lag; their trouble makes the status "degraded", still 200: writes go on
// succeeding and the outbox keeps every change until the relay catches up.
func healthz(store *storage.Store, subs *subscriptions.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"unavailable","database":"unreachable"}`))
			return
		}
		if subs == nil {
			w.Write([]byte(`{"status":"ok"}`))
			return
		}
		h := subs.Health(ctx)
		status := "ok"
		if !h.Healthy {
			status = "degraded"
		}
		body, _ := json.Marshal(map[string]any{"status": status, "database": "ok", "broker": h.Broker, "relay": h.Relay})
		w.Write(body)
	})
}

// notFound answers every path outside /fhir and /healthz with a 404 OperationOutcome, so
// that a FHIR client that strays (e.g. /fhir/.. cleaned to /) still reads a FHIR error.
func notFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fe := fhirerr.NotFound(r.URL.Path + " is not a careslot endpoint; the FHIR API is under /fhir")
		w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
		w.WriteHeader(fe.Status())
		w.Write(fe.JSON())
	})
}
