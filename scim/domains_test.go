package scim

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// setDomains gives tenant id the e-mail domains ds.
func setDomains(t *testing.T, e *env, id policy.TenantID, ds ...string) {
	t.Helper()
	err := e.st.Update(context.Background(), "test", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: id, Name: string(id), Kind: policy.TenantPartner, Domains: ds})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestForeignDomainEmail: no tenant can put an address inside another
// tenant's domains on its users, by create, replace or either PATCH
// shape; the refusal is 400 invalidValue naming the domain, and changes
// nothing. Addresses in its own domains, in nobody's, and ones a user
// already had stay allowed.
func TestForeignDomainEmail(t *testing.T) {
	e := newEnv(t)
	setDomains(t, e, "acme", "acme.example")
	setDomains(t, e, "globex", "globex.example")
	user, _ := seed(t, e, globexToken, "globex", "gus")
	globex := func(method, path string, body any) reply { return e.do(t, globexToken, "globex", method, path, body) }

	newUser := func(addr string) map[string]any {
		return map[string]any{"schemas": []string{UserSchema}, "userName": "mallory",
			"emails": []any{map[string]any{"value": addr, "type": "work"}}}
	}
	patch := func(ops ...any) map[string]any {
		return map[string]any{"schemas": []string{patchOpSchema}, "Operations": ops}
	}
	refused := []struct {
		name, method, path string
		body               any
	}{
		{"create", "POST", "/Users", newUser("ceo@acme.example")},
		{"create, subdomain and case", "POST", "/Users", newUser("ceo@Mail.ACME.example.")},
		{"create, second address", "POST", "/Users", map[string]any{"schemas": []string{UserSchema}, "userName": "mallory",
			"emails": []any{map[string]any{"value": "m@globex.example", "primary": true}, map[string]any{"value": "ceo@acme.example"}}}},
		{"replace", "PUT", "/Users/" + user, map[string]any{"schemas": []string{UserSchema}, "userName": "gus@example.com",
			"emails": []any{map[string]any{"value": "ceo@acme.example"}}}},
		{"patch path", "PATCH", "/Users/" + user, patch(map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": "ceo@acme.example"})},
		{"patch add", "PATCH", "/Users/" + user, patch(map[string]any{"op": "add", "path": "emails", "value": []any{map[string]any{"value": "cfo@acme.example"}}})},
		{"patch no path", "PATCH", "/Users/" + user, patch(map[string]any{"op": "replace", "value": map[string]any{"emails": []any{map[string]any{"value": "ceo@acme.example"}}}})},
	}
	before := e.snapshot(t, "globex") + e.snapshot(t, "acme")
	audit := e.audit(t)
	for _, tt := range refused {
		r := globex(tt.method, tt.path, tt.body)
		if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" {
			t.Errorf("%s: %d %s, want 400 invalidValue", tt.name, r.status, r.raw)
			continue
		}
		detail, _ := r.body["detail"].(string)
		if !strings.Contains(detail, "acme.example") || !strings.Contains(detail, "another tenant") || strings.Contains(detail, `acme"`) {
			t.Errorf("%s: detail %q should name the domain and the reason, not the tenant", tt.name, detail)
		}
	}
	if after := e.snapshot(t, "globex") + e.snapshot(t, "acme"); after != before {
		t.Errorf("a refused write changed records:\n%s\n%s", before, after)
	}
	if e.audit(t) != audit {
		t.Error("a refused write was audited")
	}

	// Allowed: the tenant's own domains, unclaimed ones, and the owner
	// itself.
	for _, tt := range []struct {
		token, tenant, addr string
	}{
		{globexToken, "globex", "new@globex.example"},
		{globexToken, "globex", "someone@gmail.example"},
		{acmeToken, "acme", "ceo@acme.example"},
	} {
		body := newUser(tt.addr)
		body["userName"] = tt.addr
		if r := e.do(t, tt.token, tt.tenant, "POST", "/Users", body); r.status != http.StatusCreated {
			t.Errorf("%s creating %s: %d %s", tt.tenant, tt.addr, r.status, r.raw)
		}
	}

	// An address the user had before the domain was claimed does not
	// keep its tenant from updating (deactivating) the user.
	setDomains(t, e, "acme", "acme.example", "example.com") // gus@example.com is globex's user's address
	r := globex("PATCH", "/Users/"+user, patch(map[string]any{"op": "replace", "value": map[string]any{"active": false}}))
	if r.status != http.StatusOK || r.body["active"] != false {
		t.Errorf("deactivating a user with a since-claimed address: %d %s", r.status, r.raw)
	}
}
