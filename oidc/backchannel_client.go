package oidc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// backchannelClient is the HTTP client that posts logout tokens to the
// URIs clients registered. Roster makes these requests itself, so they
// must not be a way into the server's own network (SSRF): redirects are
// not followed, no proxy is used, and link-local, metadata, multicast and
// unspecified addresses are refused after DNS resolution, when the
// connection is made. Loopback http is admitted at registration only for a
// plain-http development issuer.
func backchannelClient() *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: refuseInternal}
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConns:        16,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// refuseInternal is a net.Dialer Control that refuses addresses no
// logout receiver has: link-local (169.254/16, fe80::/10, where cloud
// metadata services answer), multicast and unspecified ones.
func refuseInternal(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("oidc: back-channel logout to %s: %w", address, err)
	}
	ip := ap.Addr().Unmap()
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip == netip.MustParseAddr("fd00:ec2::254") {
		return fmt.Errorf("oidc: back-channel logout to %s refused: not a public address", ip)
	}
	return nil
}
