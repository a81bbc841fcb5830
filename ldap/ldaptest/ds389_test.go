package ldaptest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDS389 creates an instance, checks that the retro changelog records
// a deletion with the entry's nsUniqueId, and that the data survive a
// restart.
func TestDS389(t *testing.T) {
	d := NewDS389(t)
	search := func(base, scope, filter string, attrs ...string) string {
		t.Helper()
		args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", d.URL, "-D", d.AdminDN, "-w", d.AdminPassword, "-b", base, "-s", scope, filter}, attrs...)
		out, err := exec.Command("ldapsearch", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ldapsearch %s: %v: %s", filter, err, out)
		}
		return string(out)
	}
	if out := search("", "base", "(objectClass=*)", "changelog"); !strings.Contains(out, "changelog: cn=changelog") {
		t.Fatalf("rootDSE publishes no retro changelog:\n%s", out)
	}
	d.MustModify(t, "dn: uid=a,ou=people,dc=example,dc=com\nchangetype: add\nobjectClass: inetOrgPerson\nuid: a\ncn: A\nsn: A\n")
	entry := search("ou=people,"+d.Suffix, "sub", "(uid=a)", "nsUniqueId")
	_, id, ok := strings.Cut(entry, "nsUniqueId: ")
	id = strings.TrimSpace(id)
	if !ok || id == "" {
		t.Fatalf("no nsUniqueId:\n%s", entry)
	}
	d.MustModify(t, "dn: uid=a,ou=people,dc=example,dc=com\nchangetype: delete\n")
	if out := search("cn=changelog", "one", "(changeType=delete)", "targetUniqueId", "targetDn"); !strings.Contains(strings.ToLower(out), "targetuniqueid: "+id) {
		t.Fatalf("changelog has no deletion of %s:\n%s", id, out)
	}
	if err := d.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if out := search(d.Suffix, "sub", "(ou=groups)", "dn"); !strings.Contains(out, "ou=groups,dc=example,dc=com") {
		t.Fatalf("after restart:\n%s", out)
	}
}
