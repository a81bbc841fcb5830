package scim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestBulkTenantIsolation: the operations of a Bulk request reach only
// the resources of the request's tenant: another tenant's ids in paths
// and members answer as unknown ones, a path that tries to leave the
// tenant is refused, and the other tenant's data is unchanged.
func TestBulkTenantIsolation(t *testing.T) {
	e := newEnv(t)
	seed(t, e, acmeToken, "acme", "alice")
	gUser, gGroup := seed(t, e, globexToken, "globex", "gus")
	before := e.snapshot(t, "globex")
	patch := map[string]any{"schemas": []string{patchOpSchema}, "Operations": []any{
		map[string]any{"op": "replace", "path": "displayName", "value": "pwned"}}}
	r := e.acme(t, "POST", "/Bulk", bulkBody(0,
		map[string]any{"method": "PUT", "path": "/Users/" + gUser, "data": bodyFor("PUT", "/Users")},
		map[string]any{"method": "PATCH", "path": "/Users/" + gUser, "data": patch},
		map[string]any{"method": "DELETE", "path": "/Users/" + gUser},
		map[string]any{"method": "PATCH", "path": "/Groups/" + gGroup, "data": patch},
		map[string]any{"method": "DELETE", "path": "/Groups/" + gGroup},
		map[string]any{"method": "DELETE", "path": "/Users/../../globex/Users/" + gUser},
		map[string]any{"method": "DELETE", "path": "/../globex/Users/" + gUser},
		postGroup("g", "steal", gUser),
		postGroup("h", "steal2", gGroup),
	))
	if r.status != http.StatusOK {
		t.Fatalf("bulk: %d %s", r.status, r.raw)
	}
	want := "PUT:404 PATCH:404 DELETE:404 PATCH:404 DELETE:404 DELETE:400:invalidValue DELETE:400:invalidValue g:400:invalidValue h:400:invalidValue"
	if got := opStatuses(r); got != want {
		t.Errorf("operations %s, want %s\n%s", got, want, r.raw)
	}
	if strings.Contains(string(r.raw), "gus") {
		t.Errorf("the answer tells of globex's data: %s", r.raw)
	}
	if e.snapshot(t, "globex") != before {
		t.Fatal("acme's Bulk request changed globex's data")
	}
}

// TestBulkOperationBodyLimit: an operation whose data is larger than the
// server takes in one request (Config.MaxBodyBytes) fails with 413 as
// that request would, even when the Bulk request is within its own,
// larger limit; the other operations are applied.
func TestBulkOperationBodyLimit(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.MaxBodyBytes = 1024; c.BulkMaxBytes = 16 << 10 })
	big := postUser("big", "big@example.com")
	var emails []any
	for i := range 30 {
		emails = append(emails, map[string]any{"value": fmt.Sprintf("big.%02d@example.com", i), "type": "other"})
	}
	big["data"].(map[string]any)["emails"] = emails
	if r := e.acme(t, "POST", "/Users", big["data"]); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("the operation's data alone: %d %s", r.status, r.raw)
	}
	r := e.acme(t, "POST", "/Bulk", bulkBody(0, big, postUser("small", "small@example.com")))
	if r.status != http.StatusOK {
		t.Fatalf("bulk: %d %s", r.status, r.raw)
	}
	if got, want := opStatuses(r), "big:413 small:201"; got != want {
		t.Errorf("operations %s, want %s\n%s", got, want, r.raw)
	}
	if r := e.acme(t, "GET", `/Users?filter=userName eq "big@example.com"`, nil); r.body["totalResults"] != float64(0) {
		t.Errorf("the oversized operation was applied: %s", r.raw)
	}
}
