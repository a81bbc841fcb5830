package policy

import (
	"cmp"
	"slices"
)

// This file holds the engine's read side: effective membership (direct,
// nested and inherited) and the group hierarchy.

// grant is one origin of one role of a user in a group.
type grant struct {
	group  GroupID
	role   RoleName
	origin Origin
	dir    DirGroupID // for rule origins: the directory group the rule binds
	rule   RuleID
}

// reach returns the directory groups a user (of tenant tenant, listed
// directly by the groups of direct) belongs to, directly or through
// nesting, breadth first. Only known groups of the user's tenant count.
// When pred is not nil it records for each directory group the one it was
// reached from ("" for a direct member). The caller holds e.mu.
func reach(direct []*dirNode, tenant TenantID, pred map[DirGroupID]DirGroupID) []*dirNode {
	if len(direct) == 0 {
		return nil
	}
	// Most users reach a handful of directory groups: search out itself
	// until it grows, then switch to a set.
	const smallSet = 16
	out := make([]*dirNode, 0, 4*len(direct))
	var seen map[*dirNode]struct{}
	add := func(n *dirNode, from DirGroupID) {
		if n.rec == nil || n.rec.tenant != tenant {
			return
		}
		if seen != nil {
			if _, ok := seen[n]; ok {
				return
			}
			seen[n] = struct{}{}
		} else if slices.Contains(out, n) {
			return
		}
		out = append(out, n)
		if pred != nil {
			pred[n.id] = from
		}
		if seen == nil && len(out) > smallSet {
			seen = make(map[*dirNode]struct{}, 2*len(out))
			for _, x := range out {
				seen[x] = struct{}{}
			}
		}
	}
	for _, n := range direct {
		add(n, "")
	}
	for i := 0; i < len(out); i++ {
		for _, p := range out[i].parents {
			add(p, out[i].id)
		}
	}
	return out
}

// grants returns every origin of every role user u holds, restricted to
// groups for which want returns true (all groups when want is nil). The
// caller holds e.mu.
func (e *Engine) grants(u UserID, want func(GroupID) bool, pred map[DirGroupID]DirGroupID) []grant {
	un := e.users[u]
	if un == nil || un.rec == nil || !un.rec.active {
		return nil
	}
	tenant := un.rec.tenant
	out := make([]grant, 0, 8)
	for _, k := range un.manual {
		if _, ok := e.groups[k.g]; !ok || (want != nil && !want(k.g)) {
			continue
		}
		out = append(out, grant{group: k.g, role: k.r, origin: e.manual[k]})
	}
	// Every directory group reached is of the user's tenant.
	for _, d := range reach(un.dirs, tenant, pred) {
		for _, r := range d.rules {
			if r.tenant != tenant {
				continue
			}
			if _, ok := e.groups[r.group]; !ok || (want != nil && !want(r.group)) {
				continue
			}
			out = append(out, grant{group: r.group, role: r.role, origin: r.origin, dir: d.id, rule: r.id})
		}
	}
	return out
}

func cmpGrant(a, b grant) int {
	if c := cmp.Compare(a.group, b.group); c != 0 {
		return c
	}
	if c := cmp.Compare(a.role, b.role); c != 0 {
		return c
	}
	return cmp.Compare(a.origin, b.origin)
}

// EffectiveGroups returns every role user u holds in every user group,
// sorted by group id then role, each with its origins sorted. It returns
// nil for an unknown or inactive user. Membership does not flow up: a
// member of a local group is not thereby a member of its parents.
func (e *Engine) EffectiveGroups(u UserID) []EffectiveMembership {
	e.mu.RLock()
	gs := e.grants(u, nil, nil)
	e.mu.RUnlock()
	if len(gs) == 0 {
		return nil
	}
	slices.SortFunc(gs, cmpGrant)
	var out []EffectiveMembership
	for i, g := range gs {
		if i > 0 && gs[i-1].group == g.group && gs[i-1].role == g.role {
			last := &out[len(out)-1]
			if last.Origins[len(last.Origins)-1] != g.origin {
				last.Origins = append(last.Origins, g.origin)
			}
			continue
		}
		out = append(out, EffectiveMembership{Group: g.group, Role: g.role, Origins: []Origin{g.origin}})
	}
	return out
}

// Members returns the effective members of group g itself (not of its
// descendants): every active user holding a role in g, sorted by user id
// then role, each with its origins sorted. It returns nil for an unknown
// group.
func (e *Engine) Members(g GroupID) []EffectiveMember {
	e.mu.RLock()
	defer e.mu.RUnlock()
	type ur struct {
		u UserID
		r RoleName
	}
	origins := map[ur][]Origin{}
	e.forEachMember(g, func(u UserID, r RoleName, o Origin) {
		k := ur{u, r}
		origins[k] = append(origins[k], o)
	})
	if len(origins) == 0 {
		return nil
	}
	out := make([]EffectiveMember, 0, len(origins))
	for k, os := range origins {
		slices.Sort(os)
		out = append(out, EffectiveMember{User: k.u, Role: k.r, Origins: slices.Compact(os)})
	}
	slices.SortFunc(out, func(a, b EffectiveMember) int {
		if c := cmp.Compare(a.User, b.User); c != 0 {
			return c
		}
		return cmp.Compare(a.Role, b.Role)
	})
	return out
}

// MemberCount returns the number of distinct active users holding any
// role in g: len(Members) counted by user. Results are memoized until the
// next Load or Apply, so listing every group with its size stays cheap.
func (e *Engine) MemberCount(g GroupID) int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return memoized(e, e.counts, g, func(g GroupID) int {
		users := map[UserID]struct{}{}
		e.forEachMember(g, func(u UserID, _ RoleName, _ Origin) { users[u] = struct{}{} })
		return len(users)
	})
}

// memoized returns memo[g], computing it with compute (outside cacheMu,
// so that readers computing other groups do not wait) when it is not
// there yet. The caller holds e.mu (read), which keeps memo current: Load
// and Apply, which clear it, take e.mu to write.
func memoized[V any](e *Engine, memo map[GroupID]V, g GroupID, compute func(GroupID) V) V {
	e.cacheMu.Lock()
	v, ok := memo[g]
	e.cacheMu.Unlock()
	if ok {
		return v
	}
	v = compute(g)
	e.cacheMu.Lock()
	memo[g] = v
	e.cacheMu.Unlock()
	return v
}

// forEachMember calls fn for each (active user, role, origin) of group g;
// the same triple may be reported more than once. The caller holds e.mu.
func (e *Engine) forEachMember(g GroupID, fn func(UserID, RoleName, Origin)) {
	if _, ok := e.groups[g]; !ok {
		return
	}
	for _, k := range e.manualByGroup[g] {
		if u, ok := e.user(k.u); ok && u.active {
			fn(k.u, k.r, e.manual[k])
		}
	}
	for _, r := range e.groupRules[g] {
		root := e.dir(r.dir)
		if root == nil || root.tenant != r.tenant {
			continue
		}
		e.walkDown(r.dir, func(u UserID) { fn(u, r.role, r.origin) })
	}
}

// walkDown calls fn for every active user of root's tenant listed by root
// or by a directory group nested in it (of the same tenant), at any depth.
// A user may be reported more than once. Cycles are harmless.
func (e *Engine) walkDown(root DirGroupID, fn func(UserID)) {
	t := e.dir(root).tenant
	seen := map[DirGroupID]struct{}{root: {}}
	queue := []DirGroupID{root}
	for i := 0; i < len(queue); i++ {
		d := e.dir(queue[i])
		for _, u := range d.users {
			if ur, ok := e.user(u); ok && ur.active && ur.tenant == t {
				fn(u)
			}
		}
		for _, c := range d.groups {
			if _, ok := seen[c]; ok {
				continue
			}
			cr := e.dir(c)
			if cr == nil || cr.tenant != t {
				continue
			}
			seen[c] = struct{}{}
			queue = append(queue, c)
		}
	}
}

// Group returns the user group with the given id.
func (e *Engine) Group(id GroupID) (Group, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	g, ok := e.groups[id]
	if ok {
		g.Meetings = slices.Clone(g.Meetings)
		g.Suspensions = slices.Clone(g.Suspensions)
		g.MailingList = cloneList(g.MailingList)
		g.Topics, g.Products = slices.Clone(g.Topics), slices.Clone(g.Products)
	}
	return g, ok
}

// Children returns the ids of the groups whose parent is id, sorted. With
// id "" it returns the roots of the hierarchy.
func (e *Engine) Children(id GroupID) []GroupID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return slices.Clone(e.children[id])
}

// Ancestors returns the ids of the ancestors of group id, parent first,
// root last. It stops at a parent that is not known; it returns nil for an
// unknown group or a root.
func (e *Engine) Ancestors(id GroupID) []GroupID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.ancestors(id)
}

// ancestors is Ancestors for a caller holding e.mu. A loop in the parent
// chain (which the store forbids) ends the walk.
func (e *Engine) ancestors(id GroupID) []GroupID {
	g, ok := e.groups[id]
	if !ok {
		return nil
	}
	var out []GroupID
	for p := g.Parent; p != "" && p != id; {
		pg, ok := e.groups[p]
		if !ok || slices.Contains(out, p) {
			break
		}
		out = append(out, p)
		p = pg.Parent
	}
	return out
}

// activeByEmail returns an active user with e-mail address addr (folded).
// The caller holds e.mu.
func (e *Engine) activeByEmail(addr string) (UserID, bool) {
	for _, u := range e.byEmail[addr] {
		if ur, ok := e.user(u); ok && ur.active {
			return u, true
		}
	}
	return "", false
}

// isMember reports whether active user u holds any role in g. The caller
// holds e.mu.
func (e *Engine) isMember(u UserID, g GroupID) bool {
	un := e.users[u]
	if un == nil || un.rec == nil || !un.rec.active {
		return false
	}
	for _, k := range un.manual {
		if k.g == g {
			return true
		}
	}
	for _, d := range reach(un.dirs, un.rec.tenant, nil) {
		for _, r := range d.rules {
			if r.group == g && r.tenant == un.rec.tenant {
				return true
			}
		}
	}
	return false
}
