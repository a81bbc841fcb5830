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
