package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/careslot/careslot/storage/storagetest"
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

// TestServeMigratesServesAndStopsOnSIGTERM runs the real binary the way `make run` does.
func TestServeMigratesServesAndStopsOnSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "careslot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dbURL := storagetest.NewDatabase(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "CARESLOT_ADDR="+addr, "CARESLOT_DEMO_SEED=false")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	base := "http://" + addr + "/fhir"
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err = http.Get(base + "/metadata"); err == nil {
			break
		}
	}
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("server never answered: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "CapabilityStatement") {
		t.Fatalf("metadata: %d %s", resp.StatusCode, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no clean exit within 20s of SIGTERM")
	}
	var all []string
	for l := range logs {
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
	if err := migrate(t.Context(), configFromEnv()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := migrate(t.Context(), configFromEnv()); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
}
