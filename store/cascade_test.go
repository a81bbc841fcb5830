package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestCascade pins the rewrite a cascade makes: groups in the order they
// were first marked, one rewrite per group however many removals, members
// dropped keeping the order of the rest, an emptied list nil, the version
// one higher and the input untouched.
func TestCascade(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var c store.Cascade
	if got := c.Take(); got != nil {
		t.Fatalf("Take of an empty cascade = %v", got)
	}
	c.DropUser("t1", "g2", "u1")
	c.DropGroup("t1", "g1", "d1")
	c.DropUser("t1", "g2", "u3")
	c.DropUser("t2", "g2", "u1")
	rws := c.Take()
	if got := c.Take(); got != nil {
		t.Errorf("second Take = %v, want nil", got)
	}
	type ref struct {
		tenant policy.TenantID
		id     policy.DirGroupID
	}
	var refs []ref
	for _, rw := range rws {
		refs = append(refs, ref{rw.Tenant, rw.ID})
	}
	if want := []ref{{"t1", "g2"}, {"t1", "g1"}, {"t2", "g2"}}; !slices.Equal(refs, want) {
		t.Fatalf("Take order = %v, want %v", refs, want)
	}

	in := policy.DirGroup{ID: "g2", Version: 4, MemberUsers: []policy.UserID{"u1", "u2", "u3"}, MemberGroups: []policy.DirGroupID{"d1"}}
	for _, tt := range []struct {
		name   string
		rw     *store.CascadeRewrite
		users  []policy.UserID
		groups []policy.DirGroupID
	}{
		{"two users", rws[0], []policy.UserID{"u2"}, []policy.DirGroupID{"d1"}},
		{"last group", rws[1], []policy.UserID{"u1", "u2", "u3"}, nil},
		{"one user", rws[2], []policy.UserID{"u2", "u3"}, []policy.DirGroupID{"d1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.rw.Apply(in, now)
			if !slices.Equal(g.MemberUsers, tt.users) || !slices.Equal(g.MemberGroups, tt.groups) {
				t.Errorf("members = %v %v, want %v %v", g.MemberUsers, g.MemberGroups, tt.users, tt.groups)
			}
			if tt.groups == nil && g.MemberGroups != nil {
				t.Errorf("emptied MemberGroups = %#v, want nil", g.MemberGroups)
			}
			if g.Version != 5 || !g.Updated.Equal(now) {
				t.Errorf("version %d updated %v, want 5 %v", g.Version, g.Updated, now)
			}
			if !slices.Equal(in.MemberUsers, []policy.UserID{"u1", "u2", "u3"}) || len(in.MemberGroups) != 1 {
				t.Errorf("Apply modified its input: %v %v", in.MemberUsers, in.MemberGroups)
			}
		})
	}
}
