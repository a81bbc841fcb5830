package ldap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// HeldNamespace holds, under "<tenant>/<dir>", the complete change the
// deletion guard holds back for a directory (see Source.Approve).
const HeldNamespace = "ldap-held"

// sampleSize is the number of held items a status names.
const sampleSize = 10

// Held describes the change the deletion guard holds back until
// Source.Approve: how much, a sample, and why. Nothing of it has been
// applied: the users are still there and active, and every membership it
// would remove (those of held users included) is still in the store.
type Held struct {
	// Reason says which limit the change exceeded.
	Reason string `json:"reason"`
	// Vanished is true when the run took the directory's answer for a
	// vanished subtree (no entries where there were many).
	Vanished bool      `json:"vanished,omitempty"`
	Since    time.Time `json:"since"`
	// Users and Deactivations count held user deletions and
	// deactivations, Groups held group deletions, Memberships held
	// removals of direct memberships (user or group in a group), those
	// of held group deletions included.
	Users         int `json:"users"`
	Deactivations int `json:"deactivations"`
	Groups        int `json:"groups"`
	Memberships   int `json:"memberships"`
	// Sample names a few held items, e.g. "delete user alice (id …)".
	Sample []string `json:"sample,omitempty"`
}

// ApproveOptions selects how Approve applies a held change.
type ApproveOptions struct {
	// Revalidate reads the directory first (a full run): of the held
	// change, what the directory still confirms is applied without the
	// guard; anything new is weighed as usual. Without it, Approve
	// applies exactly the held change, without contacting the directory.
	Revalidate bool
}

// heldChange is the removal part of a run: what the guard weighs, and
// what it holds. Items are keyed (see each) so that runs and approvals
// can tell held items apart.
type heldChange struct {
	Reason   string    `json:"reason,omitempty"`
	Vanished bool      `json:"vanished,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	// DeleteUsers: key "d:<user id>"; Deactivate: "x:<user id>";
	// DeleteGroups: "g:<group id>"; a removal of member m from group g:
	// "r:<g>/u:<m>" or "r:<g>/g:<m>".
	DeleteUsers  []heldUser    `json:"deleteUsers,omitempty"`
	Deactivate   []heldUser    `json:"deactivate,omitempty"`
	DeleteGroups []heldGroup   `json:"deleteGroups,omitempty"`
	Removals     []heldRemoval `json:"removals,omitempty"`
}

type heldUser struct {
	ID         policy.UserID `json:"id"`
	ExternalID string        `json:"externalId"`
	UserName   string        `json:"userName"`
}

type heldGroup struct {
	ID         policy.DirGroupID `json:"id"`
	ExternalID string            `json:"externalId"`
	Name       string            `json:"name"`
	Members    int               `json:"members"` // direct members, removed with it
}

// heldRemoval is the members one group loses.
type heldRemoval struct {
	Group  policy.DirGroupID   `json:"group"`
	Name   string              `json:"name"`
	Users  []policy.UserID     `json:"users,omitempty"`
	Groups []policy.DirGroupID `json:"groups,omitempty"`
}

func (c *heldChange) empty() bool {
	return c == nil || len(c.DeleteUsers)+len(c.Deactivate)+len(c.DeleteGroups)+len(c.Removals) == 0
}

// memberships counts the direct memberships the change removes.
func (c *heldChange) memberships() int {
	if c == nil {
		return 0
	}
	n := 0
	for _, r := range c.Removals {
		n += len(r.Users) + len(r.Groups)
	}
	for _, g := range c.DeleteGroups {
		n += g.Members
	}
	return n
}

// keys returns the set of the change's item keys.
func (c *heldChange) keys() map[heldKey]bool {
	if c == nil {
		return nil
	}
	k := make(map[heldKey]bool, len(c.DeleteUsers)+len(c.Deactivate)+len(c.DeleteGroups)+c.memberships())
	_ = c.filter(func(key heldKey) bool { k[key] = true; return false })
	return k
}

// filter returns the items of c whose key keep accepts.
func (c *heldChange) filter(keep func(key heldKey) bool) *heldChange {
	out := &heldChange{}
	if c == nil {
		return out
	}
	for _, u := range c.DeleteUsers {
		if keep(deleteUserKey(u.ID)) {
			out.DeleteUsers = append(out.DeleteUsers, u)
		}
	}
	for _, u := range c.Deactivate {
		if keep(deactivateKey(u.ID)) {
			out.Deactivate = append(out.Deactivate, u)
		}
	}
	for _, g := range c.DeleteGroups {
		if keep(deleteGroupKey(g.ID)) {
			out.DeleteGroups = append(out.DeleteGroups, g)
		}
	}
	for _, r := range c.Removals {
		nr := heldRemoval{Group: r.Group, Name: r.Name}
		for _, u := range r.Users {
			if keep(removeUserKey(r.Group, u)) {
				nr.Users = append(nr.Users, u)
			}
		}
		for _, g := range r.Groups {
			if keep(removeGroupKey(r.Group, g)) {
				nr.Groups = append(nr.Groups, g)
			}
		}
		if len(nr.Users)+len(nr.Groups) > 0 {
			out.Removals = append(out.Removals, nr)
		}
	}
	return out
}

// union returns the items of a and those of b not in a; reason and age
// are a's unless a is empty.
func union(a, b *heldChange) *heldChange {
	if a.empty() {
		return b
	}
	if b.empty() {
		return a
	}
	ka := a.keys()
	extra := b.filter(func(k heldKey) bool { return !ka[k] })
	out := *a
	out.DeleteUsers = append(slices.Clip(a.DeleteUsers), extra.DeleteUsers...)
	out.Deactivate = append(slices.Clip(a.Deactivate), extra.Deactivate...)
	out.DeleteGroups = append(slices.Clip(a.DeleteGroups), extra.DeleteGroups...)
	out.Removals = append(slices.Clip(a.Removals), extra.Removals...)
	out.Vanished = a.Vanished || b.Vanished
	if !extra.empty() && b.Reason != "" && b.Reason != a.Reason {
		out.Reason = a.Reason + "; " + b.Reason
	}
	return &out
}

// windowEntry is what one run removed without approval, for
// DeletionGuard.Window.
type windowEntry struct {
	At          time.Time `json:"at"`
	Users       int       `json:"users"`
	Memberships int       `json:"memberships"`
}

// decide weighs the run's removal change c and sets what the run holds
// (r.held) and may apply (r.allowed). Items a revalidating approval
// covers apply; items already held wait for approval; the others are
// weighed together, and held all together when any limit is exceeded.
func (r *run) decide(ctx context.Context, c *heldChange) error {
	approved := r.approved.keys()
	pending := r.pending.keys()
	rest := c.filter(func(k heldKey) bool { return !approved[k] })
	carried := rest.filter(func(k heldKey) bool { return pending[k] })
	fresh := rest.filter(func(k heldKey) bool { return !pending[k] })
	reasons, err := r.weigh(ctx, fresh)
	if err != nil {
		return err
	}
	held := carried
	if len(reasons) > 0 && !fresh.empty() {
		held = rest
		held.Reason = "deletion guard: " + strings.Join(reasons, "; ") +
			"; none of it applied; approve with `roster sync approve` to apply exactly this change"
		held.Vanished = r.vanished != ""
		held.Since = r.st.Started
		r.s.log.Warn("ldap sync: deletion guard held changes back", "users", len(held.DeleteUsers),
			"deactivations", len(held.Deactivate), "groups", len(held.DeleteGroups), "memberships", held.memberships(), "why", held.Reason)
	} else if !held.empty() {
		held.Reason, held.Vanished, held.Since = r.pending.Reason, r.pending.Vanished, r.pending.Since
	}
	r.decided = true
	if held.empty() {
		return nil
	}
	r.held = held
	r.heldKeys = held.keys()
	r.st.Guard = held.Reason
	r.st.Users.Held = len(held.DeleteUsers) + len(held.Deactivate)
	r.st.Groups.Held = len(held.DeleteGroups)
	r.st.Memberships.Held = held.memberships()
	return nil
}

// allowed reports whether the run may apply the removal with key k.
func (r *run) allowed(k heldKey) bool { return !r.heldKeys[k] }

// weigh returns why the change exceeds the guard's limits, if it does.
func (r *run) weigh(ctx context.Context, c *heldChange) ([]string, error) {
	if c.empty() {
		return nil, nil
	}
	g := r.s.dir.DeletionGuard
	var why []string
	if r.vanished != "" {
		why = append(why, r.vanished+", which is taken for a failure of the directory, not for deletions")
	}
	pct := func(k, n int) string {
		if n == 0 {
			return "all"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(k)/float64(n))
	}
	limit := func(l GuardLimit) string {
		var s []string
		if l.Share > 0 && l.Share < 1 {
			s = append(s, fmt.Sprintf("%.1f%%", 100*l.Share))
		}
		if l.Count > 0 {
			s = append(s, fmt.Sprintf("%d", l.Count))
		}
		return strings.Join(s, " or ")
	}
	users := len(c.DeleteUsers) + len(c.Deactivate)
	if g.Users.exceeded(users, r.nUsers) {
		why = append(why, fmt.Sprintf("this run would delete or deactivate %d of %d users (%s, limit %s)", users, r.nUsers, pct(users, r.nUsers), limit(g.Users)))
	}
	if share := (GuardLimit{Share: g.Users.Share}); share.exceeded(len(c.DeleteGroups), r.nGroups) {
		why = append(why, fmt.Sprintf("this run would delete %d of %d groups (%s, limit %s)", len(c.DeleteGroups), r.nGroups, pct(len(c.DeleteGroups), r.nGroups), limit(share)))
	}
	ms := c.memberships()
	if ms > 0 && r.nMemberships == 0 {
		if err := r.countMemberships(ctx); err != nil {
			return nil, err
		}
	}
	if g.Memberships.exceeded(ms, r.nMemberships) {
		why = append(why, fmt.Sprintf("this run would remove %d of %d memberships (%s, limit %s)", ms, r.nMemberships, pct(ms, r.nMemberships), limit(g.Memberships)))
	}
	if r.st.Mode != Full {
		// Removals seen a few at a time (incremental runs, syncrepl)
		// weigh together over the last FullSyncInterval, as the one
		// full run that would have seen them all: a trickle of
		// deletions is held as surely as a mass deletion.
		iu, im := users, ms
		since := r.st.Started.Add(-r.s.dir.FullSyncInterval)
		for _, e := range r.state.Window {
			if e.At.After(since) {
				iu += e.Users
				im += e.Memberships
			}
		}
		// Out of the records there were before those runs.
		nu, nm := r.nUsers+iu-users, r.nMemberships+im-ms
		if iu > users && g.Users.exceeded(iu, nu) {
			why = append(why, fmt.Sprintf("runs within %s would delete or deactivate %d of %d users (%s, limit %s)", r.s.dir.FullSyncInterval, iu, nu, pct(iu, nu), limit(g.Users)))
		}
		if im > ms && g.Memberships.exceeded(im, nm) {
			why = append(why, fmt.Sprintf("runs within %s would remove %d of %d memberships (%s, limit %s)", r.s.dir.FullSyncInterval, im, nm, pct(im, nm), limit(g.Memberships)))
		}
	}
	if g.WindowUsers.set() || g.WindowMemberships.set() {
		wu, wm := users, ms
		since := r.st.Started.Add(-g.Window)
		for _, e := range r.state.Window {
			if e.At.After(since) {
				wu += e.Users
				wm += e.Memberships
			}
		}
		if g.WindowUsers.exceeded(wu, r.nUsers) {
			why = append(why, fmt.Sprintf("runs within %s would delete or deactivate %d of %d users (%s, limit %s)", g.Window, wu, r.nUsers, pct(wu, r.nUsers), limit(g.WindowUsers)))
		}
		if g.WindowMemberships.exceeded(wm, r.nMemberships) {
			why = append(why, fmt.Sprintf("runs within %s would remove %d of %d memberships (%s, limit %s)", g.Window, wm, r.nMemberships, pct(wm, r.nMemberships), limit(g.WindowMemberships)))
		}
	}
	return why, nil
}

// countMemberships counts the direct memberships of this source's groups
// (an incremental run whose state predates the count).
func (r *run) countMemberships(ctx context.Context) error {
	n := 0
	err := r.s.st.View(ctx, func(tx store.Tx) error {
		return tx.ForEachDirGroup(r.s.tenant, func(g policy.DirGroup) error {
			if g.Source == r.s.source {
				n += len(g.MemberUsers) + len(g.MemberGroups)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ldap[%s]: read store: %w", r.s.dir.ID, err)
	}
	r.nMemberships = n
	return nil
}

// heldOps returns the writes that apply exactly the change c: membership
// removals, then group deletions, user deletions and deactivations.
func heldOps(c *heldChange) []op {
	var ops []op
	for _, rm := range c.Removals {
		ops = append(ops, op{kind: opUpdateGroup, group: policy.DirGroup{ID: rm.Group, DisplayName: rm.Name},
			delta: &memberDelta{delUsers: rm.Users, delGroups: rm.Groups}, members: len(rm.Users) + len(rm.Groups)})
	}
	for _, g := range c.DeleteGroups {
		ops = append(ops, op{kind: opDeleteGroup, group: policy.DirGroup{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.Name}, members: g.Members})
	}
	for _, u := range c.DeleteUsers {
		ops = append(ops, op{kind: opDeleteUser, user: policy.User{ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName}})
	}
	for _, u := range c.Deactivate {
		ops = append(ops, op{kind: opDeactivateUser, user: policy.User{ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName}})
	}
	return ops
}

func (s *Source) loadHeld(tx store.Tx) (*heldChange, error) {
	b, err := tx.GetRecord(HeldNamespace, s.stateKey())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ldap[%s]: read held change: %w", s.dir.ID, err)
	}
	var c heldChange
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("ldap[%s]: decode held change: %w", s.dir.ID, err)
	}
	return &c, nil
}

// putHeld stores c as the held change (removes it when c is empty) and
// returns its summary.
func (s *Source) putHeld(tx store.Tx, c *heldChange) (*Held, error) {
	if c.empty() {
		err := tx.DeleteRecord(HeldNamespace, s.stateKey())
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return nil, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("ldap[%s]: encode held change: %w", s.dir.ID, err)
	}
	if err := tx.PutRecord(HeldNamespace, s.stateKey(), b); err != nil {
		return nil, err
	}
	return s.summary(tx, c), nil
}

// summary counts c and names a sample of it, with names from the store.
func (s *Source) summary(tx store.Tx, c *heldChange) *Held {
	h := &Held{Reason: c.Reason, Vanished: c.Vanished, Since: c.Since, Users: len(c.DeleteUsers),
		Deactivations: len(c.Deactivate), Groups: len(c.DeleteGroups), Memberships: c.memberships()}
	add := func(format string, args ...any) bool {
		if len(h.Sample) >= sampleSize {
			return false
		}
		h.Sample = append(h.Sample, fmt.Sprintf(format, args...))
		return true
	}
	userName := func(id policy.UserID) string {
		if u, err := tx.User(s.tenant, id); err == nil {
			return u.UserName
		}
		return string(id)
	}
	groupName := func(id policy.DirGroupID) string {
		if g, err := tx.DirGroup(s.tenant, id); err == nil {
			return g.DisplayName
		}
		return string(id)
	}
	for _, u := range c.DeleteUsers {
		if !add("delete user %s (%s)", u.UserName, u.ID) {
			break
		}
	}
	for _, u := range c.Deactivate {
		if !add("deactivate user %s (%s)", u.UserName, u.ID) {
			break
		}
	}
	for _, g := range c.DeleteGroups {
		if !add("delete group %s (%s)", g.Name, g.ID) {
			break
		}
	}
	for _, rm := range c.Removals {
		for _, u := range rm.Users {
			if !add("remove user %s from group %s", userName(u), rm.Name) {
				return h
			}
		}
		for _, g := range rm.Groups {
			if !add("remove group %s from group %s", groupName(g), rm.Name) {
				return h
			}
		}
	}
	return h
}

// Approve applies the change the deletion guard holds back. By default it
// applies exactly the held change, without reading the directory: the
// deletions, deactivations and membership removals it lists (a record
// that has changed or gone meanwhile is reported in the status, not
// forced). With opts.Revalidate it runs a full sync instead, in which the
// held items the directory still confirms apply and anything new is
// weighed by the guard. It returns ErrNothingPending when nothing is
// held, and the status of what it did (Mode Approval, or Full when
// revalidating). The approval is written to the audit log, with the
// actor of ctx (store.WithActor).
func (s *Source) Approve(ctx context.Context, opts ApproveOptions) (RunStatus, error) {
	if opts.Revalidate {
		return s.runWith(ctx, Full, runOptions{revalidate: true})
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	r := s.newRun(Approval)
	err := s.readRun(ctx, r)
	if err != nil {
		return r.st, err
	}
	if r.pending.empty() {
		return r.st, fmt.Errorf("ldap[%s]: %w", s.dir.ID, ErrNothingPending)
	}
	s.log.Info("ldap sync: applying the approved held change", "users", len(r.pending.DeleteUsers),
		"deactivations", len(r.pending.Deactivate), "groups", len(r.pending.DeleteGroups), "memberships", r.pending.memberships())
	err = r.apply(ctx, heldOps(r.pending))
	r.st.Finished = s.now()
	if err != nil {
		r.st.Error = err.Error()
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishGrace)
	defer cancel()
	serr := s.st.Update(sctx, store.ActorOr(ctx, s.source), func(tx store.Tx) error {
		st, err := s.loadState(tx)
		if err != nil {
			return err
		}
		if r.st.Error == "" {
			if _, err := s.putHeld(tx, nil); err != nil {
				return err
			}
			st.Held = nil
			// The guard's denominators, as a full run would count.
			st.UserCount = max(st.UserCount-r.st.Users.Deleted, 0)
			st.GroupCount = max(st.GroupCount-r.st.Groups.Deleted, 0)
			st.MembershipCount = max(st.MembershipCount-r.st.Memberships.Removed, 0)
			if err := s.recordApproval(tx, r.pending, false); err != nil {
				return err
			}
		}
		r.st.Held = st.Held
		r.st.PendingApproval = st.Held != nil
		st.Last = r.st
		return s.putState(tx, st)
	})
	if err == nil && serr != nil {
		err = serr
		r.st.Error = serr.Error()
	}
	lvl := slog.LevelInfo
	if err != nil {
		lvl = slog.LevelError
	}
	s.log.Log(ctx, lvl, "ldap sync: approval applied", "users", r.st.Users, "groups", r.st.Groups,
		"memberships", r.st.Memberships, "err", r.st.Error)
	if s.onRun != nil {
		s.onRun(r.st)
	}
	return r.st, err
}

// recordApproval writes the approval of c to the audit log.
func (s *Source) recordApproval(tx store.Tx, c *heldChange, revalidated bool) error {
	return tx.Record(s.tenant, policy.OpUpdate, "ldap-sync/"+s.dir.ID, map[string]any{
		"approved": true, "revalidated": revalidated, "reason": c.Reason,
		"users": len(c.DeleteUsers), "deactivations": len(c.Deactivate),
		"groups": len(c.DeleteGroups), "memberships": c.memberships(),
	})
}
