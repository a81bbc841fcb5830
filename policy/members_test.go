package policy_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/policy/policytest"
)

// asDelta turns a directory-group update that changes only members into
// the OpMembers entry a store writes for the same change.
func asDelta(t *testing.T, c policy.Change) policy.Change {
	if c.Kind != policy.KindDirGroup || c.Op != policy.OpUpdate {
		return c
	}
	var before, after policy.DirGroup
	if json.Unmarshal(c.Before, &before) != nil || json.Unmarshal(c.After, &after) != nil {
		t.Fatalf("decode %s", c.ID)
	}
	d := policy.MembersDiff(before, after.MemberUsers, after.MemberGroups)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	c.Op, c.Before, c.After = policy.OpMembers, nil, b
	return c
}

// TestApplyMembersDeltaMatchesLoad runs the random model of
// TestApplyMatchesLoad with every member change fed as an OpMembers delta
// (Engine.changeDir) and checks the engine against one loaded from the
// model's facts.
func TestApplyMembersDeltaMatchesLoad(t *testing.T) {
	cfg := policytest.Small
	cfg.Users, cfg.Groups, cfg.DirGroups, cfg.Rules, cfg.Memberships = 120, 25, 40, 60, 40
	for _, seed := range []uint64{4, 5} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			cfg.Seed = seed
			w := policytest.Generate(cfg)
			m := newModel(t, w, seed)
			e := loaded(t, w)
			deltas := 0
			for step := 1; step <= 400; step++ {
				c := asDelta(t, m.step())
				if c.Op == policy.OpMembers {
					deltas++
				}
				if err := e.Apply([]policy.Change{c}); err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if step%50 == 0 {
					compareEngines(t, step, m, e, loaded(t, m.world()))
				}
			}
			if deltas == 0 {
				t.Fatal("the model made no member change")
			}
		})
	}
}

func TestMembersHelpers(t *testing.T) {
	u := func(ids ...string) []policy.UserID {
		out := make([]policy.UserID, len(ids))
		for i, id := range ids {
			out[i] = policy.UserID(id)
		}
		return out
	}
	if got := policy.UniqueMembers(u("c", "a", "c", "b", "a")); !slices.Equal(got, u("c", "a", "b")) {
		t.Errorf("UniqueMembers = %v", got)
	}
	g := policy.DirGroup{MemberUsers: u("a", "b", "c"), MemberGroups: []policy.DirGroupID{"x"}}
	tests := []struct {
		name   string
		c      policy.MembersChange
		users  []policy.UserID
		groups []policy.DirGroupID
	}{
		{"add appends in order, once", policy.MembersChange{Add: []policy.MemberRef{policy.UserMember("e"), policy.UserMember("d"), policy.UserMember("e"), policy.GroupMember("y")}},
			u("a", "b", "c", "e", "d"), []policy.DirGroupID{"x", "y"}},
		{"remove", policy.MembersChange{Remove: []policy.MemberRef{{ID: "b"}, {ID: "x"}, {ID: "nope"}}}, u("a", "c"), []policy.DirGroupID{}},
		{"removed and added again goes last", policy.MembersChange{Remove: []policy.MemberRef{{ID: "a"}}, Add: []policy.MemberRef{policy.UserMember("a")}}, u("b", "c", "a"), []policy.DirGroupID{"x"}},
		{"adding a member keeps its place", policy.MembersChange{Add: []policy.MemberRef{policy.UserMember("a")}}, u("a", "b", "c"), []policy.DirGroupID{"x"}},
	}
	for _, tt := range tests {
		users, groups := policy.ApplyMembers(g, tt.c)
		if !slices.Equal(users, tt.users) || !slices.Equal(groups, tt.groups) {
			t.Errorf("%s: ApplyMembers = %v %v, want %v %v", tt.name, users, groups, tt.users, tt.groups)
		}
		// MembersDiff finds a change that ApplyMembers turns back into
		// the same lists.
		d := policy.MembersDiff(g, users, groups)
		u2, g2 := policy.ApplyMembers(g, d)
		if !slices.Equal(sorted(u2), sorted(users)) || !slices.Equal(sorted(g2), sorted(groups)) {
			t.Errorf("%s: ApplyMembers(MembersDiff) = %v %v, want %v %v", tt.name, u2, g2, users, groups)
		}
	}
}

func sorted[T ~string](s []T) []T {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
