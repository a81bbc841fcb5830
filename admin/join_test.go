package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// joinEvents returns the actions of the membership-request audit entries
// after seq, in order.
func (f *fixture) joinEvents(t *testing.T, after uint64) []string {
	t.Helper()
	var out []string
	err := f.st.View(context.Background(), func(tx store.Tx) error {
		cs, err := tx.Audit(after, 0)
		for _, c := range cs {
			if c.Kind == policy.KindEvent && strings.HasPrefix(c.ID, "join/") {
				var ev joinEvent
				if err := jsonUnmarshal(c.After, &ev); err != nil {
					return err
				}
				out = append(out, ev.Action+" "+c.Actor)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMembershipRequests walks the three join policies with delegated
// tokens: bob joins an open group and leaves it, asks to join a
// request-only group, is approved by its organizer alice and becomes a
// member; carol is declined and may ask again; a closed group stays
// hidden; whoever may not decide is refused and nothing changes; every
// step is audited and shows in the group's audit trail.
func TestMembershipRequests(t *testing.T) {
	f := newFixture(t)
	bob, carol, alice := f.ids["bob"], f.ids["carol"], f.ids["alice"]
	for _, c := range []struct{ group, join string }{{"lug-paris", "open"}, {"lug-london", "request"}} {
		if st, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/"+c.group, `{"join":"`+c.join+`"}`); st != 200 || m["join"] != c.join {
			t.Fatalf("set join of %s: %d %v", c.group, st, m)
		}
	}
	start := f.lastSeq(t)

	// A bad policy is refused and changes nothing.
	if st, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-paris", `{"join":"maybe"}`); st != 400 || errCode(m) != "invalid" {
		t.Errorf("join maybe: %d %v", st, m)
	}
	// Bob, a member of nothing, sees the open and the request-only group only.
	_, m := f.call(t, "bob-token", "GET", "/api/v1/groups", "")
	var slugs []string
	for _, it := range m["items"].([]any) {
		slugs = append(slugs, it.(map[string]any)["slug"].(string))
	}
	if strings.Join(slugs, ",") != "lug-london,lug-paris" {
		t.Errorf("bob sees %v, want the joinable groups", slugs)
	}
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/isug/join", ""); st != 404 {
		t.Errorf("join a closed group bob cannot see: %d %v", st, m)
	}
	if st, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-paris/join", ""); st != 400 {
		t.Errorf("admin token joins: %d %v", st, m)
	}
	if f.lastSeq(t) != start {
		t.Fatal("refused requests changed something")
	}

	// Open: one call.
	st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-paris/join", "")
	if st != 200 || m["member"] != true || m["canLeave"] != true {
		t.Fatalf("join lug-paris: %d %v", st, m)
	}
	if !f.eng.Check(policy.UserID(bob), "group.read", policy.GroupID(f.ids["paris"])) {
		t.Error("bob joined lug-paris but may not read it")
	}
	if st, m := f.call(t, "bob-token", "GET", "/api/v1/groups/lug-paris/members", ""); st != 200 || !strings.Contains(str(m), bob) {
		t.Errorf("bob's members of lug-paris: %d %v", st, m)
	}
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-paris/leave", ""); st != 200 || m["member"] != false {
		t.Errorf("leave: %d %v", st, m)
	}
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-paris/leave", ""); st != 409 || errCode(m) != "not_joined" {
		t.Errorf("leave twice: %d %v", st, m)
	}

	// Request-only: joining directly is refused; asking is not.
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-london/join", ""); st != 403 || errCode(m) != "join_by_request" {
		t.Errorf("join a request-only group: %d %v", st, m)
	}
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-london/join-requests", `{"message":"I run our London office's cluster"}`); st != 201 || m["state"] != "pending" {
		t.Fatalf("ask: %d %v", st, m)
	}
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-london/join-requests", ""); st != 200 || m["state"] != "pending" {
		t.Errorf("ask again while pending: %d %v", st, m)
	}
	if st, m := f.call(t, "carol-token", "POST", "/api/v1/groups/lug-london/join-requests", ""); st != 201 {
		t.Fatalf("carol asks: %d %v", st, m)
	}
	// Each sees their own request; the organizer sees both.
	for tok, want := range map[string]int{"bob-token": 1, "carol-token": 1, "alice-token": 2} {
		if _, m := f.call(t, tok, "GET", "/api/v1/groups/lug-london/join-requests", ""); len(m["items"].([]any)) != want {
			t.Errorf("%s lists %v, want %d requests", tok, m["items"], want)
		}
	}
	// Neither bob nor carol may decide.
	before := f.lastSeq(t)
	if st, m := f.call(t, "carol-token", "POST", "/api/v1/groups/lug-london/join-requests/"+bob+"/approve", ""); st != 403 {
		t.Errorf("carol approves bob: %d %v", st, m)
	}
	if st, m := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-london/join-requests/"+bob+"/approve", ""); st != 403 {
		t.Errorf("bob approves himself: %d %v", st, m)
	}
	if f.lastSeq(t) != before {
		t.Fatal("refused decisions changed something")
	}
	// The organizer approves bob and declines carol.
	if st, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/join-requests/"+bob+"/approve", ""); st != 200 || m["state"] != "approved" || m["decidedBy"] != "user:vendor/"+alice {
		t.Fatalf("approve: %d %v", st, m)
	}
	if st, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/join-requests/"+bob+"/approve", ""); st != 409 {
		t.Errorf("approve twice: %d %v", st, m)
	}
	if st, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/join-requests/"+carol+"/decline", `{"reason":"for Acme's London staff, see Acme's group"}`); st != 200 || m["state"] != "declined" {
		t.Fatalf("decline: %d %v", st, m)
	}
	if !f.eng.Check(policy.UserID(bob), "group.read", policy.GroupID(f.ids["lug"])) {
		t.Error("bob was approved but is no member of lug-london")
	}
	if st, m := f.call(t, "bob-token", "GET", "/api/v1/groups/lug-london/join", ""); st != 200 || m["member"] != true || m["request"].(map[string]any)["state"] != "approved" {
		t.Errorf("bob's state: %d %v", st, m)
	}
	if _, m := f.call(t, "carol-token", "GET", "/api/v1/groups/lug-london/join", ""); m["member"] != false || m["request"].(map[string]any)["reason"] == "" {
		t.Errorf("carol's state: %v", m)
	}
	if st, _ := f.call(t, "carol-token", "POST", "/api/v1/groups/lug-london/join-requests", ""); st != 201 {
		t.Errorf("ask again after a decline: %d", st)
	}
	// Alice is an organizer through a directory group: nothing to leave.
	if st, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/leave", ""); st != 409 || !strings.Contains(str(m), "directory group") {
		t.Errorf("alice leaves: %d %v", st, m)
	}
	// Carol withdraws by leaving.
	if st, _ := f.call(t, "carol-token", "POST", "/api/v1/groups/lug-london/leave", ""); st != 200 {
		t.Errorf("carol withdraws: %d", st)
	}

	got := strings.Join(f.joinEvents(t, start), "\n")
	want := strings.Join([]string{
		"join user:vendor/" + bob, "leave user:vendor/" + bob,
		"ask user:vendor/" + bob, "ask user:acme/" + carol,
		"approve user:vendor/" + alice, "decline user:vendor/" + alice,
		"ask user:acme/" + carol, "withdraw user:acme/" + carol,
	}, "\n")
	if got != want {
		t.Errorf("audited:\n%s\nwant:\n%s", got, want)
	}
	// The organizer finds them in the group's audit trail.
	_, m = f.call(t, "alice-token", "GET", "/api/v1/groups/lug-london/audit?person="+bob, "")
	if s := str(m); !strings.Contains(s, `"join/`+f.ids["lug"]+"/"+bob) || !strings.Contains(s, `"approve"`) {
		t.Errorf("lug-london's audit for bob lacks the request: %v", s)
	}
	if st, _ := f.call(t, "bob-token", "GET", "/api/v1/groups/lug-london/audit", ""); st != http.StatusForbidden {
		t.Errorf("bob reads the audit: %d", st)
	}
}

// str is the JSON of v, for substring checks.
func str(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
