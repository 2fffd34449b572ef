package main

import (
	"bufio"
	"context"
	"github.com/careslot/careslot/subscriptions/brokertest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/storagetest"
)

// TestConfigFromEnv: the README's variables, read as it says.
func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env              map[string]string
		base             string
		coverage, seeded bool
	}{
		{env: map[string]string{}, base: "http://127.0.0.1:8080/fhir", coverage: true, seeded: true},
		{env: map[string]string{"CARESLOT_ADDR": "10.1.2.3:9000"}, base: "http://10.1.2.3:9000/fhir", coverage: true, seeded: true},
		{env: map[string]string{"CARESLOT_ADDR": ":9000"}, base: "http://127.0.0.1:9000/fhir", coverage: true, seeded: true},
		{env: map[string]string{"CARESLOT_ADDR": "0.0.0.0:9000"}, base: "http://127.0.0.1:9000/fhir", coverage: true, seeded: true},
		{env: map[string]string{"CARESLOT_ADDR": ":9000", "CARESLOT_BASE_URL": "https://fhir.example.org/fhir"}, base: "https://fhir.example.org/fhir", coverage: true, seeded: true},
		{env: map[string]string{"CARESLOT_REQUIRE_COVERAGE": "false", "CARESLOT_DEMO_SEED": "false"}, base: "http://127.0.0.1:8080/fhir"},
		{env: map[string]string{"CARESLOT_REQUIRE_COVERAGE": "FALSE", "CARESLOT_DEMO_SEED": "0"}, base: "http://127.0.0.1:8080/fhir"},
		{env: map[string]string{"CARESLOT_REQUIRE_COVERAGE": "true", "CARESLOT_DEMO_SEED": ""}, base: "http://127.0.0.1:8080/fhir", coverage: true, seeded: true},
	} {
		for _, name := range []string{"CARESLOT_ADDR", "CARESLOT_BASE_URL", "CARESLOT_REQUIRE_COVERAGE", "CARESLOT_DEMO_SEED", "DATABASE_URL"} {
			t.Setenv(name, tc.env[name])
		}
		cfg, err := configFromEnv()
		if err != nil {
			t.Errorf("%v: %v", tc.env, err)
			continue
		}
		if cfg.BaseURL != tc.base || cfg.RequireCoverage != tc.coverage || cfg.DemoSeed != tc.seeded {
			t.Errorf("%v: base %s, coverage %v, seed %v; want %s, %v, %v", tc.env, cfg.BaseURL, cfg.RequireCoverage, cfg.DemoSeed, tc.base, tc.coverage, tc.seeded)
		}
	}
}

// TestConfigRefusesAnUnreadableSwitch: a value that is neither true nor false is an error
// naming the variable, not silently the default.
func TestConfigRefusesAnUnreadableSwitch(t *testing.T) {
	for _, name := range []string{"CARESLOT_REQUIRE_COVERAGE", "CARESLOT_DEMO_SEED"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "flase")
			_, err := configFromEnv()
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=flase: %v, want an error naming it", name, err)
			}
		})
	}
}

// TestServeLetsSlowAndIdleClientsGo: a connection kept alive without a request, or a
// request whose body never arrives, is closed by the server after its timeout.
func TestServeLetsSlowAndIdleClientsGo(t *testing.T) {
	defer func(rt, it time.Duration) { readTimeout, idleTimeout = rt, it }(readTimeout, idleTimeout)
	readTimeout, idleTimeout = time.Second, time.Second
	addr := freeAddr(t)
	cfg := config{}
	cfg.Subscriptions.AMQPURL, _ = brokertest.NewVhost(t, brokertest.Addr())
	cfg.Addr, cfg.BaseURL, cfg.DatabaseURL = addr, "http://"+addr+"/fhir", storagetest.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	// closedWithin tells whether the server closes conn within d, reading what it sends.
	closedWithin := func(conn net.Conn, d time.Duration) bool {
		conn.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, conn)
		return err == nil // EOF: closed by the server; a timeout is an error
	}
	dial := func() net.Conn {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if conn, err := net.Dial("tcp", addr); err == nil {
				return conn
			}
		}
		t.Fatal("careslot never listened")
		return nil
	}

	idle := dial()
	defer idle.Close()
	io.WriteString(idle, "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if !closedWithin(idle, 10*time.Second) {
		t.Error("an idle kept-alive connection was still open 10s after a 1s idle timeout")
	}

	slow := dial()
	defer slow.Close()
	io.WriteString(slow, "POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nContent-Length: 1000\r\n\r\n{\"resourceType\"")
	if !closedWithin(slow, 10*time.Second) {
		t.Error("a request whose body stalls was still open 10s after a 1s read timeout")
	}
}

// TestConfigRefusesABaseURLThatIsNoURL: Location headers and fullUrls are built on
// CARESLOT_BASE_URL, so it must be an absolute http(s) URL.
func TestConfigRefusesABaseURLThatIsNoURL(t *testing.T) {
	for _, bad := range []string{"127.0.0.1:8080/fhir", "fhir.example.org/fhir", "not a url", "ftp://fhir.example.org/fhir", "http:///fhir", "https://fhir.example.org/fhir?x=1", "http://[::1/fhir"} {
		t.Setenv("CARESLOT_BASE_URL", bad)
		if _, err := configFromEnv(); err == nil || !strings.Contains(err.Error(), "CARESLOT_BASE_URL") {
			t.Errorf("CARESLOT_BASE_URL=%s: %v, want an error naming it", bad, err)
		}
	}
	for _, good := range []string{"https://fhir.example.org/fhir", "http://127.0.0.1:8080/fhir/", "https://example.org"} {
		t.Setenv("CARESLOT_BASE_URL", good)
		if cfg, err := configFromEnv(); err != nil || cfg.BaseURL != good {
			t.Errorf("CARESLOT_BASE_URL=%s: %q, %v", good, cfg.BaseURL, err)
		}
	}
}

// TestShutdownCutsWhatOutlivesItsTimeout: a request still running when the shutdown's
// time is up is cut, and serve says so instead of "context deadline exceeded".
func TestShutdownCutsWhatOutlivesItsTimeout(t *testing.T) {
	defer func(d time.Duration) { shutdownTimeout = d }(shutdownTimeout)
	shutdownTimeout = time.Second
	addr := freeAddr(t)
	cfg := config{}
	cfg.Subscriptions.AMQPURL, _ = brokertest.NewVhost(t, brokertest.Addr())
	cfg.Addr, cfg.BaseURL, cfg.DatabaseURL = addr, "http://"+addr+"/fhir", storagetest.NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	var conn net.Conn
	for deadline := time.Now().Add(30 * time.Second); conn == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		conn, _ = net.Dial("tcp", addr)
	}
	if conn == nil {
		t.Fatal("careslot never listened")
	}
	defer conn.Close()
	// A request whose body stalls: active, not idle, until the read timeout (a minute).
	io.WriteString(conn, "GET /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	io.WriteString(conn, "POST /fhir/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nContent-Length: 1000\r\n\r\n{")
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cut") {
			t.Errorf("serve: %v, want an error saying requests were cut", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return")
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Errorf("the stalled request's connection is still open after serve returned: %v", err)
	}
}

// TestConfigHoldTTL: CARESLOT_HOLD_TTL sets how long $hold keeps a slot, 5 minutes by
// default; a value that is not a positive duration is an error naming it.
func TestConfigHoldTTL(t *testing.T) {
	t.Setenv("CARESLOT_HOLD_TTL", "")
	if cfg, err := configFromEnv(); err != nil || cfg.HoldTTL != 5*time.Minute {
		t.Errorf("default: %v %v, want 5m", cfg.HoldTTL, err)
	}
	t.Setenv("CARESLOT_HOLD_TTL", "90s")
	if cfg, err := configFromEnv(); err != nil || cfg.HoldTTL != 90*time.Second {
		t.Errorf("90s: %v %v", cfg.HoldTTL, err)
	}
	for _, bad := range []string{"5", "-1m", "0s", "soon"} {
		t.Setenv("CARESLOT_HOLD_TTL", bad)
		if _, err := configFromEnv(); err == nil || !strings.Contains(err.Error(), "CARESLOT_HOLD_TTL") {
			t.Errorf("CARESLOT_HOLD_TTL=%s: %v, want an error naming it", bad, err)
		}
	}
}

func TestConfigStatementTimeout(t *testing.T) {
	t.Setenv("CARESLOT_STATEMENT_TIMEOUT", "")
	if cfg, err := configFromEnv(); err != nil || cfg.StatementTimeout != 30*time.Second {
		t.Errorf("default: %v %v, want 30s", cfg.StatementTimeout, err)
	}
	t.Setenv("CARESLOT_STATEMENT_TIMEOUT", "2m")
	if cfg, err := configFromEnv(); err != nil || cfg.StatementTimeout != 2*time.Minute {
		t.Errorf("2m: %v %v", cfg.StatementTimeout, err)
	}
	for _, bad := range []string{"30", "-1s", "0s", "never"} {
		t.Setenv("CARESLOT_STATEMENT_TIMEOUT", bad)
		if _, err := configFromEnv(); err == nil || !strings.Contains(err.Error(), "CARESLOT_STATEMENT_TIMEOUT") {
			t.Errorf("CARESLOT_STATEMENT_TIMEOUT=%s: %v, want an error naming it", bad, err)
		}
	}
}
