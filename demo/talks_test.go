package demo_test

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/policy"
)

// TestActivityFitsTheWorld: every talk, topic, RSVP, check-in and rating
// of the demo is about a meeting of its group and a user of its tenant;
// ratings are of meetings that are over and rate talks on their agenda,
// never the rater's own;
// the programs and topics pass validation; London's past feedback form
// is open now and the next meetup takes proposals.
func TestActivityFitsTheWorld(t *testing.T) {
	now := time.Date(2031, 3, 5, 10, 0, 0, 0, time.UTC)
	w := demo.World(now)
	a := demo.Activity(now)
	meetings := map[string]policy.Meeting{}
	for _, g := range w.Groups {
		for _, m := range g.Meetings {
			meetings[string(g.ID)+"/"+m.ID] = m
		}
	}
	users := map[policy.UserID]policy.TenantID{}
	for _, u := range w.Users {
		users[u.ID] = u.Tenant
	}
	meeting := func(g policy.GroupID, id string) policy.Meeting {
		t.Helper()
		m, ok := meetings[string(g)+"/"+id]
		if !ok {
			t.Fatalf("no meeting %s in group %s", id, g)
		}
		return m
	}
	user := func(u policy.UserID, tn policy.TenantID) {
		t.Helper()
		if users[u] != tn {
			t.Errorf("user %s is not of tenant %s", u, tn)
		}
	}
	programs := map[string]policy.Program{}
	for _, p := range a.Programs {
		meeting(p.Group, p.Meeting)
		if err := policy.ValidateProgram(p); err != nil {
			t.Error(err)
		}
		programs[p.Meeting] = p
	}
	var talks []policy.Talk
	for _, tk := range a.Talks {
		meeting(tk.Group, tk.Meeting)
		user(tk.Speaker.User, tk.Speaker.Tenant)
		if err := policy.ValidateTalk(tk, programs[tk.Meeting]); err != nil {
			t.Errorf("talk %s: %v", tk.Title, err)
		}
		talks = append(talks, tk)
	}
	for _, tp := range a.Topics {
		meeting(tp.Group, tp.Meeting)
		if err := policy.ValidateTopic(tp); err != nil {
			t.Error(err)
		}
	}
	for _, r := range a.RSVPs {
		meeting(r.Group, r.Meeting)
		user(r.User, r.Tenant)
	}
	for _, c := range a.CheckIns {
		meeting(c.Group, c.Meeting)
		user(c.User, c.Tenant)
	}
	for _, r := range a.Ratings {
		m := meeting(r.Group, r.Meeting)
		user(r.User, r.Tenant)
		if !m.End.Before(r.Updated) {
			t.Errorf("a rating of %s before it ended", m.Title)
		}
		// The talks of the meeting's agenda the rater did not give.
		var agenda []string
		for _, it := range policy.Agenda(m.Start, talks) {
			for _, tk := range talks {
				if tk.ID == it.Talk && tk.Meeting == m.ID && !tk.Speaks(r.User) {
					agenda = append(agenda, it.Talk)
				}
			}
		}
		if err := policy.ValidateRating(r, agenda); err != nil {
			t.Errorf("rating of %s by %s: %v", m.Title, r.User, err)
		}
	}
	var london policy.GroupID
	for _, g := range w.Groups {
		if g.Slug == "lug-london" {
			london = g.ID
		}
	}
	past := meeting(london, demo.MeetingLondonPast)
	if from, to, ok := programs[demo.MeetingLondonPast].FeedbackWindow(past, now); !ok || now.Before(from) || !now.Before(to) {
		t.Errorf("London's past feedback form is not open now: %v %v %v", from, to, ok)
	}
	next := meeting(london, demo.MeetingLondonNext)
	if !programs[demo.MeetingLondonNext].Accepting(next, now) {
		t.Error("London's next meetup takes no proposals")
	}
}
