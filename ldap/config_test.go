package ldap_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
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
		corp.DeletionGuard.Users.Share != 0.10 || corp.DeletionGuard.Memberships.Share != 0.10 || corp.Attributes.ID != "entryUUID" || corp.Membership != "member" {
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
		{"389ds", func(c *ldap.DirectoryConfig) { c.Flavor = "389ds" }, ""},
		{"bad id", func(c *ldap.DirectoryConfig) { c.ID = "Corp Dir" }, "ldap[Corp Dir].id: must be lower-case letters, digits, '-' or '_'"},
		{"no url", func(c *ldap.DirectoryConfig) { c.URL = "" }, "ldap[corp].url: required"},
		{"bad scheme", func(c *ldap.DirectoryConfig) { c.URL = "http://x" }, `ldap[corp].url: scheme must be ldap or ldaps, not "http"`},
		{"starttls on ldaps", func(c *ldap.DirectoryConfig) { c.URL = "ldaps://x"; c.StartTLS = true }, "ldap[corp].startTLS: cannot be used with ldaps://"},
		{"no users base", func(c *ldap.DirectoryConfig) { c.Users.BaseDN = "" }, "ldap[corp].users.baseDN: required"},
		{"no groups base", func(c *ldap.DirectoryConfig) { c.Groups.BaseDN = " " }, "ldap[corp].groups.baseDN: required"},
		{"bad filter", func(c *ldap.DirectoryConfig) { c.Users.Filter = "objectClass=person" }, "ldap[corp].users.filter: must be an LDAP filter in parentheses"},
		{"flavor", func(c *ldap.DirectoryConfig) { c.Flavor = "novell" }, `ldap[corp].flavor: unknown "novell" (openldap, activedirectory, freeipa, 389ds)`},
		{"membership", func(c *ldap.DirectoryConfig) { c.Membership = "members" }, `ldap[corp].membership: must be member, uniqueMember or memberUid, not "members"`},
		{"password", func(c *ldap.DirectoryConfig) { c.BindPassword = "" }, "ldap[corp].bindPassword: required with bindDN"},
		{"guard", func(c *ldap.DirectoryConfig) { c.DeletionGuard.Users.Share = 1.5 }, "ldap[corp].deletionGuard.users.share: must be a fraction between 0 and 1"},
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

func TestDeletionGuardYAML(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    ldap.DeletionGuard // after Validate
		wantErr string
	}{
		{"old scalar", "deletionGuard: 0.2", ldap.DeletionGuard{Users: ldap.GuardLimit{Share: 0.2},
			Memberships: ldap.GuardLimit{Share: 0.2}, Window: 24 * time.Hour, MinEntries: 10}, ""},
		{"old scalar off", "deletionGuard: 1", ldap.DeletionGuard{Users: ldap.GuardLimit{Share: 1},
			Memberships: ldap.GuardLimit{Share: 1}, Window: 24 * time.Hour, MinEntries: 10}, ""},
		{"omitted", "", ldap.DeletionGuard{Users: ldap.GuardLimit{Share: 0.1},
			Memberships: ldap.GuardLimit{Share: 0.1}, Window: 24 * time.Hour, MinEntries: 10}, ""},
		{"mapping", "deletionGuard: {users: 0.05, memberships: {share: 0.2, count: 500}, window: 12h, windowUsers: {count: 50}, windowMemberships: 0.3, minEntries: -1}",
			ldap.DeletionGuard{Users: ldap.GuardLimit{Share: 0.05}, Memberships: ldap.GuardLimit{Share: 0.2, Count: 500},
				Window: 12 * time.Hour, WindowUsers: ldap.GuardLimit{Count: 50}, WindowMemberships: ldap.GuardLimit{Share: 0.3}, MinEntries: -1}, ""},
		{"unknown key", "deletionGuard: {user: 0.05}", ldap.DeletionGuard{}, "field user not found"},
		{"unknown limit key", "deletionGuard: {users: {shares: 0.05}}", ldap.DeletionGuard{}, "field shares not found"},
		{"bad share", "deletionGuard: {memberships: 2}", ldap.DeletionGuard{}, "deletionGuard.memberships.share: must be a fraction"},
		{"bad count", "deletionGuard: {windowUsers: {count: -3}}", ldap.DeletionGuard{}, "deletionGuard.windowUsers.count: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "id: corp\nurl: ldap://h:389\nusers: {baseDN: \"ou=p\"}\ngroups: {baseDN: \"ou=g\"}\n" + tt.yaml + "\n"
			dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
			dec.KnownFields(true)
			var d ldap.DirectoryConfig
			err := dec.Decode(&d)
			if err == nil {
				err = d.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.DeletionGuard != tt.want {
				t.Fatalf("guard = %+v, want %+v", d.DeletionGuard, tt.want)
			}
		})
	}
}

func TestConfigDefaultsFollowInterval(t *testing.T) {
	tests := []struct {
		name           string
		interval, full time.Duration
		wantFull       time.Duration
	}{
		{"defaults", 0, 0, time.Hour},
		{"short interval", 10 * time.Minute, 0, time.Hour},
		{"a daily interval alone", 24 * time.Hour, 0, 24 * time.Hour},
		{"both set", 24 * time.Hour, 48 * time.Hour, 48 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ldap.DirectoryConfig{ID: "corp", URL: "ldap://127.0.0.1:3890", Interval: tt.interval, FullSyncInterval: tt.full,
				Users: ldap.SearchConfig{BaseDN: "ou=people,dc=x"}, Groups: ldap.SearchConfig{BaseDN: "ou=groups,dc=x"}}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.FullSyncInterval != tt.wantFull {
				t.Errorf("fullSyncInterval = %s, want %s", c.FullSyncInterval, tt.wantFull)
			}
		})
	}
}
