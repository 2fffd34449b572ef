// Package hydratest starts a real Ory Hydra (bin/hydra, built by `make hydra`) for tests,
// on free ports with an in-memory database, configured by tools/hydra/hydra.yml exactly
// as `make run` is, with careslot's URLs for login, consent, logout and token. It is for
// tests only.
package hydratest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careslot/careslot/smart-auth/hydra"
)

// Hydra is a running Hydra.
type Hydra struct {
	PublicURL string // e.g. http://127.0.0.1:41000
	AdminURL  string
	Issuer    string // PublicURL + "/"
	Admin     *hydra.Admin

	cmd  *exec.Cmd
	logs *syncBuffer
}

// Options adjust the configuration.
type Options struct {
	// CareslotURL is careslot's root URL (the FHIR base without /fhir): Hydra sends the
	// browser to its /auth/login, /auth/consent and /auth/logout.
	CareslotURL string
	// AccessTokenTTL overrides the access tokens' lifetime (e.g. to test expiry).
	AccessTokenTTL time.Duration
}

// Binary is bin/hydra of this repository, or CARESLOT_HYDRA_BIN.
func Binary() string {
	if b := os.Getenv("CARESLOT_HYDRA_BIN"); b != "" {
		return b
	}
	return filepath.Join(repoRoot(), "bin", "hydra")
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Start starts Hydra and stops it when tb ends; it fails the test when bin/hydra is
// missing (run `make hydra`, which `make test` does first).
func Start(tb testing.TB, opts Options) *Hydra {
	tb.Helper()
	h, err := start(opts)
	if err != nil {
		tb.Fatalf("start Hydra: %v", err)
	}
	tb.Cleanup(func() {
		h.Stop()
		if tb.Failed() {
			tb.Logf("Hydra's log:\n%s", h.logs.String())
		}
	})
	return h
}

func start(opts Options) (*Hydra, error) {
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is missing: run `make hydra` (make test builds it)", bin)
	}
	public, admin, err := freePorts()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 24)
	rand.Read(secret)
	publicURL := "http://127.0.0.1:" + strconv.Itoa(public)
	root := strings.TrimRight(opts.CareslotURL, "/")
	env := []string{
		"DSN=memory",
		"SECRETS_SYSTEM=" + hex.EncodeToString(secret),
		"SERVE_PUBLIC_PORT=" + strconv.Itoa(public),
		"SERVE_ADMIN_PORT=" + strconv.Itoa(admin),
		"URLS_SELF_ISSUER=" + publicURL + "/",
		"URLS_SELF_PUBLIC=" + publicURL + "/",
		"URLS_LOGIN=" + root + "/auth/login",
		"URLS_CONSENT=" + root + "/auth/consent",
		"URLS_LOGOUT=" + root + "/auth/logout",
		"URLS_POST_LOGOUT_REDIRECT=" + root + "/auth/logged-out",
		"URLS_ERROR=" + root + "/auth/logged-out",
		"WEBFINGER_OIDC_DISCOVERY_TOKEN_URL=" + root + "/auth/token",
	}
	if opts.AccessTokenTTL > 0 {
		env = append(env, "TTL_ACCESS_TOKEN="+opts.AccessTokenTTL.String())
	}
	cmd := exec.Command(bin, "serve", "all", "--dev", "--config", filepath.Join(repoRoot(), "tools", "hydra", "hydra.yml"))
	cmd.Env = append(minimalEnv(), env...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	adminURL := "http://127.0.0.1:" + strconv.Itoa(admin)
	client, err := hydra.NewAdmin(adminURL)
	if err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	h := &Hydra{PublicURL: publicURL, AdminURL: adminURL, Issuer: publicURL + "/", Admin: client, cmd: cmd, logs: logs}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := client.Ready(ctx); err != nil {
		h.Stop()
		return nil, fmt.Errorf("%w\n%s", err, logs.String())
	}
	// Before a test's first token: concurrent first uses would each add a signing key.
	if err := hydra.WarmSigningKeys(ctx, publicURL); err != nil {
		h.Stop()
		return nil, fmt.Errorf("%w\n%s", err, logs.String())
	}
	return h, nil
}

// Stop ends Hydra.
func (h *Hydra) Stop() {
	if h.cmd.ProcessState != nil {
		return
	}
	h.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		h.cmd.Process.Kill()
		<-done
	}
}

// Logs is what Hydra printed so far.
func (h *Hydra) Logs() string { return h.logs.String() }

// minimalEnv keeps PATH and HOME only: Hydra reads its configuration from the
// environment, and the test's own variables must not leak into it.
func minimalEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// freePorts finds two ports free now (Hydra binds them a moment later).
func freePorts() (int, int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
