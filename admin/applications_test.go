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

// applicationFixture: rug-europe and lug-london take requests (so anyone
// sees them); lug-london meets in London; alice reviews applications in
// rug-europe.
func applicationFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		if _, err := tx.PutRole(policy.Role{Name: "reviewer", Permissions: []policy.Permission{policy.PermApplicationsReview}, Inherit: true}); err != nil {
			return err
		}
		if _, err := tx.AddMembership(policy.Membership{User: policy.UserID(f.ids["alice"]), Group: policy.GroupID(f.ids["rug"]), Role: "reviewer", Origin: policy.OriginManual}); err != nil {
			return err
		}
		for _, id := range []string{f.ids["rug"], f.ids["lug"]} {
			g, err := tx.Group(policy.GroupID(id))
			if err != nil {
				return err
			}
			g.Join = policy.JoinOnRequest
			if g.Slug == "lug-london" {
				g.Location = &policy.Location{City: "London", Country: "GB"}
			}
			if _, err := tx.UpdateGroup(g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFoundingALUG(t *testing.T) {
	f := applicationFixture(t)
	// Carol (a partner's member) checks Reading: London is near.
	st, m := f.call(t, "carol-token", "GET", "/api/v1/applications/nearby?city=Reading&country=GB", "")
	if got := items(m); st != 200 || len(got) != 1 || got[0]["slug"] != "lug-london" || got[0]["km"].(float64) < 40 || got[0]["km"].(float64) > 80 {
		t.Fatalf("nearby: %d %v", st, m)
	}
	st, m = f.call(t, "carol-token", "POST", "/api/v1/applications", `{"name":"LUG Reading","slug":"lug-reading","parent":"rug-europe","city":"Reading","country":"gb","remit":"Users in the Thames Valley","coFounders":["bob"]}`)
	if st != 201 || m["status"] != "pending" || len(m["nearby"].([]any)) != 1 {
		t.Fatalf("apply: %d %v", st, m)
	}
	id := m["id"].(string)
	path := "/api/v1/applications/" + id

	// Neither an unrelated member nor a co-founder's colleague sees it;
	// bob, a co-founder, does.
	if st, _ := f.call(t, "alice-token", "GET", "/api/v1/applications", ""); st != 200 {
		t.Fatal(st)
	}
	for _, tok := range []string{"bob-token", "alice-token", "carol-token"} {
		if st, m := f.call(t, tok, "GET", path, ""); st != 200 {
			t.Errorf("%s reads: %d %v", tok, st, m)
		}
	}
	// The reviewer asks, the founder answers.
	if st, m = f.call(t, "alice-token", "POST", path+"/messages", `{"text":"Where will you meet?"}`); st != 200 || m["status"] != "questions" {
		t.Fatalf("ask: %d %v", st, m)
	}
	if st, m = f.call(t, "carol-token", "POST", path+"/messages", `{"text":"At the library."}`); st != 200 || m["status"] != "pending" || len(m["messages"].([]any)) != 2 {
		t.Fatalf("answer: %d %v", st, m)
	}
	// Bob accepts his place as co-founder.
	if st, m = f.call(t, "bob-token", "PUT", path+"/confirmation", `{"answer":"accepted"}`); st != 200 || m["myAnswer"] != "accepted" {
		t.Fatalf("bob accepts: %d %v", st, m)
	}
	// A founder cannot approve their own application.
	if st, m = f.call(t, "carol-token", "PATCH", path, `{"status":"approved"}`); st != 403 {
		t.Fatalf("founder approves: %d %v", st, m)
	}
	st, m = f.call(t, "alice-token", "PATCH", path, `{"status":"approved","reason":"Welcome!"}`)
	if st != 200 || m["status"] != "approved" || m["group"] == nil {
		t.Fatalf("approve: %d %v", st, m)
	}
	// The group exists under the RUG, with its founders as organizers.
	st, g := f.call(t, adminToken, "GET", "/api/v1/groups/lug-reading", "")
	if st != 200 || g["parent"] != f.ids["rug"] || g["kind"] != "local" || g["description"] != "Users in the Thames Valley" {
		t.Fatalf("group: %d %v", st, g)
	}
	if loc, _ := g["location"].(map[string]any); loc["city"] != "Reading" || loc["coordinates"] == nil {
		t.Errorf("location: %v", g["location"])
	}
	gid := policy.GroupID(m["group"].(string))
	for _, u := range []string{"carol", "bob"} {
		if !f.eng.Check(policy.UserID(f.ids[u]), policy.PermMembersManage, gid) {
			t.Errorf("%s is not an organizer of the new group", u)
		}
	}
	if st, m = f.call(t, "alice-token", "PATCH", path, `{"status":"declined"}`); st != 409 {
		t.Errorf("decide twice: %d %v", st, m)
	}
	// Every step is in the audit log.
	var steps []string
	_ = f.st.View(context.Background(), func(tx store.Tx) error {
		cs, _ := tx.Audit(0, 0)
		for _, c := range cs {
			if c.ID == "application/"+id {
				var d struct{ Step string }
				_ = json.Unmarshal(c.After, &d)
				steps = append(steps, d.Step)
			}
		}
		return nil
	})
	if want := "[applied asked answered co-founder accepted approved]"; fmt.Sprint(steps) != want {
		t.Errorf("audited steps %v, want %s", steps, want)
	}
}

func TestApplicationsStayWithTheirPeople(t *testing.T) {
	f := applicationFixture(t)
	_, m := f.call(t, "carol-token", "POST", "/api/v1/applications", `{"name":"LUG Reading","slug":"lug-reading","parent":"rug-europe","city":"Reading","country":"GB","remit":"R"}`)
	path := "/api/v1/applications/" + m["id"].(string)
	// bob: neither founder nor reviewer.
	for _, c := range []struct{ method, path, body string }{{"GET", path, ""}, {"POST", path + "/messages", `{"text":"hi"}`}, {"PATCH", path, `{"status":"approved"}`}} {
		if st, m := f.call(t, "bob-token", c.method, c.path, c.body); st != 404 {
			t.Errorf("bob %s %s: %d %v", c.method, c.path, st, m)
		}
	}
	if _, m := f.call(t, "bob-token", "GET", "/api/v1/applications", ""); len(items(m)) != 0 {
		t.Errorf("bob lists %v", m)
	}
	if _, m := f.call(t, "alice-token", "GET", "/api/v1/applications?status=pending", ""); len(items(m)) != 1 {
		t.Errorf("reviewer lists %v", m)
	}
}

func TestApplicationBadInputChangesNothing(t *testing.T) {
	f := applicationFixture(t)
	_, m := f.call(t, "carol-token", "POST", "/api/v1/applications", `{"name":"LUG Reading","slug":"lug-reading","parent":"rug-europe","city":"Reading","country":"GB","remit":"R"}`)
	path := "/api/v1/applications/" + m["id"].(string)
	ok := `"name":"LUG Leeds","parent":"rug-europe","country":"GB","remit":"R"`
	f.refuses(t, []refusal{
		{"no city", "carol-token", "POST", "/api/v1/applications", `{"slug":"lug-leeds",` + ok + `}`, 400, "city"},
		{"unknown city", "carol-token", "POST", "/api/v1/applications", `{"slug":"lug-leeds","city":"Xyzzyville",` + ok + `}`, 400, "city"},
		{"bad slug", "carol-token", "POST", "/api/v1/applications", `{"slug":"LUG Leeds","city":"Leeds",` + ok + `}`, 400, "slug"},
		{"slug taken", "carol-token", "POST", "/api/v1/applications", `{"slug":"lug-paris","city":"Leeds",` + ok + `}`, 400, "slug"},
		{"no name", "carol-token", "POST", "/api/v1/applications", `{"slug":"lug-leeds","city":"Leeds","name":" ","parent":"rug-europe","country":"GB","remit":"R"}`, 400, "name"},
		{"no remit", "carol-token", "POST", "/api/v1/applications", `{"slug":"lug-leeds","city":"Leeds","name":"L","parent":"rug-europe","country":"GB"}`, 400, "remit"},
		{"under a LUG", "carol-token", "POST", "/api/v1/applications", `{"slug":"lug-leeds","city":"Leeds","name":"L","parent":"lug-london","country":"GB","remit":"R"}`, 400, "parent"},
		{"hidden parent", "carol-token", "POST", "/api/v1/applications", `{"slug":"lug-leeds","city":"Leeds","name":"L","parent":"isug","country":"GB","remit":"R"}`, 400, "parent"},
		{"unknown co-founder", "carol-token", "POST", "/api/v1/applications", `{"slug":"lug-leeds","city":"Leeds","coFounders":["nobody"],` + ok + `}`, 400, "coFounders"},
		{"admin token is nobody", adminToken, "POST", "/api/v1/applications", `{"slug":"lug-leeds","city":"Leeds",` + ok + `}`, 400, ""},
		{"empty message", "alice-token", "POST", path + "/messages", `{"text":"  "}`, 400, "text"},
		{"unknown decision", "alice-token", "PATCH", path, `{"status":"maybe"}`, 400, "status"},
		{"stale version", "alice-token", "PATCH", path, `{"status":"approved","version":9}`, 412, ""},
		{"nearby without a city", "carol-token", "GET", "/api/v1/applications/nearby", "", 400, "city"},
	})
}

// TestCoFoundersConsent: a named co-founder becomes an organizer only by
// accepting. Each answers for themselves only (until the decision); the
// reviewer sees who answered what; approval makes the applicant and the
// co-founders who accepted organizers, not one who declined or never
// answered; every answer is audited, the co-founders are asked by mail.
func TestCoFoundersConsent(t *testing.T) {
	f := applicationFixture(t)
	if err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		for _, n := range []string{"dave", "erin"} {
			u, err := tx.CreateUser("vendor", policy.User{UserName: n, Active: true, Source: "local"})
			if err != nil {
				return err
			}
			f.ids[n] = string(u.ID)
			f.tokens[n+"-token"] = u.ID
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st, m := f.call(t, "carol-token", "POST", "/api/v1/applications", `{"name":"LUG Reading","slug":"lug-reading","parent":"rug-europe","city":"Reading","country":"GB","remit":"R","coFounders":["bob","dave","erin"]}`)
	if st != 201 {
		t.Fatalf("apply: %d %v", st, m)
	}
	id := m["id"].(string)
	path := "/api/v1/applications/" + id
	answers := func(m map[string]any) string {
		var out []string
		for _, c := range m["coFounders"].([]any) {
			c := c.(map[string]any)
			out = append(out, fmt.Sprint(c["userName"], "=", c["answer"]))
		}
		return strings.Join(out, " ")
	}
	if got := answers(m); got != "bob=pending dave=pending erin=pending" {
		t.Errorf("after applying: %s", got)
	}
	// The co-founders see the request to answer, in the list too.
	if _, m := f.call(t, "dave-token", "GET", "/api/v1/applications", ""); len(items(m)) != 1 || items(m)[0]["myAnswer"] != "pending" {
		t.Errorf("dave's list: %v", m)
	}
	for _, c := range []struct {
		name, token, body string
		status            int
		want              string // the answers after, "" when refused
	}{
		{"bob accepts", "bob-token", `{"answer":"accepted"}`, 200, "bob=accepted dave=pending erin=pending"},
		{"erin accepts", "erin-token", `{"answer":"accepted"}`, 200, "bob=accepted dave=pending erin=accepted"},
		{"erin changes her mind", "erin-token", `{"answer":"declined"}`, 200, "bob=accepted dave=pending erin=declined"},
		{"the applicant is no co-founder", "carol-token", `{"answer":"accepted"}`, 403, ""},
		{"the reviewer cannot answer for them", "alice-token", `{"answer":"accepted"}`, 403, ""},
		{"an admin token cannot either", adminToken, `{"answer":"accepted"}`, 403, ""},
		{"a bad answer", "dave-token", `{"answer":"maybe"}`, 400, ""},
		{"no answer", "dave-token", `{}`, 400, ""},
		{"a stale version", "dave-token", `{"answer":"accepted","version":1}`, 412, ""},
		{"a co-founder who did not accept answers for the application", "dave-token", `{"text":"We meet on Mondays."}`, 403, ""},
		{"nor one who declined", "erin-token", `{"text":"We meet on Mondays."}`, 403, ""},
	} {
		before := f.lastSeq(t)
		method, at := "PUT", path+"/confirmation"
		if strings.Contains(c.body, `"text"`) {
			method, at = "POST", path+"/messages"
		}
		st, m := f.call(t, c.token, method, at, c.body)
		if st != c.status {
			t.Errorf("%s: %d %v, want %d", c.name, st, m, c.status)
			continue
		}
		if c.want == "" {
			if f.lastSeq(t) != before {
				t.Errorf("%s: a refused answer changed the store", c.name)
			}
			continue
		}
		if got := answers(m); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// The reviewer sees who confirmed.
	if _, m := f.call(t, "alice-token", "GET", path, ""); answers(m) != "bob=accepted dave=pending erin=declined" || m["reviewer"] != true || m["myAnswer"] != nil {
		t.Errorf("the reviewer's view: %s %v", answers(m), m)
	}
	if st, m := f.call(t, "alice-token", "PATCH", path, `{"status":"approved"}`); st != 200 {
		t.Fatalf("approve: %d %v", st, m)
	} else {
		gid := policy.GroupID(m["group"].(string))
		for u, want := range map[string]bool{"carol": true, "bob": true, "dave": false, "erin": false} {
			if got := f.eng.Check(policy.UserID(f.ids[u]), policy.PermMembersManage, gid); got != want {
				t.Errorf("%s organizer of the new group: %v, want %v", u, got, want)
			}
		}
		_, mem := f.call(t, adminToken, "GET", "/api/v1/groups/lug-reading/members", "")
		if ms, _ := mem["members"].([]any); len(ms) != 2 {
			t.Errorf("the new group's members: %v, want carol and bob", mem["members"])
		}
	}
	// Once decided, nobody answers any more.
	if st, m := f.call(t, "dave-token", "PUT", path+"/confirmation", `{"answer":"accepted"}`); st != 409 {
		t.Errorf("answer after the decision: %d %v", st, m)
	}
	// Audited: each answer a step, with who gave it; the co-founders were
	// asked by mail.
	var steps []string
	asked := false
	_ = f.st.View(context.Background(), func(tx store.Tx) error {
		cs, _ := tx.Audit(0, 0)
		for _, c := range cs {
			if c.ID == "application/"+id {
				var d struct {
					Step     string
					Accepted int
				}
				_ = json.Unmarshal(c.After, &d)
				steps = append(steps, fmt.Sprintf("%s(%d)", d.Step, d.Accepted))
				if strings.HasPrefix(d.Step, "co-founder") && !strings.Contains(c.Actor, f.ids["bob"]) && !strings.Contains(c.Actor, f.ids["erin"]) {
					t.Errorf("an answer audited under %q", c.Actor)
				}
			}
		}
		return tx.ScanRecords("mail", "job/", func(_ string, b []byte) error {
			if j := string(b); strings.Contains(j, "Will you co-found LUG Reading?") {
				asked = strings.Contains(j, f.ids["bob"]) && strings.Contains(j, f.ids["dave"]) && strings.Contains(j, f.ids["erin"])
			}
			return nil
		})
	})
	if want := "[applied(0) co-founder accepted(1) co-founder accepted(2) co-founder declined(1) approved(1)]"; fmt.Sprint(steps) != want {
		t.Errorf("audited steps %v, want %s", steps, want)
	}
	if !asked {
		t.Error("no mail asked each co-founder")
	}
}
