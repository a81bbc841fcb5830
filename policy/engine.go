package policy

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Engine keeps the effective view of the facts in memory: who holds which
// role in which user group (directly, by rule through nested directory
// groups, or manually), which permissions that gives, why, and which groups
// are chartered.
//
// The Engine holds the facts and a handful of indexes (user → directory
// groups listing it, directory group → directory groups nesting it,
// directory group → rules, user group → rules, user group → children,
// manual memberships by user and by group), so every question is a small
// graph walk from the user or group asked about; nothing recomputes the
// world. It is fed with Load (a full snapshot) and then Apply (the store's
// change feed); both give the same answers for the same resulting facts.
//
// References that do not resolve (a deleted user still listed by a directory
// group, a rule whose directory group is gone…) are ignored, as are
// references that cross tenants: a directory group only counts users and
// nested directory groups of its own tenant, and a rule only counts when its
// tenant is the one of its directory group.
//
// An Engine is safe for concurrent use by many readers and one writer.
type Engine struct {
	charter CharterRule
	hier    Hierarchy // governance modes of the kinds

	mu       sync.RWMutex
	cacheMu  sync.Mutex                // guards charters and counts; held inside mu.RLock
	charters map[GroupID]CharterStatus // memoized Charter results; cleared on every write
	counts   map[GroupID]int           // memoized MemberCount results; cleared on every write
	tenants  map[TenantID]Tenant
	users    map[UserID]*userNode
	dirs     map[DirGroupID]*dirNode
	groups   map[GroupID]Group
	roles    map[RoleName]Role
	rules    map[RuleID]*ruleRec
	manual   map[mkey]Origin

	groupRules    map[GroupID][]*ruleRec // user group → rules giving roles in it, by id
	children      map[GroupID][]GroupID  // user group → children ("" → roots)
	manualByGroup map[GroupID][]mkey
	byEmail       map[string][]UserID // folded e-mail address → users, for mailing lists
}

// userNode holds a user and the indexes from it: the directory groups
// listing it directly and its manual memberships. A node exists while the
// user is known or referenced.
type userNode struct {
	rec    *userRec   // nil when the user is not known
	dirs   []*dirNode // known directory groups listing the user, by id
	manual []mkey     // manual memberships of the user, sorted
}

// dirNode holds a directory group and the indexes from it: the directory
// groups nesting it and the rules bound to it. A node exists while the
// group is known or referenced; nodes are never replaced, so pointers to
// them stay valid.
type dirNode struct {
	id      DirGroupID
	rec     *dirRec    // nil when the directory group is not known
	parents []*dirNode // known directory groups listing this one, by id
	rules   []*ruleRec // rules bound to this directory group, by id
}

func cmpDirNode(a, b *dirNode) int { return cmp.Compare(a.id, b.id) }

// userRec is what the Engine keeps of a user.
type userRec struct {
	tenant   TenantID
	userName string
	active   bool
	emails   []string // folded
}

// dirRec is what the Engine keeps of a directory group.
type dirRec struct {
	tenant TenantID
	name   string
	source string
	users  []UserID     // sorted, distinct
	groups []DirGroupID // sorted, distinct
}

// ruleRec is what the Engine keeps of a rule.
type ruleRec struct {
	id     RuleID
	tenant TenantID
	dir    DirGroupID
	group  GroupID
	role   RoleName
	origin Origin
}

func cmpRuleRec(a, b *ruleRec) int { return cmp.Compare(a.id, b.id) }

// mkey identifies a manual membership.
type mkey struct {
	g GroupID
	u UserID
	r RoleName
}

// NewEngine returns an empty Engine. A zero cfg.Charter means
// DefaultCharter.
func NewEngine(cfg EngineConfig) *Engine {
	e := &Engine{charter: cfg.Charter, hier: cfg.Hierarchy}
	if e.charter == (CharterRule{}) {
		e.charter = DefaultCharter
	}
	if e.hier.Governance == nil {
		e.hier.Governance = DefaultHierarchy().Governance
	}
	e.reset()
	return e
}

func (e *Engine) reset() {
	e.tenants = map[TenantID]Tenant{}
	e.charters = map[GroupID]CharterStatus{}
	e.counts = map[GroupID]int{}
	e.users = map[UserID]*userNode{}
	e.dirs = map[DirGroupID]*dirNode{}
	e.groups = map[GroupID]Group{}
	e.roles = map[RoleName]Role{}
	e.rules = map[RuleID]*ruleRec{}
	e.manual = map[mkey]Origin{}
	e.groupRules = map[GroupID][]*ruleRec{}
	e.children = map[GroupID][]GroupID{}
	e.manualByGroup = map[GroupID][]mkey{}
	e.byEmail = map[string][]UserID{}
}

// Load replaces all facts with those of w. When w holds two records with
// the same id, the later one wins.
func (e *Engine) Load(w World) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reset()
	for _, t := range w.Tenants {
		e.tenants[t.ID] = t
	}
	for _, u := range w.Users {
		e.putUser(u)
	}
	for _, d := range w.DirGroups {
		e.putDir(d)
	}
	for _, g := range w.Groups {
		e.putGroup(g)
	}
	for _, r := range w.Roles {
		e.roles[r.Name] = cloneRole(r)
	}
	for _, r := range w.Rules {
		e.putRule(r)
	}
	for _, m := range w.Memberships {
		e.putMembership(m)
	}
}

// ---------------------------------------------------------------------------
// Writing facts (callers hold e.mu for writing).

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
	g.Meetings = slices.Clone(g.Meetings)
	g.Suspensions = slices.Clone(g.Suspensions)
	g.MailingList = cloneList(g.MailingList)
	g.Topics, g.Products = slices.Clone(g.Topics), slices.Clone(g.Products)
	if g.Location != nil {
		l := *g.Location
		g.Location = &l
	}
	e.groups[g.ID] = g
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

// ---------------------------------------------------------------------------
// Apply.

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
	d := decoded{kind: c.Kind, id: c.ID}
	var target any
	switch c.Kind {
	case KindTenant:
		target = &d.tenant
	case KindUser:
		target = &d.user
	case KindDirGroup:
		target = &d.dir
	case KindGroup:
		target = &d.group
	case KindRole:
		target = &d.role
	case KindRule:
		target = &d.rule
	case KindMembership:
		target = &d.member
	default:
		return d, false, nil
	}
	switch c.Op {
	case OpMembers:
		if c.Kind != KindDirGroup {
			return d, false, fmt.Errorf("policy: %s on %s", c.Op, c.Kind)
		}
		d.delta = &MembersChange{}
		if err := json.Unmarshal(c.After, d.delta); err != nil {
			return d, false, fmt.Errorf("policy: decode members change: %w", err)
		}
	case OpCreate, OpUpdate:
		if isNull(c.After) {
			return d, false, fmt.Errorf("policy: %s without after", c.Op)
		}
		if err := json.Unmarshal(c.After, target); err != nil {
			return d, false, fmt.Errorf("policy: decode after: %w", err)
		}
		if c.Op == OpUpdate && c.Kind == KindMembership && !isNull(c.Before) {
			// An update that changes the key removes the old membership.
			var old Membership
			if err := json.Unmarshal(c.Before, &old); err != nil {
				return d, false, fmt.Errorf("policy: decode before: %w", err)
			}
			if (mkey{old.Group, old.User, old.Role}) != (mkey{d.member.Group, d.member.User, d.member.Role}) {
				d.id = MembershipKey(old.Group, old.User, old.Role)
			}
		}
	case OpDelete:
		d.del = true
		if !isNull(c.Before) {
			if err := json.Unmarshal(c.Before, target); err != nil {
				return d, false, fmt.Errorf("policy: decode before: %w", err)
			}
		}
		if c.Kind == KindMembership && d.member.Group == "" {
			parts := strings.Split(c.ID, "/")
			if len(parts) != 3 {
				return d, false, fmt.Errorf("policy: membership key %q is not group/user/role", c.ID)
			}
			d.member = Membership{Group: GroupID(parts[0]), User: UserID(parts[1]), Role: RoleName(parts[2])}
		}
	default:
		return d, false, fmt.Errorf("policy: unknown op %q", c.Op)
	}
	return d, true, nil
}

func isNull(b json.RawMessage) bool {
	s := strings.TrimSpace(string(b))
	return s == "" || s == "null"
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
			e.tenants[d.tenant.ID] = d.tenant
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

// ---------------------------------------------------------------------------
// Effective membership.

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
	e.cacheMu.Lock()
	n, ok := e.counts[g]
	e.cacheMu.Unlock()
	if ok {
		return n
	}
	users := map[UserID]struct{}{}
	e.forEachMember(g, func(u UserID, _ RoleName, _ Origin) { users[u] = struct{}{} })
	n = len(users)
	e.cacheMu.Lock()
	e.counts[g] = n
	e.cacheMu.Unlock()
	return n
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

// ---------------------------------------------------------------------------
// Hierarchy.

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

// ---------------------------------------------------------------------------
// Permissions.

// Permissions returns the permissions user u has in group g, sorted: those
// of the roles u holds in g, plus those of the roles with Inherit that u
// holds in an ancestor of g, under the governance rule (see Governance and
// govCtx.allows).
func (e *Engine) Permissions(u UserID, g GroupID) []Permission {
	e.mu.RLock()
	defer e.mu.RUnlock()
	gr, ok := e.groups[g]
	if !ok {
		return nil
	}
	anc := e.ancestors(g)
	gc := e.govern(u, gr, anc)
	gs := e.grants(u, func(x GroupID) bool { return x == g || slices.Contains(anc, x) }, nil)
	var out []Permission
	for _, gt := range gs {
		r, ok := e.roles[gt.role]
		if !ok {
			continue
		}
		for _, p := range r.Permissions {
			if ok, _ := gc.allows(r, gt.group, p); ok {
				out = append(out, p)
			}
		}
		for _, p := range SelfGovernment {
			if ok, _ := gc.allows(r, gt.group, p); ok {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Check reports whether user u has permission p in group g (see
// Permissions). It walks only the user's directory groups and g's
// ancestors.
func (e *Engine) Check(u UserID, p Permission, g GroupID) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	gr, ok := e.groups[g]
	if !ok {
		return false
	}
	anc := e.ancestors(g)
	gc := e.govern(u, gr, anc)
	for _, gt := range e.grants(u, func(x GroupID) bool { return x == g || slices.Contains(anc, x) }, nil) {
		if r, ok := e.roles[gt.role]; ok {
			if ok, _ := gc.allows(r, gt.group, p); ok {
				return true
			}
		}
	}
	return false
}

// Explain answers "may user u do p in group g, and why?". For a yes, Steps
// is the first sufficient chain of facts found, preferring a role held in g
// itself over one held in an ancestor (nearest first), and a manual
// membership over a rule; for a no, Reason says why.
func (e *Engine) Explain(u UserID, p Permission, g GroupID) Explanation {
	ex := Explanation{User: u, Permission: p, Group: g}
	e.mu.RLock()
	defer e.mu.RUnlock()
	ur, ok := e.user(u)
	if !ok {
		ex.Reason = fmt.Sprintf("unknown user %s", u)
		return ex
	}
	grp, ok := e.groups[g]
	if !ok {
		ex.Reason = fmt.Sprintf("unknown group %s", g)
		return ex
	}
	ex.Governance = e.hier.GovernanceOf(grp)
	if !ur.active {
		ex.Reason = fmt.Sprintf("user %s is inactive and holds no membership", e.userLabel(u))
		return ex
	}
	anc := e.ancestors(g)
	gc := e.govern(u, grp, anc)
	pred := map[DirGroupID]DirGroupID{}
	gs := e.grants(u, func(x GroupID) bool { return x == g || slices.Contains(anc, x) }, pred)
	// Order: g first, then ancestors nearest first; within a group manual
	// memberships before rules, then by role and origin.
	slices.SortFunc(gs, func(a, b grant) int {
		if c := cmp.Compare(gc.level(a.group), gc.level(b.group)); c != 0 {
			return c
		}
		if c := cmp.Compare(boolInt(a.rule != ""), boolInt(b.rule != "")); c != 0 {
			return c
		}
		return cmpGrant(a, b)
	})
	var heldHere, noInherit, fenced, suspended []string
	for _, gr := range gs {
		r, known := e.roles[gr.role]
		allowed, note := gc.allows(r, gr.group, p)
		grants := known && slices.Contains(r.Permissions, p)
		switch {
		case known && allowed && gr.group == g:
			ex.Allowed = true
			ex.Steps = append(e.membershipSteps(u, gr, pred), Step{
				Kind:   "role",
				Text:   fmt.Sprintf("role %s grants %s", gr.role, p),
				Object: string(gr.role),
			})
			if note == noteSelf {
				ex.Steps[len(ex.Steps)-1].Text = fmt.Sprintf("role %s grants %s", gr.role, PermMembersManage)
			}
			if st, ok := e.governanceStep(&gc, note, gr.role, p); ok {
				ex.Steps = append(ex.Steps, st)
			}
			return ex
		case known && allowed:
			ex.Allowed = true
			ex.Steps = append(e.membershipSteps(u, gr, pred), Step{
				Kind:   "role",
				Text:   fmt.Sprintf("role %s grants %s and flows down to descendant groups", gr.role, p),
				Object: string(gr.role),
			})
			// Parent steps from the ancestor down to g.
			for i := gc.level(gr.group) - 1; i >= 0; i-- {
				child := g
				if i > 0 {
					child = anc[i-1]
				}
				ex.Steps = append(ex.Steps, Step{
					Kind:   "parent",
					Text:   fmt.Sprintf("%s is the parent of %s", e.groupLabel(anc[i]), e.groupLabel(child)),
					Object: string(child),
				})
			}
			if st, ok := e.governanceStep(&gc, note, gr.role, p); ok {
				ex.Steps = append(ex.Steps, st)
			}
			return ex
		case note == noteSuspended:
			suspended = appendOnce(suspended, string(gr.role))
		case note == noteFenced:
			fenced = appendOnce(fenced, fmt.Sprintf("%s in %s", gr.role, e.groupLabel(gr.group)))
		case gr.group == g:
			heldHere = appendOnce(heldHere, string(gr.role))
		case grants && !r.Inherit:
			noInherit = appendOnce(noInherit, fmt.Sprintf("%s in %s", gr.role, e.groupLabel(gr.group)))
		}
	}
	switch {
	case len(suspended) > 0:
		who := "the group is suspended"
		if !gc.suspAll {
			who = fmt.Sprintf("user %s is suspended there", e.userLabel(u))
		}
		ex.Reason = fmt.Sprintf("user %s holds %s in %s, but %s: its roles give only %s until the suspension is lifted",
			e.userLabel(u), strings.Join(suspended, ", "), e.groupLabel(g), who, joinPerms(ReadOnly))
	case len(fenced) > 0:
		ex.Reason = fmt.Sprintf("user %s holds %s, which grants %s and flows down, but %s governs itself: from above only oversight (%s) crosses it",
			e.userLabel(u), strings.Join(fenced, " and "), p, e.groupLabel(gc.fenceGroup()), joinPerms(Oversight))
	case len(noInherit) > 0:
		ex.Reason = fmt.Sprintf("user %s holds %s, which grants %s but does not flow down to %s",
			e.userLabel(u), strings.Join(noInherit, " and "), p, e.groupLabel(g))
	case len(heldHere) > 0:
		ex.Reason = fmt.Sprintf("user %s holds %s in %s, but no role there grants %s (and no inheriting role in an ancestor does)",
			e.userLabel(u), strings.Join(heldHere, ", "), e.groupLabel(g), p)
	case len(gs) > 0:
		ex.Reason = fmt.Sprintf("no role user %s holds in %s or its ancestors grants %s",
			e.userLabel(u), e.groupLabel(g), p)
	default:
		ex.Reason = fmt.Sprintf("user %s holds no role in %s or its ancestors", e.userLabel(u), e.groupLabel(g))
	}
	if gc.self && slices.Contains(SelfGovernment, p) && !ex.Allowed && len(suspended) == 0 {
		ex.Reason += fmt.Sprintf("; %s governs itself: its organizers (a role there that grants %s) hold %s", e.groupLabel(g), PermMembersManage, joinPerms(SelfGovernment))
	}
	return ex
}

// membershipSteps returns the facts that make u hold gr.role in gr.group.
func (e *Engine) membershipSteps(u UserID, gr grant, pred map[DirGroupID]DirGroupID) []Step {
	if gr.rule == "" {
		return []Step{{
			Kind:   "manual",
			Text:   fmt.Sprintf("user %s was given role %s in %s manually", e.userLabel(u), gr.role, e.groupLabel(gr.group)),
			Object: MembershipKey(gr.group, u, gr.role),
			Source: string(gr.origin),
		}}
	}
	// The path from the user up to the rule's directory group.
	var path []DirGroupID
	for d := gr.dir; d != ""; d = pred[d] {
		path = append(path, d)
		if len(path) > len(pred) { // defensive: pred never loops
			break
		}
	}
	slices.Reverse(path)
	steps := make([]Step, 0, len(path)+2)
	steps = append(steps, Step{
		Kind:   "dirgroup-member",
		Text:   fmt.Sprintf("user %s is a direct member of directory group %s", e.userLabel(u), e.dirLabel(path[0])),
		Object: string(path[0]),
		Source: e.dir(path[0]).source,
	})
	for i := 1; i < len(path); i++ {
		steps = append(steps, Step{
			Kind:   "dirgroup-nested",
			Text:   fmt.Sprintf("directory group %s is nested in directory group %s", e.dirLabel(path[i-1]), e.dirLabel(path[i])),
			Object: string(path[i]),
			Source: e.dir(path[i]).source,
		})
	}
	steps = append(steps, Step{
		Kind:   "rule",
		Text:   fmt.Sprintf("rule %s binds directory group %s to role %s in %s", gr.rule, e.dirLabel(gr.dir), gr.role, e.groupLabel(gr.group)),
		Object: string(gr.rule),
		Source: string(gr.origin),
	})
	return steps
}

func (e *Engine) userLabel(u UserID) string {
	ur, ok := e.user(u)
	if !ok {
		return string(u)
	}
	return fmt.Sprintf("%s (tenant %s)", ur.userName, ur.tenant)
}

func (e *Engine) groupLabel(g GroupID) string {
	gr, ok := e.groups[g]
	if !ok {
		return string(g)
	}
	return fmt.Sprintf("%s (%s)", gr.Slug, gr.Name)
}

func (e *Engine) dirLabel(d DirGroupID) string {
	dr := e.dir(d)
	if dr == nil {
		return string(d)
	}
	return fmt.Sprintf("%q (tenant %s)", dr.name, dr.tenant)
}

// ---------------------------------------------------------------------------
// Charter.

// thresholdScale is the precision with which thresholds are compared:
// Threshold is rounded to millionths, and the comparison is made in
// integers so that exactly 60% is 60%.
const thresholdScale = 1_000_000

// Charter computes the charter status of group g under the Engine's
// CharterRule. The rule applies when g is of kind Kind and has an ancestor
// of kind Parent (the nearest is used: the reference group). g is
// chartered when at least Threshold of its distinct members are effective
// members, in any role, of the reference group, or when at least Threshold
// of the distinct subscribers of its mailing list are; Basis says which
// qualified, and both ratios are given. The counts are only made when the
// rule applies (they are 0 otherwise).
//
// Results are memoized until the next Load or Apply, so that listing every
// group with its charter status stays cheap.
func (e *Engine) Charter(g GroupID) CharterStatus {
	e.mu.RLock()
	defer e.mu.RUnlock()
	e.cacheMu.Lock()
	st, ok := e.charters[g]
	e.cacheMu.Unlock()
	if ok {
		return st
	}
	st = e.charterOf(g)
	e.cacheMu.Lock()
	e.charters[g] = st
	e.cacheMu.Unlock()
	return st
}

// charterOf computes Charter; the caller holds e.mu.
func (e *Engine) charterOf(g GroupID) CharterStatus {
	cr := e.charter
	st := CharterStatus{Group: g, Threshold: cr.Threshold}
	gr, ok := e.groups[g]
	if !ok || gr.Kind != cr.Kind {
		return st
	}
	for _, a := range e.ancestors(g) {
		if e.groups[a].Kind == cr.Parent {
			st.Parent = a
			break
		}
	}
	st.ReferenceKind = cr.Parent
	if st.Parent == "" {
		st.Reason = fmt.Sprintf("no %s group above it: the charter rule cannot be computed", cr.Parent)
		return st
	}
	st.Applies = true
	st.Reference = e.groups[st.Parent].Slug
	members := map[UserID]struct{}{}
	e.forEachMember(g, func(u UserID, _ RoleName, _ Origin) { members[u] = struct{}{} })
	st.Members = len(members)
	for u := range members {
		if e.isMember(u, st.Parent) {
			st.InParent++
		}
	}
	st.InReference = st.InParent
	need := int64(cr.Threshold*thresholdScale + 0.5)
	byMembers, byList := false, false
	if st.Members > 0 {
		st.Ratio = float64(st.InParent) / float64(st.Members)
		byMembers = int64(st.InParent)*thresholdScale >= need*int64(st.Members)
	}
	if l := gr.MailingList; l != nil {
		subs := map[string]UserID{} // "u:<id>" or "a:<address>" → user ("" for an address of nobody)
		for _, d := range l.DirGroups {
			if dr := e.dir(d); dr != nil {
				e.walkDown(d, func(u UserID) { subs["u:"+string(u)] = u })
			}
		}
		for _, a := range l.Addresses {
			addr := FoldAddress(a.Address)
			if u, ok := e.activeByEmail(addr); ok {
				subs["u:"+string(u)] = u
			} else {
				subs["a:"+addr] = ""
			}
		}
		st.Subscribers = len(subs)
		for _, u := range subs {
			if u != "" && e.isMember(u, st.Parent) {
				st.SubscribersInReference++
			}
		}
		if st.Subscribers > 0 {
			st.SubscriberRatio = float64(st.SubscribersInReference) / float64(st.Subscribers)
			byList = int64(st.SubscribersInReference)*thresholdScale >= need*int64(st.Subscribers)
		}
	}
	st.Chartered = byMembers || byList
	switch {
	case byMembers && byList:
		st.Basis = BasisBoth
	case byMembers:
		st.Basis = BasisMembers
	case byList:
		st.Basis = BasisMailingList
	}
	return st
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

func cloneList(l *MailingList) *MailingList {
	if l == nil {
		return nil
	}
	c := MailingList{DirGroups: slices.Clone(l.DirGroups), Addresses: slices.Clone(l.Addresses)}
	return &c
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

// ---------------------------------------------------------------------------
// Helpers.

func cloneRole(r Role) Role {
	r.Permissions = slices.Clone(r.Permissions)
	return r
}

func sortedDistinct[T cmp.Ordered](s []T) []T {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func addSorted[T cmp.Ordered](s []T, v T) []T {
	i, found := slices.BinarySearch(s, v)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func removeSorted[T cmp.Ordered](s []T, v T) []T {
	i, found := slices.BinarySearch(s, v)
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}

func cmpMkey(a, b mkey) int {
	if c := cmp.Compare(a.g, b.g); c != 0 {
		return c
	}
	if c := cmp.Compare(a.u, b.u); c != 0 {
		return c
	}
	return cmp.Compare(a.r, b.r)
}

func addSortedBy[T any](s []T, v T, f func(T, T) int) []T {
	i, found := slices.BinarySearchFunc(s, v, f)
	if found {
		return s
	}
	return slices.Insert(s, i, v)
}

func removeSortedBy[T any](s []T, v T, f func(T, T) int) []T {
	i, found := slices.BinarySearchFunc(s, v, f)
	if !found {
		return s
	}
	return slices.Delete(s, i, i+1)
}

func setOrDelete[K comparable, V any](m map[K][]V, k K, v []V) {
	if len(v) == 0 {
		delete(m, k)
		return
	}
	m[k] = v
}

func appendOnce(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
