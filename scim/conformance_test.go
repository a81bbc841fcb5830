package scim

import (
	"net/http"
	"testing"
)

// TestHead checks that HEAD is answered wherever GET is (RFC 9110 §9.3.2):
// same status and headers, no body.
func TestHead(t *testing.T) {
	e := newEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	for _, path := range []string{"/Users", "/Users/" + alice, "/Users/" + alice + "/", "/Groups", "/Groups/" + group, "/ServiceProviderConfig", "/Schemas"} {
		get := e.acme(t, "GET", path, nil)
		head := e.acme(t, "HEAD", path, nil)
		if head.status != http.StatusOK || get.status != http.StatusOK {
			t.Errorf("HEAD %s: %d (GET %d), want 200", path, head.status, get.status)
		}
		if len(head.raw) != 0 {
			t.Errorf("HEAD %s has a body: %s", path, head.raw)
		}
		if head.header.Get("ETag") != get.header.Get("ETag") {
			t.Errorf("HEAD %s: ETag %q, GET gives %q", path, head.header.Get("ETag"), get.header.Get("ETag"))
		}
	}
	if r := e.acme(t, "HEAD", "/Users/nope", nil); r.status != http.StatusNotFound {
		t.Errorf("HEAD of an unknown user: %d, want 404", r.status)
	}
	r := e.acme(t, "DELETE", "/Users", nil)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("DELETE /Users: %d Allow %q", r.status, r.header.Get("Allow"))
	}
}
