package ldap_test

import (
	"errors"
	"testing"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
)

func TestAuthenticate(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	s := e.source(t, nil)
	mustSync(t, s, ldap.Full)
	// After the sync: grace is locked by ppolicy, henry is not synced yet.
	e.srv.MustModify(t, `dn: uid=grace,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: grace
cn: Grace Hopper
sn: Hopper
userPassword: pw-grace

dn: uid=henry,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: henry
cn: Henry Ford
sn: Ford
userPassword: pw-henry
`)
	mustSync(t, s, ldap.Full)
	e.srv.MustModify(t, `dn: uid=grace,ou=people,dc=example,dc=com
changetype: modify
add: pwdAccountLockedTime
pwdAccountLockedTime: 000001010000Z
`)
	e.srv.MustModify(t, `dn: uid=ivan,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: ivan
cn: Ivan
sn: Ivan
userPassword: pw-ivan
`)

	tests := []struct {
		name, user, password string
		want                 error
	}{
		{"good password", "alice", "pw-alice", nil},
		{"case-insensitive user name", "ALICE", "pw-alice", nil},
		{"wrong password", "alice", "pw-bob", ldap.ErrInvalidCredentials},
		{"no such user", "zed", "pw-zed", ldap.ErrInvalidCredentials},
		{"empty password", "alice", "", ldap.ErrInvalidCredentials},
		{"empty user", "", "x", ldap.ErrInvalidCredentials},
		{"filter injection", "*)(uid=*", "pw-alice", ldap.ErrInvalidCredentials},
		{"wildcard", "*", "pw-alice", ldap.ErrInvalidCredentials},
		{"injection with closing", "alice)(|(uid=*", "pw-alice", ldap.ErrInvalidCredentials},
		{"locked by ppolicy, right password", "grace", "pw-grace", ldap.ErrAccountDisabled},
		{"locked by ppolicy, wrong password", "grace", "nope", ldap.ErrAccountDisabled},
		// The password was not verified, so the error is also a plain
		// wrong password: a sign-in page must not reveal the account.
		{"locked by ppolicy, wrong password, unverified", "grace", "nope", ldap.ErrInvalidCredentials},
		{"not yet synchronized", "ivan", "pw-ivan", ldap.ErrNotSynced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.Authenticate(t.Context(), tt.user, tt.password)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Authenticate(%q) = %+v, %v; want %v", tt.user, u, err, tt.want)
			}
			if tt.want == nil && (u.UserName != "alice" || u.Source != "ldap:corp" || u.ID == "") {
				t.Fatalf("user = %+v", u)
			}
		})
	}

	// The store's view of the account counts too: a deactivated user.
	e.srv.MustModify(t, "dn: uid=henry,ou=people,dc=example,dc=com\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n")
	rs := mustSync(t, s, ldap.Full)
	if rs.Users.Deactivated != 2 { // grace and henry
		t.Fatalf("deactivated = %+v", rs.Users)
	}
	if sn := e.snap(t); sn.users["henry"].Active {
		t.Fatal("henry still active")
	}

	// Directory unreachable.
	e.srv.Stop()
	if _, err := s.Authenticate(t.Context(), "alice", "pw-alice"); !errors.Is(err, ldap.ErrDirectoryUnavailable) {
		t.Fatalf("directory down: %v", err)
	}
	if err := e.srv.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(t.Context(), "alice", "pw-alice"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
