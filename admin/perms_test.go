package admin

import "testing"

// TestTenantsListPermission: GET /tenants serves admin tokens and those
// who hold tenants.manage on every root group, no one else.
func TestTenantsListPermission(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		token string
		want  int
	}{{adminToken, 200}, {"alice-token", 403}, {"bob-token", 403}} {
		if st, m := f.call(t, tc.token, "GET", "/api/v1/tenants", ""); st != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.token, st, m, tc.want)
		}
	}
	f.call(t, adminToken, "PUT", "/api/v1/roles/tenant-steward", `{"permissions":["group.read","tenants.manage"],"inherit":true}`)
	if st, m := f.call(t, adminToken, "POST", "/api/v1/groups/isug/memberships", `{"user":"bob","tenant":"vendor","role":"tenant-steward"}`); st != 201 {
		t.Fatalf("%d %v", st, m)
	}
	if st, m := f.call(t, "bob-token", "GET", "/api/v1/tenants", ""); st != 200 {
		t.Errorf("bob with tenants.manage on isug: %d %v, want 200", st, m)
	}
}
