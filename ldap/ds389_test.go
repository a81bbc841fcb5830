package ldap_test

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
)

// nsUniqueIDRE is the shape of 389-ds's nsUniqueId.
var nsUniqueIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`)

// ds389Env starts a private 389 Directory Server with
// testdata/ds389.ldif and a directory configured with the 389ds preset.
func ds389Env(t *testing.T) (*ldaptest.DS389, *env) {
	t.Helper()
	ds := ldaptest.NewDS389(t, fixture(t, "ds389.ldif"))
	return ds, &env{st: openStore(t), dir: ldap.DirectoryConfig{
		ID:            "ds",
		URL:           ds.URL,
		BindDN:        ds.AdminDN,
		BindPassword:  ds.AdminPassword,
		Flavor:        ldap.Flavor389DS,
		Users:         ldap.SearchConfig{BaseDN: "ou=people," + ds.Suffix},
		Groups:        ldap.SearchConfig{BaseDN: "ou=groups," + ds.Suffix},
		DeletionGuard: ldap.GuardShare(1),
	}}
}

// TestDS389FullAndIncremental syncs a 389 Directory Server with the
// 389ds preset: a full run (nsUniqueId ids, nested groups), incremental
// runs polling modifyTimestamp for changes and reading deletions from the
// retro changelog, and a full run instead once the changelog is trimmed
// past the stored change number.
func TestDS389FullAndIncremental(t *testing.T) {
	ds, e := ds389Env(t)
	s := e.source(t, nil)
	if d := s.Directory(); d.Attributes.ID != "nsUniqueId" || d.Users.Filter != "(objectClass=person)" {
		t.Fatalf("389ds preset: %+v", d)
	}
	rs := mustSync(t, s, ldap.Full)
	if rs.Users.Created != 4 || rs.Groups.Created != 2 {
		t.Fatalf("full: users %+v groups %+v", rs.Users, rs.Groups)
	}
	sn := e.snap(t)
	for name, u := range sn.users {
		if !nsUniqueIDRE.MatchString(u.ExternalID) {
			t.Errorf("%s: external id %q is not an nsUniqueId", name, u.ExternalID)
		}
	}
	if got := ldapValue(t, ds, "uid=alice,ou=people,"+ds.Suffix, "nsUniqueId"); got != sn.users["alice"].ExternalID {
		t.Errorf("alice's external id %q, directory's nsUniqueId %q", sn.users["alice"].ExternalID, got)
	}
	if users, groups := sn.members(t, "staff"); !slices.Equal(users, []string{"carol", "dave"}) || !slices.Equal(groups, []string{"engineers"}) {
		t.Fatalf("staff members %v %v", users, groups)
	}

	// Changes: polled by modifyTimestamp.
	ds.MustModify(t, `dn: uid=carol,ou=people,dc=example,dc=com
changetype: modify
replace: mail
mail: carol.danvers@example.com

dn: uid=erin,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: erin
cn: Erin Hunter
sn: Hunter
mail: erin@example.com

dn: cn=engineers,ou=groups,dc=example,dc=com
changetype: modify
add: member
member: uid=erin,ou=people,dc=example,dc=com
`)
	rs = mustSync(t, s, ldap.Incremental)
	if rs.Mode != ldap.Incremental || rs.Users.Created != 1 || rs.Users.Updated != 1 {
		t.Fatalf("incremental: mode %s users %+v", rs.Mode, rs.Users)
	}
	sn = e.snap(t)
	if sn.users["carol"].PrimaryEmail() != "carol.danvers@example.com" {
		t.Errorf("carol's mail %q", sn.users["carol"].PrimaryEmail())
	}
	if users, _ := sn.members(t, "engineers"); !slices.Equal(users, []string{"alice", "bob", "erin"}) {
		t.Errorf("engineers %v", users)
	}

	// A deletion: from the retro changelog, without a full run.
	ds.MustModify(t, "dn: uid=bob,ou=people,dc=example,dc=com\nchangetype: delete\n")
	rs = mustSync(t, s, ldap.Incremental)
	if rs.Mode != ldap.Incremental || rs.Users.Deleted != 1 {
		t.Fatalf("incremental after a deletion: mode %s users %+v", rs.Mode, rs.Users)
	}
	sn = e.snap(t)
	if _, ok := sn.users["bob"]; ok {
		t.Error("bob still in the store")
	}
	if users, _ := sn.members(t, "engineers"); !slices.Equal(users, []string{"alice", "erin"}) {
		t.Errorf("engineers after bob left %v", users)
	}
	// A group deletion too.
	ds.MustModify(t, "dn: cn=engineers,ou=groups,dc=example,dc=com\nchangetype: delete\n")
	rs = mustSync(t, s, ldap.Incremental)
	if rs.Mode != ldap.Incremental || rs.Groups.Deleted != 1 {
		t.Fatalf("incremental after a group deletion: mode %s groups %+v", rs.Mode, rs.Groups)
	}
	if _, groups := e.snap(t).members(t, "staff"); len(groups) != 0 {
		t.Errorf("staff still holds %v", groups)
	}

	// Trimmed: the changes after the stored change number are gone, so
	// the next run is full (and deletes what it no longer finds).
	last := ldapValue(t, ds, "", "lastchangenumber")
	ds.MustModify(t, "dn: uid=dave,ou=people,dc=example,dc=com\nchangetype: delete\n")
	var trim strings.Builder
	for _, n := range changeNumbers(t, ds) {
		fmt.Fprintf(&trim, "dn: changenumber=%s,cn=changelog\nchangetype: delete\n\n", n)
	}
	ds.MustModify(t, trim.String())
	// A change after the trimming: the changelog holds it, and nothing
	// between it and the stored change number.
	ds.MustModify(t, "dn: uid=alice,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: mail\nmail: alice.liddell@example.com\n")
	rs = mustSync(t, s, ldap.Incremental)
	if rs.Mode != ldap.Full || rs.Users.Deleted != 1 || rs.Users.Updated != 1 {
		t.Fatalf("run after the changelog was trimmed past %s: mode %s users %+v, want a full run deleting dave", last, rs.Mode, rs.Users)
	}
	if _, ok := e.snap(t).users["dave"]; ok {
		t.Error("dave still in the store")
	}
	// And incremental runs resume from the head the full run read.
	ds.MustModify(t, "dn: uid=erin,ou=people,dc=example,dc=com\nchangetype: delete\n")
	if rs = mustSync(t, s, ldap.Incremental); rs.Mode != ldap.Incremental || rs.Users.Deleted != 1 {
		t.Fatalf("incremental after the full run: mode %s users %+v", rs.Mode, rs.Users)
	}
}

// TestDS389DeletionsPassTheGuard: deletions read from the retro changelog
// are weighed by the deletion guard like those of a full run.
func TestDS389DeletionsPassTheGuard(t *testing.T) {
	ds, e := ds389Env(t)
	e.dir.DeletionGuard = ldap.DeletionGuard{Users: ldap.GuardLimit{Share: 1, Count: 1}, Memberships: ldap.GuardLimit{Share: 1}}
	s := e.source(t, nil)
	mustSync(t, s, ldap.Full)
	ds.MustModify(t, "dn: uid=carol,ou=people,dc=example,dc=com\nchangetype: delete\n\ndn: uid=dave,ou=people,dc=example,dc=com\nchangetype: delete\n")
	rs := mustSync(t, s, ldap.Incremental)
	if rs.Mode != ldap.Incremental || rs.Users.Deleted != 0 || rs.Users.Held != 2 || !rs.PendingApproval {
		t.Fatalf("two deletions over a count of 1: mode %s users %+v pending %v guard %q", rs.Mode, rs.Users, rs.PendingApproval, rs.Guard)
	}
	if sn := e.snap(t); sn.users["carol"].ID == "" || sn.users["dave"].ID == "" {
		t.Fatal("held users gone from the store")
	}
	rs, err := s.Approve(t.Context(), ldap.ApproveOptions{})
	if err != nil || rs.Users.Deleted != 2 {
		t.Fatalf("approve: %+v, %v", rs.Users, err)
	}
	if got := userNames(e.snap(t)); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Errorf("users after the approval %v", got)
	}
}

// ldapValue reads one attribute of one entry as the Directory Manager.
func ldapValue(t *testing.T, ds *ldaptest.DS389, dn, attr string) string {
	t.Helper()
	out, err := exec.Command("ldapsearch", "-x", "-LLL", "-H", ds.URL, "-D", ds.AdminDN, "-w", ds.AdminPassword,
		"-b", dn, "-s", "base", "(objectClass=*)", attr).CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch %s: %v: %s", dn, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, attr) {
			return v
		}
	}
	t.Fatalf("%s has no %s:\n%s", dn, attr, out)
	return ""
}

// changeNumbers lists the change numbers the retro changelog holds.
func changeNumbers(t *testing.T, ds *ldaptest.DS389) []string {
	t.Helper()
	out, err := exec.Command("ldapsearch", "-x", "-LLL", "-H", ds.URL, "-D", ds.AdminDN, "-w", ds.AdminPassword,
		"-b", "cn=changelog", "-s", "one", "(objectClass=*)", "changeNumber").CombinedOutput()
	if err != nil {
		t.Fatalf("ldapsearch cn=changelog: %v: %s", err, out)
	}
	var ns []string
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, "changeNumber") {
			ns = append(ns, v)
		}
	}
	return ns
}

// TestDS389ChangelogFallbacks: a directory whose id is not nsUniqueId
// finds the deleted entries by DN (Roster's DN index); a bind DN that may
// not read the retro changelog leaves deletions to full runs, without
// making every run full.
func TestDS389ChangelogFallbacks(t *testing.T) {
	ds, base := ds389Env(t)
	ds.MustModify(t, `dn: uid=reader,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: reader
cn: Reader
sn: Reader
userPassword: reader-password

dn: dc=example,dc=com
changetype: modify
add: aci
aci: (targetattr="*")(version 3.0; acl "roster reader"; allow (read, search, compare) userdn="ldap:///uid=reader,dc=example,dc=com";)
`)

	t.Run("by DN", func(t *testing.T) {
		e := &env{st: openStore(t), dir: base.dir}
		e.dir.Attributes.ID = "entryUUID" // 389-ds's entryUUID plugin; the changelog records no entryUUID
		s := e.source(t, nil)
		mustSync(t, s, ldap.Full)
		if u := e.snap(t).users["alice"]; nsUniqueIDRE.MatchString(u.ExternalID) || u.ExternalID != ldapValue(t, ds, "uid=alice,ou=people,"+ds.Suffix, "entryUUID") {
			t.Fatalf("alice's external id %q is not her entryUUID", u.ExternalID)
		}
		ds.MustModify(t, "dn: uid=alice,ou=people,dc=example,dc=com\nchangetype: delete\n")
		rs := mustSync(t, s, ldap.Incremental)
		if rs.Mode != ldap.Incremental || rs.Users.Deleted != 1 {
			t.Fatalf("incremental: mode %s users %+v", rs.Mode, rs.Users)
		}
		if _, ok := e.snap(t).users["alice"]; ok {
			t.Error("alice still in the store")
		}
	})

	t.Run("no access to the changelog", func(t *testing.T) {
		e := &env{st: openStore(t), dir: base.dir}
		e.dir.BindDN, e.dir.BindPassword = "uid=reader,dc=example,dc=com", "reader-password"
		s := e.source(t, nil)
		if rs := mustSync(t, s, ldap.Full); rs.Users.Created == 0 {
			t.Fatalf("the reader reads no users: %+v", rs.Users)
		}
		ds.MustModify(t, "dn: uid=bob,ou=people,dc=example,dc=com\nchangetype: delete\n")
		for range 2 {
			rs := mustSync(t, s, ldap.Incremental)
			if rs.Mode != ldap.Incremental || rs.Users.Deleted != 0 {
				t.Fatalf("incremental without changelog access: mode %s users %+v", rs.Mode, rs.Users)
			}
		}
		if rs := mustSync(t, s, ldap.Full); rs.Users.Deleted != 1 {
			t.Fatalf("full: users %+v", rs.Users)
		}
	})
}
