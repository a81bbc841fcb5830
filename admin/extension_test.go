package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/roster-dev/roster/policy"
)

// TestExtensionPermission: an extension that names a permission serves
// admin tokens and delegated callers who hold it on every root group; one
// without serves admin tokens only.
func TestExtensionPermission(t *testing.T) {
	f := newFixture(t)
	ok := func(*http.Request, Body) (int, any, error) { return http.StatusOK, map[string]bool{"ok": true}, nil }
	s, err := New(Config{Store: f.st, Engine: f.eng, Tokens: []Token{{Name: "ops", Token: adminToken}}, AccessTokens: f.tokens,
		Extensions: []Extension{
			{Pattern: "GET /sync", Permission: "directories.manage", Handle: ok},
			{Pattern: "GET /clients", Handle: ok},
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	g := &fixture{srv: srv, st: f.st, eng: f.eng, ids: f.ids}
	check := func(tok, path string, want int) {
		t.Helper()
		if st, m := g.call(t, tok, "GET", "/api/v1"+path, ""); st != want {
			t.Errorf("%s GET %s: %d %v, want %d", tok, path, st, m, want)
		}
	}
	check(adminToken, "/sync", 200)
	check(adminToken, "/clients", 200)
	// alice organizes lug-london: no directories.manage anywhere.
	check("alice-token", "/sync", 403)
	// bob gets a role with directories.manage on isug, the only root.
	f.call(t, adminToken, "PUT", "/api/v1/roles/directory-steward", `{"permissions":["group.read","directories.manage"],"inherit":true}`)
	if st, m := f.call(t, adminToken, "POST", "/api/v1/groups/isug/memberships", `{"user":"bob","tenant":"vendor","role":"directory-steward"}`); st != 201 {
		t.Fatalf("%d %v", st, m)
	}
	check("bob-token", "/sync", 200)
	check("bob-token", "/clients", 403) // no permission named: admin tokens only
	// A second root that bob does not hold it on: refused again.
	if st, m := f.call(t, adminToken, "POST", "/api/v1/groups", `{"slug":"sig-other","name":"Other","kind":"special-interest"}`); st != 201 {
		t.Fatalf("%d %v", st, m)
	}
	check("bob-token", "/sync", 403)
	if !f.eng.Check(policy.UserID(f.ids["bob"]), "directories.manage", policy.GroupID(f.ids["lug"])) {
		t.Error("the role does not flow down")
	}
}
