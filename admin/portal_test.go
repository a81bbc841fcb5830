package admin

import (
	"net/url"
	"slices"
	"testing"
)

// TestPortalEndpoints checks who may use the endpoints of delegated
// administration (admin/portal.go) and that a refusal changes nothing.
// alice organizes lug-london through the dir group "organizers"; bob holds
// nothing; carol is a partner's user without roles.
func TestPortalEndpoints(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, token, method, path, body string
		status                          int
	}{
		{"tree for a member of nothing", "bob-token", "GET", "/api/v1/grouptree", "", 200},
		{"people search by an organizer", "alice-token", "GET", "/api/v1/people?q=car", "", 200},
		{"people search by someone who manages no members", "bob-token", "GET", "/api/v1/people?q=car", "", 403},
		{"people search too short", "alice-token", "GET", "/api/v1/people?q=c", "", 400},
		{"a person seen by themself", "bob-token", "GET", "/api/v1/people/vendor/bob", "", 200},
		{"a person without roles the caller manages", "alice-token", "GET", "/api/v1/people/vendor/bob", "", 404},
		{"a person by an admin", adminToken, "GET", "/api/v1/people/vendor/alice", "", 200},
		{"group audit by its organizer", "alice-token", "GET", "/api/v1/groups/lug-london/audit", "", 200},
		{"group audit of a group the caller does not manage", "alice-token", "GET", "/api/v1/groups/isug/audit", "", 404},
		{"group audit with a bad date", adminToken, "GET", "/api/v1/groups/isug/audit?since=yesterday", "", 400},
		{"explain oneself", "bob-token", "GET", "/api/v1/groups/lug-london/explain?user=vendor/bob&permission=group.read", "", 404},
		{"explain a member by the organizer", "alice-token", "GET", "/api/v1/groups/lug-london/explain?user=vendor/bob&permission=group.read", "", 200},
		{"rules of a group by its organizer", "alice-token", "GET", "/api/v1/groups/lug-london/rules", "", 200},
		{"rule giving member by the organizer", "alice-token", "POST", "/api/v1/groups/lug-london/rules", `{"tenant":"vendor","dirGroup":"organizers","role":"member"}`, 201},
		{"rule giving organizer by the organizer", "alice-token", "POST", "/api/v1/groups/lug-london/rules", `{"tenant":"vendor","dirGroup":"organizers","role":"organizer"}`, 403},
		{"rule in another group", "alice-token", "POST", "/api/v1/groups/lug-paris/rules", `{"tenant":"vendor","dirGroup":"organizers","role":"member"}`, 404},
		{"rule with an unknown directory group", adminToken, "POST", "/api/v1/groups/lug-paris/rules", `{"tenant":"vendor","dirGroup":"nobody","role":"member"}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			status, body := f.call(t, tt.token, tt.method, tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("%s %s: %d %v, want %d", tt.method, tt.path, status, body, tt.status)
			}
			if status >= 300 && f.lastSeq(t) != before {
				t.Errorf("a refused request changed the audit log")
			}
		})
	}

	// The organizer's view of the audit holds her group's changes only.
	_, body := f.call(t, "alice-token", "GET", "/api/v1/groups/lug-london/audit?source=user", "")
	items, _ := body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("lug-london audit by users: %v, want the one rule alice made", body)
	}
	_, body = f.call(t, adminToken, "GET", "/api/v1/people?q="+url.QueryEscape("CAROL"), "")
	if items, _ := body["items"].([]any); len(items) != 1 {
		t.Errorf("people search for CAROL: %v", body)
	}
}

// TestGroupTreeAround: ?around= gives a group, its ancestors and its
// children only — what a group page shows — with member counts.
func TestGroupTreeAround(t *testing.T) {
	f := newFixture(t)
	st, m := f.call(t, adminToken, "GET", "/api/v1/grouptree?around=rug-europe", "")
	if st != 200 {
		t.Fatalf("%d %v", st, m)
	}
	var slugs []string
	items, _ := m["items"].([]any)
	for _, it := range items {
		slugs = append(slugs, it.(map[string]any)["slug"].(string))
	}
	slices.Sort(slugs)
	if want := []string{"isug", "lug-london", "lug-paris", "rug-europe"}; !slices.Equal(slugs, want) {
		t.Errorf("around rug-europe: %v, want %v", slugs, want)
	}
	if st, m = f.call(t, adminToken, "GET", "/api/v1/grouptree?around=no-such-group", ""); st != 200 || len(m["items"].([]any)) != 0 {
		t.Errorf("around a missing group: %d %v", st, m)
	}
}
