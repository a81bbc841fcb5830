package main

import (
	"strings"
	"testing"

	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/policy"
)

// TestEmailVouchers checks who may vouch for an address (issue #15): an
// LDAP directory for its verifiedEmailDomains, a SCIM tenant with
// verifiesEmail for its own domains, nobody else.
func TestEmailVouchers(t *testing.T) {
	doc := `
issuer: https://roster.example
admin: {tokens: ["0123456789abcdef0123"]}
tenants:
  - id: vendor
    name: Vendor
    kind: vendor
    domains: [vendor.example]
    ldap:
      - {id: corp, url: "ldap://127.0.0.1:1", bindDN: "cn=x", bindPassword: "x", users: {baseDN: "dc=x"}, groups: {baseDN: "dc=x"},
         verifiedEmailDomains: [vendor.example]}
      - {id: lab, url: "ldap://127.0.0.1:1", bindDN: "cn=x", bindPassword: "x", users: {baseDN: "dc=x"}, groups: {baseDN: "dc=x"}}
  - id: acme
    name: Acme
    kind: partner
    domains: [acme.example]
    scim: {tokens: ["acme-scim-token-0123456789"], verifiesEmail: true}
  - id: globex
    name: Globex
    kind: partner
    domains: [globex.example]
    scim: {tokens: ["globex-scim-token-0123456789"]}
`
	cfg, err := config.Parse([]byte(doc), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	sec, err := decodeSections(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := sec.emailVouchers()
	tenants := map[policy.TenantID]policy.Tenant{
		"vendor": {ID: "vendor", Domains: []string{"vendor.example"}},
		"acme":   {ID: "acme", Domains: []string{"acme.example"}},
		"globex": {ID: "globex", Domains: []string{"globex.example"}},
	}
	for _, tc := range []struct {
		tenant        policy.TenantID
		source, email string
		want          bool
	}{
		{"vendor", "ldap:corp", "alice@vendor.example", true},
		{"vendor", "ldap:corp", "alice@gmail.example", false},
		{"vendor", "ldap:lab", "alice@vendor.example", false},
		{"acme", "scim:acme", "bob@acme.example", true},
		{"acme", "scim:acme", "bob@mail.acme.example", true},
		{"acme", "scim:acme", "alice@vendor.example", false},
		{"acme", "scim:globex", "bob@acme.example", false},
		{"globex", "scim:globex", "tina@globex.example", false},
		{"acme", "local", "bob@acme.example", false},
		{"acme", "oidc:acme", "bob@acme.example", false},
	} {
		u := policy.User{Tenant: tc.tenant, Source: tc.source}
		if got := v.verified(u, tenants[tc.tenant], tc.email); got != tc.want {
			t.Errorf("%s user of %s with %s: verified %v, want %v", tc.source, tc.tenant, tc.email, got, tc.want)
		}
	}

	// A directory cannot vouch outside its tenant's domains.
	bad := strings.Replace(doc, "verifiedEmailDomains: [vendor.example]", "verifiedEmailDomains: [acme.example]", 1)
	cfg, err = config.Parse([]byte(bad), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeSections(cfg); err == nil || !strings.Contains(err.Error(), "verifiedEmailDomains") {
		t.Errorf("verifiedEmailDomains outside the tenant's domains: %v", err)
	}
}
