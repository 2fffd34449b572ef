// Command careslot is the careslot FHIR server: the one binary, and the only place that
// knows every package and wires them together.
//
//	careslot serve     migrate, then serve the API (the default)
//	careslot migrate   apply database migrations and exit
//	careslot seed      write the demo clinic (serve does it by itself on an empty database)
//	careslot reindex   rebuild the search index, after the definitions or extraction change
//	careslot user      add, passwd, list: the users who sign in (patients, practitioners, admins)
//	careslot subscriptions dlq list|replay   the notifications parked after every retry failed
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/careslot/careslot/app"
	demoui "github.com/careslot/careslot/demo-ui"
	"github.com/careslot/careslot/fhir"
	"github.com/careslot/careslot/openapi"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := configFromEnv()
	if err == nil {
		switch cmd {
		case "serve":
			err = serve(ctx, cfg, log)
		case "migrate":
			err = migrate(ctx, cfg)
		case "reindex":
			err = reindex(ctx, cfg, log)
		case "seed":
			err = seed(ctx, cfg, log)
		case "user":
			err = userCommand(ctx, cfg, os.Args[2:], os.Stdin, os.Stdout)
		case "subscriptions":
			err = subscriptionsCommand(ctx, cfg, os.Args[2:], os.Stdout)
		default:
			err = fmt.Errorf("unknown command %q; use serve, migrate, seed, reindex, user or subscriptions", cmd)
		}
	}
	if err != nil {
		log.Error("careslot failed", "command", cmd, "err", err)
		os.Exit(1)
	}
}

// config is everything the binary reads from the environment.
type config struct {
	app.Config
	DemoSeed bool // CARESLOT_DEMO_SEED: serve seeds the demo clinic into an empty database
	// DemoUsers (CARESLOT_DEMO_USERS, set by make run) makes serve give the demo users
	// new passwords at start (DemoPassword, CARESLOT_DEMO_PASSWORD, or random) and print them.
	DemoUsers    bool
	DemoPassword string
	// DevClientSecret (CARESLOT_DEV_CLIENT_SECRET) registers the backend client
	// careslot-dev with Hydra at start, with this secret; unset registers nothing.
	DevClientSecret string
	// SwaggerClient (CARESLOT_SWAGGER_CLIENT, set by make run) registers Swagger UI's
	// public client careslot-swagger with Hydra at start, so that /swagger/ can sign in.
	SwaggerClient bool
	// UIClient (CARESLOT_UI_CLIENT, set by make run) registers the booking UI's public
	// client careslot-ui with Hydra at start, so that / can sign in.
	UIClient bool
	// Subscriptions is what serve runs the outbox relay and notification delivery with.
	Subscriptions subscriptions.Config
}

func configFromEnv() (config, error) {
	cfg := config{Config: app.Config{
		Addr:        envOr("CARESLOT_ADDR", "127.0.0.1:8080"),
		DatabaseURL: envOr("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/careslot?sslmode=disable"),
	}}
	cfg.BaseURL = envOr("CARESLOT_BASE_URL", defaultBaseURL(cfg.Addr))
	if err := checkBaseURL(os.Getenv("CARESLOT_BASE_URL")); err != nil {
		return cfg, err
	}
	cfg.Auth = app.AuthConfig{
		HydraPublicURL:   envOr("CARESLOT_HYDRA_PUBLIC_URL", "http://127.0.0.1:4444"),
		HydraInternalURL: os.Getenv("CARESLOT_HYDRA_INTERNAL_URL"),
		HydraAdminURL:    envOr("CARESLOT_HYDRA_ADMIN_URL", "http://127.0.0.1:4445"),
		Issuer:           os.Getenv("CARESLOT_OAUTH_ISSUER"),
	}
	for _, name := range []string{"CARESLOT_HYDRA_PUBLIC_URL", "CARESLOT_HYDRA_INTERNAL_URL", "CARESLOT_HYDRA_ADMIN_URL", "CARESLOT_OAUTH_ISSUER"} {
		if err := checkURL(name, os.Getenv(name)); err != nil {
			return cfg, err
		}
	}
	cfg.DevClientSecret = os.Getenv("CARESLOT_DEV_CLIENT_SECRET")
	cfg.DemoPassword = os.Getenv("CARESLOT_DEMO_PASSWORD")
	var err error
	if cfg.SwaggerClient, err = envBool("CARESLOT_SWAGGER_CLIENT", false); err != nil {
		return cfg, err
	}
	if cfg.UIClient, err = envBool("CARESLOT_UI_CLIENT", false); err != nil {
		return cfg, err
	}
	if cfg.DemoUsers, err = envBool("CARESLOT_DEMO_USERS", false); err != nil {
		return cfg, err
	}
	if cfg.RequireCoverage, err = envBool("CARESLOT_REQUIRE_COVERAGE", true); err != nil {
		return cfg, err
	}
	if cfg.DemoSeed, err = envBool("CARESLOT_DEMO_SEED", true); err != nil {
		return cfg, err
	}
	if cfg.StatementTimeout, err = envDuration("CARESLOT_STATEMENT_TIMEOUT", storage.DefaultStatementTimeout); err != nil {
		return cfg, err
	}
	if cfg.HoldTTL, err = envDuration("CARESLOT_HOLD_TTL", 5*time.Minute); err != nil {
		return cfg, err
	}
	if cfg.BinaryMaxBytes, err = envBytes("CARESLOT_BINARY_MAX_BYTES", fhir.DefaultBinaryMaxBytes); err != nil {
		return cfg, err
	}
	cfg.Subscriptions.AMQPURL = envOr("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
	if cfg.Subscriptions.AllowPrivate, err = envBool("CARESLOT_SUBSCRIPTION_ALLOW_PRIVATE", false); err != nil {
		return cfg, err
	}
	if cfg.Subscriptions.OutboxRetention, err = envDuration("CARESLOT_OUTBOX_RETENTION", 72*time.Hour); err != nil {
		return cfg, err
	}
	if cfg.Subscriptions.InProcessFallback, err = envBool("CARESLOT_SUBSCRIPTION_IN_PROCESS", true); err != nil {
		return cfg, err
	}
	cfg.Subscriptions.ReminderLead, err = envDuration("CARESLOT_REMINDER_LEAD", 24*time.Hour)
	return cfg, err
}

// envDuration reads a positive Go duration such as 24h or 90m.
func envDuration(name string, fallback time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fallback, fmt.Errorf("%s is %q; want a positive duration such as 24h or 90m", name, v)
	}
	return d, nil
}

// envBytes reads a positive number of bytes.
func envBytes(name string, fallback int64) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return fallback, fmt.Errorf("%s is %q; want a positive number of bytes such as 33554432", name, v)
	}
	return n, nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// envBool reads a true/false variable; anything else is refused rather than read as the
// default, so that a typo never silently keeps a rule on or off.
func envBool(name string, fallback bool) (bool, error) {
	v := os.Getenv(name)
	if v == "" {
		return fallback, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return fallback, fmt.Errorf("%s is %q; want true or false", name, v)
	}
	return b, nil
}

// checkBaseURL refuses a CARESLOT_BASE_URL that Location headers and fullUrls cannot be
// built on; "" is unset.
func checkBaseURL(base string) error {
	if base == "" {
		return nil
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("CARESLOT_BASE_URL is %q; want an absolute http or https URL such as https://fhir.example.org/fhir", base)
	}
	return nil
}

// checkURL refuses a variable that is set but is not an absolute http(s) URL.
func checkURL(name, value string) error {
	if value == "" {
		return nil
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s is %q; want an absolute http or https URL", name, value)
	}
	return nil
}

// defaultBaseURL is http://addr/fhir, with a host clients can reach when addr listens on
// every interface (":8080", "0.0.0.0:8080"): "http://:8080/fhir" is no URL.
func defaultBaseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/fhir" // serve refuses the address anyway
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/fhir"
}

func migrate(ctx context.Context, cfg config) error {
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

// The HTTP server's limits, so that slow or idle clients cannot hold connections forever.
var (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = time.Minute      // the whole request, a large transaction Bundle included
	writeTimeout      = 5 * time.Minute  // from the request's headers to the end of its answer
	idleTimeout       = 2 * time.Minute  // a kept-alive connection between requests
	shutdownTimeout   = 15 * time.Second // for the requests under way at SIGTERM
)

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	// Listen first: a bad address or a port in use fails at once, before the database is
	// created or migrated. Connections wait in the backlog until Serve.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("CARESLOT_ADDR: %w", err)
	}
	defer ln.Close()
	cfg.Config.Subscriptions = &cfg.Subscriptions
	a, err := app.New(ctx, cfg.Config, log)
	if err != nil {
		return stoppedOr(ctx, err)
	}
	defer a.Close()
	if cfg.DemoSeed {
		if err := seedIfEmpty(ctx, a, log); err != nil {
			return stoppedOr(ctx, err)
		}
	}
	if cfg.DemoUsers {
		if err := demoUsers(ctx, a, cfg.DemoPassword, os.Stderr); err != nil {
			return stoppedOr(ctx, err)
		}
	}
	if cfg.DevClientSecret != "" {
		if err := registerDevClient(ctx, cfg, log); err != nil {
			return stoppedOr(ctx, err)
		}
	}
	if cfg.SwaggerClient {
		if err := registerPublicClient(ctx, cfg, log, "Swagger UI", openapi.SwaggerClient(cfg.BaseURL)); err != nil {
			return stoppedOr(ctx, err)
		}
	}
	if cfg.UIClient {
		if err := registerPublicClient(ctx, cfg, log, "booking UI", demoui.Client(cfg.BaseURL)); err != nil {
			return stoppedOr(ctx, err)
		}
	}
	if ctx.Err() != nil {
		log.Info("careslot stopped before serving")
		return nil
	}
	// The sweep ends before the pool closes (defers run last first).
	sweepCtx, stopSweep := context.WithCancel(ctx)
	var sweep sync.WaitGroup
	sweep.Go(func() { sweepHolds(sweepCtx, a, log) })
	defer sweep.Wait()
	defer stopSweep()

	srv := &http.Server{Handler: logRequests(log, a.Handler), ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("careslot serving", "addr", ln.Addr().String(), "base", cfg.BaseURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("careslot shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		srv.Close() // their connections end, and with them their contexts
		return fmt.Errorf("requests still running %s after SIGTERM were cut: %w", shutdownTimeout, err)
	}
	return nil
}

// stoppedOr answers nil for an error that only says that SIGTERM stopped the work before
// serving began: stopping is what was asked for.
func stoppedOr(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
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
