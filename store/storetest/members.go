package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// changeMembers runs store.ChangeMembers in its own Update.
func changeMembers(t *testing.T, s store.Store, tenant policy.TenantID, id policy.DirGroupID, u store.MemberUpdate) (store.MemberResult, error) {
	t.Helper()
	var res store.MemberResult
	err := updateErr(t, s, func(tx store.Tx) error {
		var err error
		res, err = store.ChangeMembers(tx, tenant, id, u)
		return err
	})
	return res, err
}

// testChangeMembers pins the rules of the one membership operation,
// whichever way the backend implements it (store.MemberChanger or the
// fallback through UpdateDirGroup).
func testChangeMembers(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "m1", "m2", "m3", "m4")
	other := createUsers(t, s, f.globex, "x1")
	otherGroup := createDirGroup(t, s, f.globex, policy.DirGroup{DisplayName: "globex"})
	inner := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "inner"})
	g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "team", MemberUsers: []policy.UserID{us[2].ID, us[0].ID}})

	// Adds keep the order they are made in, after the members there are;
	// a repeated id counts once; kinds resolve from the id.
	seq := lastSeq(t, s)
	res, err := changeMembers(t, s, f.acme, g.ID, store.MemberUpdate{
		Add: []policy.MemberRef{{ID: string(us[3].ID)}, {ID: string(inner.ID)}, {ID: string(us[1].ID)}, {ID: string(us[3].ID)}, {ID: string(us[0].ID)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := policy.MembersChange{Add: []policy.MemberRef{policy.UserMember(us[3].ID), policy.GroupMember(inner.ID), policy.UserMember(us[1].ID)}}
	if !slices.Equal(res.Applied.Add, want.Add) || len(res.Applied.Remove) != 0 || res.Version != g.Version+1 {
		t.Errorf("applied %+v version %d, want %+v version %d", res.Applied, res.Version, want, g.Version+1)
	}
	got, err := getDirGroup(t, s, f.acme, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if wantU := []policy.UserID{us[2].ID, us[0].ID, us[3].ID, us[1].ID}; !slices.Equal(got.MemberUsers, wantU) || !slices.Equal(got.MemberGroups, []policy.DirGroupID{inner.ID}) {
		t.Errorf("members %v %v, want %v [%s]", got.MemberUsers, got.MemberGroups, wantU, inner.ID)
	}
	if got.Version != res.Version || !got.Updated.Equal(res.Updated) {
		t.Errorf("group version %d updated %v, result %d %v", got.Version, got.Updated, res.Version, res.Updated)
	}
	if cs := auditAfter(t, s, seq); len(cs) != 1 || cs[0].Kind != policy.KindDirGroup || cs[0].ID != string(g.ID) || cs[0].Tenant != f.acme {
		t.Errorf("audit = %v, want one directory-group entry", summary(cs))
	}
	if got := dirGroupsOf(t, s, f.acme, string(us[3].ID)); !slices.Equal(got, []policy.DirGroupID{g.ID}) {
		t.Errorf("DirGroupsOf(new member) = %v", got)
	}

	// Removing, and removing a non-member, in one change; an id both
	// removed and added is taken out and put back last.
	res, err = changeMembers(t, s, f.acme, g.ID, store.MemberUpdate{
		Remove: []policy.MemberRef{{ID: string(us[0].ID)}, {ID: "not-a-member"}, {ID: string(us[3].ID)}},
		Add:    []policy.MemberRef{{ID: string(us[3].ID)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if wantR := []policy.MemberRef{policy.UserMember(us[0].ID), policy.UserMember(us[3].ID)}; !slices.Equal(res.Applied.Remove, wantR) || !slices.Equal(res.Applied.Add, []policy.MemberRef{policy.UserMember(us[3].ID)}) {
		t.Errorf("applied %+v, want removal of %v and %s put back", res.Applied, wantR, us[3].ID)
	}
	got, _ = getDirGroup(t, s, f.acme, g.ID)
	if wantU := []policy.UserID{us[2].ID, us[1].ID, us[3].ID}; !slices.Equal(got.MemberUsers, wantU) || !slices.Equal(got.MemberGroups, []policy.DirGroupID{inner.ID}) {
		t.Errorf("members %v %v, want %v [%s]", got.MemberUsers, got.MemberGroups, wantU, inner.ID)
	}
	// Take the nested group out again.
	if _, err := changeMembers(t, s, f.acme, g.ID, store.MemberUpdate{Remove: []policy.MemberRef{{ID: string(inner.ID)}}}); err != nil {
		t.Fatal(err)
	}
	got, _ = getDirGroup(t, s, f.acme, g.ID)
	if got := dirGroupsOf(t, s, f.acme, string(us[0].ID)); len(got) != 0 {
		t.Errorf("DirGroupsOf(removed member) = %v", got)
	}

	// A change that changes nothing writes nothing.
	seq = lastSeq(t, s)
	res, err = changeMembers(t, s, f.acme, g.ID, store.MemberUpdate{Add: []policy.MemberRef{{ID: string(us[1].ID)}}, Remove: []policy.MemberRef{{ID: string(us[0].ID)}}})
	if err != nil || !res.Applied.Empty() || res.Version != got.Version {
		t.Errorf("no-op change = %+v, %v; want nothing applied at version %d", res, err, got.Version)
	}
	if cs := auditAfter(t, s, seq); len(cs) != 0 {
		t.Errorf("no-op change audited %v", summary(cs))
	}

	// Refusals change nothing.
	var checked policy.MembersChange
	errCheck := errors.New("refused by check")
	bad := []struct {
		name string
		u    store.MemberUpdate
		want error
	}{
		{"user of another tenant", store.MemberUpdate{Add: []policy.MemberRef{{ID: string(other[0].ID)}}}, store.ErrNotFound},
		{"group of another tenant", store.MemberUpdate{Add: []policy.MemberRef{{ID: string(otherGroup.ID)}}}, store.ErrNotFound},
		{"unknown id", store.MemberUpdate{Add: []policy.MemberRef{{ID: "nope"}}}, store.ErrNotFound},
		{"user given as a group", store.MemberUpdate{Add: []policy.MemberRef{policy.GroupMember(policy.DirGroupID(us[0].ID))}}, store.ErrNotFound},
		{"itself", store.MemberUpdate{Add: []policy.MemberRef{{ID: string(g.ID)}}}, policy.ErrInvalid},
		{"stale version", store.MemberUpdate{Add: []policy.MemberRef{{ID: string(us[0].ID)}}, Version: got.Version - 1}, store.ErrVersion},
		{"check", store.MemberUpdate{Add: []policy.MemberRef{{ID: string(inner.ID)}}, Check: func(c policy.MembersChange) error { checked = c; return errCheck }}, errCheck},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			seq := lastSeq(t, s)
			_, err := changeMembers(t, s, f.acme, g.ID, tt.u)
			wantErr(t, "ChangeMembers", err, tt.want)
			var ue *store.UnknownMemberError
			if tt.want == store.ErrNotFound && (!errors.As(err, &ue) || ue.Group != g.ID) {
				t.Errorf("error %v is not an *UnknownMemberError naming the group", err)
			}
			if cs := auditAfter(t, s, seq); len(cs) != 0 {
				t.Errorf("refused change audited %v", summary(cs))
			}
			now, _ := getDirGroup(t, s, f.acme, g.ID)
			if now.Version != got.Version || !slices.Equal(now.MemberUsers, got.MemberUsers) || !slices.Equal(now.MemberGroups, got.MemberGroups) {
				t.Errorf("refused change changed the group: %+v", now)
			}
		})
	}
	if !slices.Equal(checked.Add, []policy.MemberRef{policy.GroupMember(inner.ID)}) {
		t.Errorf("Check saw %+v, want the resolved addition", checked)
	}
	if _, err := changeMembers(t, s, f.acme, "nope", store.MemberUpdate{Add: []policy.MemberRef{{ID: string(us[0].ID)}}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown group: %v", err)
	}
	if _, err := changeMembers(t, s, f.globex, g.ID, store.MemberUpdate{Add: []policy.MemberRef{{ID: string(other[0].ID)}}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("group of another tenant: %v", err)
	}

	// The engine fed by the change feed sees the same members as the store.
	update(t, s, func(tx store.Tx) error {
		_, err := tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: g.ID, Group: f.lug.ID, Role: roleMember})
		return err
	})
	e := policy.NewEngine(policy.EngineConfig{})
	view(t, s, func(tx store.Tx) error {
		cs, err := tx.Audit(0, 0)
		if err != nil {
			return err
		}
		return e.Apply(cs)
	})
	final, _ := getDirGroup(t, s, f.acme, g.ID)
	var gotU []policy.UserID
	for _, m := range e.Members(f.lug.ID) {
		gotU = append(gotU, m.User)
	}
	if !slices.Equal(gotU, sortedIDs(final.MemberUsers...)) {
		t.Errorf("engine members %v, store %v", gotU, final.MemberUsers)
	}

	// Cascades and later full writes see the members written as deltas.
	update(t, s, func(tx store.Tx) error { return tx.DeleteUser(f.acme, us[3].ID) })
	final, _ = getDirGroup(t, s, f.acme, g.ID)
	if wantU := []policy.UserID{us[2].ID, us[1].ID}; !slices.Equal(final.MemberUsers, wantU) {
		t.Errorf("after deleting a member: %v, want %v", final.MemberUsers, wantU)
	}
}
