package admin

// How the groups are doing: a daily snapshot folds each group's day into
// its month (policy.GroupMonth: members, joins and leaves by source,
// meetings held, RSVPs and check-ins, ratings, charter ratio) and rolls the
// months up the hierarchy, so the analytics of a LUG, a region or the whole
// ISUG read at most a few dozen records whatever the size of the world.
//
// Records:
//
//	stats/<group>/<2006-01>   policy.GroupMonth
//	stats-members/<group>     policy.MemberSources at the last snapshot (to count joins and leaves)
//
//	GET /api/v1/stats/groups                    the top-most groups whose analytics the caller sees
//	GET /api/v1/stats/groups/{group}?months=24&dormant=100   the figures behind the charts (stats.read)
//
// The vendor's community team (stats.read on the ISUG, flowing down) sees
// every group; organizers (stats.read in their group) see their own.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Record namespaces of the analytics.
const (
	nsStats        = "stats"
	nsStatsMembers = "stats-members"
)

// statsBatch is how many groups one snapshot transaction folds.
const statsBatch = 500

func (s *Server) statsRoutes() {
	s.handle("GET /api/v1/stats/groups", s.statsGroups)
	s.handle("GET /api/v1/stats/groups/{group}", s.groupStats)
}

// StatsKey returns the record key of group g's figures for month
// ("2006-01").
func StatsKey(g policy.GroupID, month string) string { return string(g) + "/" + month }

// SnapshotStats folds the UTC day of day into every live group's month:
// today's members (compared with the last snapshot's for joins and
// leaves), the meetings that started that day with their RSVPs, check-ins
// and ratings, the charter ratio; then rolls the month up the hierarchy.
// A day already folded for a group is left as it is, so running it twice
// counts nothing twice (nor rolls up again). It returns how many groups
// it folded the day into.
func (s *Server) SnapshotStats(ctx context.Context, day time.Time) (int, error) {
	from := time.Date(day.UTC().Year(), day.UTC().Month(), day.UTC().Day(), 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 1)
	dayKey, month := policy.DayKey(from), policy.MonthKey(from)
	var groups []policy.Group
	ruleTenant := map[policy.RuleID]policy.TenantID{}
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if groups, err = tx.Groups(); err != nil {
			return err
		}
		rules, err := tx.Rules()
		for _, r := range rules {
			ruleTenant[r.ID] = r.Tenant
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	groups = slices.DeleteFunc(groups, func(g policy.Group) bool { return g.Archived })
	folded := 0
	for chunk := range slices.Chunk(groups, statsBatch) {
		n := 0
		err := s.cfg.Store.Update(ctx, "stats", func(tx store.Tx) error {
			n = 0
			for _, g := range chunk {
				done, err := s.foldDay(tx, g, from, to, dayKey, month, ruleTenant)
				if err != nil {
					return err
				}
				if done {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return folded, err
		}
		folded += n
	}
	if folded == 0 {
		return 0, nil
	}
	return folded, s.rollUpStats(ctx, groups, month, to)
}

// WatchStats folds yesterday (UTC) into the analytics now and then every
// interval until ctx is done; a day already folded costs a read of each
// group's month. cmd runs it on one replica.
func (s *Server) WatchStats(ctx context.Context, every time.Duration) {
	for {
		day := s.cfg.Now().UTC().AddDate(0, 0, -1)
		n, err := s.SnapshotStats(ctx, day)
		switch {
		case err != nil && ctx.Err() == nil:
			s.cfg.Logger.Error("stats snapshot failed", "day", policy.DayKey(day), "err", err)
		case n > 0:
			s.cfg.Logger.Info("stats snapshot", "day", policy.DayKey(day), "groups", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// foldDay folds one group's day into its month; false when that day was
// folded already.
func (s *Server) foldDay(tx store.Tx, g policy.Group, from, to time.Time, dayKey, month string, ruleTenant map[policy.RuleID]policy.TenantID) (bool, error) {
	gm := policy.GroupMonth{Group: g.ID, Month: month}
	if err := jsonrec.Get(tx, nsStats, StatsKey(g.ID, month), &gm); err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if gm.LastDay >= dayKey {
		return false, nil
	}
	var d policy.Figures
	cur := policy.MemberSources{}
	for _, m := range s.cfg.Engine.Members(g.ID) {
		src := policy.SourceOf(m.Origins, func(id policy.RuleID) policy.TenantID { return ruleTenant[id] })
		if old, ok := cur[m.User]; !ok || src == "manual" && old != "manual" {
			cur[m.User] = src
		}
	}
	d.Members = len(cur)
	var prev policy.MemberSources
	err := jsonrec.Get(tx, nsStatsMembers, string(g.ID), &prev)
	switch {
	case err == nil:
		d.Joins, d.Leaves = policy.MemberChanges(prev, cur)
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	if err := jsonrec.Put(tx, nsStatsMembers, string(g.ID), cur); err != nil {
		return false, err
	}
	for _, m := range g.Meetings {
		if m.Cancelled {
			continue
		}
		for _, at := range m.Occurrences(from, to, 0) {
			if at.Before(from) {
				continue
			}
			d.MeetingsHeld++
			f, err := MeetingFigures(tx, g.ID, m.ID)
			if err != nil {
				return false, err
			}
			d.RSVPs += f.Going
			d.CheckIns += f.CheckIns
			d.RatingSum += f.Ratings.Mean * float64(f.Ratings.Count)
			d.Ratings += f.Ratings.Count
		}
	}
	if c := s.cfg.Engine.Charter(g.ID); c.Applies {
		d.CharterGroups, d.CharterSum = 1, c.Ratio
		if c.Chartered {
			d.Chartered = 1
		}
	}
	gm.Own.AddDay(d)
	gm.LastDay = dayKey
	if last := policy.LastMeeting(g.Meetings, to); last.After(gm.LastMeeting) {
		gm.LastMeeting = last
	}
	return true, jsonrec.Put(tx, nsStats, StatsKey(g.ID, month), gm)
}

// rollUpStats recomputes the subtree figures of month for every group.
func (s *Server) rollUpStats(ctx context.Context, groups []policy.Group, month string, now time.Time) error {
	parent := make(map[policy.GroupID]policy.GroupID, len(groups))
	created := make(map[policy.GroupID]time.Time, len(groups))
	parents := map[policy.GroupID]bool{}
	for _, g := range groups {
		parent[g.ID], created[g.ID] = g.Parent, g.Created
		parents[g.Parent] = true
	}
	return s.cfg.Store.Update(ctx, "stats", func(tx store.Tx) error {
		months := make(map[policy.GroupID]*policy.GroupMonth, len(groups))
		for _, g := range groups {
			gm := &policy.GroupMonth{Group: g.ID, Month: month}
			if err := jsonrec.Get(tx, nsStats, StatsKey(g.ID, month), gm); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			months[g.ID] = gm
		}
		// Groups with groups below them (regions, the ISUG) meet through
		// those: only the others can be dormant.
		policy.RollUp(months, func(g policy.GroupID) policy.GroupID { return parent[g] }, func(g policy.GroupID) bool {
			return !parents[g] && policy.Dormant(months[g].LastMeeting, created[g], now)
		})
		for id, gm := range months {
			if err := jsonrec.Put(tx, nsStats, StatsKey(id, month), gm); err != nil {
				return err
			}
		}
		return nil
	})
}

// groupRef names a group in the analytics.
type groupRef struct {
	ID          policy.GroupID `json:"id"`
	Slug        string         `json:"slug"`
	Name        string         `json:"name"`
	LastMeeting time.Time      `json:"lastMeeting,omitzero"`
}

// childStats is one row of the "groups below" table: the child's subtree
// figures in the latest month.
type childStats struct {
	groupRef
	Month   string         `json:"month"`
	Figures policy.Figures `json:"figures"`
	Groups  int            `json:"groups"`
}

// groupStatsView is the answer of GET /api/v1/stats/groups/{group}.
type groupStatsView struct {
	Group groupRef `json:"group"`
	// Months are the group's months, oldest first; Dormant the groups of
	// its subtree without a meeting for six months (latest month);
	// Children the groups right below it.
	Months       []policy.GroupMonth `json:"months"`
	Dormant      []groupRef          `json:"dormant"`
	DormantCount int                 `json:"dormantCount"`
	Children     []childStats        `json:"children"`
}

// MaxStatsMonths bounds ?months=.
const MaxStatsMonths = 120

// DefaultDormantListed is how many dormant groups the analytics name
// unless ?dormant= asks for more (up to policy.MaxDormant); dormantCount
// counts them all.
const DefaultDormantListed = 100

// groupStats answers GET /api/v1/stats/groups/{group}?months=24&dormant=100.
func (s *Server) groupStats(w http.ResponseWriter, r *http.Request, p principal) {
	n := 24
	if v := r.URL.Query().Get("months"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > MaxStatsMonths {
			writeErr(w, &policy.FieldError{Field: "months", Message: "a whole number of months from 1 to " + strconv.Itoa(MaxStatsMonths)})
			return
		}
	}
	dormant := DefaultDormantListed
	if v := r.URL.Query().Get("dormant"); v != "" {
		var err error
		if dormant, err = strconv.Atoi(v); err != nil || dormant < 0 || dormant > policy.MaxDormant {
			writeErr(w, &policy.FieldError{Field: "dormant", Message: "a whole number of groups from 0 to " + strconv.Itoa(policy.MaxDormant)})
			return
		}
	}
	g, ok := s.withGroup(w, r, p, policy.PermStatsRead)
	if !ok {
		return
	}
	first := policy.MonthKey(s.cfg.Now().UTC().AddDate(0, 1-n, 0))
	read(s, w, r, func(tx store.Tx) (groupStatsView, error) {
		v := groupStatsView{Group: groupRef{ID: g.ID, Slug: g.Slug, Name: g.Name}, Months: []policy.GroupMonth{}, Dormant: []groupRef{}, Children: []childStats{}}
		err := tx.ScanRecords(nsStats, string(g.ID)+"/", func(k string, b []byte) error {
			if k[len(g.ID)+1:] < first {
				return nil
			}
			var gm policy.GroupMonth
			if err := json.Unmarshal(b, &gm); err != nil {
				return err
			}
			if len(v.Months) > 0 {
				v.Months[len(v.Months)-1].Dormant = nil
			}
			v.Months = append(v.Months, gm)
			return nil
		})
		if err != nil || len(v.Months) == 0 {
			return v, err
		}
		latest := &v.Months[len(v.Months)-1]
		v.Group.LastMeeting, v.DormantCount = latest.LastMeeting, latest.DormantCount
		for _, dg := range latest.Dormant[:min(len(latest.Dormant), dormant)] {
			if d, err := tx.Group(dg.Group); err == nil {
				v.Dormant = append(v.Dormant, groupRef{ID: d.ID, Slug: d.Slug, Name: d.Name, LastMeeting: dg.LastMeeting})
			}
		}
		latest.Dormant = nil
		for _, c := range s.cfg.Engine.Children(g.ID) {
			cg, err := tx.Group(c)
			if err != nil || cg.Archived {
				continue
			}
			var gm policy.GroupMonth
			if err := jsonrec.Get(tx, nsStats, StatsKey(c, latest.Month), &gm); err != nil && !errors.Is(err, store.ErrNotFound) {
				return v, err
			}
			v.Children = append(v.Children, childStats{groupRef: groupRef{ID: c, Slug: cg.Slug, Name: cg.Name, LastMeeting: gm.LastMeeting}, Month: latest.Month, Figures: gm.Subtree, Groups: gm.Groups})
		}
		slices.SortFunc(v.Children, func(a, b childStats) int { return strings.Compare(a.Name, b.Name) })
		return v, nil
	})
}

// PutStatsMonths writes months as the snapshot job would have (subtree
// figures included), for seeding a store with history (the demo, the
// benchmark).
func PutStatsMonths(tx store.Tx, months []policy.GroupMonth) error {
	for _, gm := range months {
		if err := jsonrec.Put(tx, nsStats, StatsKey(gm.Group, gm.Month), gm); err != nil {
			return err
		}
	}
	return nil
}

// statsGroups answers GET /api/v1/stats/groups: the groups whose analytics
// the caller may see and whose parent's they may not (the tops of what
// they see), by name.
func (s *Server) statsGroups(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[groupRef], error) {
		gs, err := tx.Groups()
		out := list[groupRef]{Items: []groupRef{}}
		for _, g := range gs {
			if !g.Archived && s.can(p, policy.PermStatsRead, g.ID) && (g.Parent == "" || !s.can(p, policy.PermStatsRead, g.Parent)) {
				out.Items = append(out.Items, groupRef{ID: g.ID, Slug: g.Slug, Name: g.Name})
			}
		}
		slices.SortFunc(out.Items, func(a, b groupRef) int { return strings.Compare(a.Name, b.Name) })
		return out, err
	})
}
