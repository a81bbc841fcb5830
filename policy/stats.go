package policy

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Figures are what one group (or the groups of a subtree, summed) did in
// one period: members at the end of it, joins and leaves by source,
// meetings held, RSVPs (going) versus check-ins at those meetings,
// meeting ratings, and the charter ratio.
type Figures struct {
	// Members is the number of distinct effective members at the last
	// snapshot of the period (summed over a subtree: memberships).
	Members int `json:"members"`
	// Joins and Leaves count members who came and went, by source
	// ("manual", "directory:<tenant>", "inherited").
	Joins  map[string]int `json:"joins,omitempty"`
	Leaves map[string]int `json:"leaves,omitempty"`
	// MeetingsHeld counts occurrences that started in the period.
	MeetingsHeld int `json:"meetingsHeld"`
	RSVPs        int `json:"rsvps"`
	CheckIns     int `json:"checkIns"`
	// RatingSum / Ratings is the mean overall rating (1–5) members gave
	// the meetings held.
	RatingSum float64 `json:"ratingSum"`
	Ratings   int     `json:"ratings"`
	// CharterSum / CharterGroups is the mean charter ratio of the groups
	// the charter rule applies to; Chartered counts those at or above
	// the threshold.
	CharterSum    float64 `json:"charterSum"`
	CharterGroups int     `json:"charterGroups"`
	Chartered     int     `json:"chartered"`
}

// Rating is the mean rating, or 0 without ratings.
func (f Figures) Rating() float64 {
	if f.Ratings == 0 {
		return 0
	}
	return f.RatingSum / float64(f.Ratings)
}

// CharterRatio is the mean charter ratio, or 0 when the rule applies to
// no group.
func (f Figures) CharterRatio() float64 {
	if f.CharterGroups == 0 {
		return 0
	}
	return f.CharterSum / float64(f.CharterGroups)
}

// JoinsTotal and LeavesTotal sum joins and leaves over their sources.
func (f Figures) JoinsTotal() int  { return sumValues(f.Joins) }
func (f Figures) LeavesTotal() int { return sumValues(f.Leaves) }

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Add adds o to f: counts add up, Members too (a subtree's memberships).
func (f *Figures) Add(o Figures) {
	f.Members += o.Members
	f.Joins = addCounts(f.Joins, o.Joins)
	f.Leaves = addCounts(f.Leaves, o.Leaves)
	f.MeetingsHeld += o.MeetingsHeld
	f.RSVPs += o.RSVPs
	f.CheckIns += o.CheckIns
	f.RatingSum += o.RatingSum
	f.Ratings += o.Ratings
	f.CharterSum += o.CharterSum
	f.CharterGroups += o.CharterGroups
	f.Chartered += o.Chartered
}

// AddDay folds one day's figures d into the period f: counts add up,
// while Members and the charter figures are the latest day's.
func (f *Figures) AddDay(d Figures) {
	members, cs, cg, ch := d.Members, d.CharterSum, d.CharterGroups, d.Chartered
	f.Add(d)
	f.Members, f.CharterSum, f.CharterGroups, f.Chartered = members, cs, cg, ch
}

func addCounts(a, b map[string]int) map[string]int {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = make(map[string]int, len(b))
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// Sources returns the sources that appear in joins or leaves of any of
// figs, sorted.
func Sources(figs ...Figures) []string {
	set := map[string]bool{}
	for _, f := range figs {
		for k := range f.Joins {
			set[k] = true
		}
		for k := range f.Leaves {
			set[k] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// MemberSources maps each member to the source of their membership.
type MemberSources map[UserID]string

// MemberChanges compares yesterday's members with today's: joins are
// counted by today's source, leaves by the source they had.
func MemberChanges(before, after MemberSources) (joins, leaves map[string]int) {
	for u, src := range after {
		if _, ok := before[u]; !ok {
			joins = addCounts(joins, map[string]int{src: 1})
		}
	}
	for u, src := range before {
		if _, ok := after[u]; !ok {
			leaves = addCounts(leaves, map[string]int{src: 1})
		}
	}
	return joins, leaves
}

// SourceOf names where a membership comes from, given its origins and the
// tenant of a rule: "manual" for a manual one, "directory:<tenant>" for a
// rule's, "inherited" otherwise. A manual origin wins.
func SourceOf(origins []Origin, ruleTenant func(RuleID) TenantID) string {
	src := "inherited"
	for _, o := range origins {
		if o == OriginManual {
			return "manual"
		}
		if id, ok := strings.CutPrefix(string(o), "rule:"); ok {
			if t := ruleTenant(RuleID(id)); t != "" {
				src = "directory:" + string(t)
			}
		}
	}
	return src
}

// MeetingsOn returns the occurrences of ms that start in [from, to),
// cancelled meetings left out.
func MeetingsOn(ms []Meeting, from, to time.Time) []time.Time {
	var out []time.Time
	for _, m := range ms {
		if m.Cancelled {
			continue
		}
		for _, t := range m.Occurrences(from, to, 0) {
			if !t.Before(from) {
				out = append(out, t)
			}
		}
	}
	return out
}

// LastMeeting returns the start of the latest occurrence of ms before now
// (cancelled meetings left out), or zero.
func LastMeeting(ms []Meeting, now time.Time) time.Time {
	var last time.Time
	for _, m := range ms {
		if m.Cancelled || !m.Start.Before(now) {
			continue
		}
		t := m.Start
		if m.RRule != "" {
			occ := m.Occurrences(now.AddDate(-1, 0, 0), now, MaxOccurrences)
			if len(occ) > 0 {
				t = occ[len(occ)-1]
			}
		}
		if t.Before(now) && t.After(last) {
			last = t
		}
	}
	return last
}

// DormantAfter is how long a group may go without a meeting before the
// analytics list it as dormant.
const DormantAfter = 6 * 30 * 24 * time.Hour

// GroupMonth is one group's figures for one calendar month (UTC): its
// own, and those of its subtree (itself and every group below it).
type GroupMonth struct {
	Group GroupID `json:"group"`
	// Month is "2006-01".
	Month string `json:"month"`
	// LastDay is the last day ("2006-01-02") folded in; a day is folded
	// once.
	LastDay string  `json:"lastDay"`
	Own     Figures `json:"own"`
	Subtree Figures `json:"subtree"`
	// Groups counts the live groups of the subtree; Dormant names those
	// of them without a meeting for DormantAfter (at most MaxDormant),
	// DormantCount counts them all.
	Groups       int            `json:"groups"`
	Dormant      []DormantGroup `json:"dormant,omitempty"`
	DormantCount int            `json:"dormantCount"`
	// LastMeeting is the group's own latest meeting so far.
	LastMeeting time.Time `json:"lastMeeting,omitzero"`
}

// DormantGroup is a group without a meeting for DormantAfter, and its
// last meeting (zero: none).
type DormantGroup struct {
	Group       GroupID   `json:"group"`
	LastMeeting time.Time `json:"lastMeeting,omitzero"`
}

// MaxDormant bounds the dormant groups a GroupMonth names.
const MaxDormant = 500

// MonthKey returns the month of t in UTC, "2006-01".
func MonthKey(t time.Time) string { return t.UTC().Format("2006-01") }

// DayKey returns the day of t in UTC, "2006-01-02".
func DayKey(t time.Time) string { return t.UTC().Format("2006-01-02") }

// Dormant reports whether a group whose last meeting was last (zero:
// never) and that exists since created is dormant at now.
func Dormant(last, created, now time.Time) bool {
	if last.IsZero() {
		last = created
	}
	return now.Sub(last) > DormantAfter
}

// RollUp computes the subtree figures of every group of months (one
// month, Own figures filled) bottom-up along parent, and the dormant
// groups of each subtree. isDormant says whether a group is dormant.
func RollUp(months map[GroupID]*GroupMonth, parent func(GroupID) GroupID, isDormant func(GroupID) bool) {
	for _, m := range months {
		m.Subtree, m.Groups, m.Dormant, m.DormantCount = Figures{}, 0, nil, 0
	}
	for _, id := range slices.Sorted(maps.Keys(months)) {
		m := months[id]
		dormant := isDormant(id)
		for g, depth := id, 0; g != "" && depth < 64; g, depth = parent(g), depth+1 {
			up, ok := months[g]
			if !ok {
				break
			}
			up.Subtree.Add(m.Own)
			up.Groups++
			if dormant {
				up.DormantCount++
				if len(up.Dormant) < MaxDormant {
					up.Dormant = append(up.Dormant, DormantGroup{Group: id, LastMeeting: m.LastMeeting})
				}
			}
		}
	}
}
