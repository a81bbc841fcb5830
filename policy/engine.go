package policy

import (
	"cmp"
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
