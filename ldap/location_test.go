package ldap_test

import (
	"testing"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/policy"
)

// TestUserLocationFromDirectory: with city/region/country mapped (l, st, c)
// and the phone (telephoneNumber),
// a user's location comes from the directory and follows its changes; a
// country that is not an ISO code is left out, not a failed write.
func TestUserLocationFromDirectory(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	e.dir.Attributes.City, e.dir.Attributes.Region, e.dir.Attributes.Country = "l", "st", "c"
	e.dir.Attributes.Phone = "telephoneNumber"
	e.srv.MustModify(t, `dn: uid=alice,ou=people,dc=example,dc=com
changetype: modify
add: objectClass
objectClass: extensibleObject
-
add: l
l: London
-
add: c
c: gb
-
add: telephoneNumber
telephoneNumber: +44 20 7946 0000

dn: uid=bob,ou=people,dc=example,dc=com
changetype: modify
add: objectClass
objectClass: extensibleObject
-
add: l
l: Springfield
-
add: st
st: Illinois
`)
	s := e.source(t, nil)
	mustSync(t, s, ldap.Full)
	snap := e.snap(t)
	if l := snap.users["alice"].Location; l == nil || *l != (policy.Location{City: "London", Country: "GB"}) {
		t.Errorf("alice's location: %+v", l)
	}
	if ph := snap.users["alice"].Attributes["phone"]; ph != "+44 20 7946 0000" {
		t.Errorf("alice's phone: %v", ph)
	}
	if l := snap.users["bob"].Location; l == nil || *l != (policy.Location{City: "Springfield", Region: "Illinois"}) {
		t.Errorf("bob's location: %+v", l)
	}
	if l := snap.users["carol"].Location; l != nil {
		t.Errorf("carol has no location in the directory, got %+v", l)
	}

	e.srv.MustModify(t, `dn: uid=alice,ou=people,dc=example,dc=com
changetype: modify
replace: l
l: Paris
-
replace: c
c: 1A
-
delete: telephoneNumber
`)
	mustSync(t, s, ldap.Full)
	after := e.snap(t).users["alice"]
	if l := after.Location; l == nil || *l != (policy.Location{City: "Paris"}) {
		t.Errorf("alice moved to Paris (a country that is not a code is left out): %+v", l)
	}
	if ph, ok := after.Attributes["phone"]; ok {
		t.Errorf("alice's phone left the directory but not Roster: %v", ph)
	}
}
