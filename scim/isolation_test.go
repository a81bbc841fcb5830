package scim

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// seed creates one user and one group (with the user) in tenant, returning
// their ids.
func seed(t *testing.T, e *env, token, tenant, prefix string) (user, group string) {
	t.Helper()
	r := e.do(t, token, tenant, "POST", "/Users", map[string]any{
		"schemas": []string{UserSchema}, "userName": prefix + "@example.com", "externalId": prefix + "-ext", "active": true,
		"emails": []any{map[string]any{"value": prefix + "@example.com", "type": "work", "primary": true}},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("seed user: %d %s", r.status, r.raw)
	}
	user = r.body["id"].(string)
	r = e.do(t, token, tenant, "POST", "/Groups", map[string]any{
		"schemas": []string{GroupSchema}, "displayName": prefix + " group", "externalId": prefix + "-gext",
		"members": []any{map[string]any{"value": user}},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("seed group: %d %s", r.status, r.raw)
	}
	return user, r.body["id"].(string)
}

// endpoints lists every route with every verb, with the ids to use.
func endpoints(user, group string) [][2]string {
	paths := []string{
		"/Users", "/Users/" + user, "/Users/.search",
		"/Groups", "/Groups/" + group, "/Groups/.search",
		"/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/User",
		"/Schemas", "/Schemas/" + UserSchema, "/Bulk", "",
	}
	var out [][2]string
	for _, p := range paths {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			out = append(out, [2]string{m, p})
		}
	}
	return out
}

func bodyFor(method, path string) any {
	switch {
	case method == "PATCH":
		return map[string]any{"schemas": []string{patchOpSchema}, "Operations": []any{
			map[string]any{"op": "replace", "path": "displayName", "value": "pwned"}}}
	case strings.HasSuffix(path, ".search"):
		return map[string]any{"schemas": []string{searchRequestSchema}, "filter": "id pr"}
	case method == "POST" || method == "PUT":
		if strings.HasPrefix(path, "/Groups") {
			return map[string]any{"schemas": []string{GroupSchema}, "displayName": "pwned"}
		}
		return map[string]any{"schemas": []string{UserSchema}, "userName": "pwned@example.com"}
	}
	return nil
}

// TestTenantIsolationTokens: a valid token of one tenant on another
// tenant's URL gets exactly the answer of an unknown tenant or a wrong
// token, on every endpoint and verb, and changes nothing.
func TestTenantIsolationTokens(t *testing.T) {
	e := newEnv(t)
	acmeUser, acmeGroup := seed(t, e, acmeToken, "acme", "alice")
	seed(t, e, globexToken, "globex", "gus")
	before := e.snapshot(t, "acme") + e.snapshot(t, "globex")

	for _, ep := range endpoints(acmeUser, acmeGroup) {
		method, path := ep[0], ep[1]
		body := bodyFor(method, path)
		cross := e.do(t, globexToken, "acme", method, path, body)
		unknownTenant := e.do(t, globexToken, "nosuch", method, path, body)
		badToken := e.do(t, "not-a-token-at-all-000000", "acme", method, path, body)
		noToken := e.do(t, "", "acme", method, path, body)
		for name, r := range map[string]reply{"cross-tenant": cross, "unknown tenant": unknownTenant, "bad token": badToken, "no token": noToken} {
			if r.status != http.StatusUnauthorized {
				t.Errorf("%s %s (%s): status %d, want 401", method, path, name, r.status)
			}
			if r.body["schemas"] == nil || r.body["status"] != "401" {
				t.Errorf("%s %s (%s): not a SCIM error: %s", method, path, name, r.raw)
			}
			if string(r.raw) != string(cross.raw) {
				t.Errorf("%s %s: %s answer differs from cross-tenant answer:\n%s\n%s", method, path, name, r.raw, cross.raw)
			}
		}
		if got := e.snapshot(t, "acme") + e.snapshot(t, "globex"); got != before {
			t.Fatalf("%s %s with another tenant's token changed the store", method, path)
		}
	}
}

// TestTenantIsolationIDs: with its own valid token, a tenant cannot see,
// change, delete, filter for or reference another tenant's ids.
func TestTenantIsolationIDs(t *testing.T) {
	e := newEnv(t)
	acmeUser, _ := seed(t, e, acmeToken, "acme", "alice")
	gUser, gGroup := seed(t, e, globexToken, "globex", "gus")
	before := e.snapshot(t, "globex")

	tests := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/Users/" + gUser, nil, 404},
		{"PUT", "/Users/" + gUser, bodyFor("PUT", "/Users"), 404},
		{"PATCH", "/Users/" + gUser, bodyFor("PATCH", ""), 404},
		{"DELETE", "/Users/" + gUser, nil, 404},
		{"GET", "/Groups/" + gGroup, nil, 404},
		{"PUT", "/Groups/" + gGroup, bodyFor("PUT", "/Groups"), 404},
		{"PATCH", "/Groups/" + gGroup, bodyFor("PATCH", ""), 404},
		{"DELETE", "/Groups/" + gGroup, nil, 404},
		// A group of acme cannot take globex's user or group as member.
		{"POST", "/Groups", map[string]any{"schemas": []any{GroupSchema}, "displayName": "steal", "members": []any{map[string]any{"value": gUser}}}, 400},
		{"POST", "/Groups", map[string]any{"schemas": []any{GroupSchema}, "displayName": "steal2", "members": []any{map[string]any{"value": gGroup}}}, 400},
	}
	for _, tc := range tests {
		r := e.acme(t, tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.raw)
		}
		if strings.Contains(string(r.raw), "gus@") {
			t.Errorf("%s %s leaks globex data: %s", tc.method, tc.path, r.raw)
		}
	}
	for _, f := range []string{
		`id eq "` + gUser + `"`, `userName eq "gus@example.com"`, `externalId eq "gus-ext"`,
		`userName sw "gus"`, `emails.value co "gus"`, `id pr`,
	} {
		r := e.acme(t, "GET", "/Users?filter="+f, nil)
		if r.status != 200 || strings.Contains(string(r.raw), "gus") {
			t.Errorf("filter %s: %d %s", f, r.status, r.raw)
		}
	}
	for _, f := range []string{`id eq "` + gGroup + `"`, `displayName eq "gus group"`, `externalId eq "gus-gext"`, `members[value eq "` + gUser + `"]`} {
		r := e.acme(t, "GET", "/Groups?filter="+f, nil)
		if r.status != 200 || r.body["totalResults"] != float64(0) {
			t.Errorf("group filter %s: %d %s", f, r.status, r.raw)
		}
	}
	if got := e.snapshot(t, "globex"); got != before {
		t.Fatal("acme changed globex's data")
	}
	if r := e.acme(t, "GET", "/Users/"+acmeUser, nil); r.status != 200 {
		t.Fatalf("own user: %d", r.status)
	}
}

// TestStoredTokens covers CreateToken, ListTokens and RevokeToken and that
// a stored token of one tenant does not open another.
func TestStoredTokens(t *testing.T) {
	clock := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	e := newEnvWith(t, func(c *Config) { c.Now = func() time.Time { return clock } })
	ctx := context.Background()
	tok, err := e.srv.CreateToken(ctx, "globex", "okta")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.CreateToken(ctx, "globex", "okta"); err == nil {
		t.Fatal("duplicate token name accepted")
	}
	if r := e.do(t, tok, "globex", "GET", "/Users", nil); r.status != 200 {
		t.Fatalf("stored token: %d %s", r.status, r.raw)
	}
	if r := e.do(t, tok, "acme", "GET", "/Users", nil); r.status != 401 {
		t.Fatalf("globex stored token on acme: %d", r.status)
	}
	infos, err := ListTokens(ctx, e.st, "globex")
	if err != nil || len(infos) != 1 || infos[0].Name != "okta" || !infos[0].Created.Equal(clock) {
		t.Fatalf("ListTokens = %+v, %v", infos, err)
	}
	if infos, _ := ListTokens(ctx, e.st, "acme"); len(infos) != 0 {
		t.Fatalf("acme sees globex tokens: %+v", infos)
	}
	// Only the hash is stored, and the audit log has no secret.
	changes := e.audit(t)
	if strings.Contains(changes, tok) || strings.Contains(changes, strings.TrimPrefix(tok, tokenPrefix)) {
		t.Fatal("the plain token is in the store's audit log")
	}
	if !strings.Contains(changes, "scim-token/okta") {
		t.Fatal("no audit event for the token")
	}
	if err := RevokeToken(ctx, e.st, "acme", "okta"); err == nil {
		t.Fatal("acme revoked globex's token")
	}
	if err := RevokeToken(ctx, e.st, "globex", "okta"); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, tok, "globex", "GET", "/Users", nil); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
}
