package demo

// The demo's voice of the members: product feedback items (some open, one
// answered), one pending application to found a LUG near London (so the
// "is there a group already?" warning shows), a product team, and two years
// of analytics history.

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/roster-dev/roster/policy"
)

// RoleStorageTeam is the product team of "vendor storage": it triages the
// feedback on that product only, wherever it is held; hans holds it in
// SIG Security.
const RoleStorageTeam policy.RoleName = "storage-team"

// UserHans is hans (vendor, Engineering), of the storage product team.
const UserHans policy.UserID = "10000000-0000-4000-8000-000000000008"

// ApplicationCambridge is the pending application to found LUG Cambridge.
const ApplicationCambridge = "70000000-0000-4000-8000-000000000001"

// ProductTeamRoles returns the demo's product-team roles.
func ProductTeamRoles() []policy.Role {
	return []policy.Role{{Name: RoleStorageTeam, Description: "Product team of Vendor Storage: answers its feedback",
		Permissions: []policy.Permission{policy.PermFeedbackTriage}, Products: []string{"vendor storage"}}}
}

// Feedback returns the demo's product feedback: sent over the last weeks
// before now, most still open, one answered.
func Feedback(now time.Time) []policy.Feedback {
	at := func(days int) time.Time { return now.UTC().Truncate(time.Hour).AddDate(0, 0, -days) }
	u := func(n int) policy.UserID { return policy.UserID(id(kindUser, n)) }
	return []policy.Feedback{
		{ID: id(kindFeedback, 1), Product: "vendor storage", Category: policy.FeedbackIdea, Title: "Snapshots on a schedule",
			Body:  "We take storage snapshots by cron today. A schedule in the console would save us a script per array.",
			Group: GroupLUGLondon, Author: UserBob, Tenant: TenantAcme, Status: policy.FeedbackReceived, Created: at(3), Updated: at(3), Version: 1},
		{ID: id(kindFeedback, 2), Product: "vendor cloud", Category: policy.FeedbackProblem, Title: "Console times out on large projects",
			Body: "Listing a project with 4,000 volumes times out after 30 seconds.", Group: GroupLUGSydney, Author: UserTina, Tenant: TenantGlobex,
			ShowIdentity: true, Status: policy.FeedbackConsidering, Tags: []string{"performance"}, Created: at(9), Updated: at(5), Version: 2},
		{ID: id(kindFeedback, 3), Product: "vendor os", Category: policy.FeedbackQuestion, Title: "Is there an LTS for 7.x?",
			Body: "We plan upgrades two years ahead: will 7.x have a long-term support release?", Group: GroupLUGParis, Author: u(23), Tenant: TenantAcme,
			Status: policy.FeedbackAnswered, Answer: "Yes: 7.4 will be supported for five years from its release in spring.", AnsweredBy: "Victor Vance",
			Answered: at(10), Created: at(14), Updated: at(10), Version: 2},
		{ID: id(kindFeedback, 4), Product: "vendor storage", Category: policy.FeedbackPraise, Title: "Replication just works",
			Body: "Moved 80 TB across sites over a weekend without a single ticket. Thank you!", Group: GroupLUGBerlin, Author: UserPeter, Tenant: TenantVendor,
			Status: policy.FeedbackReceived, Created: at(1), Updated: at(1), Version: 1},
		{ID: id(kindFeedback, 5), Product: "vendor storage", Category: policy.FeedbackProblem, Title: "Quota alerts arrive late",
			Body: "Quota alerts reach us an hour after the volume is full.", Author: u(37), Tenant: TenantGlobex,
			Status: policy.FeedbackPlanned, Tags: []string{"alerts"}, Created: at(20), Updated: at(6), Version: 3},
	}
}

// Applications returns the demo's one pending application: bob (Acme)
// founding LUG Cambridge under RUG Europe, some 80 km from LUG London.
func Applications(now time.Time) []policy.Application {
	t := now.UTC().Truncate(time.Hour).AddDate(0, 0, -2)
	return []policy.Application{{
		ID: ApplicationCambridge, Name: "LUG Cambridge", Slug: "lug-cambridge", Parent: GroupRUGEurope,
		Location: policy.Location{City: "Cambridge", Country: "GB", Coordinates: &policy.Coordinates{Lat: 52.2053, Lon: 0.1218}},
		Remit:    "Evening meetings for the science park's storage and OS users, once a month.",
		Founder:  policy.Founder{Tenant: TenantAcme, User: UserBob, UserName: "bob@acme.example"},
		Status:   policy.ApplicationPending, Created: t, Updated: t, Version: 1,
	}}
}

// History returns two years (24 months up to now's) of analytics for
// groups: each group's own figures drawn from a random walk seeded by its
// id and seed (deterministic), rolled up the hierarchy month by month.
// Groups with none below them hold meetings; one whose id hashes to a
// multiple of 7 stops meeting a year ago, so the "no meeting in six
// months" table has rows.
func History(groups []policy.Group, now time.Time, seed uint64) []policy.GroupMonth {
	const months = 24
	first := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1-months, 0)
	parent := make(map[policy.GroupID]policy.GroupID, len(groups))
	created := make(map[policy.GroupID]time.Time, len(groups))
	series := make(map[policy.GroupID][]policy.GroupMonth, len(groups))
	parents := map[policy.GroupID]bool{}
	for _, g := range groups {
		parents[g.Parent] = true
	}
	for _, g := range groups {
		parent[g.ID] = g.Parent
		created[g.ID] = first.AddDate(0, -1, 0)
		series[g.ID] = groupHistory(g, !parents[g.ID], first, months, seed)
	}
	out := make([]policy.GroupMonth, 0, len(groups)*months)
	for i := range months {
		end := first.AddDate(0, i+1, 0)
		if end.After(now) {
			end = now
		}
		ms := make(map[policy.GroupID]*policy.GroupMonth, len(groups))
		for id, s := range series {
			ms[id] = &s[i]
		}
		policy.RollUp(ms, func(g policy.GroupID) policy.GroupID { return parent[g] }, func(g policy.GroupID) bool {
			return !parents[g] && policy.Dormant(ms[g].LastMeeting, created[g], end)
		})
		for _, g := range groups {
			out = append(out, *ms[g.ID])
		}
	}
	return out
}

// groupHistory draws one group's months; a leaf group (none below it)
// holds meetings.
func groupHistory(g policy.Group, leaf bool, first time.Time, months int, seed uint64) []policy.GroupMonth {
	h := fnv.New64a()
	h.Write([]byte(g.ID))
	sum := h.Sum64()
	rng := rand.New(rand.NewPCG(seed, sum))
	local := g.Kind == policy.GroupLocal
	members := 8 + rng.IntN(40)
	if !local {
		members = 30 + rng.IntN(200)
	}
	stopsAt := months + 1
	if leaf && sum%7 == 0 {
		stopsAt = months - 12
	}
	ratio := 0.4 + rng.Float64()*0.4
	sources := []string{"directory:vendor", "directory:acme", "directory:globex", "manual"}
	var last time.Time
	out := make([]policy.GroupMonth, months)
	for i := range months {
		start := first.AddDate(0, i, 0)
		var f policy.Figures
		for _, src := range sources {
			if n := rng.IntN(4); n > 0 {
				f.Joins = addTo(f.Joins, src, n)
				members += n
			}
			if n := rng.IntN(3); n > 0 && members > n {
				f.Leaves = addTo(f.Leaves, src, n)
				members -= n
			}
		}
		f.Members = members
		if leaf && i < stopsAt && rng.IntN(10) < 8 {
			f.MeetingsHeld = 1
			f.RSVPs = members/3 + rng.IntN(members/4+1)
			f.CheckIns = f.RSVPs * (60 + rng.IntN(35)) / 100
			f.Ratings = f.CheckIns / 2
			f.RatingSum = float64(f.Ratings) * (3.2 + rng.Float64()*1.6)
			last = start.AddDate(0, 0, 7+rng.IntN(14)).Add(18 * time.Hour)
		}
		if local {
			ratio = math.Min(1, math.Max(0.2, ratio+(rng.Float64()-0.48)*0.06))
			f.CharterGroups, f.CharterSum = 1, math.Round(ratio*1000)/1000
			if ratio >= 0.6 {
				f.Chartered = 1
			}
		}
		out[i] = policy.GroupMonth{Group: g.ID, Month: policy.MonthKey(start), LastDay: policy.DayKey(start.AddDate(0, 1, -1)), Own: f, LastMeeting: last}
	}
	return out
}

func addTo(m map[string]int, k string, n int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k] += n
	return m
}
