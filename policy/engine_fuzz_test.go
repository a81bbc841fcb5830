package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/roster-dev/roster/policy"
)

// FuzzApply feeds arbitrary change-feed entries to an Engine loaded with the
// fixture: Apply may reject them, but must never panic or hang, and every
// question must still be answerable afterwards.
func FuzzApply(f *testing.F) {
	seeds := []struct {
		kind, op, id, before, after string
	}{
		{"dirgroup", "update", "c1", "", `{"id":"c1","tenant":"vendor","displayName":"C1","memberGroups":["c1","c2","nope"],"memberUsers":["u-alice","u-carol"]}`},
		{"group", "update", "g-isug", "", `{"id":"g-isug","slug":"isug","name":"ISUG","kind":"international","parent":"g-sig-x"}`},
		{"rule", "create", "r9", "", `{"id":"r9","tenant":"vendor","dirGroup":"c2","group":"g-isug","role":"admin"}`},
		{"membership", "delete", "g-isug/u-carol/member", "", ""},
		{"membership", "update", "x", `{"user":"u-bob","group":"g-isug","role":"member"}`, `{"user":"u-bob","group":"g-isug","role":"admin"}`},
		{"user", "delete", "u-alice", "null", ""},
		{"role", "update", "admin", "", `{"name":"admin","permissions":["x"],"inherit":false}`},
		{"event", "create", "e", "", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.kind, s.op, s.id, s.before, s.after)
	}
	f.Fuzz(func(t *testing.T, kind, op, id, before, after string) {
		e := loaded(t, fixture())
		c := policy.Change{Kind: policy.Kind(kind), Op: policy.Op(op), ID: id}
		if before != "" {
			c.Before = json.RawMessage(before)
		}
		if after != "" {
			c.After = json.RawMessage(after)
		}
		_ = e.Apply([]policy.Change{c, c})
		w := fixture()
		for _, u := range append(w.Users, policy.User{ID: policy.UserID(id)}) {
			e.EffectiveGroups(u.ID)
			for _, g := range append(w.Groups, policy.Group{ID: policy.GroupID(id)}) {
				e.Check(u.ID, "members.manage", g.ID)
				e.Explain(u.ID, "group.read", g.ID)
			}
		}
		for _, g := range append(w.Groups, policy.Group{ID: policy.GroupID(id)}) {
			e.Members(g.ID)
			e.Charter(g.ID)
			e.Ancestors(g.ID)
			e.Children(g.ID)
		}
	})
}
