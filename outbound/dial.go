package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned when a target's host resolves to an
// address Roster refuses to connect to: link-local addresses (where cloud
// metadata services answer, 169.254.169.254 and fd00:ec2::254 among them)
// unless the target allows them, and unspecified or multicast addresses
// always. The check runs on the address actually dialled, after DNS
// resolution, so a name that resolves differently later is caught too.
var ErrForbiddenAddress = errors.New("outbound: address refused")

var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"),
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
}

// checkAddr says whether a connection to ip may be made.
func checkAddr(ip netip.Addr, allowLinkLocal bool) error {
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified() || ip.IsMulticast():
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	case (ip.IsLinkLocalUnicast() || isMetadata(ip)) && !allowLinkLocal:
		return fmt.Errorf("%w: %s is link-local or a metadata service (allowLinkLocal is not set)", ErrForbiddenAddress, ip)
	}
	return nil
}

func isMetadata(ip netip.Addr) bool {
	for _, m := range metadataAddrs {
		if ip == m {
			return true
		}
	}
	return false
}

// newHTTPClient returns the client of one target: TLS verified unless
// insecure, addresses checked at each dial, every request bounded by
// timeout.
func newHTTPClient(c TargetConfig) *http.Client {
	d := &net.Dialer{
		Timeout: c.Timeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			return checkAddr(ap.Addr(), c.AllowLinkLocal)
		},
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify, MinVersion: tls.VersionTLS12}, //nolint:gosec // opt-in, for tests
		TLSHandshakeTimeout: c.Timeout,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   c.Timeout,
		// A redirect could lead anywhere; targets are configured with
		// their final URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
