package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/careslot/careslot/smart-auth/smarttest"
	"github.com/careslot/careslot/storage/storagetest"
	"github.com/careslot/careslot/subscriptions/brokertest"
)

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds careslot once for the tests of this package.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "careslot-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "careslot")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// process is a running `careslot serve`.
type process struct {
	cmd    *exec.Cmd
	base   string        // its FHIR base URL
	logs   chan string   // its stderr, line by line, closed when it exits
	ready  chan struct{} // closed when it logs that it serves
	exited chan struct{} // closed when its stderr ends: it has exited

	mu   sync.Mutex
	tail []string // its last lines of stderr, for a failure's message
}

// lastLines returns the last lines the process wrote to stderr.
func (p *process) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// startServe starts `careslot serve` on databaseURL and waits until it answers.
func startServe(t *testing.T, databaseURL string, env ...string) *process {
	t.Helper()
	p := launchServe(t, databaseURL, env...)
	p.waitUp(t)
	return p
}

// launchServe starts `careslot serve` on databaseURL, with the demo seed off unless env
// turns it on, and returns at once.
func launchServe(t *testing.T, databaseURL string, env ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary(t), "serve")
	// Each server gets a RabbitMQ virtual host of its own unless env names one.
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	cmd.Env = append(os.Environ(), "DATABASE_URL="+databaseURL, "CARESLOT_ADDR="+addr, "CARESLOT_DEMO_SEED=false", "AMQP_URL="+amqpURL)
	cmd.Env = append(cmd.Env, authorizationServer(t)...)
	cmd.Env = append(cmd.Env, env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, base: "http://" + addr + "/fhir", logs: make(chan string, 100000),
		ready: make(chan struct{}), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.tail = append(p.tail, line)
			if len(p.tail) > 20 {
				p.tail = p.tail[1:]
			}
			p.mu.Unlock()
			if strings.Contains(line, `"msg":"careslot serving"`) {
				close(p.ready)
			}
			select {
			case p.logs <- line:
			default: // a test that does not read the logs must not block the server
			}
		}
		close(p.logs)
		close(p.exited)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

// upWithin bounds a start-up: creating and migrating the database, and seeding the demo
// clinic, which replicas starting together do one after the other, under the race
// detector on a loaded machine.
const upWithin = 3 * time.Minute

// waitUp waits until the process says it serves, then until it answers; it fails at once
// if the process exits first.
func (p *process) waitUp(t *testing.T) {
	t.Helper()
	timeout := time.After(upWithin)
	select {
	case <-p.ready:
	case <-p.exited:
		t.Fatalf("careslot at %s exited before serving:\n%s", p.base, p.lastLines())
	case <-timeout:
		t.Fatalf("careslot at %s did not serve within %s:\n%s", p.base, upWithin, p.lastLines())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		resp, err := client.Get(p.base + "/metadata")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("careslot at %s exited: %v\n%s", p.base, err, p.lastLines())
		case <-timeout:
			t.Fatalf("careslot at %s never answered: %v", p.base, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestServeMigratesServesAndStopsOnSIGTERM runs the real binary the way `make run` does.
func TestServeMigratesServesAndStopsOnSIGTERM(t *testing.T) {
	p := startServe(t, storagetest.NewDatabase(t))
	resp, err := tokenClient.Get(p.base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "CapabilityStatement") {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no clean exit within 20s of SIGTERM")
	}
	var all []string
	for l := range p.logs {
		all = append(all, l)
	}
	joined := strings.Join(all, "\n")
	if !strings.Contains(joined, `"path":"/fhir/metadata"`) || !strings.Contains(joined, `"status":200`) {
		t.Errorf("no request log line for GET /fhir/metadata:\n%s", joined)
	}
}

func TestMigrateCommand(t *testing.T) {
	dbURL := storagetest.NewDatabase(t)
	t.Setenv("DATABASE_URL", dbURL)
	cfg, err := configFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), cfg); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := migrate(t.Context(), cfg); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
}

var (
	authOnce sync.Once
	authURL  string
)

// authorizationServer is the environment that points a careslot process at the test
// authorization server (smarttest's issuer, served over HTTP for the whole test binary),
// so that tokenClient's tokens are verified by the process's real verifier.
func authorizationServer(t *testing.T) []string {
	t.Helper()
	authOnce.Do(func() {
		issuer, err := smarttest.SharedIssuer()
		if err != nil {
			t.Fatal(err)
		}
		authURL = httptest.NewServer(issuer.Handler()).URL
	})
	return []string{"CARESLOT_HYDRA_PUBLIC_URL=" + authURL, "CARESLOT_HYDRA_ADMIN_URL=" + authURL, "CARESLOT_OAUTH_ISSUER=" + smarttest.IssuerURL}
}

// tokenClient sends each request with a backend token (system/*.*) for the FHIR base of
// the server it calls, unless the request has an Authorization header of its own.
var tokenClient = &http.Client{Transport: &backendTokens{tokens: map[string]string{}}}

type backendTokens struct {
	mu     sync.Mutex
	tokens map[string]string // by host
}

// backendToken is a backend token (system/*.*) for the server at the FHIR base base.
func backendToken(t *testing.T, base string) string {
	t.Helper()
	claims := smarttest.System(base, "careslot-test", "system/*.*")
	claims.ExpiresAt = time.Now().Add(24 * time.Hour)
	return smarttest.Shared(t).MustMint(t, claims)
}

func (b *backendTokens) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, set := r.Header["Authorization"]; set {
		return http.DefaultTransport.RoundTrip(r)
	}
	b.mu.Lock()
	raw, ok := b.tokens[r.URL.Host]
	if !ok {
		issuer, err := smarttest.SharedIssuer()
		if err != nil {
			b.mu.Unlock()
			return nil, err
		}
		claims := smarttest.System("http://"+r.URL.Host+"/fhir", "careslot-test", "system/*.*")
		claims.ExpiresAt = time.Now().Add(24 * time.Hour)
		if raw, err = issuer.Mint(claims); err != nil {
			b.mu.Unlock()
			return nil, err
		}
		b.tokens[r.URL.Host] = raw
	}
	b.mu.Unlock()
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+raw)
	return http.DefaultTransport.RoundTrip(r)
}
