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
	"github.com/careslot/careslot/storage/storagetest"
)

// Start serves careslot on databaseURL and returns its FHIR base URL and a stop function.
func Start(ctx context.Context, databaseURL string, requireCoverage bool) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	base := "http://" + ln.Addr().String() + "/fhir"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The load programs measure the FHIR work without tokens; what a token and the access
	// policy add is measured on its own (app's BenchmarkReadPatientTokenOverhead).
	a, err := app.New(ctx, app.Config{Addr: ln.Addr().String(), BaseURL: base, DatabaseURL: databaseURL, RequireCoverage: requireCoverage,
		Auth: app.AuthConfig{Anonymous: true}}, log)
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
	databaseURL, drop, err := storagetest.CreateDatabase(ctx)
	if err != nil {
		return "", "", nil, fmt.Errorf("create benchmark database: %w", err)
	}
	base, stopServer, err := Start(ctx, databaseURL, requireCoverage)
	if err != nil {
		drop()
		return "", "", nil, err
	}
	return base, databaseURL, func() { stopServer(); drop() }, nil
}
