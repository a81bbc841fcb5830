package ldap

// This file holds how directory groups are planned and written: member diffs (deltas), creation order for nesting, the deletion guard's view of leavers.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// applyGroups creates new groups, brings every read group's name and
// members (users and nested groups) in line with the directory and, in a
// full run, deletes the users and groups the directory no longer has;
// it also applies the deactivations diffUser found. New groups are
// created first so that nesting can refer to them; a cycle is just two
// edges. Before anything is removed, the whole removal — deletions,
// deactivations and membership removals — is weighed by the deletion
// guard (decide); what it holds is left out of every write, additions
// and attribute changes are not.
func (r *run) applyGroups(ctx context.Context, groups []dirGroup, full bool) error {
	uniq, creates := r.planGroups(groups)
	return r.writeGroups(ctx, uniq, creates, full)
}

// planGroups drops the duplicates of groups (reported) and returns the
// others, with the creates of those the store does not have yet, each
// after the new groups it contains. With preIDs the creates are also
// resolved (op.pre), with ids chosen here in that order, on every CPU:
// full runs this while the writer still writes the last users, so it
// must not touch what apply does (see full).
func (r *run) planGroups(groups []dirGroup) (uniq []dirGroup, creates []op) {
	seen := make(map[string]bool, len(groups))
	uniq = groups[:0:0]
	for _, g := range groups {
		if seen[g.ext] {
			r.recordErr(&r.st.Groups, fmt.Sprintf("group %s: duplicate %s %s", g.dn, r.s.dir.Attributes.ID, g.ext))
			continue
		}
		seen[g.ext] = true
		uniq = append(uniq, g)
		r.dnKind[g.norm] = groupEntry(g.ext)
		if r.index != nil {
			r.dnGroups = append(r.dnGroups, g.norm)
		}
		r.groupsMark = laterMark(r.groupsMark, g.mark)
	}
	r.seenGroups = seen

	// New groups are created after the new groups they contain, and
	// their members are resolved when the create runs, inside its
	// transaction (or here, with preIDs): all but the groups of a
	// nesting cycle are created complete, without a second write.
	for _, i := range r.creationOrder(uniq) {
		g := &uniq[i]
		creates = append(creates, op{kind: opCreateGroup, dg: g, members: len(g.members) + len(r.primary[g.sid]),
			group: policy.DirGroup{DisplayName: g.name, ExternalID: g.ext}})
	}
	if r.preIDs && len(creates) > 0 {
		type at struct {
			id  policy.DirGroupID
			pos int
		}
		chosen := make(map[string]at, len(creates))
		for k := range creates {
			chosen[creates[k].group.ExternalID] = at{policy.DirGroupID(store.NewID()), k}
		}
		pre := make([]policy.DirGroup, len(creates))
		store.Parallel(len(creates), func(k int) {
			o := &creates[k]
			// A group keeps the member groups created before it
			// (and itself, which desiredGroupWith leaves out), as
			// if resolved one create at a time.
			pre[k], o.preFinal = r.desiredGroupWith(*o.dg, func(ext string) (policy.DirGroupID, bool) {
				if id, ok := r.groupID[ext]; ok {
					return id, true
				}
				c, ok := chosen[ext]
				return c.id, ok && c.pos <= k
			})
			pre[k].ID = chosen[o.group.ExternalID].id
			o.pre = &pre[k]
		})
	}
	return uniq, creates
}

// writeGroups writes what planGroups planned: see applyGroups.
func (r *run) writeGroups(ctx context.Context, uniq []dirGroup, creates []op, full bool) error {
	r.batch = r.s.batch
	if len(r.oldGroups) == 0 {
		r.batch = r.s.bulk // a first load of groups
		r.ramp = 0
	}
	r.finalGroups = make(map[string]bool, len(creates))
	r.curGroups = make(map[string]policy.DirGroup, len(uniq))
	for ext, g := range r.oldGroups {
		r.curGroups[ext] = g
	}
	r.phase(PhaseGroups)
	if err := r.apply(ctx, creates); err != nil {
		return err
	}

	// The groups that change, and how.
	var plans []groupPlan
	var load []int // plans whose stored member lists a full run must read
	for _, g := range uniq {
		cur, ok := r.curGroups[g.ext]
		if !ok {
			continue // its create failed
		}
		_, existed := r.oldGroups[g.ext]
		if !existed && r.finalGroups[g.ext] {
			continue
		}
		d := r.desiredGroup(g)
		if r.sameGroup(cur, d) {
			if existed {
				r.st.Groups.Unchanged++
			}
			continue
		}
		p := groupPlan{
			group:  policy.DirGroup{ID: cur.ID, ExternalID: g.ext, DisplayName: g.name, Attributes: map[string]any{attrDN: g.dn}},
			header: cur.DisplayName != g.name || cur.Attributes[attrDN] != any(g.dn),
			users:  d.MemberUsers, groups: d.MemberGroups,
			quiet: !existed,
		}
		if _, onlyFP := r.oldMembers[g.ext]; onlyFP {
			load = append(load, len(plans))
		} else {
			p.diff(cur.MemberUsers, cur.MemberGroups)
		}
		plans = append(plans, p)
	}
	if len(load) > 0 {
		err := r.s.st.View(ctx, func(tx store.Tx) error {
			for _, i := range load {
				sg, err := tx.DirGroup(r.s.tenant, plans[i].group.ID)
				if err != nil {
					return err
				}
				plans[i].diff(sg.MemberUsers, sg.MemberGroups)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("ldap[%s]: read store: %w", r.s.dir.ID, err)
		}
	}

	if !full {
		if err := r.keepLeavers(ctx, plans); err != nil {
			return err
		}
	}

	// The whole removal, weighed at once.
	c := &heldChange{}
	for _, p := range plans {
		if len(p.delta.delUsers)+len(p.delta.delGroups) > 0 {
			c.Removals = append(c.Removals, heldRemoval{Group: p.group.ID, Name: p.group.DisplayName,
				Users: p.delta.delUsers, Groups: p.delta.delGroups})
		}
	}
	if full {
		for _, ext := range sortedKeysWhere(r.oldGroups, func(ext string, _ policy.DirGroup) bool { return !r.seenGroups[ext] }) {
			g := r.oldGroups[ext]
			c.DeleteGroups = append(c.DeleteGroups, heldGroup{ID: g.ID, ExternalID: ext, Name: g.DisplayName, Members: r.oldMembers[ext].n})
		}
		for _, ext := range sortedKeysWhere(r.oldUsers, func(ext string, _ userRef) bool { return !r.seenUsers[ext] }) {
			old := r.oldUsers[ext]
			c.DeleteUsers = append(c.DeleteUsers, heldUser{ID: old.id, ExternalID: ext, UserName: old.userName})
		}
	}
	var implicit map[policy.UserID]int
	if !full && len(r.deleted) > 0 {
		var err error
		if implicit, err = r.knownDeletions(ctx, c, plans); err != nil {
			return err
		}
	}
	for _, u := range r.deactivate {
		c.Deactivate = append(c.Deactivate, heldUser{ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName})
	}
	r.phase(PhaseGuard)
	if err := r.decide(ctx, c); err != nil {
		return err
	}
	r.phase(PhaseGroups)

	// Updates: additions and header changes always, removals unless held.
	var updates []op
	for _, p := range plans {
		id := p.group.ID
		p.delta.delUsers = slices.DeleteFunc(p.delta.delUsers, func(u policy.UserID) bool { return !r.allowed(removeUserKey(id, u)) })
		p.delta.delGroups = slices.DeleteFunc(p.delta.delGroups, func(g policy.DirGroupID) bool { return !r.allowed(removeGroupKey(id, g)) })
		if !p.header && p.delta.empty() {
			if !p.quiet {
				r.st.Groups.Unchanged++
			}
			continue
		}
		delta := p.delta
		updates = append(updates, op{kind: opUpdateGroup, group: p.group, header: p.header, delta: &delta,
			quiet: p.quiet, members: len(p.users) + len(p.groups)})
	}
	if err := r.apply(ctx, updates); err != nil {
		return err
	}

	// Deletions and deactivations, unless held.
	r.phase(PhaseRemovals)
	var gdel, udel []op
	for _, g := range c.DeleteGroups {
		if r.allowed(deleteGroupKey(g.ID)) {
			gdel = append(gdel, op{kind: opDeleteGroup, group: policy.DirGroup{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.Name}, members: g.Members})
		}
	}
	if err := r.apply(ctx, gdel); err != nil {
		return err
	}
	for _, u := range c.DeleteUsers {
		if r.allowed(deleteUserKey(u.ID)) {
			udel = append(udel, op{kind: opDeleteUser, user: policy.User{ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName},
				members: implicit[u.ID]})
		}
	}
	for _, u := range r.deactivate {
		if r.allowed(deactivateKey(u.ID)) {
			udel = append(udel, op{kind: opUpdateUser, user: u, deactivates: true})
			continue
		}
		// Held: the user stays active; its other changes land.
		u.Active = true
		if r.s.fingerprint(u) != r.oldUsers[u.ExternalID].fp {
			udel = append(udel, op{kind: opUpdateUser, user: u})
		}
	}
	return r.apply(ctx, udel)
}

// knownDeletions adds to c the users and groups a non-full run learnt
// were deleted (r.deleted: syncrepl, AD tombstones) and the store holds
// from this source, with the memberships that go with them: a deleted
// group's members, and a deleted user's place in each group that lists
// it (unless a plan removes it already; the store drops these with the
// user). It returns the number of such implicit removals per user.
func (r *run) knownDeletions(ctx context.Context, c *heldChange, plans []groupPlan) (map[policy.UserID]int, error) {
	s := r.s
	planned := map[heldKey]bool{}
	for _, p := range plans {
		for _, u := range p.delta.delUsers {
			planned[removeUserKey(p.group.ID, u)] = true
		}
	}
	r.deletedIDs = map[policy.UserID]bool{}
	implicit := map[policy.UserID]int{}
	byGroup := map[policy.DirGroupID]*heldRemoval{}
	var order []policy.DirGroupID
	err := s.st.View(ctx, func(tx store.Tx) error {
		for _, ext := range sortedKeys(r.deleted) {
			if g, ok := r.oldGroups[ext]; ok && !r.seenGroups[ext] {
				c.DeleteGroups = append(c.DeleteGroups, heldGroup{ID: g.ID, ExternalID: ext, Name: g.DisplayName,
					Members: len(g.MemberUsers) + len(g.MemberGroups)})
			}
			u, ok := r.oldUsers[ext]
			if !ok || r.seenUsers[ext] {
				continue
			}
			r.deletedIDs[u.id] = true
			c.DeleteUsers = append(c.DeleteUsers, heldUser{ID: u.id, ExternalID: ext, UserName: u.userName})
			gs, err := tx.DirGroupsOf(s.tenant, string(u.id))
			if err != nil {
				return err
			}
			for _, gid := range gs {
				if planned[removeUserKey(gid, u.id)] {
					continue
				}
				g, err := tx.DirGroup(s.tenant, gid)
				if errors.Is(err, store.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				if g.Source != s.source || !slices.Contains(g.MemberUsers, u.id) {
					continue
				}
				rm := byGroup[gid]
				if rm == nil {
					rm = &heldRemoval{Group: gid, Name: g.DisplayName}
					byGroup[gid] = rm
					order = append(order, gid)
				}
				rm.Users = append(rm.Users, u.id)
				implicit[u.id]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}
	for _, gid := range order {
		c.Removals = append(c.Removals, *byGroup[gid])
	}
	return implicit, nil
}

// keepLeavers drops from an incremental run's plans the removals of
// users the directory no longer has: such a user's memberships go with
// the user, whose deletion only a full run sees and weighs (the groups'
// member values may go first, as with OpenLDAP's refint).
func (r *run) keepLeavers(ctx context.Context, plans []groupPlan) error {
	s := r.s
	read := make(map[policy.UserID]bool, len(r.seenUsers))
	for ext := range r.seenUsers {
		if id, ok := r.userID[ext]; ok {
			read[id] = true
		}
	}
	names := map[policy.UserID]string{}
	for _, p := range plans {
		for _, u := range p.delta.delUsers {
			if !read[u] && !r.deletedIDs[u] {
				names[u] = ""
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	err := s.st.View(ctx, func(tx store.Tx) error {
		for id := range names {
			u, err := tx.User(s.tenant, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			names[id] = u.UserName
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}
	var ask []string
	for _, n := range names {
		if n != "" {
			ask = append(ask, n)
		}
	}
	slices.Sort(ask)
	exists := make(map[string]bool, len(ask))
	for len(ask) > 0 {
		chunk := ask[:min(len(ask), 200)]
		ask = ask[len(chunk):]
		var f strings.Builder
		f.WriteString("(&" + s.dir.Users.Filter + "(|")
		for _, n := range chunk {
			f.WriteString("(" + s.dir.Attributes.UserName + "=" + goldap.EscapeFilter(n) + ")")
		}
		f.WriteString("))")
		err := s.pagedSearch(ctx, r.conn, s.dir.Users.BaseDN, f.String(), s.userAttrs(), func(page []*goldap.Entry) error {
			for _, e := range page {
				if du, ok := s.mapUser(e); ok {
					exists[policy.FoldUserName(du.user.UserName)] = true
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	kept := 0
	for i := range plans {
		d := &plans[i].delta
		d.delUsers = slices.DeleteFunc(d.delUsers, func(u policy.UserID) bool {
			gone := !read[u] && !exists[policy.FoldUserName(names[u])]
			if gone {
				kept++
			}
			return gone
		})
	}
	if kept > 0 {
		s.log.Info("ldap sync: memberships of users gone from the directory left for the next full run", "memberships", kept)
	}
	return nil
}

// groupPlan is the update a run wants for one group it read.
type groupPlan struct {
	group  policy.DirGroup // id, external id, name and DN as read
	header bool            // name or DN changed
	// users and groups are the desired member lists, sorted and unique;
	// delta what they change (diff).
	users  []policy.UserID
	groups []policy.DirGroupID
	delta  memberDelta
	quiet  bool // a group this run created
}

// diff sets p.delta from the stored member lists.
func (p *groupPlan) diff(users []policy.UserID, groups []policy.DirGroupID) {
	p.delta.addUsers, p.delta.delUsers = setDiff(sortedUnique(slices.Clone(users)), p.users)
	p.delta.addGroups, p.delta.delGroups = setDiff(sortedUnique(slices.Clone(groups)), p.groups)
}

// setDiff returns what want adds to have and what it drops; both sorted
// and unique.
func setDiff[T ~string](have, want []T) (add, del []T) {
	i, j := 0, 0
	for i < len(have) || j < len(want) {
		switch {
		case j == len(want) || (i < len(have) && have[i] < want[j]):
			del = append(del, have[i])
			i++
		case i == len(have) || want[j] < have[i]:
			add = append(add, want[j])
			j++
		default:
			i++
			j++
		}
	}
	return add, del
}

// memberDelta is a change to a group's member lists. Every membership
// write of this package — a run's, an approval's — is one, applied to
// the group as stored inside the transaction (see exec).
type memberDelta struct {
	addUsers, delUsers   []policy.UserID
	addGroups, delGroups []policy.DirGroupID
}

func (d memberDelta) empty() bool {
	return len(d.addUsers)+len(d.delUsers)+len(d.addGroups)+len(d.delGroups) == 0
}

// update returns d as the store's one membership operation.
func (d memberDelta) update() store.MemberUpdate {
	var u store.MemberUpdate
	for _, m := range d.addUsers {
		u.Add = append(u.Add, policy.UserMember(m))
	}
	for _, m := range d.addGroups {
		u.Add = append(u.Add, policy.GroupMember(m))
	}
	for _, m := range d.delUsers {
		u.Remove = append(u.Remove, policy.UserMember(m))
	}
	for _, m := range d.delGroups {
		u.Remove = append(u.Remove, policy.GroupMember(m))
	}
	return u
}

// applyDelta returns cur without del, with add.
func applyDelta[T ~string](cur, add, del []T) []T {
	if len(add)+len(del) == 0 {
		return cur
	}
	drop := make(map[T]bool, len(del))
	for _, m := range del {
		drop[m] = true
	}
	out := make([]T, 0, len(cur)+len(add))
	have := make(map[T]bool, len(cur)+len(add))
	for _, m := range cur {
		if !drop[m] && !have[m] {
			have[m] = true
			out = append(out, m)
		}
	}
	for _, m := range add {
		if !have[m] {
			have[m] = true
			out = append(out, m)
		}
	}
	return out
}

// creationOrder returns the indexes of the groups of uniq that the store
// does not have yet, each after the new groups it contains (depth first;
// a cycle is cut where it is met).
func (r *run) creationOrder(uniq []dirGroup) []int {
	isNew := make(map[string]int)
	for i, g := range uniq {
		if _, ok := r.oldGroups[g.ext]; !ok {
			isNew[g.ext] = i
		}
	}
	order := make([]int, 0, len(isNew))
	state := make(map[int]uint8, len(isNew)) // 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		state[i] = 1
		if r.s.dir.Membership != MembershipMemberUID {
			for _, m := range uniq[i].members {
				kv := r.dnKind[m]
				if kv.kind != entryGroup {
					continue
				}
				if j, ok := isNew[kv.ext]; ok && state[j] == 0 {
					visit(j)
				}
			}
		}
		state[i] = 2
		order = append(order, i)
	}
	for i, g := range uniq {
		if _, ok := isNew[g.ext]; ok && state[i] == 0 {
			visit(i)
		}
	}
	return order
}

// groupIDOf returns the store id of a group read in this run: created by
// an earlier run or batch, or earlier in the transaction being written.
func (r *run) groupIDOf(ext string) (policy.DirGroupID, bool) {
	if id, ok := r.groupID[ext]; ok {
		return id, true
	}
	id, ok := r.txGroupID[ext]
	return id, ok
}

// desiredGroup resolves a directory group's members to store ids. Members
// that are neither a known user nor a known group (outside the searched
// subtrees, placeholders, not yet created) are left out, and so is the
// group itself. In Active Directory the users whose primary group it is
// are members too, though its member attribute does not list them.
func (r *run) desiredGroup(g dirGroup) policy.DirGroup {
	d, _ := r.desiredGroupFinal(g)
	return d
}

// desiredGroupFinal is desiredGroup; final reports that no member is a
// group read in this run without a store id yet (one still to be
// created), so the result will not change once all groups exist.
func (r *run) desiredGroupFinal(g dirGroup) (d policy.DirGroup, final bool) {
	return r.desiredGroupWith(g, r.groupIDOf)
}

// desiredGroupWith is desiredGroupFinal with the ids of the groups read
// in this run given by groupIDOf.
func (r *run) desiredGroupWith(g dirGroup, groupIDOf func(ext string) (policy.DirGroupID, bool)) (d policy.DirGroup, final bool) {
	final = true
	d = policy.DirGroup{
		Tenant:      r.s.tenant,
		DisplayName: g.name,
		ExternalID:  g.ext,
		Source:      r.s.source,
		Attributes:  map[string]any{attrDN: g.dn},
	}
	// Room for every member as a user: grown one append at a time, the
	// lists of a first load's groups left as much garbage again (264,000
	// memberships), while the last users are written.
	d.MemberUsers = make([]policy.UserID, 0, len(g.members)+len(r.primary[g.sid])+len(r.primaryIDs[g.sid]))
	for _, m := range g.members {
		var kv entryRef
		if r.s.dir.Membership == MembershipMemberUID {
			if ext, ok := r.userByName[policy.FoldUserName(m)]; ok {
				kv = userEntry(ext)
			}
		} else {
			kv = r.dnKind[m] // normalized by memberValues
		}
		if kv.kind == 0 {
			continue
		}
		ext := kv.ext
		if kv.kind == entryUser {
			if id, ok := r.userID[ext]; ok {
				d.MemberUsers = append(d.MemberUsers, id)
			}
		} else if id, ok := groupIDOf(ext); ok && ext != g.ext {
			d.MemberGroups = append(d.MemberGroups, id)
		} else if !ok {
			final = false
		}
	}
	if g.sid != "" {
		for _, ext := range r.primary[g.sid] {
			if id, ok := r.userID[ext]; ok {
				d.MemberUsers = append(d.MemberUsers, id)
			}
		}
		d.MemberUsers = append(d.MemberUsers, r.primaryIDs[g.sid]...)
	}
	d.MemberUsers = sortedUnique(d.MemberUsers)
	d.MemberGroups = sortedUnique(d.MemberGroups)
	return d, final
}

func sortedUnique[T ~string](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}

// sameGroup reports whether the group cur needs no update to become d,
// whose member lists are sorted and unique.
func (r *run) sameGroup(cur, d policy.DirGroup) bool {
	if cur.DisplayName != d.DisplayName || cur.ExternalID != d.ExternalID ||
		cur.Attributes[attrDN] != d.Attributes[attrDN] {
		return false
	}
	if m, ok := r.oldMembers[cur.ExternalID]; ok {
		return m.fp == r.s.membersFingerprint(d.MemberUsers, d.MemberGroups)
	}
	return slices.Equal(sortedUnique(slices.Clone(cur.MemberUsers)), d.MemberUsers) &&
		slices.Equal(sortedUnique(slices.Clone(cur.MemberGroups)), d.MemberGroups)
}

// membersRef is what a full run keeps of a stored group's member lists.
type membersRef struct {
	fp uint64 // membersFingerprint of the sorted, unique lists
	n  int    // number of members
}

// membersFingerprint hashes sorted, unique member lists.
func (s *Source) membersFingerprint(users []policy.UserID, groups []policy.DirGroupID) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(users)))
	h.Write(n[:])
	for _, u := range users {
		h.WriteString(string(u))
		h.WriteByte(0) // ids contain no NUL
	}
	binary.LittleEndian.PutUint64(n[:], uint64(len(groups)))
	h.Write(n[:])
	for _, g := range groups {
		h.WriteString(string(g))
		h.WriteByte(0)
	}
	return h.Sum64()
}

func sortedKeys[V any](m map[string]V) []string {
	return sortedKeysWhere(m, func(string, V) bool { return true })
}

// sortedKeysWhere returns the keys of m whose entries keep accepts, sorted.
// Only those are sorted: a full run over 100,000 unchanged users looks for
// the few the directory no longer has, and sorting them all took longer
// than the search.
func sortedKeysWhere[V any](m map[string]V, keep func(k string, v V) bool) []string {
	var keys []string
	for k, v := range m {
		if keep(k, v) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
