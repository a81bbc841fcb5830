package outbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

var verbs = map[policy.Op]string{policy.OpCreate: "created", policy.OpUpdate: "changed", policy.OpDelete: "removed"}

// MeetingData is the data of a meeting event.
type MeetingData struct {
	Group     policy.GroupID `json:"group"`
	GroupSlug string         `json:"groupSlug"`
	Meeting   policy.Meeting `json:"meeting"`
}

// EffectiveData is the data of an effective_membership event: a role a
// user holds in a user group, whatever gives it (a manual membership, a
// rule, inheritance).
type EffectiveData struct {
	User    policy.UserID   `json:"user"`
	Group   policy.GroupID  `json:"group"`
	Role    policy.RoleName `json:"role"`
	Origins []policy.Origin `json:"origins,omitempty"`
}

// events turns a chunk of audit entries into the events the target
// subscribed to: the fact events of each entry in order, then the
// effective-membership changes the chunk caused.
func (t *target) events(ctx context.Context, entries []policy.Change) ([]*Event, error) {
	var out []*Event
	for _, e := range entries {
		evs, err := t.factEvents(e)
		if e.Op == policy.OpCreateBatch {
			evs, err = t.batchEvents(ctx, e)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	if !t.cfg.wants(CategoryMembership) {
		return out, nil
	}
	pre := map[string][]byte{}
	eff, err := t.effectiveEvents(ctx, entries, pre)
	if err != nil || len(pre) == 0 {
		return append(out, eff...), err
	}
	for k, v := range pre {
		t.setRecord(k, v)
	}
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return append(out, eff...), nil
}

// batchEvents returns the events of an entry that names records created
// together (policy.OpCreateBatch, a directory's first load): for users,
// one user.created each, with the record as the store holds it now (the
// entry does not copy it); a user deleted since has none.
func (t *target) batchEvents(ctx context.Context, e policy.Change) ([]*Event, error) {
	if e.Kind != policy.KindUser || !t.cfg.wants(CategoryUser) {
		return nil, nil
	}
	var out []*Event
	err := t.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		for _, id := range e.BatchIDs() {
			u, err := tx.User(e.Tenant, policy.UserID(id))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, &Event{
				ID:   fmt.Sprintf("msg_%d_%d", e.Seq, len(out)),
				Type: "user.created", Timestamp: e.Time, Seq: e.Seq, Subject: "user:" + id, Data: u, fact: true,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbound: users of audit entry %d: %w", e.Seq, err)
	}
	return out, nil
}

// factEvents returns the events of one audit entry.
func (t *target) factEvents(e policy.Change) ([]*Event, error) {
	verb := verbs[e.Op]
	if verb == "" {
		return nil, nil
	}
	var out []*Event
	add := func(kind, subject string, data any) {
		out = append(out, &Event{
			ID:   fmt.Sprintf("msg_%d_%d", e.Seq, len(out)),
			Type: kind + "." + verb, Timestamp: e.Time, Seq: e.Seq, Subject: subject, Data: data, fact: true,
		})
	}
	rec := e.After
	if e.Op == policy.OpDelete {
		rec = e.Before
	}
	switch e.Kind {
	case policy.KindEvent:
		// Product feedback, founding applications and announcements are
		// audit-only entries whose detail is the item as it may be shown.
		for _, c := range []string{CategoryFeedback, CategoryApplication, CategoryAnnouncement} {
			if id, ok := strings.CutPrefix(e.ID, c+"/"); ok && t.cfg.wants(c) {
				add(c, c+":"+id, json.RawMessage(e.After))
			}
		}
	case policy.KindUser:
		if t.cfg.wants(CategoryUser) {
			add("user", "user:"+e.ID, json.RawMessage(rec))
		}
	case policy.KindMembership:
		if t.cfg.wants(CategoryMembership) {
			add("membership", "user:"+userOf(rec), json.RawMessage(rec))
		}
	case policy.KindGroup:
		bp, ap, err := policy.Records[policy.Group](e)
		if err != nil {
			return nil, fmt.Errorf("outbound: %w", err)
		}
		var before, after policy.Group
		if bp != nil {
			before = *bp
		}
		if ap != nil {
			after = *ap
		}
		cur := after
		if e.Op == policy.OpDelete {
			cur = before
		}
		if t.cfg.wants(CategoryGroup) && (e.Op != policy.OpUpdate || !sameGroup(before, after)) {
			g := cur
			g.Meetings = nil
			add("group", "group:"+e.ID, g)
		}
		if t.cfg.wants(CategoryMeeting) {
			for _, m := range meetingChanges(before.Meetings, after.Meetings) {
				verb = m.verb
				add("meeting", "meeting:"+e.ID+"/"+m.m.ID, MeetingData{Group: cur.ID, GroupSlug: cur.Slug, Meeting: m.m})
			}
		}
	}
	return out, nil
}

func userOf(rec json.RawMessage) string {
	var m struct {
		User string `json:"user"`
	}
	_ = json.Unmarshal(rec, &m)
	return m.User
}

// sameGroup reports whether a and b differ only in meetings and
// bookkeeping.
func sameGroup(a, b policy.Group) bool {
	a.Meetings, b.Meetings = nil, nil
	a.Version, b.Version = 0, 0
	a.Updated, b.Updated = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

type meetingChange struct {
	verb string
	m    policy.Meeting
}

func meetingChanges(before, after []policy.Meeting) []meetingChange {
	old := map[string]policy.Meeting{}
	for _, m := range before {
		old[m.ID] = m
	}
	var out []meetingChange
	seen := map[string]bool{}
	for _, m := range after {
		seen[m.ID] = true
		o, ok := old[m.ID]
		switch {
		case !ok:
			out = append(out, meetingChange{"created", m})
		case !reflect.DeepEqual(o, m):
			out = append(out, meetingChange{"changed", m})
		}
	}
	for _, m := range before {
		if !seen[m.ID] {
			out = append(out, meetingChange{"removed", m})
		}
	}
	return out
}

// effState is what a webhook target was told of a user's effective
// memberships ("group/role", sorted): Told, acknowledged; Maybe, sent
// without a known answer yet.
type effState struct {
	Told  []string `json:"told,omitempty"`
	Maybe []string `json:"maybe,omitempty"`
}

// encodeEff encodes s; an empty state is nil (the record is deleted).
func encodeEff(s effState) []byte {
	if len(s.Told) == 0 && len(s.Maybe) == 0 {
		return nil
	}
	b, _ := json.Marshal(s)
	return b
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

func effKey(target string, u policy.UserID) string { return "eff/" + target + "/" + string(u) }

// effectiveEvents diffs the effective memberships of the users the chunk
// may have changed (every user when it touched directory groups, rules,
// user groups, roles or tenants) with what the target was last told. Each
// user's new state is committed with the acknowledgement of the user's
// last event.
func (t *target) effectiveEvents(ctx context.Context, entries []policy.Change, pre map[string][]byte) ([]*Event, error) {
	users := map[policy.UserID]bool{}
	all := false
	for _, e := range entries {
		switch e.Kind {
		case policy.KindUser:
			if e.Op == policy.OpCreateBatch {
				for _, id := range e.BatchIDs() {
					users[policy.UserID(id)] = true
				}
				continue
			}
			users[policy.UserID(e.ID)] = true
		case policy.KindMembership:
			for _, r := range []json.RawMessage{e.Before, e.After} {
				if u := userOf(r); u != "" {
					users[policy.UserID(u)] = true
				}
			}
		case policy.KindDirGroup, policy.KindRule, policy.KindGroup, policy.KindRole, policy.KindTenant:
			all = true
		}
	}
	if all {
		if err := t.allUsers(ctx, users); err != nil {
			return nil, err
		}
	}
	ids := make([]policy.UserID, 0, len(users))
	for u := range users {
		ids = append(ids, u)
	}
	slices.Sort(ids)
	last := entries[len(entries)-1]
	var out []*Event
	for _, u := range ids {
		cur := map[string]policy.EffectiveMembership{}
		for _, m := range t.svc.cfg.Engine.EffectiveGroups(u) {
			cur[string(m.Group)+"/"+string(m.Role)] = m
		}
		b, err := t.record(ctx, effKey(t.cfg.ID, u))
		if err != nil {
			return nil, err
		}
		var old effState
		if len(b) > 0 {
			if err := json.Unmarshal(b, &old); err != nil {
				return nil, fmt.Errorf("outbound: %s: %w", effKey(t.cfg.ID, u), err)
			}
		}
		now := make([]string, 0, len(cur))
		for k := range cur {
			now = append(now, k)
		}
		slices.Sort(now)
		t.svc.log.Debug("outbound: effective", "target", t.cfg.ID, "user", u, "told", old.Told, "maybe", old.Maybe, "now", now, "seq", last.Seq)
		var evs []*Event
		emit := func(verb, k string, origins []policy.Origin) {
			g, r, _ := strings.Cut(k, "/")
			h := sha256.Sum256(fmt.Appendf(nil, "%d|%s|%s|%s", last.Seq, u, k, verb))
			evs = append(evs, &Event{
				ID:   "msg_eff_" + hex.EncodeToString(h[:12]),
				Type: "effective_membership." + verb, Timestamp: last.Time, Seq: last.Seq, Subject: "user:" + string(u),
				Data: EffectiveData{User: u, Group: policy.GroupID(g), Role: policy.RoleName(r), Origins: origins},
			})
		}
		for _, k := range union(old.Told, old.Maybe) {
			if _, ok := cur[k]; !ok {
				emit("removed", k, nil)
			}
		}
		var created []string
		for _, k := range now {
			if !slices.Contains(old.Told, k) {
				emit("created", k, cur[k].Origins)
				created = append(created, k)
			}
		}
		if len(evs) == 0 {
			if len(old.Maybe) > 0 { // told after all
				t.setRecord(effKey(t.cfg.ID, u), encodeEff(effState{Told: now}))
			}
			continue
		}
		if len(created) > 0 {
			// Remember what may reach the receiver before it is sent:
			// an answer lost (a crash, a cut connection) must not
			// leave a membership the receiver heard of and is never
			// told is gone.
			pre[effKey(t.cfg.ID, u)] = encodeEff(effState{Told: old.Told, Maybe: union(old.Maybe, created)})
		}
		evs[len(evs)-1].writes = map[string][]byte{effKey(t.cfg.ID, u): encodeEff(effState{Told: now})}
		out = append(out, evs...)
	}
	return out, nil
}

// allUsers adds every user of every tenant, and every user the target
// holds a state for (users deleted since), to set.
func (t *target) allUsers(ctx context.Context, set map[policy.UserID]bool) error {
	prefix := "eff/" + t.cfg.ID + "/"
	err := t.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		ts, err := tx.Tenants()
		if err != nil {
			return err
		}
		for _, tn := range ts {
			err := tx.ForEachUser(tn.ID, func(u policy.User) error {
				set[u.ID] = true
				return nil
			})
			if err != nil {
				return err
			}
		}
		return tx.ScanRecords(Namespace, prefix, func(k string, _ []byte) error {
			set[policy.UserID(strings.TrimPrefix(k, prefix))] = true
			return nil
		})
	})
	t.mu.Lock()
	for k := range t.overlay() {
		if u, ok := strings.CutPrefix(k, prefix); ok {
			set[policy.UserID(u)] = true
		}
	}
	t.mu.Unlock()
	return err
}
