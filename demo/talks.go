package demo

import (
	"time"

	"github.com/roster-dev/roster/policy"
)

// Id kinds of meeting activity.
const (
	kindTalk  = 6
	kindTopic = 7
)

// Meetings of the demo world that have talks and feedback: the past and
// the next meetup of LUG London and the past one of LUG Paris (see
// World: the k-th meeting of group n has id(kindMeeting, n*10+k+1)).
var (
	MeetingLondonPast = id(kindMeeting, 111)
	MeetingLondonNext = id(kindMeeting, 112)
	MeetingParisPast  = id(kindMeeting, 121)
)

func speaker(n int, tenant policy.TenantID, name string) policy.Speaker {
	return policy.Speaker{User: policy.UserID(id(kindUser, n)), Tenant: tenant, Name: name}
}

// Activity returns what happened around the demo world's meetings for
// World(now): LUG London's past meetup had two talks (one by an Acme
// speaker with a Vendor co-speaker), RSVPs, check-ins and ratings, and
// its feedback form is still open (30 days) for Bob, who went and spoke
// but has not rated it; its next meetup has an open call for talks with one
// proposal waiting for review and topics with votes. LUG Paris's past
// meetup has a talk and ratings from two companies.
func Activity(now time.Time) policy.MeetingActivity {
	day := time.Date(now.Year(), now.Month(), now.Day(), 18, 0, 0, 0, time.UTC)
	london, paris := policy.GroupID(id(kindGroup, 11)), policy.GroupID(id(kindGroup, 12))
	londonPast := day.AddDate(0, 0, -28+11%7)
	londonNext := day.AddDate(0, 0, 7+11%14)
	parisPast := day.AddDate(0, 0, -28+12%7)
	v, a, g := TenantVendor, TenantAcme, TenantGlobex
	bob, laura := speaker(21, a, "Bob Baker"), speaker(31, a, "Laura Lewis")
	charlotte, daniel := speaker(3, v, "Charlotte Clarke"), speaker(4, v, "Daniel Davies")
	carol := speaker(22, a, "Carol Carter")
	talk := func(n int, g policy.GroupID, m string, sp policy.Speaker, co []policy.Speaker, title, abstract, format string, minutes int, st policy.TalkStatus, order int, proposed time.Time) policy.Talk {
		t := policy.Talk{ID: id(kindTalk, n), Group: g, Meeting: m, Speaker: sp, Co: co, Title: title, Abstract: abstract,
			Format: format, Minutes: minutes, Status: st, Order: order, Proposed: proposed}
		if st != policy.TalkProposed {
			t.Decided = proposed.AddDate(0, 0, 2)
		}
		return t
	}
	var out policy.MeetingActivity
	out.Programs = []policy.Program{
		{Group: london, Meeting: MeetingLondonPast, FeedbackDays: 30, Updated: londonPast.AddDate(0, 0, -30)},
		{Group: london, Meeting: MeetingLondonNext, CallOpen: true, Deadline: londonNext.AddDate(0, 0, -2), Updated: londonNext.AddDate(0, 0, -20)},
		{Group: paris, Meeting: MeetingParisPast, FeedbackDays: 14, Updated: parisPast.AddDate(0, 0, -30)},
	}
	out.Talks = []policy.Talk{
		talk(1, london, MeetingLondonPast, bob, []policy.Speaker{charlotte}, "Automating storage with Ansible",
			"How Acme provisions Vendor storage for 300 teams, and what Support learnt from the tickets.", "talk", 30, policy.TalkAccepted, 0, londonPast.AddDate(0, 0, -21)),
		talk(2, london, MeetingLondonPast, laura, nil, "Five lessons from a migration",
			"Moving 40 TB without a weekend outage.", "lightning", 5, policy.TalkAccepted, 1, londonPast.AddDate(0, 0, -18)),
		talk(3, london, MeetingLondonPast, daniel, nil, "Consulting war stories",
			"The strangest installations we have seen.", "talk", 30, policy.TalkDeclined, 0, londonPast.AddDate(0, 0, -17)),
		talk(4, london, MeetingLondonNext, laura, nil, "Observability for storage arrays",
			"Metrics that matter, and the ones that only make noise.", "talk", 30, policy.TalkProposed, 0, londonNext.AddDate(0, 0, -10)),
		talk(5, paris, MeetingParisPast, carol, nil, "Vendor OS en production",
			"Retour d'expérience d'Acme Paris.", "talk", 30, policy.TalkAccepted, 0, parisPast.AddDate(0, 0, -20)),
	}
	out.Topics = []policy.Topic{
		{ID: id(kindTopic, 1), Group: london, Meeting: MeetingLondonNext, Title: "Backup strategies that survive ransomware", Author: charlotte.User,
			Voters: []policy.UserID{charlotte.User, daniel.User, bob.User}, Created: londonNext.AddDate(0, 0, -15)},
		{ID: id(kindTopic, 2), Group: london, Meeting: MeetingLondonNext, Title: "Kubernetes on premises", Author: laura.User,
			Voters: []policy.UserID{laura.User}, Created: londonNext.AddDate(0, 0, -14)},
	}
	rsvp := func(gr policy.GroupID, m string, sp policy.Speaker, at time.Time) policy.RSVP {
		return policy.RSVP{Group: gr, Meeting: m, User: sp.User, Tenant: sp.Tenant, Going: true, Updated: at.AddDate(0, 0, -5)}
	}
	wendy := speaker(42, g, "Wendy Laurent")
	dave := speaker(23, a, "Dave Dupont")
	for _, sp := range []policy.Speaker{bob, laura, charlotte, daniel} {
		out.RSVPs = append(out.RSVPs, rsvp(london, MeetingLondonPast, sp, londonPast))
	}
	for _, sp := range []policy.Speaker{charlotte, bob} {
		out.RSVPs = append(out.RSVPs, rsvp(london, MeetingLondonNext, sp, londonNext))
	}
	for _, sp := range []policy.Speaker{carol, dave, wendy} {
		out.RSVPs = append(out.RSVPs, rsvp(paris, MeetingParisPast, sp, parisPast))
	}
	for _, sp := range []policy.Speaker{bob, laura, charlotte} {
		out.CheckIns = append(out.CheckIns, policy.CheckIn{Group: london, Meeting: MeetingLondonPast, User: sp.User, Tenant: sp.Tenant,
			At: londonPast.Add(10 * time.Minute), By: "user:vendor/" + id(kindUser, 1)})
	}
	rated := londonPast.Add(26 * time.Hour)
	t1, t2 := id(kindTalk, 1), id(kindTalk, 2)
	out.Ratings = []policy.Rating{
		{Group: london, Meeting: MeetingLondonPast, User: daniel.User, Tenant: v, Overall: 4, Talks: map[string]int{t1: 4, t2: 5}, Updated: rated},
		{Group: london, Meeting: MeetingLondonPast, User: laura.User, Tenant: a, Overall: 5, Talks: map[string]int{t1: 5}, Comment: "Great venue, and the pizza arrived on time.", Updated: rated},
		{Group: london, Meeting: MeetingLondonPast, User: charlotte.User, Tenant: v, Overall: 3, Talks: map[string]int{t2: 3}, Comment: "The room was too small for 30 people.", Updated: rated},
		{Group: paris, Meeting: MeetingParisPast, User: dave.User, Tenant: a, Overall: 4, Talks: map[string]int{id(kindTalk, 5): 4}, Updated: parisPast.Add(20 * time.Hour)},
		{Group: paris, Meeting: MeetingParisPast, User: wendy.User, Tenant: g, Overall: 5, Talks: map[string]int{id(kindTalk, 5): 5}, Comment: "Très bien.", Updated: parisPast.Add(22 * time.Hour)},
	}
	return out
}
