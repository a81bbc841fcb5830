package mail

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// noticeChunk is how many audit entries one step reads.
const noticeChunk = 256

// notices turns meeting changes in the audit log after the cursor into
// notice jobs, moving the cursor in the same transaction. The first pass
// of a store puts the cursor at the end of the log: meetings created
// before mail was configured are not announced.
func (s *Service) notices(ctx context.Context) error {
	var cursor uint64
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		b, err := tx.GetRecord(Namespace, "cursor")
		if err == nil && len(b) == 8 {
			cursor = binary.BigEndian.Uint64(b)
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return s.initCursor(ctx)
	}
	if err != nil {
		return err
	}
	for {
		var cs []policy.Change
		if err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) { cs, err = tx.Audit(cursor, noticeChunk); return }); err != nil {
			return err
		}
		if len(cs) == 0 {
			return nil
		}
		jobs := noticesOf(cs)
		last := cs[len(cs)-1].Seq
		err := s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error {
			for _, j := range jobs {
				if err := putJob(tx, j); err != nil {
					return err
				}
			}
			return tx.PutRecord(Namespace, "cursor", binary.BigEndian.AppendUint64(nil, last))
		})
		if err != nil {
			return err
		}
		cursor = last
		if len(cs) < noticeChunk {
			return nil
		}
	}
}

func (s *Service) initCursor(ctx context.Context) error {
	var last uint64
	for {
		var cs []policy.Change
		if err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) { cs, err = tx.Audit(last, 1000); return }); err != nil {
			return err
		}
		if len(cs) == 0 {
			break
		}
		last = cs[len(cs)-1].Seq
	}
	return s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error {
		return tx.PutRecord(Namespace, "cursor", binary.BigEndian.AppendUint64(nil, last))
	})
}

// noticesOf finds the meetings created, changed or cancelled (or
// deleted) by group changes. A meeting that is already over is not
// announced.
func noticesOf(cs []policy.Change) []Job {
	var out []Job
	for _, c := range cs {
		if c.Kind != policy.KindGroup || c.Op == policy.OpDelete {
			continue
		}
		bp, ap, err := policy.Records[policy.Group](c)
		if err != nil || ap == nil {
			continue
		}
		after := *ap
		prev := map[string]policy.Meeting{}
		if bp != nil {
			for _, m := range bp.Meetings {
				prev[m.ID] = m
			}
		}
		add := func(m policy.Meeting, change, subject string) {
			if _, upcoming := m.Next(c.Time); !upcoming {
				return
			}
			out = append(out, Job{
				ID: NewJobID(c.Time), Kind: KindNotice, Group: after.ID, GroupName: after.Name, GroupSlug: after.Slug,
				Groups: []policy.GroupID{after.ID}, Subject: subject + m.Title, Author: c.Actor, Created: c.Time.UTC(),
				Meeting: &m, Change: change,
			})
		}
		for _, m := range after.Meetings {
			b, existed := prev[m.ID]
			delete(prev, m.ID)
			switch {
			case !existed && !m.Cancelled:
				add(m, "created", "New meeting: ")
			case existed && !b.Cancelled && m.Cancelled:
				add(m, "cancelled", "Cancelled: ")
			case existed && !m.Cancelled && moved(b, m):
				add(m, "changed", "Changed: ")
			}
		}
		for _, b := range prev { // deleted outright
			if !b.Cancelled {
				b.Cancelled = true
				b.Sequence++
				add(b, "cancelled", "Cancelled: ")
			}
		}
	}
	return out
}

// moved reports whether a change matters to those who have the meeting
// in their calendar: its title, time, recurrence or place.
func moved(a, b policy.Meeting) bool {
	return a.Title != b.Title || !a.Start.Equal(b.Start) || !a.End.Equal(b.End) || a.TimeZone != b.TimeZone ||
		a.RRule != b.RRule || a.Location != b.Location || a.Address != b.Address || a.OnlineURL != b.OnlineURL
}

// digestRecord is the week of the last digest queued.
type digestRecord struct {
	Week time.Time `json:"week"`
}

// weekStart returns the start of the digest week that contains now:
// the last DigestWeekday at DigestHour UTC not after now.
func (s *Service) weekStart(now time.Time) time.Time {
	now = now.UTC()
	d := time.Date(now.Year(), now.Month(), now.Day(), s.cfg.DigestHour, 0, 0, 0, time.UTC)
	for d.Weekday() != s.cfg.DigestWeekday || d.After(now) {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// digest queues the weekly digest when a new week has begun. The first
// pass of a store only notes the week: the first digest goes out at the
// start of the next one.
func (s *Service) digest(ctx context.Context) error {
	week := s.weekStart(s.cfg.Now())
	return s.cfg.Store.Update(ctx, "mail", func(tx store.Tx) error {
		var last digestRecord
		err := jsonrec.Get(tx, Namespace, "digest", &last)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return jsonrec.Put(tx, Namespace, "digest", digestRecord{Week: week})
		case err != nil:
			return err
		case !week.After(last.Week):
			return nil
		}
		j := Job{ID: NewJobID(week), Kind: KindDigest, Subject: "This week in your groups", Week: week, Created: week}
		if err := putJob(tx, j); err != nil {
			return err
		}
		return jsonrec.Put(tx, Namespace, "digest", digestRecord{Week: week})
	})
}

// digestDeliveries lists, for each member of a group meeting in the
// job's week, the occurrences of their groups' meetings.
func (s *Service) digestDeliveries(ctx context.Context, j Job) ([]Delivery, error) {
	var gs []policy.Group
	if err := s.cfg.Store.View(ctx, func(tx store.Tx) (err error) { gs, err = tx.Groups(); return }); err != nil {
		return nil, err
	}
	from, to := j.Week, j.Week.AddDate(0, 0, 7)
	byUser := map[policy.UserID]*Delivery{}
	var order []policy.UserID
	for _, g := range gs {
		var items []DigestItem
		for _, m := range g.Meetings {
			if m.Cancelled {
				continue
			}
			for _, t := range m.Occurrences(from, to, 20) {
				items = append(items, DigestItem{Group: g.ID, GroupName: g.Name, Title: m.Title, Start: t, TimeZone: m.TimeZone, Where: place(m)})
			}
		}
		if len(items) == 0 {
			continue
		}
		for _, mem := range s.cfg.Engine.Members(g.ID) {
			d := byUser[mem.User]
			if d == nil {
				d = &Delivery{Job: j.ID, User: mem.User, State: StateQueued}
				byUser[mem.User] = d
				order = append(order, mem.User)
			}
			// A member with several roles in g appears once per role.
			if len(d.Items) > 0 && d.Items[len(d.Items)-1].Group == g.ID {
				continue
			}
			d.Items = append(d.Items, items...)
		}
	}
	out := make([]Delivery, 0, len(order))
	for _, u := range order {
		d := byUser[u]
		sortItems(d.Items)
		out = append(out, *d)
	}
	return out, nil
}

func sortItems(items []DigestItem) {
	for i := 1; i < len(items); i++ {
		for k := i; k > 0 && items[k].Start.Before(items[k-1].Start); k-- {
			items[k], items[k-1] = items[k-1], items[k]
		}
	}
}

// NoticeFromStart makes the next pass of the outbox turn the meetings of
// the whole audit log into notices, from its first entry, instead of
// starting at its end: a store seeded with mail configured (`roster demo
// --smtp`) then mails the invitations to its upcoming meetings.
func NoticeFromStart(tx store.Tx) error {
	return tx.PutRecord(Namespace, "cursor", binary.BigEndian.AppendUint64(nil, 0))
}
