// Package benchserver runs careslot in-process on a loopback port for the load programs
// under bench/, so that each measures the server exactly as app wires it.
package benchserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/careslot/careslot/app"
	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/storage/storagetest"
)

// Start serves careslot on databaseURL and returns its FHIR base URL and a stop function.
// It serves requests without a token, with the server's own access: what a token and the
// access policy add is measured by StartFreshWithTokens and app's
// BenchmarkReadPatientTokenOverhead.
func Start(ctx context.Context, databaseURL string, requireCoverage bool) (string, func(), error) {
	return start(ctx, databaseURL, requireCoverage, nil)
}

func start(ctx context.Context, databaseURL string, requireCoverage bool, issuer *smarttest.Issuer) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	base := "http://" + ln.Addr().String() + "/fhir"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	auth := app.AuthConfig{Anonymous: true}
	if issuer != nil {
		// As careslot serve: every request needs a token, verified by the real verifier
		// against the issuer's keys and revocation list (in-process, as Hydra is not).
		auth = app.AuthConfig{Issuer: smarttest.IssuerURL, Keys: issuer.Keys(), Revocation: issuer.Revocation()}
	}
	a, err := app.New(ctx, app.Config{Addr: ln.Addr().String(), BaseURL: base, DatabaseURL: databaseURL, RequireCoverage: requireCoverage,
		Auth: auth}, log)
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	srv := &http.Server{Handler: a.Handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return base, func() { srv.Shutdown(context.Background()); a.Close() }, nil
}

// StartFresh is Start on a new database, which stop drops.
func StartFresh(ctx context.Context, requireCoverage bool) (base, databaseURL string, stop func(), err error) {
	return startFresh(ctx, requireCoverage, nil)
}

// StartFreshWithTokens is StartFresh with authentication required as careslot serve
// requires it: each request needs an access token signed by issuer (smarttest.Issuer.Mint
// with the returned base as audience).
func StartFreshWithTokens(ctx context.Context, requireCoverage bool, issuer *smarttest.Issuer) (base, databaseURL string, stop func(), err error) {
	return startFresh(ctx, requireCoverage, issuer)
}

func startFresh(ctx context.Context, requireCoverage bool, issuer *smarttest.Issuer) (base, databaseURL string, stop func(), err error) {
	databaseURL, drop, err := storagetest.CreateDatabase(ctx)
	if err != nil {
		return "", "", nil, fmt.Errorf("create benchmark database: %w", err)
	}
	base, stopServer, err := start(ctx, databaseURL, requireCoverage, issuer)
	if err != nil {
		drop()
		return "", "", nil, err
	}
	return base, databaseURL, func() { stopServer(); drop() }, nil
}
