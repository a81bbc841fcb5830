package scim

import (
	"context"
	"slices"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/storetest"
)

// world reads every fact of the store, for policy.Engine.Load.
// TestEngineFollowsSCIM: SCIM changes flow through the store's change feed
// into binding rules at once.
func TestEngineFollowsSCIM(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice, _ := seed(t, e, acmeToken, "acme", "alice")
	r := e.acme(t, "POST", "/Groups", map[string]any{"schemas": []any{GroupSchema}, "displayName": "Engineering"})
	dg := r.body["id"].(string)

	var lug policy.Group
	err := e.st.Update(ctx, "admin", func(tx store.Tx) error {
		if _, err := tx.PutRole(policy.Role{Name: "member", Permissions: []policy.Permission{"events.read"}}); err != nil {
			return err
		}
		var err error
		if lug, err = tx.CreateGroup(policy.Group{Slug: "berlin", Name: "Berlin LUG", Kind: policy.GroupLocal}); err != nil {
			return err
		}
		_, err = tx.CreateRule(policy.Rule{Tenant: "acme", DirGroup: policy.DirGroupID(dg), Group: lug.ID, Role: "member"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	eng := storetest.Engine(t, e.st, policy.EngineConfig{})
	isMember := func() bool {
		return slices.ContainsFunc(eng.Members(lug.ID), func(m policy.EffectiveMember) bool { return m.User == policy.UserID(alice) })
	}
	if isMember() {
		t.Fatal("member before provisioning")
	}
	steps := []struct {
		name   string
		path   string
		body   any
		member bool
	}{
		{"Entra adds alice", "/Groups/" + dg, patchBody(map[string]any{"op": "Add", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": alice}}}), true},
		{"Entra disables alice", "/Users/" + alice, patchBody(map[string]any{"op": "Replace", "path": "active", "value": "False"}), false},
		{"Okta reactivates alice", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "value": map[string]any{"active": true}}), true},
		{"Entra removes alice", "/Groups/" + dg, patchBody(map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": alice}}}), false},
	}
	for _, s := range steps {
		if r := e.acme(t, "PATCH", s.path, s.body); r.status >= 300 {
			t.Fatalf("%s: %d %s", s.name, r.status, r.raw)
		}
		if got := isMember(); got != s.member {
			t.Fatalf("%s: member = %v, want %v", s.name, got, s.member)
		}
	}
}
