package oidc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestBackchannelURIsAreNoWayIn: Roster posts logout tokens itself, so a
// registered back-channel URI must not reach the server's own network.
func TestBackchannelURIsAreNoWayIn(t *testing.T) {
	// Registration: http (a loopback service) only for a plain-http
	// development issuer.
	for _, tt := range []struct {
		uri, devOrigin string
		ok             bool
	}{
		{"https://wiki.example.com/logout", "", true},
		{"http://127.0.0.1:8081/logout", "", false},
		{"http://127.0.0.1:8081/logout", "http://127.0.0.1:8080", true},
		{"ftp://wiki.example.com/logout", "", false},
	} {
		c := ClientConfig{ID: "wiki", Secret: strings.Repeat("s", 32), RedirectURIs: []string{"https://wiki.example.com/cb"}, BackchannelLogoutURI: tt.uri}
		if err := c.normalize(tt.devOrigin); (err == nil) != tt.ok {
			t.Errorf("%s (dev origin %q): %v, want ok=%v", tt.uri, tt.devOrigin, err, tt.ok)
		}
	}
	// Connection: link-local and metadata addresses are refused.
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"169.254.169.254:80", false},
		{"[fe80::1]:443", false},
		{"[fd00:ec2::254]:80", false},
		{"0.0.0.0:80", false},
		{"203.0.113.7:443", true},
		{"127.0.0.1:8081", true},
	} {
		if err := refuseInternal("tcp", tt.addr, nil); (err == nil) != tt.ok {
			t.Errorf("dial %s: %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
	// Redirects are not followed: a receiver cannot bounce the POST on.
	var reached atomic.Bool
	inner := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Store(true) }))
	defer inner.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL, http.StatusTemporaryRedirect)
	}))
	defer outer.Close()
	resp, err := backchannelClient().Post(outer.URL, "application/x-www-form-urlencoded", strings.NewReader("logout_token=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || reached.Load() {
		t.Errorf("the redirect was followed (status %d, inner reached %v)", resp.StatusCode, reached.Load())
	}
}
