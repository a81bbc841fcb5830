package admin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
)

// TestArchive: an archived group keeps its members but refuses new
// members, meetings, rules and requests; archiving goes from the leaves
// up; it needs groups.manage, is audited and can be undone.
func TestArchive(t *testing.T) {
	f := newFixture(t)
	must := func(tok, method, path, body string, want int) map[string]any {
		t.Helper()
		st, m := f.call(t, tok, method, path, body)
		if st != want {
			t.Fatalf("%s %s %s: %d %v, want %d", tok, method, path, st, m, want)
		}
		return m
	}
	must(adminToken, "POST", "/api/v1/groups/lug-london/memberships", `{"user":"bob","tenant":"vendor","role":"member"}`, 201)
	// alice organizes lug-london: members and meetings, not the group.
	must("alice-token", "POST", "/api/v1/groups/lug-london/archive", "", 403)
	// rug-europe has active subgroups.
	if m := must(adminToken, "POST", "/api/v1/groups/rug-europe/archive", "", 409); !strings.Contains(m["error"].(map[string]any)["message"].(string), "lug-london") {
		t.Errorf("409 without the subgroups: %v", m)
	}
	if m := must(adminToken, "POST", "/api/v1/groups/lug-london/archive", "", 200); m["archived"] != true {
		t.Errorf("archive answered %v", m)
	}
	must(adminToken, "POST", "/api/v1/groups/lug-london/archive", "", 200) // again: no change
	if m := must(adminToken, "GET", "/api/v1/groups/lug-london", "", 200); m["archived"] != true {
		t.Errorf("group after archiving: %v", m)
	}
	if !f.eng.Check(policy.UserID(f.ids["bob"]), "group.read", policy.GroupID(f.ids["lug"])) {
		t.Error("bob lost his membership when the group was archived")
	}
	for _, c := range []struct{ tok, method, path, body string }{
		{adminToken, "POST", "/api/v1/groups/lug-london/memberships", `{"user":"carol","tenant":"acme","role":"member"}`},
		{"alice-token", "POST", "/api/v1/groups/lug-london/meetings", `{"title":"x","start":"2030-01-01T18:00:00Z"}`},
		{adminToken, "POST", "/api/v1/groups/lug-london/rules", `{"tenant":"vendor","dirGroup":"organizers","role":"member"}`},
	} {
		if m := must(c.tok, c.method, c.path, c.body, 409); m["error"].(map[string]any)["code"] != "archived" {
			t.Errorf("%s %s: %v, want code archived", c.method, c.path, m)
		}
	}
	// Archived from the leaves up; unarchived from the top down.
	must(adminToken, "POST", "/api/v1/groups/lug-paris/archive", "", 200)
	must(adminToken, "POST", "/api/v1/groups/rug-europe/archive", "", 200)
	must(adminToken, "POST", "/api/v1/groups/lug-london/unarchive", "", 409)
	must(adminToken, "POST", "/api/v1/groups", `{"slug":"lug-rome","name":"Rome","kind":"local","parent":"rug-europe"}`, 409)
	must(adminToken, "POST", "/api/v1/groups/rug-europe/unarchive", "", 200)
	if m := must(adminToken, "POST", "/api/v1/groups/lug-london/unarchive", "", 200); m["archived"] == true {
		t.Errorf("unarchive answered %v", m)
	}
	must(adminToken, "POST", "/api/v1/groups/lug-london/memberships", `{"user":"carol","tenant":"acme","role":"member"}`, 201)

	// Audited: the group's record, archived then not.
	var seen []bool
	_, m := f.call(t, adminToken, "GET", "/api/v1/groups/lug-london/audit", "")
	for _, it := range m["items"].([]any) {
		c := it.(map[string]any)
		if c["kind"] != "group" || c["after"] == nil {
			continue
		}
		var g struct{ Archived bool }
		b, _ := json.Marshal(c["after"])
		_ = json.Unmarshal(b, &g)
		seen = append(seen, g.Archived)
	}
	if len(seen) < 2 || !seen[len(seen)-2] || seen[len(seen)-1] {
		t.Errorf("audit of lug-london's record, archived: %v, want …, true, false", seen)
	}
}
