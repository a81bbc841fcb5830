package ldap_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/roster-dev/roster/ldap"
)

func TestConfigYAML(t *testing.T) {
	b, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var dirs []ldap.DirectoryConfig
	if err := dec.Decode(&dirs); err != nil {
		t.Fatal(err)
	}
	for i := range dirs {
		if err := dirs[i].Validate(); err != nil {
			t.Fatalf("%s: %v", dirs[i].ID, err)
		}
	}
	corp, ad := dirs[0], dirs[1]
	if corp.Interval != 5*time.Minute || corp.FullSyncInterval != time.Hour || corp.Timeout != 10*time.Second ||
		corp.DeletionGuard != 0.10 || corp.Attributes.ID != "entryUUID" || corp.Membership != "member" {
		t.Errorf("corp = %+v", corp)
	}
	want := ldap.AttributeMap{ID: "objectGUID", UserName: "sAMAccountName", Email: "mail", DisplayName: "displayName",
		GivenName: "givenName", FamilyName: "sn", GroupName: "cn"}
	if ad.Attributes != want || ad.Users.Filter != "(&(objectCategory=person)(objectClass=user))" ||
		ad.Groups.Filter != "(objectClass=group)" || ad.Interval != ldap.DefaultInterval || ad.Source() != "ldap:ad" {
		t.Errorf("ad presets = %+v", ad)
	}

	bad := []byte("- id: x\n  url: ldap://h\n  bindDn: cn=x\n")
	dec = yaml.NewDecoder(bytes.NewReader(bad))
	dec.KnownFields(true)
	if err := dec.Decode(&dirs); err == nil {
		t.Error("unknown field bindDn accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	valid := func() ldap.DirectoryConfig {
		return ldap.DirectoryConfig{ID: "corp", URL: "ldap://127.0.0.1:3890", BindDN: "cn=admin", BindPassword: "x",
			Users: ldap.SearchConfig{BaseDN: "ou=people,dc=x"}, Groups: ldap.SearchConfig{BaseDN: "ou=groups,dc=x"}}
	}
	tests := []struct {
		name string
		mod  func(*ldap.DirectoryConfig)
		want string
	}{
		{"valid", func(*ldap.DirectoryConfig) {}, ""},
		{"freeipa", func(c *ldap.DirectoryConfig) { c.Flavor = "freeipa" }, ""},
		{"bad id", func(c *ldap.DirectoryConfig) { c.ID = "Corp Dir" }, "ldap[Corp Dir].id: must be lower-case letters, digits, '-' or '_'"},
		{"no url", func(c *ldap.DirectoryConfig) { c.URL = "" }, "ldap[corp].url: required"},
		{"bad scheme", func(c *ldap.DirectoryConfig) { c.URL = "http://x" }, `ldap[corp].url: scheme must be ldap or ldaps, not "http"`},
		{"starttls on ldaps", func(c *ldap.DirectoryConfig) { c.URL = "ldaps://x"; c.StartTLS = true }, "ldap[corp].startTLS: cannot be used with ldaps://"},
		{"no users base", func(c *ldap.DirectoryConfig) { c.Users.BaseDN = "" }, "ldap[corp].users.baseDN: required"},
		{"no groups base", func(c *ldap.DirectoryConfig) { c.Groups.BaseDN = " " }, "ldap[corp].groups.baseDN: required"},
		{"bad filter", func(c *ldap.DirectoryConfig) { c.Users.Filter = "objectClass=person" }, "ldap[corp].users.filter: must be an LDAP filter in parentheses"},
		{"flavor", func(c *ldap.DirectoryConfig) { c.Flavor = "novell" }, `ldap[corp].flavor: unknown "novell" (openldap, activedirectory, freeipa)`},
		{"membership", func(c *ldap.DirectoryConfig) { c.Membership = "members" }, `ldap[corp].membership: must be member, uniqueMember or memberUid, not "members"`},
		{"password", func(c *ldap.DirectoryConfig) { c.BindPassword = "" }, "ldap[corp].bindPassword: required with bindDN"},
		{"guard", func(c *ldap.DirectoryConfig) { c.DeletionGuard = 1.5 }, "ldap[corp].deletionGuard: must be a fraction between 0 and 1"},
		{"full interval", func(c *ldap.DirectoryConfig) { c.Interval = time.Hour; c.FullSyncInterval = time.Minute }, "ldap[corp].fullSyncInterval: must be at least interval (1h0m0s)"},
		{"ca file", func(c *ldap.DirectoryConfig) { c.CAFile = "/nonexistent/ca.pem" }, "ldap[corp].caFile: stat /nonexistent/ca.pem: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ldap.ErrConfig) || err.Error() != "ldap: invalid configuration: "+tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
