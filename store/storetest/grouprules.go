package storetest

import (
	"testing"

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
	if a.ID == "" || b.ID == "" || a.ID == b.ID || a.Version != 1 {
		t.Fatalf("created groups %q v%d and %q: want distinct new ids, version 1", a.ID, a.Version, b.ID)
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
}
