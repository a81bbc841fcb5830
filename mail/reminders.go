package mail

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// KindReminder is the reminder, the day before, to those who said they
// are going to a meeting.
const KindReminder = "reminder"

// remindAhead is how long before an occurrence its reminder goes out.
const remindAhead = 24 * time.Hour

// nsRSVPs is where the admin API keeps RSVPs (policy.RSVP, keyed
// policy.RSVPKey).
const nsRSVPs = "rsvps"

// remindRecord is the end of the window whose occurrences were reminded
// of: every occurrence starting before Until has had its reminder queued.
type remindRecord struct {
	Until time.Time `json:"until"`
}

// reminders queues a reminder job for each meeting occurrence that starts
// within the next day and was not reminded of yet, to the members who
// RSVP'd going (to that meeting; for a recurring one, to the series). The
// window moves in the transaction that writes the jobs, so each
// occurrence is reminded of once. The first pass of a store only sets the
// window: occurrences already within a day are not reminded of.
func (s *Service) reminders(ctx context.Context) error {
	now := s.cfg.Now().UTC()
	to := now.Add(remindAhead)
	var from time.Time
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var r remindRecord
		err := jsonrec.Get(tx, Namespace, "remind", &r)
		from = r.Until
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error { return jsonrec.Put(tx, Namespace, "remind", remindRecord{Until: to}) })
	case err != nil:
		return err
	case !to.After(from):
		return nil
	}
	if from.Before(now) {
		from = now // after a long stop: nothing already begun
	}
	return s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error {
		gs, err := tx.Groups()
		if err != nil {
			return err
		}
		for _, g := range gs {
			if g.Archived {
				continue
			}
			for _, m := range g.Meetings {
				if m.Cancelled {
					continue
				}
				for _, at := range m.Occurrences(from, to, 3) {
					if at.Before(from) {
						continue // under way: Occurrences lists overlaps
					}
					if err := s.queueReminder(tx, g, m, at, now); err != nil {
						return err
					}
				}
			}
		}
		return jsonrec.Put(tx, Namespace, "remind", remindRecord{Until: to})
	})
}

// queueReminder writes the reminder of occurrence at of meeting m to
// those going, if anyone is.
func (s *Service) queueReminder(tx store.Tx, g policy.Group, m policy.Meeting, at, now time.Time) error {
	var users []policy.UserID
	prefix := policy.RSVPKey(g.ID, m.ID, "")
	err := tx.ScanRecords(nsRSVPs, prefix, func(k string, v []byte) error {
		var r policy.RSVP
		if json.Unmarshal(v, &r) == nil && r.Going && !strings.Contains(strings.TrimPrefix(k, prefix), "/") {
			users = append(users, r.User)
		}
		return nil
	})
	if err != nil || len(users) == 0 {
		return err
	}
	mm := m
	mm.Start = at
	if !m.End.IsZero() {
		mm.End = at.Add(m.End.Sub(m.Start))
	}
	j := Job{ID: NewJobID(now), Kind: KindReminder, Group: g.ID, GroupName: g.Name, GroupSlug: g.Slug,
		Groups: []policy.GroupID{g.ID}, Users: users, Subject: "Tomorrow: " + m.Title, Created: now, Meeting: &mm}
	return putJob(tx, j)
}
