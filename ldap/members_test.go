package ldap_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestIncrementalMembersAsDelta checks that a sync that changes only a
// group's members writes one delta (store.ChangeMembers, an OpMembers entry
// naming the member added) rather than the group's whole lists.
func TestIncrementalMembersAsDelta(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	s := e.source(t, nil)
	mustSync(t, s, ldap.Full)
	before := e.snap(t)
	var seq uint64
	if err := e.st.View(t.Context(), func(tx store.Tx) error {
		cs, err := tx.Audit(0, 0)
		if len(cs) > 0 {
			seq = cs[len(cs)-1].Seq
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	e.srv.MustModify(t, `dn: cn=admins,ou=groups,dc=example,dc=com
changetype: modify
add: member
member: uid=bob,ou=people,dc=example,dc=com
`)
	rs := mustSync(t, s, ldap.Incremental)
	if rs.Groups.Updated != 1 || rs.Memberships.Added != 1 {
		t.Fatalf("incremental: groups %+v memberships %+v", rs.Groups, rs.Memberships)
	}
	sn := e.snap(t)
	if u, _ := sn.members(t, "admins"); !slices.Equal(u, []string{"bob", "dave"}) {
		t.Errorf("admins = %v, want bob and dave", u)
	}
	var got []policy.Change
	if err := e.st.View(t.Context(), func(tx store.Tx) error {
		cs, err := tx.Audit(seq, 0)
		for _, c := range cs {
			if c.Kind == policy.KindDirGroup {
				got = append(got, c)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	admins := before.groups["admins"]
	if len(got) != 1 || got[0].Op != policy.OpMembers || got[0].ID != string(admins.ID) {
		t.Fatalf("directory-group entries %+v, want one %s of %s", got, policy.OpMembers, admins.ID)
	}
	var c policy.MembersChange
	if err := json.Unmarshal(got[0].After, &c); err != nil {
		t.Fatal(err)
	}
	if want := []policy.MemberRef{policy.UserMember(before.users["bob"].ID)}; !slices.Equal(c.Add, want) || len(c.Remove) != 0 {
		t.Errorf("delta %+v, want add %v", c, want)
	}
}
