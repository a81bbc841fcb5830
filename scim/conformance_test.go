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

// TestFilterHTTP checks filter answers end to end. A filter on an attribute
// no schema defines is not an error: Roster keeps every attribute a client
// sends (README, "stored exactly as sent"), so such an attribute may hold
// data, and on a resource without it the comparison is simply false
// (RFC 7644 §3.4.2.2); invalidFilter is kept for syntax errors and
// unsupported comparisons, such as ordering on a boolean.
func TestFilterHTTP(t *testing.T) {
	e := newEnv(t)
	seed(t, e, acmeToken, "acme", "alice")
	tests := []struct {
		filter   string
		status   int
		total    float64
		scimType string
	}{
		{`userName eq "ALICE@EXAMPLE.COM"`, 200, 1, ""},
		{`unknownAttr eq "x"`, 200, 0, ""},
		{`not (unknownAttr eq "x")`, 200, 1, ""},
		{`meta.lastModified gt "2000-01-01T00:00:00+02:00"`, 200, 1, ""},
		{`meta.lastModified lt "2000-01-01T00:00:00.5Z"`, 200, 0, ""},
		{`active gt true`, 400, 0, "invalidFilter"},
		{`meta.lastModified gt "recently"`, 400, 0, "invalidFilter"},
	}
	for _, tc := range tests {
		r := e.acme(t, "GET", "/Users?filter="+tc.filter, nil)
		if r.status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.filter, r.status, tc.status, r.raw)
			continue
		}
		if tc.status == 200 && r.body["totalResults"] != tc.total {
			t.Errorf("%s: totalResults %v, want %v", tc.filter, r.body["totalResults"], tc.total)
		}
		if tc.scimType != "" && r.body["scimType"] != tc.scimType {
			t.Errorf("%s: scimType %v, want %s", tc.filter, r.body["scimType"], tc.scimType)
		}
	}
}
