package main

import (
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/config"
)

// TestSCIMAdmissionSection: scim.admission is decoded, and negative bounds
// or unknown keys are refused naming the field.
func TestSCIMAdmissionSection(t *testing.T) {
	const base = "issuer: http://127.0.0.1:8080\n"
	parse := func(scim string) (*sections, error) {
		t.Helper()
		cfg, err := config.Parse([]byte(base+scim), func(string) (string, bool) { return "", false })
		if err != nil {
			return nil, err
		}
		return decodeSections(cfg)
	}
	sec, err := parse("scim: {maxResults: 500, admission: {global: 6, perTenant: 3, retryAfter: 2s}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if a := sec.scim.Admission; a.Global != 6 || a.PerTenant != 3 || a.RetryAfter.D() != 2*time.Second {
		t.Errorf("decoded %+v", a)
	}
	for _, bad := range []string{
		"scim: {admission: {global: -1}}\n",
		"scim: {admission: {perTenant: -2}}\n",
		"scim: {admission: {perTennant: 2}}\n",
	} {
		if _, err := parse(bad); err == nil || !strings.Contains(err.Error(), "scim") {
			t.Errorf("%q: err %v, want one naming scim", bad, err)
		}
	}
}

// TestSCIMExtensionsSection: tenants[].scim.extensions is decoded with
// every attribute property; an unknown key is refused naming the field.
func TestSCIMExtensionsSection(t *testing.T) {
	const cfgText = `issuer: http://127.0.0.1:8080
tenants:
  - id: acme
    name: Acme
    kind: partner
    scim:
      extensions:
        - urn: "urn:acme:params:scim:schemas:2.0:User"
          attributes:
            - {name: badge, type: integer, mutability: readWrite, returned: default, caseExact: true}
            - {name: sites, type: complex, multiValued: true, subAttributes: [{name: value}, {name: primary, type: boolean}]}
`
	cfg, err := config.Parse([]byte(cfgText), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	sec, err := decodeSections(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exts := sec.tenantSCIM["acme"].Extensions
	if len(exts) != 1 || exts[0].URN != "urn:acme:params:scim:schemas:2.0:User" || len(exts[0].Attributes) != 2 {
		t.Fatalf("decoded %+v", exts)
	}
	if a := exts[0].Attributes[0]; a.Name != "badge" || a.Type != "integer" || !a.CaseExact || a.Mutability != "readWrite" || a.Returned != "default" {
		t.Errorf("attribute %+v", a)
	}
	if a := exts[0].Attributes[1]; !a.MultiValued || len(a.SubAttributes) != 2 || a.SubAttributes[1].Type != "boolean" {
		t.Errorf("complex attribute %+v", a)
	}
	bad := strings.Replace(cfgText, "caseExact: true", "caseExakt: true", 1)
	cfg, err = config.Parse([]byte(bad), func(string) (string, bool) { return "", false })
	if err == nil {
		_, err = decodeSections(cfg)
	}
	if err == nil || !strings.Contains(err.Error(), "scim") {
		t.Errorf("unknown key: err %v, want one naming scim", err)
	}
}
