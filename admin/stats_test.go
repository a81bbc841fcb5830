package admin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestStatsSnapshotsAndRollUp: two days of a small world folded into
// months; joins and leaves by source, a meeting with its RSVPs,
// check-ins and ratings, and the subtree figures of the ISUG.
func TestStatsSnapshotsAndRollUp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	lug := policy.GroupID(f.ids["lug"])
	alice, bob, carol := policy.UserID(f.ids["alice"]), policy.UserID(f.ids["bob"]), policy.UserID(f.ids["carol"])
	day1 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	upd := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := f.st.Update(ctx, "test", fn); err != nil {
			t.Fatal(err)
		}
	}
	upd(func(tx store.Tx) error {
		_, err := tx.AddMembership(policy.Membership{User: bob, Group: lug, Role: "member", Origin: policy.OriginManual})
		return err
	})
	if n, err := f.adm.SnapshotStats(ctx, day1); err != nil || n != 4 {
		t.Fatalf("day 1: %d groups, %v", n, err)
	}
	// Day 2: bob leaves, carol joins by hand, a meeting is held with
	// two RSVPs, one check-in and two ratings.
	upd(func(tx store.Tx) error {
		if err := tx.RemoveMembership(lug, bob, "member"); err != nil {
			return err
		}
		if _, err := tx.AddMembership(policy.Membership{User: carol, Group: lug, Role: "member", Origin: policy.OriginManual}); err != nil {
			return err
		}
		g, err := tx.Group(lug)
		if err != nil {
			return err
		}
		start := time.Date(2026, 3, 11, 18, 30, 0, 0, time.UTC)
		g.Meetings = []policy.Meeting{{ID: "m1", Title: "March", Start: start, End: start.Add(2 * time.Hour)}, {ID: "m0", Title: "Off", Start: start, Cancelled: true}}
		if _, err := tx.UpdateGroup(g); err != nil {
			return err
		}
		for i, u := range []policy.UserID{alice, carol} {
			if err := jsonrec.Put(tx, nsRSVPs, policy.RSVPKey(lug, "m1", u), policy.RSVP{Group: lug, Meeting: "m1", User: u, Going: true}); err != nil {
				return err
			}
			if err := jsonrec.Put(tx, nsRatings, policy.RatingKey(lug, "m1", u), policy.Rating{Group: lug, Meeting: "m1", User: u, Overall: 4 + i}); err != nil {
				return err
			}
		}
		return jsonrec.Put(tx, nsCheckins, policy.RSVPKey(lug, "m1", alice), policy.CheckIn{User: alice})
	})
	if n, err := f.adm.SnapshotStats(ctx, day2); err != nil || n != 4 {
		t.Fatalf("day 2: %d groups, %v", n, err)
	}
	if n, err := f.adm.SnapshotStats(ctx, day2); err != nil || n != 0 {
		t.Fatalf("day 2 again: %d groups folded, %v", n, err)
	}

	f.adm.cfg.Now = func() time.Time { return day2 }
	st, m := f.call(t, adminToken, "GET", "/api/v1/stats/groups/lug-london", "")
	if st != 200 {
		t.Fatalf("%d %v", st, m)
	}
	months := m["months"].([]any)
	if len(months) != 1 {
		t.Fatalf("months %v", months)
	}
	own := months[0].(map[string]any)["own"].(map[string]any)
	want := map[string]string{"members": "2", "joins": "map[manual:1]", "leaves": "map[manual:1]", "meetingsHeld": "1", "rsvps": "2", "checkIns": "1", "ratingSum": "9", "ratings": "2"}
	for k, v := range want {
		if fmt.Sprint(own[k]) != v {
			t.Errorf("lug own %s = %v, want %s", k, own[k], v)
		}
	}
	_, m = f.call(t, adminToken, "GET", "/api/v1/stats/groups/isug", "")
	mo := m["months"].([]any)[0].(map[string]any)
	sub := mo["subtree"].(map[string]any)
	if fmt.Sprint(mo["groups"]) != "4" || fmt.Sprint(sub["meetingsHeld"]) != "1" || fmt.Sprint(sub["members"]) != "2" {
		t.Errorf("isug month %v", mo)
	}
	// Two years on, neither LUG has met for six months (the ISUG and the
	// RUG meet through them).
	f.adm.cfg.Now = func() time.Time { return day2 }
	if _, err := f.adm.SnapshotStats(ctx, day2.AddDate(2, 0, 0)); err != nil {
		t.Fatal(err)
	}
	f.adm.cfg.Now = func() time.Time { return day2.AddDate(2, 0, 0) }
	_, m = f.call(t, adminToken, "GET", "/api/v1/stats/groups/isug?months=25", "")
	if fmt.Sprint(m["dormantCount"]) != "2" || len(m["months"].([]any)) != 2 || len(m["children"].([]any)) != 1 {
		t.Errorf("two years on: dormant %v, %d months, children %v", m["dormantCount"], len(m["months"].([]any)), m["children"])
	}
}

// TestStatsWhoSees: stats.read on a group shows it; anyone else learns
// nothing; bad months are refused.
func TestStatsWhoSees(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	err := f.st.Update(ctx, "test", func(tx store.Tx) error {
		ro, err := tx.Role("organizer")
		if err != nil {
			return err
		}
		ro.Permissions = append(ro.Permissions, policy.PermStatsRead)
		_, err = tx.PutRole(ro)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.adm.SnapshotStats(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		token, path string
		status      int
	}{
		{"alice-token", "/api/v1/stats/groups/lug-london", 200},
		{"alice-token", "/api/v1/stats/groups/lug-paris", 404},
		{"alice-token", "/api/v1/stats/groups/isug", 404},
		{"carol-token", "/api/v1/stats/groups/lug-london", 404},
		{"bob-token", "/api/v1/stats/groups/lug-london", 404},
		{adminToken, "/api/v1/stats/groups/isug?months=0", 400},
		{adminToken, "/api/v1/stats/groups/isug?months=x", 400},
		{adminToken, "/api/v1/stats/groups/isug?dormant=501", 400},
		{adminToken, "/api/v1/stats/groups/isug?dormant=0", 200},
		{adminToken, "/api/v1/stats/groups/nope", 404},
	} {
		if st, m := f.call(t, c.token, "GET", c.path, ""); st != c.status {
			t.Errorf("%s %s: %d %v, want %d", c.token, c.path, st, m, c.status)
		}
	}
}

func TestStatsGroupsAndFeedbackOptions(t *testing.T) {
	f := feedbackFixture(t)
	_, m := f.call(t, adminToken, "GET", "/api/v1/stats/groups", "")
	if got := items(m); len(got) != 1 || got[0]["slug"] != "isug" {
		t.Errorf("admin sees %v", m)
	}
	if _, m = f.call(t, "carol-token", "GET", "/api/v1/stats/groups", ""); len(items(m)) != 0 {
		t.Errorf("carol sees %v", m)
	}
	_, m = f.call(t, "bob-token", "GET", "/api/v1/feedback/options", "")
	if fmt.Sprint(m["triage"]) != "[db]" || fmt.Sprint(m["products"]) != "[cloud db]" {
		t.Errorf("bob's options %v", m)
	}
	if _, m = f.call(t, "carol-token", "GET", "/api/v1/feedback/options", ""); fmt.Sprint(m["triage"]) != "[]" {
		t.Errorf("carol's options %v", m)
	}
}
