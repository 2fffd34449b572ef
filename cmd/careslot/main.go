// Command careslot is the careslot FHIR server: the one binary, and the only place that
// knows every package and wires them together.
//
//	careslot serve     migrate, then serve the API (the default)
//	careslot migrate   apply database migrations and exit
//	careslot seed      write the demo clinic (serve does it by itself on an empty database)
//	careslot reindex   rebuild the search index, after the definitions or extraction change
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/storage"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg := configFromEnv()
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, cfg, log)
	case "migrate":
		err = migrate(ctx, cfg)
	case "reindex":
		err = reindex(ctx, cfg, log)
	case "seed":
		err = seed(ctx, cfg, log)
	default:
		err = fmt.Errorf("unknown command %q; use serve, migrate, seed or reindex", cmd)
	}
	if err != nil {
		log.Error("careslot failed", "command", cmd, "err", err)
		os.Exit(1)
	}
}

func configFromEnv() app.Config {
	cfg := app.Config{
		Addr:            envOr("CARESLOT_ADDR", "127.0.0.1:8080"),
		DatabaseURL:     envOr("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/careslot?sslmode=disable"),
		RequireCoverage: envOr("CARESLOT_REQUIRE_COVERAGE", "true") != "false",
	}
	cfg.BaseURL = envOr("CARESLOT_BASE_URL", "http://"+cfg.Addr+"/fhir")
	return cfg
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func migrate(ctx context.Context, cfg app.Config) error {
	if err := storage.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	store, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	store.Close()
	return nil
}

func serve(ctx context.Context, cfg app.Config, log *slog.Logger) error {
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := seedIfEmpty(ctx, a, log); err != nil {
		return err
	}
	go sweepHolds(ctx, a, log)
	srv := &http.Server{Addr: cfg.Addr, Handler: logRequests(log, a.Handler), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("careslot serving", "addr", cfg.Addr, "base", cfg.BaseURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("careslot shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// statusWriter remembers the status of a response for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// logRequests logs one line per request: method, path, status and duration. The query
// string is left out because search parameters can carry patient data.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "ms", time.Since(start).Milliseconds())
	})
}
