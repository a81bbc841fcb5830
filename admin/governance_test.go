package admin

import (
	"strings"
	"testing"
)

// TestSelfGovernance: alice organizes lug-oslo (self-governing, the
// default for a local group) and lug-london (managed); bob is the admin of
// rug-europe above both.
func TestSelfGovernance(t *testing.T) {
	f := newFixture(t)
	alice, bob, carol := f.ids["alice"], f.ids["bob"], f.ids["carol"]
	setup := []struct{ method, path, body string }{
		{"POST", "/api/v1/groups", `{"slug":"lug-oslo","name":"LUG Oslo","kind":"local","parent":"rug-europe"}`},
		{"POST", "/api/v1/groups/lug-oslo/memberships", `{"user":"` + alice + `","role":"organizer"}`},
		{"POST", "/api/v1/groups/lug-oslo/memberships", `{"user":"` + carol + `","role":"member"}`},
		{"POST", "/api/v1/groups/rug-europe/memberships", `{"user":"` + bob + `","role":"admin"}`},
	}
	for _, c := range setup {
		if st, m := f.call(t, adminToken, c.method, c.path, c.body); st != 201 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, st, m)
		}
	}
	if _, m := f.call(t, adminToken, "GET", "/api/v1/groups/lug-oslo", ""); m["governanceMode"] != "self" {
		t.Fatalf("lug-oslo governanceMode = %v, want self", m["governanceMode"])
	}
	if _, m := f.call(t, adminToken, "GET", "/api/v1/groups/lug-london", ""); m["governanceMode"] != "managed" {
		t.Fatalf("lug-london governanceMode = %v, want managed", m["governanceMode"])
	}
	// Each governing action, by the organizer, in both groups.
	actions := []struct {
		name, method, path, body string
		self, managed            int // status in lug-oslo, in lug-london
	}{
		{"rename", "PATCH", "/api/v1/groups/{g}", `{"name":"LUG {G} renamed"}`, 200, 403},
		{"edit the remit", "PATCH", "/api/v1/groups/{g}", `{"description":"Our remit."}`, 200, 403},
		{"appoint a speaker", "POST", "/api/v1/groups/{g}/memberships", `{"user":"` + bob + `","role":"speaker"}`, 201, 403},
		{"appoint a co-organizer", "POST", "/api/v1/groups/{g}/memberships", `{"user":"` + carol + `","role":"organizer"}`, 201, 403},
		{"remove the co-organizer", "DELETE", "/api/v1/groups/{g}/memberships/" + carol + "/organizer", "", 204, 403},
		{"never above their own", "POST", "/api/v1/groups/{g}/memberships", `{"user":"` + carol + `","role":"admin"}`, 403, 403},
		{"create a SIG under it", "POST", "/api/v1/groups", `{"slug":"sig-{g}-k8s","name":"SIG Kubernetes","kind":"special-interest","parent":"{g}"}`, 201, 403},
		{"run its meetings", "POST", "/api/v1/groups/{g}/meetings", `{"title":"Meetup","start":"2031-01-14T18:30","timeZone":"Europe/Oslo"}`, 201, 201},
		{"not change who governs", "PATCH", "/api/v1/groups/{g}", `{"governance":"managed"}`, 403, 403},
		{"not dissolve it", "DELETE", "/api/v1/groups/{g}", "", 403, 403},
	}
	for _, a := range actions {
		for _, c := range []struct {
			g, G string
			want int
		}{{"lug-oslo", "Oslo", a.self}, {"lug-london", "London", a.managed}} {
			r := strings.NewReplacer("{g}", c.g, "{G}", c.G)
			if st, m := f.call(t, "alice-token", a.method, r.Replace(a.path), r.Replace(a.body)); st != c.want {
				t.Errorf("organizer: %s in %s: %d %v, want %d", a.name, c.g, st, m, c.want)
			}
		}
	}
	// The organizer governs the SIG she created.
	if st, m := f.call(t, "alice-token", "PATCH", "/api/v1/groups/sig-lug-oslo-k8s", `{"description":"Containers."}`); st != 200 {
		t.Errorf("organizer edits her new SIG: %d %v", st, m)
	}

	// The RUG admin: oversight in lug-oslo, everything in lug-london.
	oversight := []struct {
		name, method, path, body string
		want                     int
	}{
		{"reads it", "GET", "/api/v1/groups/lug-oslo", "", 200},
		{"reads its members", "GET", "/api/v1/groups/lug-oslo/members", "", 200},
		{"reads its audit", "GET", "/api/v1/groups/lug-oslo/audit", "", 200},
		{"may not rename it", "PATCH", "/api/v1/groups/lug-oslo", `{"name":"Oslo by decree"}`, 403},
		{"may not add members", "POST", "/api/v1/groups/lug-oslo/memberships", `{"user":"` + bob + `","role":"member"}`, 403},
		{"may not create under it", "POST", "/api/v1/groups", `{"slug":"sig-x","name":"X","kind":"special-interest","parent":"lug-oslo"}`, 403},
		{"may not edit its meetings", "POST", "/api/v1/groups/lug-oslo/meetings", `{"title":"x","start":"2031-01-14T18:30"}`, 403},
		{"suspends only with a reason", "POST", "/api/v1/groups/lug-oslo/suspend", `{"reason":" "}`, 400},
		{"renames the managed LUG", "PATCH", "/api/v1/groups/lug-london", `{"name":"London (managed)"}`, 200},
	}
	for _, c := range oversight {
		if st, m := f.call(t, "bob-token", c.method, c.path, c.body); st != c.want {
			t.Errorf("RUG admin %s: %d %v, want %d", c.name, st, m, c.want)
		}
	}
	// The organizer may not suspend; the RUG admin suspends the group.
	if st, _ := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-oslo/suspend", `{"reason":"x"}`); st != 403 {
		t.Errorf("organizer suspends: %d, want 403", st)
	}
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-oslo/suspend", `{"reason":"No meeting in a year"}`); st != 200 {
		t.Fatalf("suspend: %d %v", st, m)
	}
	_, g := f.call(t, "alice-token", "GET", "/api/v1/groups/lug-oslo", "")
	if sus, _ := g["suspensions"].([]any); len(sus) != 1 || sus[0].(map[string]any)["reason"] != "No meeting in a year" {
		t.Errorf("the organizer sees suspensions %v, want the reason", g["suspensions"])
	}
	if st, _ := f.call(t, "alice-token", "PATCH", "/api/v1/groups/lug-oslo", `{"description":"x"}`); st != 403 {
		t.Errorf("organizer of a suspended group edits it: %d, want 403", st)
	}
	if st, _ := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-oslo/reinstate", `{}`); st != 200 {
		t.Errorf("reinstate: %d", st)
	}
	if st, _ := f.call(t, "alice-token", "PATCH", "/api/v1/groups/lug-oslo", `{"description":"back"}`); st != 200 {
		t.Errorf("organizer after reinstatement: %d, want 200", st)
	}
	// Suspend the organizer alone: she reads but no longer governs; a
	// plain member does not see her suspension.
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-oslo/suspend", `{"user":"alice","tenant":"vendor","reason":"Under review"}`); st != 200 {
		t.Fatalf("suspend organizer: %d %v", st, m)
	}
	if st, _ := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-oslo/memberships", `{"user":"`+bob+`","role":"member"}`); st != 403 {
		t.Errorf("suspended organizer adds a member: %d, want 403", st)
	}
	if st, _ := f.call(t, "alice-token", "GET", "/api/v1/groups/lug-oslo", ""); st != 200 {
		t.Errorf("suspended organizer reads: %d, want 200", st)
	}
	if _, g := f.call(t, "carol-token", "GET", "/api/v1/groups/lug-oslo", ""); g["suspensions"] != nil {
		t.Errorf("a member sees another person's suspension: %v", g["suspensions"])
	}
	// The audit of the group shows the suspensions to the RUG admin.
	_, au := f.call(t, "bob-token", "GET", "/api/v1/groups/lug-oslo/audit?limit=1000", "")
	var suspends int
	for _, it := range au["items"].([]any) {
		if id, _ := it.(map[string]any)["id"].(string); strings.HasPrefix(id, "suspension/") {
			suspends++
		}
	}
	if suspends != 3 {
		t.Errorf("audit shows %d suspension events, want 3", suspends)
	}
	// Explain says which mode decided.
	_, ex := f.call(t, adminToken, "GET", "/api/v1/explain?user=vendor/bob&permission=groups.manage&group=lug-oslo", "")
	if ex["allowed"] != false || ex["governance"] != "self" || !strings.Contains(str(ex["reason"]), "governs itself") {
		t.Errorf("explain = %v", ex)
	}
}
