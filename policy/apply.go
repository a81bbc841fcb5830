package policy

import (
	"fmt"
	"slices"
	"strings"
)

// This file holds the engine's writes: the facts it keeps, and Apply, which
// folds the store's change feed into them. Callers hold e.mu for writing.

// userNode returns the node of user id, creating it if needed.
func (e *Engine) userNode(id UserID) *userNode {
	n := e.users[id]
	if n == nil {
		n = &userNode{}
		e.users[id] = n
	}
	return n
}

// dropUser forgets the node of id when nothing is left in it.
func (e *Engine) dropUser(id UserID, n *userNode) {
	if n.rec == nil && len(n.dirs) == 0 && len(n.manual) == 0 {
		delete(e.users, id)
	}
}

// dirNode returns the node of directory group id, creating it if needed.
func (e *Engine) dirNode(id DirGroupID) *dirNode {
	n := e.dirs[id]
	if n == nil {
		n = &dirNode{id: id}
		e.dirs[id] = n
	}
	return n
}

// dropDir forgets a node when nothing is left in it.
func (e *Engine) dropDir(n *dirNode) {
	if n.rec == nil && len(n.parents) == 0 && len(n.rules) == 0 {
		delete(e.dirs, n.id)
	}
}

// user returns the known user id.
func (e *Engine) user(id UserID) (userRec, bool) {
	if n := e.users[id]; n != nil && n.rec != nil {
		return *n.rec, true
	}
	return userRec{}, false
}

// dir returns the known directory group id, or nil.
func (e *Engine) dir(id DirGroupID) *dirRec {
	if n := e.dirs[id]; n != nil {
		return n.rec
	}
	return nil
}

func (e *Engine) putUser(u User) {
	n := e.userNode(u.ID)
	e.unindexEmails(u.ID, n.rec)
	r := &userRec{tenant: u.Tenant, userName: u.UserName, active: u.Active}
	for _, m := range u.Emails {
		if a := FoldAddress(m.Value); a != "" && !slices.Contains(r.emails, a) {
			r.emails = append(r.emails, a)
			e.byEmail[a] = addSorted(e.byEmail[a], u.ID)
		}
	}
	n.rec = r
}

func (e *Engine) unindexEmails(id UserID, r *userRec) {
	if r == nil {
		return
	}
	for _, a := range r.emails {
		setOrDelete(e.byEmail, a, removeSorted(e.byEmail[a], id))
	}
}

func (e *Engine) deleteUser(id UserID) {
	if n := e.users[id]; n != nil {
		e.unindexEmails(id, n.rec)
		n.rec = nil
		e.dropUser(id, n)
	}
}

func (e *Engine) putDir(d DirGroup) {
	e.deleteDir(d.ID)
	r := &dirRec{
		tenant: d.Tenant,
		name:   d.DisplayName,
		source: d.Source,
		users:  sortedDistinct(d.MemberUsers),
		groups: sortedDistinct(d.MemberGroups),
	}
	n := e.dirNode(d.ID)
	n.rec = r
	for _, u := range r.users {
		un := e.userNode(u)
		un.dirs = addSortedBy(un.dirs, n, cmpDirNode)
	}
	for _, c := range r.groups {
		cn := e.dirNode(c)
		cn.parents = addSortedBy(cn.parents, n, cmpDirNode)
	}
}

// changeDir applies a members delta to a known directory group, at the
// cost of the change.
func (e *Engine) changeDir(id DirGroupID, c MembersChange) {
	n := e.dirs[id]
	if n == nil || n.rec == nil {
		return
	}
	r := n.rec
	for _, m := range c.Remove {
		if i, ok := slices.BinarySearch(r.users, UserID(m.ID)); ok {
			r.users = slices.Delete(r.users, i, i+1)
			un := e.users[UserID(m.ID)]
			un.dirs = removeSortedBy(un.dirs, n, cmpDirNode)
			e.dropUser(UserID(m.ID), un)
		}
		if i, ok := slices.BinarySearch(r.groups, DirGroupID(m.ID)); ok {
			r.groups = slices.Delete(r.groups, i, i+1)
			cn := e.dirs[DirGroupID(m.ID)]
			cn.parents = removeSortedBy(cn.parents, n, cmpDirNode)
			if cn != n {
				e.dropDir(cn)
			}
		}
	}
	for _, m := range c.Add {
		switch m.Kind {
		case MemberUser:
			if _, ok := slices.BinarySearch(r.users, UserID(m.ID)); !ok {
				r.users = addSorted(r.users, UserID(m.ID))
				un := e.userNode(UserID(m.ID))
				un.dirs = addSortedBy(un.dirs, n, cmpDirNode)
			}
		case MemberGroup:
			if _, ok := slices.BinarySearch(r.groups, DirGroupID(m.ID)); !ok {
				r.groups = addSorted(r.groups, DirGroupID(m.ID))
				cn := e.dirNode(DirGroupID(m.ID))
				cn.parents = addSortedBy(cn.parents, n, cmpDirNode)
			}
		}
	}
}

func (e *Engine) deleteDir(id DirGroupID) {
	n := e.dirs[id]
	if n == nil || n.rec == nil {
		return
	}
	for _, u := range n.rec.users {
		un := e.users[u]
		un.dirs = removeSortedBy(un.dirs, n, cmpDirNode)
		e.dropUser(u, un)
	}
	for _, c := range n.rec.groups {
		cn := e.dirs[c]
		cn.parents = removeSortedBy(cn.parents, n, cmpDirNode)
		if cn != n {
			e.dropDir(cn)
		}
	}
	n.rec = nil
	e.dropDir(n)
}

func (e *Engine) putGroup(g Group) {
	e.deleteGroup(g.ID)
	e.groups[g.ID] = cloneGroup(g)
	e.children[g.Parent] = addSorted(e.children[g.Parent], g.ID)
}

func (e *Engine) deleteGroup(id GroupID) {
	old, ok := e.groups[id]
	if !ok {
		return
	}
	setOrDelete(e.children, old.Parent, removeSorted(e.children[old.Parent], id))
	delete(e.groups, id)
}

func (e *Engine) putRule(r Rule) {
	e.deleteRule(r.ID)
	rr := &ruleRec{id: r.ID, tenant: r.Tenant, dir: r.DirGroup, group: r.Group, role: r.Role, origin: RuleOrigin(r.ID)}
	e.rules[r.ID] = rr
	dn := e.dirNode(rr.dir)
	dn.rules = addSortedBy(dn.rules, rr, cmpRuleRec)
	e.groupRules[rr.group] = addSortedBy(e.groupRules[rr.group], rr, cmpRuleRec)
}

func (e *Engine) deleteRule(id RuleID) {
	old, ok := e.rules[id]
	if !ok {
		return
	}
	dn := e.dirs[old.dir]
	dn.rules = removeSortedBy(dn.rules, old, cmpRuleRec)
	e.dropDir(dn)
	setOrDelete(e.groupRules, old.group, removeSortedBy(e.groupRules[old.group], old, cmpRuleRec))
	delete(e.rules, id)
}

func (e *Engine) putMembership(m Membership) {
	k := mkey{g: m.Group, u: m.User, r: m.Role}
	origin := m.Origin
	if origin == "" {
		origin = OriginManual
	}
	if _, ok := e.manual[k]; !ok {
		un := e.userNode(k.u)
		un.manual = addSortedBy(un.manual, k, cmpMkey)
		e.manualByGroup[k.g] = addSortedBy(e.manualByGroup[k.g], k, cmpMkey)
	}
	e.manual[k] = origin
}

func (e *Engine) deleteMembership(k mkey) {
	if _, ok := e.manual[k]; !ok {
		return
	}
	un := e.users[k.u]
	un.manual = removeSortedBy(un.manual, k, cmpMkey)
	e.dropUser(k.u, un)
	setOrDelete(e.manualByGroup, k.g, removeSortedBy(e.manualByGroup[k.g], k, cmpMkey))
	delete(e.manual, k)
}

// decoded is one Change turned into a record, ready to apply.
type decoded struct {
	kind   Kind
	del    bool
	delta  *MembersChange // Op OpMembers
	id     string
	tenant Tenant
	user   User
	dir    DirGroup
	group  Group
	role   Role
	rule   Rule
	member Membership
}

// Apply brings the Engine up to date with entries of the store's change
// feed, in order. Entries of kind KindEvent and of unknown kinds are
// skipped. Apply is atomic: when an entry cannot be decoded it returns an
// error wrapping ErrInvalid and changes nothing.
func (e *Engine) Apply(changes []Change) error {
	ds := make([]decoded, 0, len(changes))
	for _, c := range changes {
		d, ok, err := decodeChange(c)
		if err != nil {
			return fmt.Errorf("%w: change %d (%s %s %s): %w", ErrInvalid, c.Seq, c.Op, c.Kind, c.ID, err)
		}
		if ok {
			ds = append(ds, d)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range ds {
		e.apply(d)
	}
	if len(ds) > 0 {
		clear(e.charters)
		clear(e.counts)
	}
	return nil
}

func decodeChange(c Change) (decoded, bool, error) {
	d := decoded{kind: c.Kind, id: c.ID, del: c.Op == OpDelete}
	if !known(c.Kind) {
		return d, false, nil
	}
	switch c.Op {
	case OpCreate, OpUpdate, OpDelete:
	case OpMembers:
		delta, err := c.MembersDelta()
		if err != nil {
			return d, false, err
		}
		d.delta = &delta
		return d, true, nil
	default:
		return d, false, fmt.Errorf("policy: unknown op %q", c.Op)
	}
	var err error
	switch c.Kind {
	case KindTenant:
		err = decodeInto(c, &d.tenant)
	case KindUser:
		err = decodeInto(c, &d.user)
	case KindDirGroup:
		err = decodeInto(c, &d.dir)
	case KindGroup:
		err = decodeInto(c, &d.group)
	case KindRole:
		err = decodeInto(c, &d.role)
	case KindRule:
		err = decodeInto(c, &d.rule)
	case KindMembership:
		err = decodeMembership(c, &d)
	}
	return d, err == nil, err
}

// known reports whether the engine keeps records of kind k.
func known(k Kind) bool {
	switch k {
	case KindTenant, KindUser, KindDirGroup, KindGroup, KindRole, KindRule, KindMembership:
		return true
	}
	return false
}

// decodeInto sets *v to the record a change leaves (After) or, for a
// delete, the one it removed (Before, when given).
func decodeInto[T Record](c Change, v *T) error {
	before, after, err := Records[T](c)
	if err != nil {
		return err
	}
	switch {
	case c.Op == OpDelete:
		if before != nil {
			*v = *before
		}
	case after == nil:
		return fmt.Errorf("policy: %s without after", c.Op)
	default:
		*v = *after
	}
	return nil
}

// decodeMembership decodes a membership change. An update that changes
// the key removes the old membership; a delete without Before names the
// membership by its key.
func decodeMembership(c Change, d *decoded) error {
	if err := decodeInto(c, &d.member); err != nil {
		return err
	}
	if c.Op == OpUpdate {
		if old, _, _ := Records[Membership](c); old != nil && (mkey{old.Group, old.User, old.Role}) != (mkey{d.member.Group, d.member.User, d.member.Role}) {
			d.id = MembershipKey(old.Group, old.User, old.Role)
		}
	}
	if c.Op == OpDelete && d.member.Group == "" {
		g, u, r, err := ParseMembershipKey(c.ID)
		if err != nil {
			return err
		}
		d.member = Membership{Group: g, User: u, Role: r}
	}
	return nil
}

// apply applies one decoded change; the caller holds e.mu for writing.
func (e *Engine) apply(d decoded) {
	// For a delete the id of the record is taken from Before when given,
	// else from the Change ID.
	pick := func(fromRecord string) string {
		if fromRecord != "" {
			return fromRecord
		}
		return d.id
	}
	switch d.kind {
	case KindTenant:
		if d.del {
			delete(e.tenants, TenantID(pick(string(d.tenant.ID))))
		} else {
			e.tenants[d.tenant.ID] = cloneTenant(d.tenant)
		}
	case KindUser:
		if d.del {
			e.deleteUser(UserID(pick(string(d.user.ID))))
		} else {
			e.putUser(d.user)
		}
	case KindDirGroup:
		if d.delta != nil {
			e.changeDir(DirGroupID(d.id), *d.delta)
		} else if d.del {
			e.deleteDir(DirGroupID(pick(string(d.dir.ID))))
		} else {
			e.putDir(d.dir)
		}
	case KindGroup:
		if d.del {
			e.deleteGroup(GroupID(pick(string(d.group.ID))))
		} else {
			e.putGroup(d.group)
		}
	case KindRole:
		if d.del {
			delete(e.roles, RoleName(pick(string(d.role.Name))))
		} else {
			e.roles[d.role.Name] = cloneRole(d.role)
		}
	case KindRule:
		if d.del {
			e.deleteRule(RuleID(pick(string(d.rule.ID))))
		} else {
			e.putRule(d.rule)
		}
	case KindMembership:
		m := d.member
		if d.del {
			e.deleteMembership(mkey{m.Group, m.User, m.Role})
			return
		}
		if d.id != "" && d.id != MembershipKey(m.Group, m.User, m.Role) {
			if parts := strings.Split(d.id, "/"); len(parts) == 3 {
				e.deleteMembership(mkey{GroupID(parts[0]), UserID(parts[1]), RoleName(parts[2])})
			}
		}
		e.putMembership(m)
	}
}
