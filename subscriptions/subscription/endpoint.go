package subscription

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"

	"github.com/careslot/careslot/fhir/fhirerr"
)

// blocked are the address ranges a notification must never reach unless the operator
// allows private endpoints: a subscription must not turn careslot into a proxy into its
// own network (SSRF).
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64, which can reach IPv4 private ranges
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
}

// Private reports whether ip is an address a notification must not reach: loopback,
// private, link-local (cloud metadata lives there), unspecified, multicast, or one of
// the special ranges above.
func Private(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// CheckEndpoint refuses, with a 422, an endpoint whose host is or resolves to an address
// that Private reports, unless allowPrivate. A host that does not resolve now passes:
// delivery fails later, and the connection itself is checked again (Control).
func CheckEndpoint(ctx context.Context, endpoint string, allowPrivate bool) error {
	if allowPrivate {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return fhirerr.Unprocessable(fhirerr.CodeValue, "the endpoint is not a URL", "Subscription.channel.endpoint")
	}
	host := u.Hostname()
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if found, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host); err == nil {
		addrs = found
	}
	for _, ip := range addrs {
		if Private(ip) {
			return fhirerr.Unprocessable(fhirerr.CodeSecurity,
				fmt.Sprintf("the endpoint's host %s is a private, loopback or link-local address (%s); notifications are not sent there", host, ip),
				"Subscription.channel.endpoint")
		}
	}
	return nil
}

// Control is a net.Dialer Control that refuses a connection to an address Private
// reports, unless allowPrivate. It runs on the address actually dialled, after DNS, so a
// name that resolved to a public address at creation and to a private one now (DNS
// rebinding) is still refused.
func Control(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("refused to connect to %s: not an address", address)
		}
		if Private(ap.Addr()) {
			return fmt.Errorf("refused to connect to %s: a private, loopback or link-local address (set CARESLOT_SUBSCRIPTION_ALLOW_PRIVATE=true to allow)", ap.Addr())
		}
		return nil
	}
}
