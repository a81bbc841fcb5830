package policy_test

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roster-dev/roster/internal/deptest"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/policy/policytest"
)

// model is the plain set of facts a store would hold; it turns random
// operations into change-feed entries and into the World to compare with.
type model struct {
	t      testing.TB
	rng    *rand.Rand
	seq    uint64
	next   int
	users  map[policy.UserID]policy.User
	dirs   map[policy.DirGroupID]policy.DirGroup
	groups map[policy.GroupID]policy.Group
	roles  map[policy.RoleName]policy.Role
	rules  map[policy.RuleID]policy.Rule
	mems   map[string]policy.Membership
	w      policy.World // tenants only
}

func newModel(t testing.TB, w policy.World, seed uint64) *model {
	m := &model{
		t:      t,
		rng:    rand.New(rand.NewPCG(seed, 7)),
		users:  map[policy.UserID]policy.User{},
		dirs:   map[policy.DirGroupID]policy.DirGroup{},
		groups: map[policy.GroupID]policy.Group{},
		roles:  map[policy.RoleName]policy.Role{},
		rules:  map[policy.RuleID]policy.Rule{},
		mems:   map[string]policy.Membership{},
		w:      policy.World{Tenants: w.Tenants},
	}
	for _, x := range w.Users {
		m.users[x.ID] = x
	}
	for _, x := range w.DirGroups {
		m.dirs[x.ID] = x
	}
	for _, x := range w.Groups {
		m.groups[x.ID] = x
	}
	for _, x := range w.Roles {
		m.roles[x.Name] = x
	}
	for _, x := range w.Rules {
		m.rules[x.ID] = x
	}
	for _, x := range w.Memberships {
		m.mems[policy.MembershipKey(x.Group, x.User, x.Role)] = x
	}
	return m
}

func sortedValues[K cmp.Ordered, V any](mp map[K]V) []V {
	var out []V
	for _, k := range slices.Sorted(maps.Keys(mp)) {
		out = append(out, mp[k])
	}
	return out
}

func (m *model) world() policy.World {
	return policy.World{
		Tenants:     m.w.Tenants,
		Users:       sortedValues(m.users),
		DirGroups:   sortedValues(m.dirs),
		Groups:      sortedValues(m.groups),
		Roles:       sortedValues(m.roles),
		Rules:       sortedValues(m.rules),
		Memberships: sortedValues(m.mems),
	}
}

func pick[K cmp.Ordered, V any](rng *rand.Rand, mp map[K]V) (K, V, bool) {
	var zk K
	var zv V
	if len(mp) == 0 {
		return zk, zv, false
	}
	keys := slices.Sorted(maps.Keys(mp))
	k := keys[rng.IntN(len(keys))]
	return k, mp[k], true
}

func (m *model) entry(kind policy.Kind, op policy.Op, id string, before, after any) policy.Change {
	m.seq++
	c := change(m.t, kind, op, id, before, after)
	c.Seq = m.seq
	// Deletes sometimes come without Before: the engine must use ID.
	if op == policy.OpDelete && m.rng.IntN(3) == 0 {
		c.Before = nil
	}
	return c
}

func (m *model) id(prefix string) string {
	m.next++
	return fmt.Sprintf("%s-new-%d", prefix, m.next)
}

// step makes one random change to the model and returns its feed entry.
func (m *model) step() policy.Change {
	rng := m.rng
	tenant := m.w.Tenants[rng.IntN(len(m.w.Tenants))].ID
	for {
		switch rng.IntN(17) {
		case 0: // toggle a user's active flag
			id, u, ok := pick(rng, m.users)
			if !ok {
				continue
			}
			before := u
			u.Active = !u.Active
			m.users[id] = u
			return m.entry(policy.KindUser, policy.OpUpdate, string(id), before, u)
		case 1: // create a user
			u := policy.User{ID: policy.UserID(m.id("user")), Tenant: tenant, UserName: m.id("name"), Active: true}
			m.users[u.ID] = u
			return m.entry(policy.KindUser, policy.OpCreate, string(u.ID), nil, u)
		case 2: // delete a user (dangling references stay in dir groups)
			id, u, ok := pick(rng, m.users)
			if !ok {
				continue
			}
			delete(m.users, id)
			return m.entry(policy.KindUser, policy.OpDelete, string(id), u, nil)
		case 3, 4: // add a user to a dir group (sometimes of another tenant)
			id, d, ok := pick(rng, m.dirs)
			_, u, ok2 := pick(rng, m.users)
			if !ok || !ok2 {
				continue
			}
			before := d
			d.MemberUsers = append(slices.Clone(d.MemberUsers), u.ID)
			m.dirs[id] = d
			return m.entry(policy.KindDirGroup, policy.OpUpdate, string(id), before, d)
		case 5: // remove a user from a dir group
			id, d, ok := pick(rng, m.dirs)
			if !ok || len(d.MemberUsers) == 0 {
				continue
			}
			before := d
			i := rng.IntN(len(d.MemberUsers))
			d.MemberUsers = slices.Delete(slices.Clone(d.MemberUsers), i, i+1)
			m.dirs[id] = d
			return m.entry(policy.KindDirGroup, policy.OpUpdate, string(id), before, d)
		case 6: // nest a dir group in another (cycles welcome)
			id, d, ok := pick(rng, m.dirs)
			cid, _, ok2 := pick(rng, m.dirs)
			if !ok || !ok2 || cid == id {
				continue
			}
			before := d
			d.MemberGroups = append(slices.Clone(d.MemberGroups), cid)
			m.dirs[id] = d
			return m.entry(policy.KindDirGroup, policy.OpUpdate, string(id), before, d)
		case 7: // unnest
			id, d, ok := pick(rng, m.dirs)
			if !ok || len(d.MemberGroups) == 0 {
				continue
			}
			before := d
			i := rng.IntN(len(d.MemberGroups))
			d.MemberGroups = slices.Delete(slices.Clone(d.MemberGroups), i, i+1)
			m.dirs[id] = d
			return m.entry(policy.KindDirGroup, policy.OpUpdate, string(id), before, d)
		case 8: // create or delete a dir group
			if rng.IntN(2) == 0 {
				id, d, ok := pick(rng, m.dirs)
				if !ok {
					continue
				}
				delete(m.dirs, id)
				return m.entry(policy.KindDirGroup, policy.OpDelete, string(id), d, nil)
			}
			d := policy.DirGroup{ID: policy.DirGroupID(m.id("dir")), Tenant: tenant, DisplayName: "new"}
			for _, u := range m.users {
				if u.Tenant == tenant && rng.IntN(20) == 0 {
					d.MemberUsers = append(d.MemberUsers, u.ID)
				}
			}
			m.dirs[d.ID] = d
			return m.entry(policy.KindDirGroup, policy.OpCreate, string(d.ID), nil, d)
		case 9: // create a child group
			pid, _, _ := pick(rng, m.groups)
			g := policy.Group{ID: policy.GroupID(m.id("group")), Slug: m.id("slug"), Name: "New", Kind: policy.GroupLocal, Parent: pid}
			m.groups[g.ID] = g
			return m.entry(policy.KindGroup, policy.OpCreate, string(g.ID), nil, g)
		case 10: // re-parent or re-kind a group, keeping the hierarchy acyclic
			id, g, ok := pick(rng, m.groups)
			pid, _, _ := pick(rng, m.groups)
			if !ok {
				continue
			}
			before := g
			if rng.IntN(2) == 0 {
				g.Kind = []policy.GroupKind{policy.GroupInternational, policy.GroupRegional, policy.GroupLocal}[rng.IntN(3)]
			} else {
				if rng.IntN(4) == 0 {
					pid = ""
				}
				err := policy.CheckParent(id, pid, func(x policy.GroupID) (policy.GroupID, bool) {
					gg, ok := m.groups[x]
					return gg.Parent, ok
				})
				if err != nil {
					continue
				}
				g.Parent = pid
			}
			m.groups[id] = g
			return m.entry(policy.KindGroup, policy.OpUpdate, string(id), before, g)
		case 11: // delete a leaf group (the store refuses groups with children)
			id, g, ok := pick(rng, m.groups)
			if !ok {
				continue
			}
			leaf := true
			for _, x := range m.groups {
				if x.Parent == id {
					leaf = false
				}
			}
			if !leaf {
				continue
			}
			delete(m.groups, id)
			return m.entry(policy.KindGroup, policy.OpDelete, string(id), g, nil)
		case 12: // change a role
			name, r, ok := pick(rng, m.roles)
			if !ok {
				continue
			}
			before := r
			r.Permissions = slices.Clone(r.Permissions)
			switch rng.IntN(3) {
			case 0:
				r.Inherit = !r.Inherit
			case 1:
				r.Permissions = append(r.Permissions, "extra.perm")
			default:
				if len(r.Permissions) > 0 {
					r.Permissions = r.Permissions[1:]
				}
			}
			m.roles[name] = r
			return m.entry(policy.KindRole, policy.OpUpdate, string(name), before, r)
		case 13, 14: // create a rule (sometimes cross-tenant)
			_, d, ok := pick(rng, m.dirs)
			_, g, ok2 := pick(rng, m.groups)
			name, _, _ := pick(rng, m.roles)
			if !ok || !ok2 {
				continue
			}
			r := policy.Rule{ID: policy.RuleID(m.id("rule")), Tenant: d.Tenant, DirGroup: d.ID, Group: g.ID, Role: name}
			if rng.IntN(10) == 0 {
				r.Tenant = tenant
			}
			m.rules[r.ID] = r
			return m.entry(policy.KindRule, policy.OpCreate, string(r.ID), nil, r)
		case 15: // delete a rule
			id, r, ok := pick(rng, m.rules)
			if !ok {
				continue
			}
			delete(m.rules, id)
			return m.entry(policy.KindRule, policy.OpDelete, string(id), r, nil)
		case 16: // add or remove a manual membership
			if rng.IntN(2) == 0 {
				k, x, ok := pick(rng, m.mems)
				if !ok {
					continue
				}
				delete(m.mems, k)
				return m.entry(policy.KindMembership, policy.OpDelete, k, x, nil)
			}
			_, u, ok := pick(rng, m.users)
			_, g, ok2 := pick(rng, m.groups)
			name, _, _ := pick(rng, m.roles)
			if !ok || !ok2 {
				continue
			}
			x := policy.Membership{User: u.ID, Group: g.ID, Role: name, Origin: policy.OriginManual}
			k := policy.MembershipKey(g.ID, u.ID, name)
			m.mems[k] = x
			return m.entry(policy.KindMembership, policy.OpCreate, k, nil, x)
		}
	}
}

// compareEngines asserts that got (fed by Apply) answers every question
// exactly as want (freshly loaded) does.
func compareEngines(t *testing.T, step int, m *model, got, want *policy.Engine) {
	t.Helper()
	fail := func(what string, g, w any) {
		t.Helper()
		t.Fatalf("after step %d: %s: applied engine = %+v, loaded engine = %+v", step, what, g, w)
	}
	users := slices.Sorted(maps.Keys(m.users))
	users = append(users, "deleted-or-unknown")
	groups := slices.Sorted(maps.Keys(m.groups))
	groups = append(groups, "", "unknown-group")
	for _, u := range users {
		if g, w := got.EffectiveGroups(u), want.EffectiveGroups(u); !reflect.DeepEqual(g, w) {
			fail("EffectiveGroups("+string(u)+")", g, w)
		}
	}
	for _, id := range groups {
		if g, w := got.Members(id), want.Members(id); !reflect.DeepEqual(g, w) {
			fail("Members("+string(id)+")", g, w)
		}
		if g, w := got.Charter(id), want.Charter(id); !reflect.DeepEqual(g, w) {
			fail("Charter("+string(id)+")", g, w)
		}
		if g, w := got.Children(id), want.Children(id); !reflect.DeepEqual(g, w) {
			fail("Children("+string(id)+")", g, w)
		}
		if g, w := got.Ancestors(id), want.Ancestors(id); !reflect.DeepEqual(g, w) {
			fail("Ancestors("+string(id)+")", g, w)
		}
		g1, ok1 := got.Group(id)
		g2, ok2 := want.Group(id)
		if ok1 != ok2 || !reflect.DeepEqual(g1, g2) {
			fail("Group("+string(id)+")", g1, g2)
		}
	}
	perms := []policy.Permission{"group.read", "members.manage", "roles.assign", "extra.perm"}
	for i := range 200 {
		u := users[m.rng.IntN(len(users))]
		g := groups[m.rng.IntN(len(groups))]
		p := perms[i%len(perms)]
		if a, b := got.Permissions(u, g), want.Permissions(u, g); !reflect.DeepEqual(a, b) {
			fail(fmt.Sprintf("Permissions(%s, %s)", u, g), a, b)
		}
		if a, b := got.Check(u, p, g), want.Check(u, p, g); a != b {
			fail(fmt.Sprintf("Check(%s, %s, %s)", u, p, g), a, b)
		}
		if a, b := got.Explain(u, p, g), want.Explain(u, p, g); !reflect.DeepEqual(a, b) {
			fail(fmt.Sprintf("Explain(%s, %s, %s)", u, p, g), a, b)
		}
	}
}

// TestApplyMatchesLoad applies random change sequences and checks that the
// incrementally updated engine answers like one loaded from the resulting
// facts.
func TestApplyMatchesLoad(t *testing.T) {
	cfg := policytest.Small
	cfg.Users, cfg.Groups, cfg.DirGroups, cfg.Rules, cfg.Memberships = 120, 25, 40, 60, 40
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			cfg.Seed = seed
			w := policytest.Generate(cfg)
			m := newModel(t, w, seed)
			e := loaded(t, w)
			const steps = 400
			for step := 0; step < steps; {
				n := 1 + m.rng.IntN(5)
				var batch []policy.Change
				for range n {
					batch = append(batch, m.step())
				}
				if m.rng.IntN(4) == 0 {
					batch = append(batch, policy.Change{Kind: policy.KindEvent, Op: policy.OpCreate, ID: "audit"})
				}
				if err := e.Apply(batch); err != nil {
					t.Fatalf("Apply: %v", err)
				}
				before := step
				step += n
				if step/40 != before/40 || step >= steps {
					compareEngines(t, step, m, e, loaded(t, m.world()))
				}
			}
		})
	}
}

// TestConcurrentReadersAndWriter runs readers against a writer applying
// changes; run with -race.
func TestConcurrentReadersAndWriter(t *testing.T) {
	w := policytest.Generate(policytest.Small)
	e := loaded(t, w)
	m := newModel(t, w, 9)
	var changes [][]policy.Change
	for range 100 {
		changes = append(changes, []policy.Change{m.step(), m.step()})
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-done:
					return
				default:
				}
				u := w.Users[rng.IntN(len(w.Users))].ID
				g := w.Groups[rng.IntN(len(w.Groups))].ID
				e.EffectiveGroups(u)
				e.Check(u, "members.manage", g)
				e.Explain(u, "group.read", g)
				e.Charter(g)
				e.Members(g)
				e.Ancestors(g)
				e.Children(g)
			}
		}()
	}
	for _, batch := range changes {
		if err := e.Apply(batch); err != nil {
			t.Error(err)
		}
	}
	e.Load(m.world())
	close(done)
	wg.Wait()
}

// TestPolicyImports keeps packages policy and policytest pure: no I/O, no
// adapter, none of our other packages.
func TestPolicyImports(t *testing.T) {
	const pol = deptest.Module + "/policy"
	for _, pkg := range deptest.List(t, "policy", "policy/policytest") {
		for _, p := range pkg.Imports {
			if p == "os" || p == "io" || p == "io/fs" || p == "syscall" || p == "unsafe" ||
				strings.HasPrefix(p, "os/") || strings.HasPrefix(p, "net") || strings.HasPrefix(p, "database/") {
				t.Errorf("%s imports %s directly", pkg.ImportPath, p)
			}
		}
		for _, p := range pkg.Deps {
			switch {
			case p == "net/http", p == "net", p == "os/exec", p == "database/sql",
				strings.HasPrefix(p, "go.etcd.io/"),
				deptest.Ours(p) && p != pol,
				!deptest.IsStd(p) && p != pol &&
					!strings.HasPrefix(p, "golang.org/x/text/"): // outside the standard library (x/text: pure Unicode tables, PRECIS)
				t.Errorf("%s depends on %s", pkg.ImportPath, p)
			}
		}
	}
}
