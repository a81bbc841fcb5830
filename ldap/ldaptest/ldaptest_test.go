package ldaptest

import (
	"os/exec"
	"strings"
	"testing"
)

func TestStartTLSAndKill(t *testing.T) {
	s := New(t, Options{TLS: true})
	out, err := exec.Command("ldapsearch", "-x", "-LLL", "-H", s.URL, "-b", s.Suffix, "(ou=people)", "dn").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ou=people") {
		t.Fatalf("ldapsearch: %v: %s", err, out)
	}
	s.MustModify(t, "dn: uid=a,ou=people,dc=example,dc=com\nchangetype: add\nobjectClass: inetOrgPerson\nuid: a\ncn: A\nsn: A\n")
	s.Kill()
	if err := s.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command("ldapsearch", "-x", "-LLL", "-H", s.LDAPSURL, "-b", s.Suffix, "(uid=a)", "entryUUID").CombinedOutput()
	_ = out
	_ = err
}

func TestGenerateLoads(t *testing.T) {
	var b strings.Builder
	if err := Generate(&b, GenOptions{Users: 200, Groups: 20, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	s := New(t, Options{LDIF: []string{b.String()}})
	out, err := exec.Command("ldapsearch", "-x", "-LLL", "-H", s.URL, "-b", "ou=groups,"+s.Suffix, "(objectClass=groupOfNames)", "dn").CombinedOutput()
	if err != nil || strings.Count(string(out), "dn: ") != 20 {
		t.Fatalf("ldapsearch: %v: %s", err, out)
	}
}
