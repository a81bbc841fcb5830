package oidc

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// xffTransport stands for a client behind a trusted reverse proxy: the
// client sends an X-Forwarded-For of its choosing, which changes on every
// request, and the proxy appends the address it saw.
type xffTransport struct {
	n    atomic.Int64
	seen func(i int) string // address appended by the proxy
}

func (x *xffTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	i := int(x.n.Add(1))
	r.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d, %s", i%250, x.seen(i)))
	return http.DefaultTransport.RoundTrip(r)
}

// TestAddressRateLimit checks the per-address limit on password attempts:
// trying many user names from one address runs out of attempts, also
// behind a proxy when the client forges the X-Forwarded-For entries the
// proxy does not add.
func TestAddressRateLimit(t *testing.T) {
	tests := []struct {
		name  string
		proxy bool
		seen  func(i int) string // address the proxy saw on request i
	}{
		{"direct", false, nil},
		{"behind a trusted proxy", true, func(int) string { return "203.0.113.7" }},
		// One IPv6 /64 is one subscriber: its 2^64 addresses share a bucket.
		{"IPv6 addresses of one /64", true, func(i int) string { return fmt.Sprintf("2001:db8:1:2::%x", i+1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 0, func(c *Config) {
				c.AddressRate = RateLimit{Burst: 3, Every: time.Minute}
				c.TrustForwardedFor = tc.proxy
			})
			b := newBrowser(rpRedirect)
			if tc.proxy {
				b.c.Transport = &xffTransport{seen: tc.seen}
			}
			for i := range 3 {
				pg := signInPage(t, e, b, map[string]string{"tenant": testTenant},
					map[string]string{"username": fmt.Sprintf("user-%d", i), "password": "nope-nope"})
				if pg.status != http.StatusUnauthorized {
					t.Fatalf("attempt %d: %d %q", i, pg.status, pg.alert())
				}
			}
			pg := signInPage(t, e, b, map[string]string{"tenant": testTenant},
				map[string]string{"username": "alice", "password": alicePassword})
			if pg.status != http.StatusTooManyRequests || pg.alert() == "" {
				t.Errorf("fourth attempt from the same address: %d %q, want 429", pg.status, pg.alert())
			}
			// Another address is not limited.
			other := newBrowser(rpRedirect)
			if tc.proxy {
				other.c.Transport = &xffTransport{seen: func(int) string { return "2001:db8:1:3::1" }}
				if loc, err := other.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil || loc.Query().Get("code") == "" {
					t.Errorf("sign-in from another address: %v %v", loc, err)
				}
			}
			e.clock.Advance(61 * time.Second)
			if loc, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil || loc.Query().Get("code") == "" {
				t.Errorf("after refill: %v %v", loc, err)
			}
		})
	}
}

// TestUserNamesAreIdentifiers: the account limit counts "Ａlice" and
// "alice" as one account (RFC 8265 width mapping), so spelling a name
// differently gives no fresh burst; a name PRECIS refuses names nobody.
func TestUserNamesAreIdentifiers(t *testing.T) {
	e := newEnv(t, 0, func(c *Config) {
		c.AccountRate = RateLimit{Burst: 2, Every: time.Minute}
	})
	for i, name := range []string{"alice", "\uff21lice"} { // the second is full-width A
		b := newBrowser(rpRedirect)
		pg := signInPage(t, e, b, map[string]string{"tenant": testTenant}, map[string]string{"username": name, "password": "nope-nope"})
		if pg.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d (%q): %d %q", i, name, pg.status, pg.alert())
		}
	}
	pg := signInPage(t, e, newBrowser(rpRedirect), map[string]string{"tenant": testTenant}, map[string]string{"username": "ALICE", "password": alicePassword})
	if pg.status != http.StatusTooManyRequests {
		t.Errorf("third attempt on one account under three spellings: %d, want 429", pg.status)
	}
	pg = signInPage(t, e, newBrowser(rpRedirect), map[string]string{"tenant": testTenant}, map[string]string{"username": "ali\u200bce", "password": alicePassword})
	if pg.status != http.StatusUnauthorized {
		t.Errorf("a name with a zero-width space: %d, want 401", pg.status)
	}
}
