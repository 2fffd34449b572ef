// Package apptest starts a whole careslot on a fresh database for tests, and gives them
// a small FHIR client. Tests talk to the real PostgreSQL through the real HTTP stack.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/smart-auth/caller"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/careslot/careslot/subscriptions"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Server is a running careslot.
type Server struct {
	*app.App
	URL  string // the FHIR base, e.g. http://127.0.0.1:41234/fhir
	HTTP *httptest.Server
	// Tokens is the test authorization server this careslot trusts (instead of Hydra):
	// mint a token with Token, revoke one with Tokens.Revoke.
	Tokens *smarttest.Issuer
	// DB is a pool of the test's own on the server's database, for tests that look at
	// tables directly: the store keeps its pool to itself.
	DB *pgxpool.Pool
	// SystemToken is a backend token with system/*.* that Do and Client send when a
	// request names no Authorization of its own: tests of other things act as the clinic's
	// back end, and tests of access control send their own tokens.
	SystemToken string
	// Client is an HTTP client that sends SystemToken on requests without an
	// Authorization header, for tests that build their own requests.
	Client *http.Client
}

// Option adjusts the configuration before the server starts.
type Option func(*app.Config)

// WithAnonymous serves requests without a token with full access, as a reference for
// measuring what a token costs; nothing else may use it.
func WithAnonymous() Option { return func(c *app.Config) { c.Auth.Anonymous = true } }

// WithSubscriptions runs the outbox relay and notification delivery with cfg.
func WithSubscriptions(cfg subscriptions.Config) Option {
	return func(c *app.Config) { c.Subscriptions = &cfg }
}

// WithoutCoverageCheck switches off the insurance rule.
func WithoutCoverageCheck() Option { return func(c *app.Config) { c.RequireCoverage = false } }

// WithHoldTTL makes $hold keep a slot for d.
func WithHoldTTL(d time.Duration) Option { return func(c *app.Config) { c.HoldTTL = d } }

// WithBinaryMaxBytes makes n the largest Binary stored.
func WithBinaryMaxBytes(n int64) Option { return func(c *app.Config) { c.BinaryMaxBytes = n } }

// New starts careslot on a database of its own; everything is torn down when tb ends.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	return NewOnDatabase(tb, storagetest.NewDatabase(tb), opts...)
}

// NewOnDatabase starts careslot on an existing database, e.g. a second server process
// sharing the first one's database.
func NewOnDatabase(tb testing.TB, databaseURL string, opts ...Option) *Server {
	tb.Helper()
	s, stop, err := start(databaseURL, opts)
	if err != nil {
		tb.Fatalf("start careslot: %v", err)
	}
	tb.Cleanup(stop)
	return s
}

// Start is New for TestMain, where there is no testing.TB: it starts careslot on a
// fresh database and returns a function that stops it and drops the database.
func Start(opts ...Option) (*Server, func(), error) {
	url, drop, err := storagetest.CreateDatabase(context.Background())
	if err != nil {
		return nil, nil, err
	}
	s, stop, err := start(url, opts)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return s, func() { stop(); drop() }, nil
}

func start(databaseURL string, opts []Option) (*Server, func(), error) {
	issuer, err := smarttest.SharedIssuer()
	if err != nil {
		return nil, nil, err
	}
	ts := httptest.NewUnstartedServer(nil)
	cfg := app.Config{DatabaseURL: databaseURL, BaseURL: "http://" + ts.Listener.Addr().String() + "/fhir", RequireCoverage: true,
		Auth: app.AuthConfig{Issuer: smarttest.IssuerURL, Keys: issuer.Keys(), Revocation: issuer.Revocation()}}
	for _, o := range opts {
		o(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(context.Background(), cfg, log)
	if err != nil {
		ts.Listener.Close()
		return nil, nil, err
	}
	db, err := pgxpool.New(context.Background(), databaseURL)
	if err != nil {
		ts.Listener.Close()
		a.Close()
		return nil, nil, err
	}
	ts.Config.Handler = a.Handler
	ts.Start()
	stop := func() {
		ts.Close()
		a.Close()
		db.Close()
	}
	// A server pointed at a real Hydra trusts Hydra's keys only: its tests bring tokens
	// from Hydra, and Do sends none by default.
	var system string
	if cfg.Auth.Keys != nil {
		if system, err = systemToken(issuer, cfg.BaseURL); err != nil {
			stop()
			return nil, nil, err
		}
	}
	client := &http.Client{Transport: withToken{token: system, next: http.DefaultTransport}}
	return &Server{App: a, URL: cfg.BaseURL, HTTP: ts, Tokens: issuer, DB: db, SystemToken: system, Client: client}, stop, nil
}

// Token mints an access token that this server accepts; an empty Audience is the server's
// FHIR base. See smarttest.Patient, Practitioner, Admin and System for typical claims.
func (s *Server) Token(tb testing.TB, c smarttest.Claims) string {
	tb.Helper()
	if c.Audience == "" {
		c.Audience = s.URL
	}
	return s.Tokens.MustMint(tb, c)
}

// Bearer is the header pair that sends raw, for Do and Must: s.Do(t, "GET", "Patient/1", nil, apptest.Bearer(raw)...).
func Bearer(raw string) []string { return []string{"Authorization", "Bearer " + raw} }

// Response is an answer of the server.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map; it fails the test if the body is not a JSON object.
func (r *Response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("body is not JSON (%v): %s", err, r.Body)
	}
	return m
}

// Do sends a request to path (relative to the FHIR base, e.g. "Patient/1") with an
// optional body (string, []byte, or any value to marshal) and header pairs. Without an
// Authorization pair it sends SystemToken; an empty Authorization sends no token.
func (s *Server) Do(tb testing.TB, method, path string, body any, header ...string) *Response {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("marshal body: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	url := s.URL
	if path != "" {
		url += "/" + strings.TrimPrefix(path, "/")
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		tb.Fatalf("request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if s.SystemToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.SystemToken)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Del("Authorization")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Must is Do that fails the test unless the status is want.
func (s *Server) Must(tb testing.TB, want int, method, path string, body any, header ...string) *Response {
	tb.Helper()
	r := s.Do(tb, method, path, body, header...)
	if r.Status != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// systemToken mints the backend token tests act with by default, valid for a day.
func systemToken(issuer *smarttest.Issuer, audience string) (string, error) {
	return issuer.Mint(smarttest.Claims{Audience: audience, Role: caller.RoleSystem, ClientID: "apptest",
		Scopes: []string{"system/*.*"}, ExpiresAt: time.Now().Add(24 * time.Hour)})
}

// withToken sends a token on requests that carry no Authorization header.
type withToken struct {
	token string
	next  http.RoundTripper
}

func (t withToken) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, set := r.Header["Authorization"]; set || t.token == "" {
		return t.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+t.token)
	return t.next.RoundTrip(r)
}

// Anonymous is the header pair of a request without a token, for Do and Must.
func Anonymous() []string { return []string{"Authorization", ""} }
