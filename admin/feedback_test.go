package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// feedbackFixture is newFixture with two products and a db product team:
// bob holds "db-team" (feedback.triage on db only) in isug.
func feedbackFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.adm.cfg.Products = []string{"cloud", "db"}
	err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		if _, err := tx.PutRole(policy.Role{Name: "db-team", Permissions: []policy.Permission{policy.PermFeedbackTriage}, Products: []string{"db"}}); err != nil {
			return err
		}
		_, err := tx.AddMembership(policy.Membership{User: policy.UserID(f.ids["bob"]), Group: policy.GroupID(f.ids["isug"]), Role: "db-team", Origin: policy.OriginManual})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func items(m map[string]any) []map[string]any {
	var out []map[string]any
	raw, _ := m["items"].([]any)
	for _, x := range raw {
		out = append(out, x.(map[string]any))
	}
	return out
}

func TestFeedbackReachesItsProductTeamOnly(t *testing.T) {
	f := feedbackFixture(t)
	st, m := f.call(t, "carol-token", "POST", "/api/v1/feedback", `{"product":"DB","category":"idea","title":"Faster backups","body":"Incremental backups, please."}`)
	if st != 201 || m["status"] != "received" || m["authorName"] != "carol" || m["company"] != "Acme" {
		t.Fatalf("send: %d %v", st, m)
	}
	id := m["id"].(string)
	_, _ = f.call(t, "carol-token", "POST", "/api/v1/feedback", `{"product":"cloud","category":"problem","title":"Console slow","body":"It takes ages."}`)

	// The db team sees the db item, without the name of a partner's
	// member who did not choose to show it; not the cloud item.
	st, m = f.call(t, "bob-token", "GET", "/api/v1/feedback", "")
	if got := items(m); st != 200 || len(got) != 1 || got[0]["id"] != id || got[0]["author"] != nil || got[0]["authorName"] != nil || got[0]["company"] != nil {
		t.Fatalf("db team list: %d %v", st, m)
	}
	// Alice (an organizer, no triage) sees nothing of it.
	if st, m = f.call(t, "alice-token", "GET", "/api/v1/feedback", ""); st != 200 || len(items(m)) != 0 {
		t.Fatalf("alice list: %d %v", st, m)
	}
	for _, c := range []struct{ method, body string }{{"GET", ""}, {"PATCH", `{"answer":"no"}`}} {
		if st, m = f.call(t, "alice-token", c.method, "/api/v1/feedback/"+id, c.body); st != 404 {
			t.Errorf("alice %s: %d %v", c.method, st, m)
		}
	}
	// The author may not triage; the team may not speak for the author.
	if st, m = f.call(t, "carol-token", "PATCH", "/api/v1/feedback/"+id, `{"status":"planned"}`); st != 403 {
		t.Errorf("author sets status: %d %v", st, m)
	}
	if st, m = f.call(t, "bob-token", "PATCH", "/api/v1/feedback/"+id, `{"showIdentity":true}`); st != 403 {
		t.Errorf("team sets showIdentity: %d %v", st, m)
	}
	// Filters.
	for q, want := range map[string]int{"?product=db": 1, "?product=cloud": 0, "?status=answered": 0, "?status=received": 1, "?group=lug-london": 0} {
		if st, m = f.call(t, "bob-token", "GET", "/api/v1/feedback"+q, ""); st != 200 || len(items(m)) != want {
			t.Errorf("filter %s: %d, %d items, want %d", q, st, len(items(m)), want)
		}
	}
	if st, m = f.call(t, "carol-token", "GET", "/api/v1/feedback?mine=true", ""); st != 200 || len(items(m)) != 2 {
		t.Errorf("carol's own: %d %v", st, m)
	}

	// The team answers; the author sees the answer.
	st, m = f.call(t, "bob-token", "PATCH", "/api/v1/feedback/"+id, `{"answer":"Planned for 2027.","tags":["Backup"]}`)
	if st != 200 || m["status"] != "answered" || m["answeredBy"] != "bob" {
		t.Fatalf("answer: %d %v", st, m)
	}
	st, m = f.call(t, "carol-token", "GET", "/api/v1/feedback/"+id, "")
	if st != 200 || m["answer"] != "Planned for 2027." || m["status"] != "answered" || fmt.Sprint(m["tags"]) != "[backup]" {
		t.Fatalf("carol reads: %d %v", st, m)
	}
	// She chooses to show her name; now the team sees it.
	if st, m = f.call(t, "carol-token", "PATCH", "/api/v1/feedback/"+id, `{"showIdentity":true}`); st != 200 {
		t.Fatalf("show identity: %d %v", st, m)
	}
	if _, m = f.call(t, "bob-token", "GET", "/api/v1/feedback/"+id, ""); m["authorName"] != "carol" || m["company"] != "Acme" {
		t.Errorf("after consent: %v", m)
	}
	// The audit log (and so the webhook) never named her before she chose.
	_ = f.st.View(context.Background(), func(tx store.Tx) error {
		cs, _ := tx.Audit(0, 0)
		n := 0
		for _, c := range cs {
			if c.ID != "feedback/"+id {
				continue
			}
			var fb policy.Feedback
			_ = json.Unmarshal(c.After, &fb)
			if n++; n < 3 && (fb.AuthorName != "" || fb.Author != "") {
				t.Errorf("audit entry %d names the author: %s", n, c.After)
			}
		}
		if n != 3 {
			t.Errorf("%d audit entries for the item, want 3", n)
		}
		return nil
	})
}

func TestFeedbackBadInputChangesNothing(t *testing.T) {
	f := feedbackFixture(t)
	_, m := f.call(t, "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"T","body":"B"}`)
	id := m["id"].(string)
	f.refuses(t, []refusal{
		{"unknown product", "carol-token", "POST", "/api/v1/feedback", `{"product":"toaster","category":"idea","title":"T","body":"B"}`, 400, "product"},
		{"unknown category", "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"rant","title":"T","body":"B"}`, 400, "category"},
		{"no title", "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":" ","body":"B"}`, 400, "title"},
		{"no body", "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"T"}`, 400, "body"},
		{"group not hers", "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"T","body":"B","group":"lug-london"}`, 400, "group"},
		{"sets its own status", "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"T","body":"B","status":"planned"}`, 400, ""},
		{"admin token is nobody", adminToken, "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"T","body":"B"}`, 400, ""},
		{"unknown status", "bob-token", "PATCH", "/api/v1/feedback/" + id, `{"status":"done"}`, 400, "status"},
		{"stale version", "bob-token", "PATCH", "/api/v1/feedback/" + id, `{"status":"planned","version":7}`, 412, ""},
		{"changes the product", "bob-token", "PATCH", "/api/v1/feedback/" + id, `{"product":"cloud"}`, 400, ""},
		{"bad list filter", "bob-token", "GET", "/api/v1/feedback?status=done", "", 400, "status"},
		{"no token", "", "GET", "/api/v1/feedback", "", 401, ""},
	})
	if _, m := f.call(t, "carol-token", "GET", "/api/v1/feedback/"+id, ""); m["status"] != "received" || strings.Contains(fmt.Sprint(m), "planned") {
		t.Errorf("item changed: %v", m)
	}
}

func TestProductTeamRoleNamesConfiguredProducts(t *testing.T) {
	f := feedbackFixture(t)
	if st, m := f.call(t, adminToken, "PUT", "/api/v1/roles/toaster-team", `{"permissions":["feedback.triage"],"products":["toaster"]}`); st != 400 || m["error"].(map[string]any)["field"] != "products" {
		t.Errorf("unknown product: %d %v", st, m)
	}
	if st, m := f.call(t, adminToken, "PUT", "/api/v1/roles/cloud-team", `{"permissions":["feedback.triage"],"products":["Cloud"]}`); st != 200 || fmt.Sprint(m["products"]) != "[cloud]" {
		t.Errorf("cloud team: %d %v", st, m)
	}
}

func TestFeedbackAuthorIsTold(t *testing.T) {
	f := feedbackFixture(t)
	// carol sends from a group she is in.
	f.addMember(t, "carol", "lug", "member")
	_, m := f.call(t, "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"question","title":"LTS?","body":"Is there one?","group":"lug-london"}`)
	if m["group"] != f.ids["lug"] {
		t.Fatalf("sent %v", m)
	}
	if st, m := f.call(t, "bob-token", "PATCH", "/api/v1/feedback/"+m["id"].(string), `{"answer":"Yes, 7.4."}`); st != 200 {
		t.Fatalf("%d %v", st, m)
	}
	var jobs []string
	_ = f.st.View(context.Background(), func(tx store.Tx) error {
		return tx.ScanRecords("mail", "job/", func(_ string, b []byte) error { jobs = append(jobs, string(b)); return nil })
	})
	if len(jobs) != 1 || !strings.Contains(jobs[0], f.ids["carol"]) || !strings.Contains(jobs[0], "Yes, 7.4.") {
		t.Errorf("mail jobs %v", jobs)
	}
}

// TestFeedbackFiltersRevealNothing: a filter selects only on what the
// caller's view of an item shows. The product team does not see the group
// a partner's member sent an anonymous item from, so ?group= does not
// select it (which would tell them who sent it); once she shows who she
// is, it does. Nobody learns of items of a group by naming the group.
func TestFeedbackFiltersRevealNothing(t *testing.T) {
	f := feedbackFixture(t)
	if err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		_, err := tx.AddMembership(policy.Membership{User: policy.UserID(f.ids["carol"]), Group: policy.GroupID(f.ids["paris"]), Role: "member", Origin: policy.OriginManual})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	st, m := f.call(t, "carol-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"Anonymous idea","body":"From Paris.","group":"lug-paris"}`)
	if st != 201 || m["group"] != f.ids["paris"] {
		t.Fatalf("carol sends: %d %v", st, m)
	}
	carols := m["id"].(string)
	st, m = f.call(t, "alice-token", "POST", "/api/v1/feedback", `{"product":"db","category":"idea","title":"Vendor idea","body":"From London.","group":"lug-london"}`)
	if st != 201 {
		t.Fatalf("alice sends: %d %v", st, m)
	}
	alices := m["id"].(string)
	ids := func(m map[string]any) string {
		var out []string
		for _, it := range items(m) {
			out = append(out, it["id"].(string))
			if it["id"] == carols && it["showIdentity"] != true && it["group"] != nil && it["author"] != f.ids["carol"] {
				t.Errorf("the anonymous item shows its group: %v", it)
			}
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name, token, query, want string
	}{
		{"team, all", "bob-token", "", alices + "," + carols},
		{"team, the anonymous item's group by slug", "bob-token", "?group=lug-paris", ""},
		{"team, the anonymous item's group by id", "bob-token", "?group=" + f.ids["paris"], ""},
		{"team, group and product", "bob-token", "?group=lug-paris&product=db", ""},
		{"team, a vendor employee's group by id", "bob-token", "?group=" + f.ids["lug"], alices},
		{"team, a group it may not see by slug", "bob-token", "?group=lug-london", ""},
		{"team, no such group", "bob-token", "?group=lug-nowhere", ""},
		{"admin token, the anonymous item's group", adminToken, "?group=lug-paris", ""},
		{"author, her own by group", "carol-token", "?group=lug-paris", carols},
		{"author, mine by group", "carol-token", "?mine=true&group=lug-paris", carols},
		{"organizer of another group", "alice-token", "?group=lug-paris", ""},
		{"organizer, her own group", "alice-token", "?group=lug-london", alices},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, m := f.call(t, tt.token, "GET", "/api/v1/feedback"+tt.query, "")
			if got := ids(m); st != 200 || got != tt.want {
				t.Errorf("%d, items %q, want %q", st, got, tt.want)
			}
		})
	}
	// A group the team may see is found by its slug too.
	if st, m = f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"join":"open"}`); st != 200 {
		t.Fatalf("open lug-london: %d %v", st, m)
	}
	if st, m = f.call(t, "bob-token", "GET", "/api/v1/feedback?group=lug-london", ""); ids(m) != alices {
		t.Errorf("a group the team may see, by slug: %d %v", st, m)
	}
	// The item itself does not show its group to the team either.
	if _, m = f.call(t, "bob-token", "GET", "/api/v1/feedback/"+carols, ""); m["group"] != nil || m["author"] != nil {
		t.Errorf("the team reads the anonymous item with its group: %v", m)
	}
	// Once she shows who she is, the group is hers to show too.
	if st, m = f.call(t, "carol-token", "PATCH", "/api/v1/feedback/"+carols, `{"showIdentity":true}`); st != 200 {
		t.Fatalf("show identity: %d %v", st, m)
	}
	if st, m = f.call(t, "bob-token", "GET", "/api/v1/feedback?group="+f.ids["paris"], ""); ids(m) != carols || items(m)[0]["group"] != f.ids["paris"] {
		t.Errorf("after consent, by group: %d %v", st, m)
	}
}
