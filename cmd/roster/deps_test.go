package main

import (
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/deptest"
)

// TestDependencyArrows keeps the shape of the house: arrows point down
// only. policy imports none of Roster's packages; store only policy; the
// protocol packages (scim, ldap, oidc, admin) never each other; only
// cmd/roster wires them together.
func TestDependencyArrows(t *testing.T) {
	tests := []struct {
		pkg    string
		forbid []string
	}{
		{"policy", []string{"store", "scim", "ldap", "oidc", "admin", "config", "demo", "cmd", "net/http", "go.etcd.io/bbolt"}},
		{"demo", []string{"store", "scim", "ldap", "oidc", "admin", "config", "cmd"}},
		{"store", []string{"scim", "ldap", "oidc", "admin", "config", "demo", "cmd"}},
		{"store/bolt", []string{"scim", "ldap", "oidc", "admin", "config", "demo", "cmd"}},
		{"scim", []string{"ldap", "oidc", "admin", "config", "cmd"}},
		{"ldap", []string{"scim", "oidc", "admin", "config", "cmd"}},
		{"oidc", []string{"scim", "ldap", "admin", "config", "cmd"}},
		{"admin", []string{"scim", "ldap", "oidc", "config", "cmd"}},
		// Outbound provisioning reads the store and the engine only.
		{"outbound", []string{"scim", "ldap", "oidc", "admin", "config", "portal", "demo", "cmd", "go.etcd.io/bbolt"}},
		{"config", []string{"scim", "ldap", "oidc", "admin", "store", "cmd"}},
		// The portal works through the admin API over HTTP only.
		{"portal", []string{"policy", "store", "scim", "ldap", "oidc", "admin", "config", "demo", "cmd", "go.etcd.io/bbolt"}},
	}
	pkgs := make([]string, len(tests))
	for i, tt := range tests {
		pkgs[i] = tt.pkg
	}
	listed := deptest.List(t, pkgs...)
	for i, tt := range tests {
		t.Run(tt.pkg, func(t *testing.T) {
			for _, f := range tt.forbid {
				want := f
				if !strings.Contains(f, ".") && f != "net/http" {
					want = deptest.Module + "/" + f
				}
				for _, d := range listed[i].Deps {
					if deptest.Within(d, want) {
						t.Errorf("%s imports %s", tt.pkg, d)
					}
				}
			}
		})
	}
}
