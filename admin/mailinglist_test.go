package admin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestCharteredThroughMailingList: lug-oslo's members (bob, carol) are not
// ISUG members (0%), but three of the four subscribers of its mailing list
// are (75%): chartered through the mailing list alone, which its organizer
// sets up with her delegated token. The change is audited as an event.
func TestCharteredThroughMailingList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go f.adm.WatchCharters(wctx, 5*time.Millisecond)
	// Three ISUG members with addresses, who are not in lug-oslo.
	err := f.st.Update(ctx, "test", func(tx store.Tx) error {
		for _, n := range []string{"dina", "ed", "fay"} {
			u, err := tx.CreateUser("vendor", policy.User{UserName: n, Active: true, Source: "local", Emails: []policy.Email{{Value: n + "@vendor.example"}}})
			if err != nil {
				return err
			}
			f.ids[n] = string(u.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, body string }{
		{"/api/v1/groups", `{"slug":"lug-oslo","name":"LUG Oslo","kind":"local","parent":"rug-europe"}`},
		{"/api/v1/groups/lug-oslo/memberships", `{"user":"` + f.ids["alice"] + `","role":"organizer"}`},
		{"/api/v1/groups/lug-oslo/memberships", `{"user":"` + f.ids["bob"] + `","role":"member"}`},
		{"/api/v1/groups/lug-oslo/memberships", `{"user":"` + f.ids["carol"] + `","role":"member"}`},
		{"/api/v1/groups/isug/memberships", `{"user":"` + f.ids["dina"] + `","role":"member"}`},
		{"/api/v1/groups/isug/memberships", `{"user":"` + f.ids["ed"] + `","role":"member"}`},
		{"/api/v1/groups/isug/memberships", `{"user":"` + f.ids["fay"] + `","role":"member"}`},
	} {
		if st, m := f.call(t, adminToken, "POST", c.path, c.body); st != 201 {
			t.Fatalf("%s: %d %v", c.path, st, m)
		}
	}
	if _, c := f.call(t, adminToken, "GET", "/api/v1/groups/lug-oslo/charter", ""); c["chartered"] != false {
		t.Fatalf("before the list: %v", c)
	}
	seq := f.lastSeq(t)
	// bob (a plain member) may not touch the list; alice (organizer) may.
	if st, _ := f.call(t, "bob-token", "PUT", "/api/v1/groups/lug-oslo/mailing-list", `{"addresses":[]}`); st != 403 {
		t.Errorf("a member sets the list: %d, want 403", st)
	}
	if st, m := f.call(t, "alice-token", "PUT", "/api/v1/groups/lug-oslo/mailing-list", `{"addresses":[{"address":"not an address"}]}`); st != 400 {
		t.Errorf("bad address: %d %v, want 400", st, m)
	}
	st, m := f.call(t, "alice-token", "PUT", "/api/v1/groups/lug-oslo/mailing-list", `{"addresses":[{"address":"Dina@vendor.example"},{"address":"someone@elsewhere.example"}]}`)
	if st != 200 || m["subscribers"] != 2.0 || m["subscribersInReference"] != 1.0 {
		t.Fatalf("put list: %d %v", st, m)
	}
	_, c := f.call(t, "alice-token", "GET", "/api/v1/groups/lug-oslo/charter", "")
	if c["chartered"] != false || c["subscriberRatio"] != 0.5 {
		t.Errorf("1 of 2 subscribers: %v", c)
	}
	st, m = f.call(t, "alice-token", "POST", "/api/v1/groups/lug-oslo/mailing-list/import", `{"addresses":"Ed <ed@vendor.example>, fay@vendor.example\ndina@vendor.example"}`)
	if st != 200 || m["subscribers"] != 4.0 || m["subscribersInReference"] != 3.0 {
		t.Fatalf("import: %d %v", st, m)
	}
	_, c = f.call(t, "alice-token", "GET", "/api/v1/groups/lug-oslo/charter", "")
	if c["chartered"] != true || c["basis"] != "mailing-list" || c["ratio"] != 0.0 || c["subscriberRatio"] != 0.75 || c["reference"] != "isug" || c["referenceKind"] != "international" {
		t.Errorf("chartered through the list: %v", c)
	}
	// The group's audit shows the change of status, once: recorded by
	// WatchCharters off the request path, so wait for it a little.
	count := func() []string {
		var events []string
		_, au := f.call(t, "alice-token", "GET", "/api/v1/groups/lug-oslo/audit?limit=1000", "")
		for _, it := range au["items"].([]any) {
			e := it.(map[string]any)
			if id, _ := e["id"].(string); strings.HasPrefix(id, "charter/") && e["seq"].(float64) > float64(seq) {
				events = append(events, str(e["after"]))
			}
		}
		return events
	}
	var events []string
	for deadline := time.Now().Add(10 * time.Second); len(events) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		events = count()
	}
	time.Sleep(100 * time.Millisecond) // a second event, if any, would show now
	events = count()
	if len(events) != 1 || !strings.Contains(events[0], `"basis":"mailing-list"`) || !strings.Contains(events[0], `"chartered":true`) {
		t.Errorf("charter events %v, want one: chartered by the mailing list", events)
	}
}
