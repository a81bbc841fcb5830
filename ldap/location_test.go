package ldap_test

import (
	"testing"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/policy"
)

// TestUserLocationFromDirectory: with city/region/country mapped (l, st, c),
// a user's location comes from the directory and follows its changes; a
// country that is not an ISO code is left out, not a failed write.
func TestUserLocationFromDirectory(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	e.dir.Attributes.City, e.dir.Attributes.Region, e.dir.Attributes.Country = "l", "st", "c"
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
`)
	mustSync(t, s, ldap.Full)
	if l := e.snap(t).users["alice"].Location; l == nil || *l != (policy.Location{City: "Paris"}) {
		t.Errorf("alice moved to Paris (a country that is not a code is left out): %+v", l)
	}
}
