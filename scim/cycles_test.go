package scim

import (
	"net/http"
	"testing"
)

// mkGroup creates a group of acme holding the given member ids.
func mkGroup(t *testing.T, e *env, name string, members ...string) string {
	t.Helper()
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	r := e.acme(t, "POST", "/Groups", map[string]any{"schemas": []string{GroupSchema}, "displayName": name, "members": ms})
	if r.status != http.StatusCreated {
		t.Fatalf("create group %s: %d %s", name, r.status, r.raw)
	}
	return r.body["id"].(string)
}

// TestGroupCycles: a PATCH or PUT that would nest a group in itself,
// directly or through others, is 400 invalidValue and changes nothing;
// nesting without a cycle is accepted.
func TestGroupCycles(t *testing.T) {
	e := newEnv(t)
	user, _ := seed(t, e, acmeToken, "acme", "ann")
	// a ⊃ b ⊃ c; d stands apart.
	c := mkGroup(t, e, "c", user)
	b := mkGroup(t, e, "b", c)
	a := mkGroup(t, e, "a", b)
	d := mkGroup(t, e, "d")
	addMember := func(id string) string {
		return patchJSON(`{"op":"add","path":"members","value":[{"value":"` + id + `"}]}`)
	}
	putMembers := func(name string, ids ...string) map[string]any {
		ms := []any{}
		for _, id := range ids {
			ms = append(ms, map[string]any{"value": id})
		}
		return map[string]any{"schemas": []string{GroupSchema}, "displayName": name, "members": ms}
	}
	refused := []struct {
		name, method, path string
		body               any
	}{
		{"PATCH a group into itself", "PATCH", "/Groups/" + d, addMember(d)},
		{"PATCH closes a two-group cycle", "PATCH", "/Groups/" + c, addMember(b)},
		{"PATCH closes a three-group cycle", "PATCH", "/Groups/" + c, addMember(a)},
		{"PATCH replace members closing a cycle", "PATCH", "/Groups/" + c,
			patchJSON(`{"op":"replace","path":"members","value":[{"value":"` + user + `"},{"value":"` + a + `"}]}`)},
		{"PATCH without path (Okta) closing a cycle", "PATCH", "/Groups/" + b,
			patchJSON(`{"op":"add","value":{"members":[{"value":"` + a + `"}]}}`)},
		{"PATCH a good op then a cycle", "PATCH", "/Groups/" + c,
			patchJSON(`{"op":"add","path":"members","value":[{"value":"` + d + `"}]},{"op":"add","path":"members","value":[{"value":"` + a + `"}]}`)},
		{"PUT a group into itself", "PUT", "/Groups/" + d, putMembers("d", d)},
		{"PUT closes a cycle", "PUT", "/Groups/" + c, putMembers("c", user, a)},
	}
	before := e.snapshot(t, "acme")
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := e.acme(t, tt.method, tt.path, tt.body)
			if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" || r.body["status"] != "400" {
				t.Errorf("%d %s, want 400 invalidValue", r.status, r.raw)
			}
			if s, _ := dig(r.body, "schemas/0"); s != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("error schema %v", s)
			}
			if e.snapshot(t, "acme") != before {
				t.Fatal("a refused request changed the store")
			}
		})
	}

	// Nesting without a cycle is fine: d into c (c ⊃ d), then a into d
	// would close a ⊃ b ⊃ c ⊃ d ⊃ a and is refused.
	if r := e.acme(t, "PATCH", "/Groups/"+c, addMember(d)); r.status != http.StatusNoContent {
		t.Fatalf("acyclic nesting: %d %s", r.status, r.raw)
	}
	before = e.snapshot(t, "acme")
	if r := e.acme(t, "PUT", "/Groups/"+d, putMembers("d", a)); r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" {
		t.Fatalf("four-group cycle by PUT: %d %s", r.status, r.raw)
	}
	if e.snapshot(t, "acme") != before {
		t.Fatal("a refused PUT changed the store")
	}
	// The same group under two parents (a diamond) is no cycle.
	if r := e.acme(t, "PUT", "/Groups/"+a, putMembers("a", b, d)); r.status != http.StatusOK {
		t.Fatalf("diamond: %d %s", r.status, r.raw)
	}
}
