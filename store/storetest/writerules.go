package storetest

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// testGroupRules pins the rules of a group write that live above the
// backends (store.NewGroup, store.ChangeGroup): a group without an id gets
// a new one; a NUL in its id or its parent's, an invalid group or an
// update made with a stale version is refused and changes nothing.
func testGroupRules(t *testing.T, s store.Store) {
	f := setup(t, s)
	var a, b policy.Group
	update(t, s, func(tx store.Tx) error {
		var err error
		if a, err = tx.CreateGroup(policy.Group{Slug: "rules-a", Name: "A", Kind: policy.GroupLocal}); err != nil {
			return err
		}
		b, err = tx.CreateGroup(policy.Group{Slug: "rules-b", Name: "B", Kind: policy.GroupLocal})
		return err
	})
	if a.ID == "" || b.ID == "" || a.ID == b.ID || a.Version != 1 || a.Created.IsZero() || !a.Updated.Equal(a.Created) {
		t.Fatalf("created groups %q v%d (created %v, updated %v) and %q: want distinct new ids, version 1, created = updated",
			a.ID, a.Version, a.Created, a.Updated, b.ID)
	}
	seq := lastSeq(t, s)
	stale, renamed, nameless := a, a, a
	stale.Version, stale.Name = a.Version+1, "stale"
	nameless.Name = ""
	renamed.Parent = f.isug.ID + "\x00"
	for _, tt := range []struct {
		name  string
		write func(tx store.Tx) error
		want  error
	}{
		{"create with NUL in id", func(tx store.Tx) error {
			_, err := tx.CreateGroup(policy.Group{ID: "x\x00y", Slug: "rules-c", Name: "C", Kind: policy.GroupLocal})
			return err
		}, policy.ErrInvalid},
		{"create with NUL in parent", func(tx store.Tx) error {
			_, err := tx.CreateGroup(policy.Group{Parent: "p\x00", Slug: "rules-c", Name: "C", Kind: policy.GroupLocal})
			return err
		}, policy.ErrInvalid},
		{"create without a kind", func(tx store.Tx) error {
			_, err := tx.CreateGroup(policy.Group{Slug: "rules-c", Name: "C"})
			return err
		}, policy.ErrInvalid},
		{"update with a stale version", func(tx store.Tx) error { _, err := tx.UpdateGroup(stale); return err }, store.ErrVersion},
		{"update without a name", func(tx store.Tx) error { _, err := tx.UpdateGroup(nameless); return err }, policy.ErrInvalid},
		{"update with NUL in parent", func(tx store.Tx) error { _, err := tx.UpdateGroup(renamed); return err }, policy.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, updateErr(t, s, tt.write), tt.want)
		})
	}
	if got := auditAfter(t, s, seq); len(got) != 0 {
		t.Errorf("refused group writes left audit entries: %v", summary(got))
	}
	view(t, s, func(tx store.Tx) error {
		g, err := tx.Group(a.ID)
		if err != nil || g.Version != a.Version || g.Name != a.Name || g.Parent != "" {
			t.Errorf("group after refused writes = %+v, %v; want it unchanged", g, err)
		}
		return nil
	})
	// An accepted update keeps the creation time and takes the next version.
	changed := a
	changed.Name, changed.Created = "A2", a.Created.Add(-time.Hour)
	update(t, s, func(tx store.Tx) error {
		g, err := tx.UpdateGroup(changed)
		if err == nil && (g.Version != a.Version+1 || !g.Created.Equal(a.Created) || g.Updated.Before(a.Updated)) {
			t.Errorf("UpdateGroup = version %d created %v updated %v; want version %d, created %v, updated not before %v",
				g.Version, g.Created, g.Updated, a.Version+1, a.Created, a.Updated)
		}
		return err
	})
}

// testRoleAndMembershipRules pins store.ReplaceRole, store.NewRule's key
// check and store.PrepareMembership: a new role starts at version 1 whatever it
// says, a replacement needs the stored version and gets the next; a
// membership's origin defaults to manual, any other origin or a NUL in an
// id is refused, and refused writes change nothing.
func testRoleAndMembershipRules(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "rule-holder")
	var r policy.Role
	update(t, s, func(tx store.Tx) error {
		var err error
		r, err = tx.PutRole(policy.Role{Name: "reviewer", Version: 7})
		return err
	})
	if r.Version != 1 {
		t.Errorf("new role version = %d, want 1", r.Version)
	}
	seq := lastSeq(t, s)
	stale := r
	stale.Version, stale.Description = 5, "stale"
	for _, tt := range []struct {
		name  string
		write func(tx store.Tx) error
		want  error
	}{
		{"role with a stale version", func(tx store.Tx) error { _, err := tx.PutRole(stale); return err }, store.ErrVersion},
		{"membership of rule origin", func(tx store.Tx) error {
			_, err := tx.AddMembership(policy.Membership{User: us[0].ID, Group: f.isug.ID, Role: r.Name, Origin: policy.RuleOrigin("x")})
			return err
		}, policy.ErrInvalid},
		{"rule with NUL in id", func(tx store.Tx) error {
			_, err := tx.CreateRule(policy.Rule{ID: "r\x00", Tenant: f.acme, DirGroup: "dg", Group: f.isug.ID, Role: r.Name})
			return err
		}, policy.ErrInvalid},
		{"membership with NUL in role", func(tx store.Tx) error {
			_, err := tx.AddMembership(policy.Membership{User: us[0].ID, Group: f.isug.ID, Role: "re\x00viewer"})
			return err
		}, policy.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, updateErr(t, s, tt.write), tt.want)
		})
	}
	if got := auditAfter(t, s, seq); len(got) != 0 {
		t.Errorf("refused writes left audit entries: %v", summary(got))
	}
	update(t, s, func(tx store.Tx) error {
		m, err := tx.AddMembership(policy.Membership{User: us[0].ID, Group: f.isug.ID, Role: r.Name})
		if err == nil && m.Origin != policy.OriginManual {
			t.Errorf("membership origin = %q, want %q", m.Origin, policy.OriginManual)
		}
		if err != nil {
			return err
		}
		r.Description = "reads talks"
		got, err := tx.PutRole(r)
		if err == nil && got.Version != 2 {
			t.Errorf("replaced role version = %d, want 2", got.Version)
		}
		return err
	})
}
