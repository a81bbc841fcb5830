package storetest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// testNoOpWrites pins the no-op rules decided above the backends
// (store.AddMembership, store.Cascade.Flush): adding a manual membership
// already held writes nothing (no audit entry, no record in the change
// feed, the stored membership returned with its Created time), whether it
// was added in an earlier transaction or earlier in the same one; a
// cascade into a directory group deleted in the same transaction rewrites
// nothing (no entry, no version), while a cascade pending when its group
// is deleted is made first, as the delete reads the group.
func testNoOpWrites(t *testing.T, s store.Store) {
	f := setup(t, s)
	feed := subscribe(t, s)
	us := createUsers(t, s, f.acme, "noop-a", "noop-b", "noop-c")
	m := policy.Membership{Group: f.lug.ID, User: us[0].ID, Role: roleMember}

	t.Run("membership held", func(t *testing.T) {
		var first, again policy.Membership
		feed.take()
		seq := lastSeq(t, s)
		update(t, s, func(tx store.Tx) (err error) {
			if first, err = tx.AddMembership(m); err != nil {
				return err
			}
			again, err = tx.AddMembership(m)
			return err
		})
		cs := auditAfter(t, s, seq)
		want := []string{"membership/create/" + policy.MembershipKey(m.Group, m.User, m.Role)}
		if !slices.Equal(summary(cs), want) {
			t.Errorf("adding a membership twice in one transaction audited %v, want %v", summary(cs), want)
		}
		checkFeed(t, feed.take(), [][]policy.Change{cs})
		if again != first || first.Created.IsZero() || first.Origin != policy.OriginManual {
			t.Errorf("second AddMembership returned %+v, want the first %+v", again, first)
		}
		var stored policy.Membership
		seq = lastSeq(t, s)
		update(t, s, func(tx store.Tx) (err error) {
			late := m
			late.Origin = policy.OriginManual
			if again, err = tx.AddMembership(late); err != nil {
				return err
			}
			stored, err = tx.Membership(m.Group, m.User, m.Role)
			return err
		})
		if cs := auditAfter(t, s, seq); len(cs) != 0 {
			t.Errorf("adding a held membership audited %v", summary(cs))
		}
		if b := feed.take(); len(b) != 0 {
			t.Errorf("adding a held membership delivered %v", b)
		}
		if !again.Created.Equal(first.Created) || again.User != m.User || again.Group != m.Group || again.Role != m.Role {
			t.Errorf("AddMembership of a held membership returned %+v, want the stored %+v", again, first)
		}
		if !stored.Created.Equal(first.Created) || stored.Origin != policy.OriginManual {
			t.Errorf("Membership = %+v, want %+v", stored, first)
		}
		view(t, s, func(tx store.Tx) error {
			_, err := tx.Membership(f.isug.ID, us[0].ID, roleMember)
			wantErr(t, "Membership(not held)", err, store.ErrNotFound)
			_, err = tx.Membership("", us[0].ID, roleMember)
			wantErr(t, "Membership(no group)", err, store.ErrNotFound)
			return nil
		})
	})

	t.Run("cascade into a group deleted first", func(t *testing.T) {
		g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "noop-gone", MemberUsers: []policy.UserID{us[1].ID}})
		keep := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "noop-keep", MemberUsers: []policy.UserID{us[1].ID, us[2].ID}})
		feed.take()
		seq := lastSeq(t, s)
		update(t, s, func(tx store.Tx) error {
			if err := tx.DeleteDirGroup(f.acme, g.ID); err != nil {
				return err
			}
			return tx.DeleteUser(f.acme, us[1].ID)
		})
		cs := auditAfter(t, s, seq)
		want := []string{
			"dirgroup/delete/" + string(g.ID),
			"user/delete/" + string(us[1].ID),
			"dirgroup/update/" + string(keep.ID),
		}
		if !slices.Equal(summary(cs), want) {
			t.Errorf("audit = %v, want %v (no rewrite of the deleted group)", summary(cs), want)
		}
		checkFeed(t, feed.take(), [][]policy.Change{cs})
		_, err := getDirGroup(t, s, f.acme, g.ID)
		wantErr(t, "deleted group", err, store.ErrNotFound)
		if k, err := getDirGroup(t, s, f.acme, keep.ID); err != nil || k.Version != 2 || !slices.Equal(k.MemberUsers, []policy.UserID{us[2].ID}) {
			t.Errorf("kept group = %+v, %v; want version 2 with %s only", k, err, us[2].ID)
		}
	})

	t.Run("cascade pending when its group is deleted", func(t *testing.T) {
		g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "noop-later", MemberUsers: []policy.UserID{us[2].ID}})
		feed.take()
		seq := lastSeq(t, s)
		update(t, s, func(tx store.Tx) error {
			if err := tx.DeleteUser(f.acme, us[2].ID); err != nil {
				return err
			}
			return tx.DeleteDirGroup(f.acme, g.ID)
		})
		cs := auditAfter(t, s, seq)
		got := summary(cs)
		want := []string{
			"user/delete/" + string(us[2].ID),
			"dirgroup/update/" + string(g.ID),
			"dirgroup/delete/" + string(g.ID),
		}
		// The other group that listed the user is rewritten too.
		if len(got) != 4 || got[0] != want[0] || !slices.Contains(got, want[1]) || got[3] != want[2] {
			t.Errorf("audit = %v, want %v with the kept group's rewrite", got, want)
		}
		// The delete holds the group as the cascade left it.
		if del := cs[len(cs)-1]; len(cs) == 4 {
			before, err := decodeJSON[policy.DirGroup](del.Before)
			if err != nil || before.Version != 2 || len(before.MemberUsers) != 0 {
				t.Errorf("delete entry's Before = %s (%v), want the group at version 2 without members", del.Before, err)
			}
		}
		checkFeed(t, feed.take(), [][]policy.Change{cs})
	})
}

// decodeJSON decodes an entry's record.
func decodeJSON[T any](b []byte) (T, error) {
	var x T
	err := json.Unmarshal(b, &x)
	return x, err
}
