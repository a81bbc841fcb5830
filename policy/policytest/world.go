// Package policytest generates large, deterministic policy worlds for tests
// and benchmarks of the policy engine and of the packages built on it (a
// store backend loading 100,000 users, an OIDC provider issuing tokens for
// deep hierarchies…).
//
// It performs no I/O; the same Config always yields the same World.
package policytest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/roster-dev/roster/policy"
)

// Config sizes a generated world. Zero fields other than Seed take the
// values of Large.
type Config struct {
	Seed        uint64
	Tenants     int // the first is the vendor, the others partners
	Users       int
	Groups      int // user groups, spread over Depth levels
	Depth       int // levels of the user-group hierarchy (ISUG = level 0)
	DirGroups   int
	Rules       int
	Memberships int // manual memberships
}

// Large is the benchmark world: 100,000 users, 10,000 user groups ten levels
// deep, 20,000 directory groups, 25,000 rules, 20,000 manual memberships.
var Large = Config{
	Seed:        1,
	Tenants:     10,
	Users:       100_000,
	Groups:      10_000,
	Depth:       10,
	DirGroups:   20_000,
	Rules:       25_000,
	Memberships: 20_000,
}

// Small is a world small enough for race-enabled unit tests.
var Small = Config{
	Seed:        1,
	Tenants:     3,
	Users:       300,
	Groups:      60,
	Depth:       6,
	DirGroups:   80,
	Rules:       120,
	Memberships: 80,
}

// Roles returns the four roles used by generated worlds: member, speaker,
// organizer and admin (the only one with Inherit).
func Roles() []policy.Role {
	return []policy.Role{
		{Name: "member", Permissions: []policy.Permission{policy.PermGroupRead, policy.PermMeetingsRead}},
		{Name: "speaker", Permissions: []policy.Permission{policy.PermGroupRead, policy.PermMeetingsRead, policy.PermTalksSubmit}},
		{Name: "organizer", Permissions: []policy.Permission{policy.PermGroupRead, policy.PermMeetingsRead, policy.PermMeetingsEdit, policy.PermMembersManage}},
		{Name: "admin", Inherit: true, Permissions: []policy.Permission{policy.PermAuditRead, policy.PermGroupRead, policy.PermGroupsManage, policy.PermGroupsSuspend, policy.PermMeetingsEdit, policy.PermMeetingsRead, policy.PermMembersManage, policy.PermRolesAssign, policy.PermTalksSubmit}},
	}
}

// ID returns a deterministic UUID-shaped id for the i-th object of a kind
// (a small number distinguishing users, groups…).
func ID(kind, i int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, i)
}

// Kinds of ids given by ID.
const (
	IDUser = iota + 1
	IDGroup
	IDDirGroup
	IDRule
)

// Generate builds the world described by c. Users belong to one to four
// directory groups of their tenant; directory groups nest a few levels deep
// (with an occasional cycle); each level of the hierarchy is about twice as
// wide as the one above; rules bind random directory groups to random roles
// (mostly member) in random groups; 2% of users are inactive.
func Generate(c Config) policy.World {
	c = c.withDefaults()
	rng := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var w policy.World

	for i := range c.Tenants {
		t := policy.Tenant{ID: policy.TenantID(fmt.Sprintf("tenant-%02d", i)), Name: fmt.Sprintf("Tenant %d", i), Kind: policy.TenantPartner}
		if i == 0 {
			t.Kind = policy.TenantVendor
		}
		w.Tenants = append(w.Tenants, t)
	}
	w.Roles = Roles()

	// User groups: level sizes grow geometrically to fill c.Groups.
	sizes := levelSizes(c.Groups, c.Depth)
	var prev []policy.GroupID
	n := 0
	for level, size := range sizes {
		var cur []policy.GroupID
		for j := range size {
			g := policy.Group{
				ID:      policy.GroupID(ID(IDGroup, n)),
				Slug:    fmt.Sprintf("g%d-%d", level, j),
				Name:    fmt.Sprintf("Group %d.%d", level, j),
				Kind:    kindAt(level, j),
				Created: t0, Updated: t0, Version: 1,
			}
			if len(prev) > 0 {
				g.Parent = prev[rng.IntN(len(prev))]
			}
			w.Groups = append(w.Groups, g)
			cur = append(cur, g.ID)
			n++
		}
		prev = cur
	}

	// Directory groups, per tenant, nesting into earlier ones.
	byTenant := make([][]int, c.Tenants) // tenant → indexes into w.DirGroups
	for i := range c.DirGroups {
		t := i % c.Tenants
		d := policy.DirGroup{
			ID:          policy.DirGroupID(ID(IDDirGroup, i)),
			Tenant:      w.Tenants[t].ID,
			DisplayName: fmt.Sprintf("Dir group %d", i),
			Source:      "ldap:gen",
			Created:     t0, Updated: t0, Version: 1,
		}
		w.DirGroups = append(w.DirGroups, d)
		byTenant[t] = append(byTenant[t], i)
	}
	for _, idx := range byTenant {
		for k, i := range idx {
			if k == 0 {
				continue
			}
			parents := 0
			switch r := rng.IntN(100); {
			case r < 50:
				parents = 1
			case r < 60:
				parents = 2
			}
			for range parents {
				p := idx[rng.IntN(k)]
				w.DirGroups[p].MemberGroups = appendOnce(w.DirGroups[p].MemberGroups, w.DirGroups[i].ID)
			}
			if rng.IntN(200) == 0 { // a cycle: i also contains one of its parents
				p := idx[rng.IntN(k)]
				w.DirGroups[i].MemberGroups = appendOnce(w.DirGroups[i].MemberGroups, w.DirGroups[p].ID)
			}
		}
	}

	// Users, each in one to four directory groups of its tenant.
	for i := range c.Users {
		t := i % c.Tenants
		u := policy.User{
			ID:       policy.UserID(ID(IDUser, i)),
			Tenant:   w.Tenants[t].ID,
			UserName: fmt.Sprintf("user%d", i),
			Active:   rng.IntN(50) != 0,
			Source:   "ldap:gen",
			Created:  t0, Updated: t0, Version: 1,
		}
		w.Users = append(w.Users, u)
		idx := byTenant[t]
		if len(idx) == 0 {
			continue
		}
		for range 1 + rng.IntN(4) {
			d := &w.DirGroups[idx[rng.IntN(len(idx))]]
			d.MemberUsers = appendOnce(d.MemberUsers, u.ID)
		}
	}

	roleFor := func() policy.RoleName {
		switch r := rng.IntN(100); {
		case r < 70:
			return "member"
		case r < 80:
			return "speaker"
		case r < 97:
			return "organizer"
		default:
			return "admin"
		}
	}
	for i := range c.Rules {
		if len(w.DirGroups) == 0 || len(w.Groups) == 0 {
			break
		}
		d := w.DirGroups[rng.IntN(len(w.DirGroups))]
		w.Rules = append(w.Rules, policy.Rule{
			ID:       policy.RuleID(ID(IDRule, i)),
			Tenant:   d.Tenant,
			DirGroup: d.ID,
			Group:    w.Groups[rng.IntN(len(w.Groups))].ID,
			Role:     roleFor(),
			Created:  t0, Version: 1,
		})
	}
	seen := map[string]bool{}
	for range c.Memberships {
		if len(w.Users) == 0 || len(w.Groups) == 0 {
			break
		}
		m := policy.Membership{
			User:    w.Users[rng.IntN(len(w.Users))].ID,
			Group:   w.Groups[rng.IntN(len(w.Groups))].ID,
			Role:    roleFor(),
			Origin:  policy.OriginManual,
			Created: t0,
		}
		k := policy.MembershipKey(m.Group, m.User, m.Role)
		if seen[k] {
			continue
		}
		seen[k] = true
		w.Memberships = append(w.Memberships, m)
	}
	return w
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Tenants, Large.Tenants)
	def(&c.Users, Large.Users)
	def(&c.Groups, Large.Groups)
	def(&c.Depth, Large.Depth)
	def(&c.DirGroups, Large.DirGroups)
	def(&c.Rules, Large.Rules)
	def(&c.Memberships, Large.Memberships)
	return c
}

// levelSizes spreads total groups over depth levels: one root, then levels
// about twice as wide as the one above, the last level taking the rest.
func levelSizes(total, depth int) []int {
	sizes := []int{1}
	left := total - 1
	for l := 1; l < depth && left > 0; l++ {
		remainingLevels := depth - l
		// Choose s so that s, 2s, 4s… over the remaining levels sum to left.
		s := left / (1<<remainingLevels - 1)
		s = max(s, 1)
		if l == depth-1 {
			s = left
		}
		s = min(s, left)
		sizes = append(sizes, s)
		left -= s
	}
	return sizes
}

func kindAt(level, j int) policy.GroupKind {
	switch {
	case level == 0:
		return policy.GroupInternational
	case level == 1:
		return policy.GroupRegional
	case j%4 == 3:
		return policy.GroupSpecialInterest
	default:
		return policy.GroupLocal
	}
}

func appendOnce[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
