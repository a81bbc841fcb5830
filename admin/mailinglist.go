package admin

// Mailing lists and charter events. A group's mailing list (kept in its
// Group record, see policy.MailingList) counts for the charter rule; the
// charter status of each group is remembered (record namespace
// "charter-status", key the group id) and every change of it is audited as
// an event "charter/<group>", so the group's audit trail shows when it
// became chartered or stopped being so, and on which basis.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

const nsCharterStatus = "charter-status"

func (s *Server) mailingListRoutes() {
	s.handle("GET /api/v1/groups/{group}/mailing-list", s.getMailingList)
	s.handle("PUT /api/v1/groups/{group}/mailing-list", s.putMailingList)
	s.handle("POST /api/v1/groups/{group}/mailing-list/import", s.importMailingList)
}

// mailingListView is a group's mailing list with its directory groups
// named.
type mailingListView struct {
	Group     policy.GroupID      `json:"group"`
	DirGroups []listDirGroup      `json:"dirGroups"`
	Addresses []policy.Subscriber `json:"addresses"`
	// Subscribers and SubscribersInReference are the counts the charter
	// rule uses.
	Subscribers            int `json:"subscribers"`
	SubscribersInReference int `json:"subscribersInReference"`
}

// listDirGroup names a directory group on a mailing list: by id, or in a
// request by tenant and id, externalId or name.
type listDirGroup struct {
	Tenant   policy.TenantID `json:"tenant"`
	DirGroup string          `json:"dirGroup"`
	Name     string          `json:"name,omitempty"`
}

func (s *Server) listView(tx store.Tx, g policy.Group) (mailingListView, error) {
	v := mailingListView{Group: g.ID, DirGroups: []listDirGroup{}, Addresses: []policy.Subscriber{}}
	if l := g.MailingList; l != nil {
		v.Addresses = nonNil(l.Addresses)
		ts, err := tx.Tenants()
		if err != nil {
			return v, err
		}
		for _, d := range l.DirGroups {
			ld := listDirGroup{DirGroup: string(d)}
			for _, t := range ts {
				if dg, err := tx.DirGroup(t.ID, d); err == nil {
					ld.Tenant, ld.Name = t.ID, dg.DisplayName
					break
				}
			}
			v.DirGroups = append(v.DirGroups, ld)
		}
	}
	c := s.cfg.Engine.Charter(g.ID)
	v.Subscribers, v.SubscribersInReference = c.Subscribers, c.SubscribersInReference
	return v, nil
}

// getMailingList answers GET /api/v1/groups/{group}/mailing-list: those
// who run the group's members (members.manage) see its list.
func (s *Server) getMailingList(w http.ResponseWriter, r *http.Request, p principal) {
	if g, ok := s.withGroup(w, r, p, policy.PermMembersManage); ok {
		read(s, w, r, func(tx store.Tx) (mailingListView, error) { return s.listView(tx, g) })
	}
}

// putMailingList answers PUT /api/v1/groups/{group}/mailing-list
// {dirGroups:[{tenant,dirGroup}], addresses:[{address,name?,source?}]}:
// replace the list (members.manage).
func (s *Server) putMailingList(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		DirGroups []listDirGroup      `json:"dirGroups"`
		Addresses []policy.Subscriber `json:"addresses"`
	}
	s.editList(w, r, p, &in, func(tx store.Tx, l *policy.MailingList) error {
		l.DirGroups = nil
		for _, ld := range in.DirGroups {
			d, err := lookupDirGroup(tx, ld.Tenant, ld.DirGroup)
			if errors.Is(err, store.ErrNotFound) {
				return badRequest("no directory group %q in tenant %q", ld.DirGroup, ld.Tenant)
			}
			if err != nil {
				return err
			}
			l.DirGroups = append(l.DirGroups, d.ID)
		}
		l.Addresses = in.Addresses
		for i := range l.Addresses {
			if l.Addresses[i].Source == "" {
				l.Addresses[i].Source = policy.SubscriberManual
			}
		}
		return nil
	})
}

// importMailingList answers POST /api/v1/groups/{group}/mailing-list/import
// {addresses:"TEXT"}: add the addresses of TEXT (separated by newlines,
// commas or semicolons; "Name <address>" allowed), as source import;
// addresses already on the list are skipped (members.manage).
func (s *Server) importMailingList(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Addresses string `json:"addresses"`
	}
	s.editList(w, r, p, &in, func(_ store.Tx, l *policy.MailingList) error {
		have := map[string]bool{}
		for _, a := range l.Addresses {
			have[policy.FoldAddress(a.Address)] = true
		}
		for _, f := range strings.FieldsFunc(in.Addresses, func(c rune) bool { return c == '\n' || c == ',' || c == ';' }) {
			sub := policy.Subscriber{Address: strings.TrimSpace(f), Source: policy.SubscriberImport}
			if i, j := strings.IndexByte(f, '<'), strings.LastIndexByte(f, '>'); i >= 0 && j > i {
				sub.Name, sub.Address = strings.Trim(strings.TrimSpace(f[:i]), `"`), strings.TrimSpace(f[i+1:j])
			}
			if sub.Address == "" || have[policy.FoldAddress(sub.Address)] {
				continue
			}
			have[policy.FoldAddress(sub.Address)] = true
			l.Addresses = append(l.Addresses, sub)
		}
		return nil
	})
}

// editList answers a request that changes a group's mailing list
// (members.manage): it decodes the body into in, changes the list with fn
// in one transaction and answers the list.
func (s *Server) editList(w http.ResponseWriter, r *http.Request, p principal, in any, fn func(store.Tx, *policy.MailingList) error) {
	if err := s.body(w, r)(in); err != nil {
		writeErr(w, err)
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermMembersManage)
	if !ok {
		return
	}
	err := s.update(r, p, func(tx store.Tx) error {
		cur, err := tx.Group(g.ID)
		if err != nil {
			return err
		}
		var l policy.MailingList
		if cur.MailingList != nil {
			l = *cur.MailingList
		}
		if err := fn(tx, &l); err != nil {
			return err
		}
		cur.MailingList = &l
		if len(l.DirGroups) == 0 && len(l.Addresses) == 0 {
			cur.MailingList = nil
		}
		g, err = tx.UpdateGroup(cur)
		return err
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	read(s, w, r, func(tx store.Tx) (mailingListView, error) { return s.listView(tx, g) })
}

// charterEvent is the detail of a charter audit entry.
type charterEvent struct {
	Group     policy.GroupID      `json:"group"`
	Slug      string              `json:"slug"`
	Chartered bool                `json:"chartered"`
	Basis     policy.CharterBasis `json:"basis,omitempty"`
	// Was is the status before ("" the first time it is recorded).
	Was                    string  `json:"was,omitempty"`
	Reference              string  `json:"reference,omitempty"`
	Members                int     `json:"members"`
	InReference            int     `json:"inReference"`
	Ratio                  float64 `json:"ratio"`
	Subscribers            int     `json:"subscribers"`
	SubscribersInReference int     `json:"subscribersInReference"`
	SubscriberRatio        float64 `json:"subscriberRatio"`
}

// charterWord is what is remembered of a status: "chartered:<basis>" or
// "not-chartered".
func charterWord(c policy.CharterStatus) string {
	if c.Chartered {
		return "chartered:" + string(c.Basis)
	}
	return "not-chartered"
}

// RecordCharterChanges compares the charter status of every group the
// rule applies to with the one last recorded, and audits each change as
// an event "charter/<group>" (one transaction; none when nothing
// changed), in the name of actor. The admin API calls it after each of its
// writes, in the name of their author; cmd may call it after other sources
// change facts. It reads the policy engine, so it sees a write once the
// engine has applied it.
func (s *Server) RecordCharterChanges(ctx context.Context, actor string) error {
	s.charterMu.Lock() // one comparison at a time: no event twice
	defer s.charterMu.Unlock()
	type change struct {
		st  policy.CharterStatus
		g   policy.Group
		was string
	}
	var changes []change
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		changes = changes[:0]
		gs, err := tx.Groups()
		if err != nil {
			return err
		}
		for _, g := range gs {
			st := s.cfg.Engine.Charter(g.ID)
			if !st.Applies {
				continue
			}
			was, err := tx.GetRecord(nsCharterStatus, string(g.ID))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if string(was) != charterWord(st) {
				changes = append(changes, change{st: st, g: g, was: string(was)})
			}
		}
		return nil
	})
	if err != nil || len(changes) == 0 {
		return err
	}
	return s.cfg.Store.Update(ctx, actor, func(tx store.Tx) error {
		for _, c := range changes {
			word := charterWord(c.st)
			if err := tx.PutRecord(nsCharterStatus, string(c.g.ID), []byte(word)); err != nil {
				return err
			}
			ev := charterEvent{Group: c.g.ID, Slug: c.g.Slug, Chartered: c.st.Chartered, Basis: c.st.Basis, Was: c.was,
				Reference: c.st.Reference, Members: c.st.Members, InReference: c.st.InReference, Ratio: c.st.Ratio,
				Subscribers: c.st.Subscribers, SubscribersInReference: c.st.SubscribersInReference, SubscriberRatio: c.st.SubscriberRatio}
			if c.was == "" && !c.st.Chartered {
				continue // the first sight of a group not chartered: a baseline, not a change
			}
			if err := tx.Record("", policy.OpUpdate, "charter/"+string(c.g.ID), ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// WatchCharters records changes of charter status (RecordCharterChanges,
// as actor "policy") after facts change, from any source — the admin API,
// SCIM, a directory sync — until ctx ends. Checks are coalesced: at most
// one every interval, however many writes arrive, since comparing every
// group costs about 2 s on a 100k-user world and must not ride on each
// write.
func (s *Server) WatchCharters(ctx context.Context, interval time.Duration) {
	wake := make(chan struct{}, 1)
	cancel := s.cfg.Store.Subscribe(func(cs []policy.Change) {
		for _, c := range cs {
			if c.Kind == policy.KindEvent {
				continue // our own events and other audit-only entries
			}
			select {
			case wake <- struct{}{}:
			default:
			}
			return
		}
	})
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		if err := s.RecordCharterChanges(ctx, "policy"); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("recording charter changes failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
