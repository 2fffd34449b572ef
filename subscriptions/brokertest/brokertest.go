// Package brokertest gives each test a RabbitMQ virtual host of its own, created and
// deleted through the management HTTP API, so that tests never touch other users of
// the broker; and a TCP proxy that a test can cut, to break careslot's connection.
package brokertest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// APIURL is the management API: CARESLOT_TEST_RABBITMQ_API, or the local broker's.
func APIURL() string {
	if u := os.Getenv("CARESLOT_TEST_RABBITMQ_API"); u != "" {
		return strings.TrimRight(u, "/")
	}
	return "http://guest:guest@127.0.0.1:15672/api"
}

// Addr is the broker's AMQP address: CARESLOT_TEST_RABBITMQ_ADDR, or 127.0.0.1:5672.
func Addr() string {
	if a := os.Getenv("CARESLOT_TEST_RABBITMQ_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:5672"
}

func call(method, path string, body string) error {
	u, err := url.Parse(APIURL() + path)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, u.String(), strings.NewReader(body))
	if err != nil {
		return err
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), pw)
		u.User = nil
		req.URL = u
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	return nil
}

// NewVhost creates a virtual host that guest may use and returns its AMQP URL through
// addr (the broker, or a Proxy in front of it); the vhost is deleted when tb ends.
func NewVhost(tb testing.TB, addr string) (amqpURL string, vhost string) {
	tb.Helper()
	amqpURL, vhost, drop, err := CreateVhost(addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Logf("delete vhost %s: %v", vhost, err)
		}
	})
	return amqpURL, vhost
}

// CreateVhost is NewVhost for programs (the benchmarks): the caller deletes the vhost
// with drop.
func CreateVhost(addr string) (amqpURL, vhost string, drop func() error, err error) {
	suffix := make([]byte, 6)
	rand.Read(suffix)
	vhost = "careslot-test-" + hex.EncodeToString(suffix)
	if err := call(http.MethodPut, "/vhosts/"+vhost, ""); err != nil {
		return "", "", nil, fmt.Errorf("create vhost (is the management plugin on? rabbitmq-plugins enable rabbitmq_management): %w", err)
	}
	drop = func() error { return call(http.MethodDelete, "/vhosts/"+vhost, "") }
	if err := call(http.MethodPut, "/permissions/"+vhost+"/guest", `{"configure":".*","write":".*","read":".*"}`); err != nil {
		drop()
		return "", "", nil, fmt.Errorf("vhost permissions: %w", err)
	}
	return "amqp://guest:guest@" + addr + "/" + vhost, vhost, drop, nil
}

// Proxy forwards TCP connections to the broker until cut.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   []net.Conn
	refused bool
}

// NewProxy listens on a free loopback port and forwards to target; it closes when tb ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target}
	go p.serve()
	tb.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

// Addr is where the proxy listens.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.refused {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// Cut closes every connection through the proxy, mid-stream.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Refuse makes the proxy close new connections at once (the broker is "down") or, with
// false, forward them again.
func (p *Proxy) Refuse(refused bool) {
	p.mu.Lock()
	p.refused = refused
	p.mu.Unlock()
}
