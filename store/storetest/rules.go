package storetest

import (
	"slices"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// testWriteRules pins the rules that live above the backends
// (store/rules.go): tenant scoping, optimistic versions, validation, and
// the canonical member list, each refused without a trace.
func testWriteRules(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "r1", "r2", "r3")

	t.Run("tenant filled in from the scope", func(t *testing.T) {
		g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "scoped"})
		if g.Tenant != f.acme {
			t.Errorf("tenant %q, want %q", g.Tenant, f.acme)
		}
	})

	refusals := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"user of another tenant", func(tx store.Tx) error {
			u := user("cross")
			u.Tenant = f.globex
			_, err := tx.CreateUser(f.acme, u)
			return err
		}, policy.ErrInvalid},
		{"user moved to another tenant", func(tx store.Tx) error {
			u, err := tx.User(f.acme, us[0].ID)
			if err != nil {
				return err
			}
			u.Tenant = f.globex
			_, err = tx.UpdateUser(f.acme, u)
			return err
		}, policy.ErrInvalid},
		{"directory group of another tenant", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(f.acme, policy.DirGroup{Tenant: f.globex, DisplayName: "cross"})
			return err
		}, policy.ErrInvalid},
		{"user without userName", func(tx store.Tx) error {
			_, err := tx.CreateUser(f.acme, policy.User{Active: true})
			return err
		}, policy.ErrInvalid},
		{"directory group without name", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(f.acme, policy.DirGroup{})
			return err
		}, policy.ErrInvalid},
		{"stale user", func(tx store.Tx) error {
			u, err := tx.User(f.acme, us[0].ID)
			if err != nil {
				return err
			}
			u.Version--
			_, err = tx.UpdateUser(f.acme, u)
			return err
		}, store.ErrVersion},
		{"stale directory group", func(tx store.Tx) error {
			g, err := tx.CreateDirGroup(f.acme, policy.DirGroup{DisplayName: "stale"})
			if err != nil {
				return err
			}
			g.Version++
			_, err = tx.UpdateDirGroup(f.acme, g)
			return err
		}, store.ErrVersion},
		{"stale group", func(tx store.Tx) error {
			g, err := tx.Group(f.lug.ID)
			if err != nil {
				return err
			}
			g.Version++
			_, err = tx.UpdateGroup(g)
			return err
		}, store.ErrVersion},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			seq := lastSeq(t, s)
			wantErr(t, tt.name, updateErr(t, s, tt.fn), tt.want)
			if cs := auditAfter(t, s, seq); len(cs) != 0 {
				t.Errorf("refused write audited %v", summary(cs))
			}
		})
	}

	t.Run("canonical member lists", func(t *testing.T) {
		// Repeats dropped, the first occurrence kept, order kept: the
		// form policy.UniqueMembers defines.
		g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "canon", MemberUsers: []policy.UserID{us[2].ID, us[0].ID, us[2].ID, us[1].ID, us[0].ID}})
		want := []policy.UserID{us[2].ID, us[0].ID, us[1].ID}
		if !slices.Equal(g.MemberUsers, want) {
			t.Errorf("create returned %v, want %v", g.MemberUsers, want)
		}
		got, err := getDirGroup(t, s, f.acme, g.ID)
		if err != nil || !slices.Equal(got.MemberUsers, want) {
			t.Errorf("stored %v, %v; want %v", got.MemberUsers, err, want)
		}
		update(t, s, func(tx store.Tx) error {
			got.MemberUsers = []policy.UserID{us[1].ID, us[1].ID, us[2].ID}
			var err error
			got, err = tx.UpdateDirGroup(f.acme, got)
			return err
		})
		got, err = getDirGroup(t, s, f.acme, g.ID)
		if want := []policy.UserID{us[1].ID, us[2].ID}; err != nil || !slices.Equal(got.MemberUsers, want) {
			t.Errorf("after update %v, %v; want %v", got.MemberUsers, err, want)
		}
	})
}
