package subscriptions_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/careslot/careslot/app/apptest"
	"github.com/careslot/careslot/storage"
	"github.com/careslot/careslot/subscriptions/brokertest"
	"github.com/careslot/careslot/subscriptions/subscription"
)

func TestPrivateAddressesAreRecognised(t *testing.T) {
	for addr, private := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"0.0.0.0": true, "100.64.0.1": true, "::1": true, "fe80::1": true, "fc00::1": true, "::ffff:127.0.0.1": true,
		"64:ff9b::a00:1": true, "224.0.0.1": true,
		"93.184.216.34": false, "2606:4700::1": false, "8.8.8.8": false,
	} {
		if got := subscription.Private(netip.MustParseAddr(addr)); got != private {
			t.Errorf("Private(%s) = %v, want %v", addr, got, private)
		}
	}
	// The dial-time check runs on the address actually dialled: no connection is made here.
	control := subscription.Control(false)
	if err := control("tcp", "127.0.0.1:80", nil); err == nil {
		t.Error("a loopback connection passed the dial check")
	}
	if err := control("tcp", "[::ffff:10.0.0.1]:443", nil); err == nil {
		t.Error("an IPv4-mapped private address passed the dial check")
	}
	if err := control("tcp", "93.184.216.34:443", nil); err != nil {
		t.Errorf("a public address was refused: %v", err)
	}
	if err := subscription.Control(true)("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("allowed private addresses were refused: %v", err)
	}
}

func TestPrivateEndpointsAreRefusedAtCreationAndDelivery(t *testing.T) {
	amqpURL, _ := brokertest.NewVhost(t, brokertest.Addr())
	cfg := testConfig(amqpURL)
	cfg.AllowPrivate = false
	s := apptest.New(t, apptest.WithSubscriptions(cfg))
	h := newHook(t)
	for _, endpoint := range []string{h.URL, "http://localhost:9/hook", "http://169.254.169.254/latest/meta-data", "http://10.0.0.8/hook", "http://[::1]:9/hook"} {
		r := s.Do(t, "POST", "Subscription", restHook("Patient?family=x", endpoint, nil))
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "Subscription.channel.endpoint") {
			t.Errorf("%s: %d, want 422 at the endpoint: %s", endpoint, r.Status, r.Body)
		}
	}
	// A name that resolved to a public address when the subscription was made and to a
	// loopback one now (DNS rebinding) is refused when delivering: the subscription is
	// written here as it would have passed, and its handshake never reaches the hook.
	body := `{"resourceType":"Subscription","status":"requested","reason":"rebinding","criteria":"Patient?family=x",
		"channel":{"type":"rest-hook","endpoint":"` + h.URL + `","payload":"application/fhir+json"}}`
	err := s.Store.InTx(context.Background(), func(tx *storage.Tx) error {
		_, err := tx.Write(context.Background(), nil, "Subscription", "rebound", []byte(body), http.MethodPost)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sub := waitStatus(t, s, "rebound", "error")
	if msg, _ := sub["error"].(string); !strings.Contains(msg, "refused to connect") {
		t.Errorf("Subscription.error: %q", msg)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(h.events("handshake")); n != 0 {
		t.Errorf("%d handshakes reached a loopback endpoint", n)
	}
}
