package ldap_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/storetest"
)

// adPassword is the password of every fixture user of testdata/ad.ldif.
const adPassword = "Roster-User-Pass1"

// TestActiveDirectory runs the activedirectory flavour against a real
// Samba AD DC. The DC's ports are fixed, so it is started once here and
// the steps run in order as subtests, each building on the last.
func TestActiveDirectory(t *testing.T) {
	t0 := time.Now()
	dc := ldaptest.NewSamba(t)
	t.Logf("samba: provisioned in %s, LDAP up in %s", dc.Provisioned.Round(time.Millisecond), dc.Started.Round(time.Millisecond))
	dc.MustModify(t, strings.ReplaceAll(fixture(t, "ad.ldif"), "{{unicodePwd}}", ldaptest.UnicodePwd(adPassword)))
	t.Logf("samba: fixture loaded after %s", time.Since(t0).Round(time.Millisecond))

	st := openStore(t)
	// The whole domain is searched, as a real configuration would: the
	// built-in accounts and groups, the domain controller's computer
	// account and the continuation references come along.
	e := &env{st: st, dir: ldap.DirectoryConfig{
		ID:            "ad",
		URL:           dc.URL,
		BindDN:        dc.AdminDN,
		BindPassword:  dc.AdminPassword,
		Flavor:        ldap.FlavorActiveDirectory,
		Users:         ldap.SearchConfig{BaseDN: dc.BaseDN},
		Groups:        ldap.SearchConfig{BaseDN: dc.BaseDN},
		DeletionGuard: ldap.GuardShare(1),
	}}
	s := e.source(t, nil)
	people := "OU=People,OU=Roster," + dc.BaseDN
	groups := "OU=Groups,OU=Roster," + dc.BaseDN
	fixtureUsers := []string{"alice", "bob", "carol", "dave", "erin", "frank"}

	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}
	wantMembers := func(t *testing.T, sn snapshot, group string, users, nested []string) {
		t.Helper()
		u, g := sn.members(t, group)
		if !slices.Equal(u, users) || !slices.Equal(g, nested) {
			t.Errorf("%s: users %v groups %v, want %v %v", group, u, g, users, nested)
		}
	}

	var total int // users the flavour's filter finds in the domain
	step("full", func(t *testing.T) {
		rs := mustSync(t, s, ldap.Full)
		sn := e.snap(t)
		for _, n := range fixtureUsers {
			if _, ok := sn.users[n]; !ok {
				t.Errorf("user %s not synced; have %v", n, userNames(sn))
			}
		}
		for _, n := range []string{"WS1$", "DC1$"} {
			if _, ok := sn.users[n]; ok {
				t.Errorf("computer %s synced as a user", n)
			}
		}
		if _, ok := sn.users["Administrator"]; !ok {
			t.Errorf("built-in Administrator not synced; have %v", userNames(sn))
		}
		total = len(sn.users)
		if rs.Users.Created != total || rs.Users.Deleted != 0 || rs.Groups.Created != len(sn.groups) || len(sn.groups) < 4 {
			t.Errorf("counts: users %+v groups %+v (store: %d users, %d groups)", rs.Users, rs.Groups, total, len(sn.groups))
		}
		a := sn.users["alice"]
		if a.Source != "ldap:ad" || a.GivenName != "Alice" || a.FamilyName != "Liddell" || a.DisplayName != "Alice Liddell" ||
			a.PrimaryEmail() != "alice@example.test" || !a.Active {
			t.Errorf("alice = %+v", a)
		}
		if sn.users["frank"].Active || !sn.users["carol"].Active {
			t.Errorf("active: frank %v (disabled in AD), carol %v", sn.users["frank"].Active, sn.users["carol"].Active)
		}
		// The ExternalID is the objectGUID in its string form: AD finds
		// the entry by it (<GUID=…> DN syntax, [MS-ADTS] §3.1.1.3.1.2.4).
		if dn := dnByGUID(t, dc, a.ExternalID); !strings.EqualFold(dn, "CN=Alice Liddell,"+people) {
			t.Errorf("<GUID=%s> is %q, want alice", a.ExternalID, dn)
		}
		wantMembers(t, sn, "backend", []string{"carol"}, nil)
		wantMembers(t, sn, "engineers", []string{"alice", "bob"}, []string{"backend"})
		wantMembers(t, sn, "all", []string{"dave", "erin"}, []string{"engineers"})
		// Primary group membership: primaryGroupID 513, not member.
		if u, _ := sn.members(t, "Domain Users"); !containsAll(u, fixtureUsers) || !slices.Contains(u, "Administrator") {
			t.Errorf("Domain Users: users %v, want the fixture users and Administrator", u)
		}

		rs = mustSync(t, s, ldap.Full)
		if rs.Users != (ldap.Counts{Unchanged: total}) || rs.Groups.Created+rs.Groups.Updated+rs.Groups.Deleted != 0 {
			t.Errorf("second full run: users %+v groups %+v", rs.Users, rs.Groups)
		}
	})

	step("ldaps and small pages", func(t *testing.T) {
		// ldaps with the DC's CA, and Samba's paged results cookies on
		// both connections of a full run at once, into a store of its
		// own.
		st2, err := bolt.Open(filepath.Join(t.TempDir(), "roster.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st2.Close()
		if err := st2.Update(t.Context(), "test", func(tx store.Tx) error {
			return tx.PutTenant(policy.Tenant{ID: tenant, Name: "Acme", Kind: policy.TenantPartner})
		}); err != nil {
			t.Fatal(err)
		}
		e2 := &env{st: st2, dir: e.dir}
		e2.dir.PageSize = 3
		e2.dir.URL, e2.dir.CAFile = dc.LDAPSURL, dc.CAFile
		s2 := e2.source(t, nil)
		rs := mustSync(t, s2, ldap.Full)
		sn := e.snap(t)
		if rs.UsersRead != total || rs.Users.Created != total || rs.GroupsRead != len(sn.groups) {
			t.Errorf("pages of 3: read %d users, %d groups; want %d, %d", rs.UsersRead, rs.GroupsRead, total, len(sn.groups))
		}
		wantMembers(t, e2.snap(t), "engineers", []string{"alice", "bob"}, []string{"backend"})
		if u, err := s2.Authenticate(t.Context(), "alice", adPassword); err != nil || u.UserName != "alice" {
			t.Errorf("Authenticate over ldaps = %+v, %v", u, err)
		}
	})

	step("rename is an update", func(t *testing.T) {
		before := e.snap(t).users["alice"]
		dc.MustModify(t, `dn: CN=Alice Liddell,`+people+`
changetype: modrdn
newrdn: CN=Alice Kingsleigh
deleteoldrdn: 1

dn: CN=Alice Kingsleigh,`+people+`
changetype: modify
replace: sAMAccountName
sAMAccountName: alicek
-
replace: sn
sn: Kingsleigh
-
replace: displayName
displayName: Alice Kingsleigh
`)
		rs := mustSync(t, s, ldap.Incremental)
		if rs.Users.Created != 0 || rs.Users.Updated != 1 {
			t.Errorf("incremental after rename: users %+v", rs.Users)
		}
		sn := e.snap(t)
		a, ok := sn.users["alicek"]
		if !ok || a.ID != before.ID || a.ExternalID != before.ExternalID || a.FamilyName != "Kingsleigh" ||
			!strings.EqualFold(a.Attributes["ldapDN"].(string), "CN=Alice Kingsleigh,"+people) {
			t.Fatalf("renamed alice = %+v (before %+v)", a, before)
		}
		if _, ok := sn.users["alice"]; ok {
			t.Errorf("old name alice still in the store")
		}
		wantMembers(t, sn, "engineers", []string{"alicek", "bob"}, []string{"backend"})
		rs = mustSync(t, s, ldap.Full)
		if rs.Users != (ldap.Counts{Unchanged: total}) {
			t.Errorf("full run after rename: users %+v", rs.Users)
		}
	})

	step("disabled account becomes inactive", func(t *testing.T) {
		dc.MustModify(t, `dn: CN=Bob Builder,`+people+`
changetype: modify
replace: userAccountControl
userAccountControl: 514
`)
		rs := mustSync(t, s, ldap.Incremental)
		if rs.Users.Deactivated != 1 || rs.Users.Created+rs.Users.Deleted != 0 {
			t.Errorf("incremental after disabling bob: users %+v", rs.Users)
		}
		if b := e.snap(t).users["bob"]; b.Active {
			t.Errorf("bob still active: %+v", b)
		}
	})

	step("incremental reads only changes", func(t *testing.T) {
		dc.MustModify(t, `dn: CN=Dave Bowman,`+people+`
changetype: modify
replace: mail
mail: david.bowman@example.test
`)
		rs := mustSync(t, s, ldap.Incremental)
		if rs.Users.Updated != 1 || rs.UsersRead >= total/2 {
			t.Errorf("incremental after a mail change: read %d of %d users, users %+v", rs.UsersRead, total, rs.Users)
		}
		if d := e.snap(t).users["dave"]; d.PrimaryEmail() != "david.bowman@example.test" {
			t.Errorf("dave = %+v", d)
		}
		// Nothing changed since: nothing is written.
		rs = mustSync(t, s, ldap.Incremental)
		if rs.Users.Created+rs.Users.Updated+rs.Groups.Created+rs.Groups.Updated != 0 {
			t.Errorf("idle incremental run: users %+v groups %+v", rs.Users, rs.Groups)
		}
	})

	step("membership removal", func(t *testing.T) {
		dc.MustModify(t, `dn: CN=engineers,`+groups+`
changetype: modify
delete: member
member: CN=Bob Builder,`+people+`
member: CN=backend,`+groups+`
`)
		rs := mustSync(t, s, ldap.Incremental)
		if rs.Groups.Updated != 1 {
			t.Errorf("incremental after member removal: groups %+v", rs.Groups)
		}
		sn := e.snap(t)
		wantMembers(t, sn, "engineers", []string{"alicek"}, nil)
		wantMembers(t, sn, "all", []string{"dave", "erin"}, []string{"engineers"})
	})

	step("deletion by full run", func(t *testing.T) {
		dc.MustModify(t, "dn: CN=Erin Brockovich,"+people+"\nchangetype: delete\n")
		rs := mustSync(t, s, ldap.Full)
		if rs.Users.Deleted != 1 || rs.Users.Created+rs.Users.Updated != 0 {
			t.Errorf("full run after deleting erin: users %+v", rs.Users)
		}
		sn := e.snap(t)
		if _, ok := sn.users["erin"]; ok {
			t.Errorf("erin still in the store")
		}
		wantMembers(t, sn, "all", []string{"dave"}, []string{"engineers"})
	})

	step("binding rule on the primary group", func(t *testing.T) {
		// The engine starts from what the store holds, as cmd/roster's does.
		eng := storetest.Engine(t, st, policy.EngineConfig{})
		var staff policy.Group
		err := st.Update(t.Context(), "admin", func(tx store.Tx) error {
			if _, err := tx.PutRole(policy.Role{Name: "member"}); err != nil {
				return err
			}
			var err error
			staff, err = tx.CreateGroup(policy.Group{Slug: "staff", Name: "Staff", Kind: policy.GroupLocal})
			if err != nil {
				return err
			}
			_, err = tx.CreateRule(policy.Rule{Tenant: tenant, DirGroup: e.snap(t).groups["Domain Users"].ID, Group: staff.ID, Role: "member"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sn := e.snap(t)
		// bob and frank are disabled: inactive users hold no roles.
		for _, n := range []string{"alicek", "carol", "dave"} {
			found := false
			for _, m := range eng.EffectiveGroups(sn.users[n].ID) {
				found = found || m.Group == staff.ID && m.Role == "member"
			}
			if !found {
				t.Errorf("%s: not a member of staff through Domain Users; effective %v", n, eng.EffectiveGroups(sn.users[n].ID))
			}
		}
	})

	step("primary group moves", func(t *testing.T) {
		// AD takes only a group the user is a member of as primary group.
		rid := ridOf(t, dc, "CN=backend,"+groups)
		dc.MustModify(t, `dn: CN=backend,`+groups+`
changetype: modify
add: member
member: CN=Dave Bowman,`+people+`
`)
		mustSync(t, s, ldap.Incremental)
		dc.MustModify(t, `dn: CN=Dave Bowman,`+people+`
changetype: modify
replace: primaryGroupID
primaryGroupID: `+rid+`
`)
		rs := mustSync(t, s, ldap.Incremental)
		if rs.Users.Updated != 1 {
			t.Errorf("incremental after the move: users %+v", rs.Users)
		}
		// AD keeps the old primary group as an ordinary membership
		// (member) and drops the new one from member: dave is in
		// both groups still, now through the other attribute.
		sn := e.snap(t)
		wantMembers(t, sn, "backend", []string{"carol", "dave"}, nil)
		if u, _ := sn.members(t, "Domain Users"); !slices.Contains(u, "dave") {
			t.Errorf("Domain Users %v: dave missing (a member now)", u)
		}
		dc.MustModify(t, `dn: CN=Domain Users,CN=Users,`+dc.BaseDN+`
changetype: modify
delete: member
member: CN=Dave Bowman,`+people+`
`)
		mustSync(t, s, ldap.Incremental)
		sn = e.snap(t)
		if u, _ := sn.members(t, "Domain Users"); slices.Contains(u, "dave") || !containsAll(u, []string{"alicek", "bob", "carol", "frank"}) {
			t.Errorf("Domain Users %v: want the other fixture users, without dave", u)
		}
		wantMembers(t, sn, "backend", []string{"carol", "dave"}, nil)
		// A new user joins its primary group, whose entry does not change.
		dc.MustModify(t, `dn: CN=Gina Davis,`+people+`
changetype: add
objectClass: user
sAMAccountName: gina
userAccountControl: 512
unicodePwd:: `+ldaptest.UnicodePwd(adPassword)+`
`)
		rs = mustSync(t, s, ldap.Incremental)
		if rs.Users.Created != 1 {
			t.Errorf("incremental after adding gina: users %+v", rs.Users)
		}
		if u, _ := e.snap(t).members(t, "Domain Users"); !slices.Contains(u, "gina") || slices.Contains(u, "dave") || !slices.Contains(u, "carol") {
			t.Errorf("Domain Users %v: want gina and carol, not dave", u)
		}
		rs = mustSync(t, s, ldap.Full)
		if rs.Users != (ldap.Counts{Unchanged: rs.UsersRead}) || rs.Groups.Created+rs.Groups.Updated+rs.Groups.Deleted != 0 {
			t.Errorf("full run after the move: users %+v groups %+v", rs.Users, rs.Groups)
		}
	})

	step("deletion seen by the next incremental run", func(t *testing.T) {
		// Gina is in Domain Users (primary group) and in backend.
		dc.MustModify(t, `dn: CN=backend,`+groups+`
changetype: modify
add: member
member: CN=Gina Davis,`+people+`
`)
		mustSync(t, s, ldap.Incremental)
		wantMembers(t, e.snap(t), "backend", []string{"carol", "dave", "gina"}, nil)
		dc.MustModify(t, "dn: CN=Gina Davis,"+people+"\nchangetype: delete\n")
		rs := mustSync(t, s, ldap.Incremental)
		if rs.Users.Deleted != 1 || rs.Memberships.Removed != 2 {
			t.Errorf("incremental after the deletion: users %+v memberships %+v", rs.Users, rs.Memberships)
		}
		sn := e.snap(t)
		if _, ok := sn.users["gina"]; ok {
			t.Error("gina still in the store")
		}
		wantMembers(t, sn, "backend", []string{"carol", "dave"}, nil)
		if u, _ := sn.members(t, "Domain Users"); slices.Contains(u, "gina") {
			t.Errorf("Domain Users %v still lists gina", u)
		}
		rs = mustSync(t, s, ldap.Incremental)
		if rs.Users.Deleted != 0 {
			t.Errorf("the tombstone was seen twice: users %+v", rs.Users)
		}
		rs = mustSync(t, s, ldap.Full)
		if rs.Users.Deleted+rs.Users.Created+rs.Groups.Updated != 0 {
			t.Errorf("full run after the deletion: users %+v groups %+v", rs.Users, rs.Groups)
		}
	})

	step("authenticate", func(t *testing.T) {
		tests := []struct {
			name, user, password string
			want                 error
		}{
			{"good password", "alicek", adPassword, nil},
			{"case-insensitive user name", "ALICEK", adPassword, nil},
			{"wrong password", "alicek", "Not-The-Pass1", ldap.ErrInvalidCredentials},
			{"old name after rename", "alice", adPassword, ldap.ErrInvalidCredentials},
			{"no such user", "zed", adPassword, ldap.ErrInvalidCredentials},
			{"empty password", "carol", "", ldap.ErrInvalidCredentials},
			{"disabled, right password", "bob", adPassword, ldap.ErrAccountDisabled},
			{"disabled, wrong password", "bob", "Not-The-Pass1", ldap.ErrAccountDisabled},
			{"disabled from the start", "frank", adPassword, ldap.ErrAccountDisabled},
			{"computer account", "WS1$", adPassword, ldap.ErrInvalidCredentials},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, err := s.Authenticate(t.Context(), tt.user, tt.password)
				if !errors.Is(err, tt.want) || tt.want != nil && err == nil {
					t.Fatalf("Authenticate(%q) = %+v, %v; want %v", tt.user, u, err, tt.want)
				}
				if tt.want == nil && (u.UserName != "alicek" || !u.Active) {
					t.Fatalf("Authenticate(%q) = %+v", tt.user, u)
				}
			})
		}
	})
	// Last: the bulk users would slow every full run of the steps above.
	step("ranged members of a 5000-member group", func(t *testing.T) {
		const n = 5000
		ou := "OU=Big," + dc.BaseDN
		dc.MustModify(t, "dn: "+ou+"\nchangetype: add\nobjectClass: organizationalUnit\n")
		t1 := time.Now()
		if err := dc.BulkUsers(t.Context(), ou, n, "big"); err != nil {
			t.Fatal(err)
		}
		t.Logf("samba: %d users and their group loaded in %s", n, time.Since(t1).Round(time.Millisecond))
		be := &env{st: st, dir: ldap.DirectoryConfig{
			ID: "big", URL: dc.URL, BindDN: dc.AdminDN, BindPassword: dc.AdminPassword,
			Flavor: ldap.FlavorActiveDirectory,
			Users:  ldap.SearchConfig{BaseDN: ou}, Groups: ldap.SearchConfig{BaseDN: ou},
			DeletionGuard: ldap.GuardShare(1),
		}}
		bs := be.source(t, nil)
		if r := bs.Directory().MemberRange; r != 1500 {
			t.Fatalf("activedirectory preset: memberRange %d, want 1500", r)
		}
		bulk := func(i int) string { return fmt.Sprintf("bulk%05d", i) }
		rs := mustSync(t, bs, ldap.Full)
		if rs.Users.Created != n || rs.Groups.Created != 1 {
			t.Fatalf("full: users %+v groups %+v", rs.Users, rs.Groups)
		}
		sn := be.snap(t)
		u, _ := sn.members(t, "big")
		if len(u) != n || u[0] != bulk(0) || u[n-1] != bulk(n-1) || len(slices.Compact(slices.Clone(u))) != n {
			t.Fatalf("big: %d members (want %d), first %q last %q", len(u), n, u[0], u[len(u)-1])
		}

		// An incremental run re-reads the changed group in ranges too.
		dc.MustModify(t, fmt.Sprintf(`dn: CN=late,%[1]s
changetype: add
objectClass: user
sAMAccountName: late
userAccountControl: 544

dn: CN=big,%[1]s
changetype: modify
add: member
member: CN=late,%[1]s
-
delete: member
member: CN=%[2]s,%[1]s
`, ou, bulk(42)))
		rs = mustSync(t, bs, ldap.Incremental)
		if rs.Users.Created != 1 || rs.Groups.Updated != 1 || rs.Memberships != (ldap.MembershipCounts{Added: 1, Removed: 1}) {
			t.Errorf("incremental: users %+v groups %+v memberships %+v", rs.Users, rs.Groups, rs.Memberships)
		}
		u, _ = be.snap(t).members(t, "big")
		if len(u) != n || !slices.Contains(u, "late") || slices.Contains(u, bulk(42)) || !slices.Contains(u, bulk(n-1)) {
			t.Errorf("big after incremental: %d members, late %v, %s %v", len(u), slices.Contains(u, "late"), bulk(42), slices.Contains(u, bulk(42)))
		}
		rs = mustSync(t, bs, ldap.Full)
		if rs.Users != (ldap.Counts{Unchanged: n + 1}) || rs.Groups != (ldap.Counts{Unchanged: 1}) {
			t.Errorf("full run with nothing to change: users %+v groups %+v", rs.Users, rs.Groups)
		}
	})
	t.Logf("samba: whole test %s", time.Since(t0).Round(time.Millisecond))
}

// adminConn dials the DC over LDAPS, trusting its CA, and binds as the
// domain administrator.
func adminConn(t *testing.T, dc *ldaptest.Samba) *goldap.Conn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(dc.CAPEM)
	c, err := goldap.DialURL(dc.LDAPSURL, goldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(dc.AdminDN, dc.AdminPassword); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c
}

// dnByGUID asks the DC for the DN of the object with the given GUID.
func dnByGUID(t *testing.T, dc *ldaptest.Samba, guid string) string {
	t.Helper()
	c := adminConn(t, dc)
	defer c.Close()
	res, err := c.Search(goldap.NewSearchRequest("<GUID="+guid+">", goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		t.Fatalf("search <GUID=%s>: %v", guid, err)
	}
	if len(res.Entries) != 1 {
		return ""
	}
	return res.Entries[0].DN
}

// containsAll reports whether have holds every name of want.
func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// ridOf asks the DC for the RID of an object: the last sub-authority of
// its objectSid.
func ridOf(t *testing.T, dc *ldaptest.Samba, dn string) string {
	t.Helper()
	c := adminConn(t, dc)
	defer c.Close()
	res, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search %s: %v", dn, err)
	}
	sid := res.Entries[0].GetRawAttributeValue("objectSid")
	if len(sid) < 12 {
		t.Fatalf("%s: objectSid %x", dn, sid)
	}
	return strconv.FormatUint(uint64(binary.LittleEndian.Uint32(sid[len(sid)-4:])), 10)
}
