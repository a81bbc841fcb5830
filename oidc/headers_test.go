package oidc

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSecurityHeaders checks that pages carrying a sign-in request or its
// CSRF token are neither cached nor framed (clickjacking), and that token
// endpoint answers are not cached (RFC 6749 §5.1).
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, 0)
	jar := newBrowser(rpRedirect)
	pageHeaders := func(name string, h http.Header) {
		t.Helper()
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" ||
			!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: headers %v", name, h)
		}
	}
	// Sign-in page (after the redirect from /authorize), and an error page.
	for name, u := range map[string]string{
		"sign-in page": e.authorizeURL(authParams("portal")),
		"error page":   e.authorizeURL(authParams("nobody")),
	} {
		resp, err := jar.c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		pageHeaders(name, resp.Header)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", svcSecret)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response: %d %v", resp.StatusCode, resp.Header)
	}
}
