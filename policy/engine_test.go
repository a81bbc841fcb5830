package policy_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/policy/policytest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

type (
	U  = policy.UserID
	G  = policy.GroupID
	D  = policy.DirGroupID
	P  = policy.Permission
	R  = policy.RoleName
	O  = policy.Origin
	EM = policy.EffectiveMembership
)

// fixture is a small world shaped like the demo:
//
//	isug (international)
//	├── rug-eu (regional)
//	│   ├── lug-london (local)
//	│   │   └── sig-x (special-interest)
//	│   └── lug-paris (local)
//	└── sig-sec (special-interest)
//
// Directory groups of tenant vendor: d-london-org {alice, frank, dave} is
// nested in d-organizers; c1 {bob} and c2 nest each other (a cycle).
// Tenant acme: a-members {carol}, and a-bad which lists vendor's alice (a
// cross-tenant reference, ignored).
//
// Rules: r-org d-organizers → organizer in lug-london; r-cyc c2 → member in
// lug-paris; r-acme a-members → member in lug-london; r-bad (tenant acme)
// binds vendor's d-london-org to admin in isug (cross-tenant, ignored);
// r-bad2 a-bad → member in sig-sec.
//
// Manual: carol member of isug; dave admin of isug (inactive); erin admin
// of rug-eu; frank organizer of lug-london.
func fixture() policy.World {
	return policy.World{
		Tenants: []policy.Tenant{
			{ID: "vendor", Name: "Vendor Inc", Kind: policy.TenantVendor},
			{ID: "acme", Name: "Acme", Kind: policy.TenantPartner},
		},
		Users: []policy.User{
			{ID: "u-alice", Tenant: "vendor", UserName: "alice", Active: true},
			{ID: "u-bob", Tenant: "vendor", UserName: "bob", Active: true},
			{ID: "u-carol", Tenant: "acme", UserName: "carol", Active: true},
			{ID: "u-dave", Tenant: "vendor", UserName: "dave", Active: false},
			{ID: "u-erin", Tenant: "vendor", UserName: "erin", Active: true},
			{ID: "u-frank", Tenant: "vendor", UserName: "frank", Active: true},
		},
		DirGroups: []policy.DirGroup{
			{ID: "d-london-org", Tenant: "vendor", DisplayName: "London Organizers", Source: "ldap:corp", MemberUsers: []U{"u-alice", "u-frank", "u-dave"}},
			{ID: "d-organizers", Tenant: "vendor", DisplayName: "All Organizers", Source: "ldap:corp", MemberGroups: []D{"d-london-org"}},
			{ID: "c1", Tenant: "vendor", DisplayName: "Cycle 1", MemberUsers: []U{"u-bob"}, MemberGroups: []D{"c2"}},
			{ID: "c2", Tenant: "vendor", DisplayName: "Cycle 2", MemberGroups: []D{"c1"}},
			{ID: "a-members", Tenant: "acme", DisplayName: "Acme UG members", Source: "scim:acme", MemberUsers: []U{"u-carol"}},
			{ID: "a-bad", Tenant: "acme", DisplayName: "Acme bad", MemberUsers: []U{"u-alice"}, MemberGroups: []D{"d-organizers"}},
		},
		Groups: []policy.Group{
			{ID: "g-isug", Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational},
			{ID: "g-rug-eu", Slug: "rug-eu", Name: "RUG Europe", Kind: policy.GroupRegional, Parent: "g-isug"},
			{ID: "g-lug-london", Slug: "lug-london", Name: "LUG London", Kind: policy.GroupLocal, Parent: "g-rug-eu", Governance: policy.GovernManaged},
			{ID: "g-sig-x", Slug: "sig-x", Name: "SIG X", Kind: policy.GroupSpecialInterest, Parent: "g-lug-london", Governance: policy.GovernManaged},
			{ID: "g-lug-paris", Slug: "lug-paris", Name: "LUG Paris", Kind: policy.GroupLocal, Parent: "g-rug-eu"},
			{ID: "g-sig-sec", Slug: "sig-sec", Name: "SIG Security", Kind: policy.GroupSpecialInterest, Parent: "g-isug"},
		},
		Roles: policytest.Roles(),
		Rules: []policy.Rule{
			{ID: "r-org", Tenant: "vendor", DirGroup: "d-organizers", Group: "g-lug-london", Role: "organizer"},
			{ID: "r-cyc", Tenant: "vendor", DirGroup: "c2", Group: "g-lug-paris", Role: "member"},
			{ID: "r-acme", Tenant: "acme", DirGroup: "a-members", Group: "g-lug-london", Role: "member"},
			{ID: "r-bad", Tenant: "acme", DirGroup: "d-london-org", Group: "g-isug", Role: "admin"},
			{ID: "r-bad2", Tenant: "acme", DirGroup: "a-bad", Group: "g-sig-sec", Role: "member"},
		},
		Memberships: []policy.Membership{
			{User: "u-carol", Group: "g-isug", Role: "member", Origin: policy.OriginManual},
			{User: "u-dave", Group: "g-isug", Role: "admin", Origin: policy.OriginManual},
			{User: "u-erin", Group: "g-rug-eu", Role: "admin", Origin: policy.OriginManual},
			{User: "u-frank", Group: "g-lug-london", Role: "organizer", Origin: policy.OriginManual},
		},
	}
}

func loaded(t testing.TB, w policy.World) *policy.Engine {
	t.Helper()
	e := policy.NewEngine(policy.EngineConfig{})
	e.Load(w)
	return e
}

// change builds a change-feed entry with JSON Before/After.
func change(t testing.TB, kind policy.Kind, op policy.Op, id string, before, after any) policy.Change {
	t.Helper()
	c := policy.Change{Kind: kind, Op: op, ID: id}
	var err error
	if before != nil {
		if c.Before, err = json.Marshal(before); err != nil {
			t.Fatal(err)
		}
	}
	if after != nil {
		if c.After, err = json.Marshal(after); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func rule(id policy.RuleID) O { return policy.RuleOrigin(id) }

func TestEffectiveGroups(t *testing.T) {
	e := loaded(t, fixture())
	tests := []struct {
		name string
		user U
		want []EM
	}{
		{"nested dir group", "u-alice", []EM{{Group: "g-lug-london", Role: "organizer", Origins: []O{rule("r-org")}}}},
		{"manual and rule merged", "u-frank", []EM{{Group: "g-lug-london", Role: "organizer", Origins: []O{policy.OriginManual, rule("r-org")}}}},
		{"cyclic nesting", "u-bob", []EM{{Group: "g-lug-paris", Role: "member", Origins: []O{rule("r-cyc")}}}},
		{"partner user, manual and rule", "u-carol", []EM{
			{Group: "g-isug", Role: "member", Origins: []O{policy.OriginManual}},
			{Group: "g-lug-london", Role: "member", Origins: []O{rule("r-acme")}},
		}},
		{"inactive user has none", "u-dave", nil},
		{"membership does not flow down", "u-erin", []EM{{Group: "g-rug-eu", Role: "admin", Origins: []O{policy.OriginManual}}}},
		{"unknown user", "u-nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.EffectiveGroups(tt.user); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EffectiveGroups(%s) = %+v, want %+v", tt.user, got, tt.want)
			}
		})
	}
}

func TestCheckAndPermissions(t *testing.T) {
	e := loaded(t, fixture())
	tests := []struct {
		name  string
		user  U
		perm  P
		group G
		want  bool
	}{
		{"organizer by nested rule", "u-alice", "members.manage", "g-lug-london", true},
		{"organizer does not flow down", "u-alice", "members.manage", "g-sig-x", false},
		{"membership does not flow up", "u-alice", "group.read", "g-rug-eu", false},
		{"admin flows down one level", "u-erin", "roles.assign", "g-lug-london", true},
		{"admin flows down two levels", "u-erin", "members.manage", "g-sig-x", true},
		{"admin does not flow up", "u-erin", "group.read", "g-isug", false},
		{"admin does not flow sideways", "u-erin", "group.read", "g-sig-sec", false},
		{"inactive user", "u-dave", "group.read", "g-isug", false},
		{"cycle", "u-bob", "group.read", "g-lug-paris", true},
		{"partner member reads", "u-carol", "group.read", "g-lug-london", true},
		{"member cannot edit", "u-carol", "meetings.edit", "g-lug-london", false},
		{"cross-tenant rule ignored", "u-alice", "group.read", "g-isug", false},
		{"cross-tenant dir member ignored", "u-alice", "group.read", "g-sig-sec", false},
		{"unknown user", "u-nobody", "group.read", "g-isug", false},
		{"unknown group", "u-alice", "group.read", "g-nowhere", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Check(tt.user, tt.perm, tt.group); got != tt.want {
				t.Errorf("Check(%s, %s, %s) = %v, want %v", tt.user, tt.perm, tt.group, got, tt.want)
			}
			perms := e.Permissions(tt.user, tt.group)
			if got := slices.Contains(perms, tt.perm); got != tt.want {
				t.Errorf("Permissions(%s, %s) = %v; contains %s = %v, want %v", tt.user, tt.group, perms, tt.perm, got, tt.want)
			}
			if got := e.Explain(tt.user, tt.perm, tt.group).Allowed; got != tt.want {
				t.Errorf("Explain(%s, %s, %s).Allowed = %v, want %v", tt.user, tt.perm, tt.group, got, tt.want)
			}
		})
	}
	if got, want := e.Permissions("u-alice", "g-lug-london"), []P{"group.read", "meetings.edit", "meetings.read", "members.manage"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Permissions(alice, london) = %v, want %v", got, want)
	}
}

func TestMembers(t *testing.T) {
	e := loaded(t, fixture())
	tests := []struct {
		group G
		want  []policy.EffectiveMember
	}{
		{"g-lug-london", []policy.EffectiveMember{
			{User: "u-alice", Role: "organizer", Origins: []O{rule("r-org")}},
			{User: "u-carol", Role: "member", Origins: []O{rule("r-acme")}},
			{User: "u-frank", Role: "organizer", Origins: []O{policy.OriginManual, rule("r-org")}},
		}},
		{"g-isug", []policy.EffectiveMember{{User: "u-carol", Role: "member", Origins: []O{policy.OriginManual}}}},
		{"g-rug-eu", []policy.EffectiveMember{{User: "u-erin", Role: "admin", Origins: []O{policy.OriginManual}}}},
		{"g-sig-x", nil},
		{"g-sig-sec", nil},
		{"g-nowhere", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.group), func(t *testing.T) {
			if got := e.Members(tt.group); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Members(%s) = %+v, want %+v", tt.group, got, tt.want)
			}
		})
	}
}

func TestHierarchy(t *testing.T) {
	e := loaded(t, fixture())
	if got, want := e.Ancestors("g-sig-x"), []G{"g-lug-london", "g-rug-eu", "g-isug"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Ancestors(sig-x) = %v, want %v", got, want)
	}
	if got := e.Ancestors("g-isug"); got != nil {
		t.Errorf("Ancestors(isug) = %v, want nil", got)
	}
	if got, want := e.Children("g-rug-eu"), []G{"g-lug-london", "g-lug-paris"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Children(rug-eu) = %v, want %v", got, want)
	}
	if got, want := e.Children(""), []G{"g-isug"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Children(\"\") = %v, want %v", got, want)
	}
	if g, ok := e.Group("g-lug-london"); !ok || g.Slug != "lug-london" {
		t.Errorf("Group(lug-london) = %+v, %v", g, ok)
	}
	if _, ok := e.Group("g-nowhere"); ok {
		t.Error("Group(nowhere) found")
	}
}

func TestDeepHierarchy(t *testing.T) {
	const depth = 14
	w := policy.World{
		Tenants: []policy.Tenant{{ID: "t", Kind: policy.TenantVendor}},
		Users: []policy.User{
			{ID: "root-admin", Tenant: "t", UserName: "root-admin", Active: true},
			{ID: "leaf-member", Tenant: "t", UserName: "leaf-member", Active: true},
			{ID: "mid-organizer", Tenant: "t", UserName: "mid-organizer", Active: true},
		},
		Roles: policytest.Roles(),
	}
	var ids []G
	for i := range depth {
		g := policy.Group{ID: G(fmt.Sprintf("g%02d", i)), Slug: fmt.Sprintf("level-%d", i), Name: fmt.Sprintf("Level %d", i), Kind: policy.GroupLocal, Governance: policy.GovernManaged}
		if i == 0 {
			g.Kind = policy.GroupInternational
		} else {
			g.Parent = ids[i-1]
		}
		ids = append(ids, g.ID)
		w.Groups = append(w.Groups, g)
	}
	leaf, root, mid := ids[depth-1], ids[0], ids[depth/2]
	w.Memberships = []policy.Membership{
		{User: "root-admin", Group: root, Role: "admin"},
		{User: "leaf-member", Group: leaf, Role: "member"},
		{User: "mid-organizer", Group: mid, Role: "organizer"},
	}
	e := loaded(t, w)

	if got := len(e.Ancestors(leaf)); got != depth-1 {
		t.Errorf("len(Ancestors(leaf)) = %d, want %d", got, depth-1)
	}
	tests := []struct {
		user  U
		perm  P
		group G
		want  bool
	}{
		{"root-admin", "roles.assign", leaf, true},
		{"root-admin", "roles.assign", mid, true},
		{"leaf-member", "group.read", leaf, true},
		{"leaf-member", "group.read", ids[depth-2], false},
		{"leaf-member", "group.read", root, false},
		{"mid-organizer", "members.manage", mid, true},
		{"mid-organizer", "members.manage", ids[depth/2+1], false},
	}
	for _, tt := range tests {
		if got := e.Check(tt.user, tt.perm, tt.group); got != tt.want {
			t.Errorf("Check(%s, %s, %s) = %v, want %v", tt.user, tt.perm, tt.group, got, tt.want)
		}
	}
	ex := e.Explain("root-admin", "roles.assign", leaf)
	var parents int
	for _, s := range ex.Steps {
		if s.Kind == "parent" {
			parents++
		}
	}
	if !ex.Allowed || parents != depth-1 {
		t.Errorf("Explain(root-admin, leaf) allowed=%v with %d parent steps, want true and %d: %+v", ex.Allowed, parents, depth-1, ex.Steps)
	}
	if got := ex.Steps[len(ex.Steps)-1].Object; got != string(leaf) {
		t.Errorf("last step object = %s, want the leaf %s", got, leaf)
	}
}

// TestGroupsSpanTenants checks that one user group gathers users of several
// tenants, each through its own tenant's rules, and that a rule only counts
// for its own tenant's directory groups.
func TestGroupsSpanTenants(t *testing.T) {
	w := policy.World{Roles: policytest.Roles()}
	w.Groups = []policy.Group{
		{ID: "isug", Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational},
		{ID: "lug", Slug: "lug", Name: "LUG", Kind: policy.GroupLocal, Parent: "isug"},
	}
	var want []policy.EffectiveMember
	for i, tn := range []policy.TenantID{"vendor", "acme", "globex", "initech"} {
		u := policy.User{ID: U("u-" + tn), Tenant: tn, UserName: "pat", Active: true} // same userName in every tenant
		d := policy.DirGroup{ID: D("d-" + tn), Tenant: tn, DisplayName: "UG", MemberUsers: []U{u.ID}}
		r := policy.Rule{ID: policy.RuleID(fmt.Sprintf("r%d", i)), Tenant: tn, DirGroup: d.ID, Group: "lug", Role: "member"}
		w.Tenants = append(w.Tenants, policy.Tenant{ID: tn})
		w.Users = append(w.Users, u)
		w.DirGroups = append(w.DirGroups, d)
		w.Rules = append(w.Rules, r)
		want = append(want, policy.EffectiveMember{User: u.ID, Role: "member", Origins: []O{rule(r.ID)}})
	}
	// A rule of tenant acme on vendor's directory group gives nothing.
	w.Rules = append(w.Rules, policy.Rule{ID: "r-cross", Tenant: "acme", DirGroup: "d-vendor", Group: "isug", Role: "admin"})
	slices.SortFunc(want, func(a, b policy.EffectiveMember) int { return strings.Compare(string(a.User), string(b.User)) })
	e := loaded(t, w)
	if got := e.Members("lug"); !reflect.DeepEqual(got, want) {
		t.Errorf("Members(lug) = %+v, want %+v", got, want)
	}
	if got := e.Members("isug"); got != nil {
		t.Errorf("Members(isug) = %+v, want none (cross-tenant rule)", got)
	}
}

// mustFind returns the first item that matches, or ends the test.
func mustFind[T any](t *testing.T, items []T, match func(T) bool) T {
	t.Helper()
	i := slices.IndexFunc(items, match)
	if i < 0 {
		t.Fatalf("no %T matches", items)
	}
	return items[i]
}

// TestApplyScenarios checks targeted incremental changes against the
// expected effective memberships.
func TestApplyScenarios(t *testing.T) {
	base := fixture()
	dir := func(id D) policy.DirGroup {
		return mustFind(t, base.DirGroups, func(d policy.DirGroup) bool { return d.ID == id })
	}
	user := func(id U) policy.User {
		return mustFind(t, base.Users, func(u policy.User) bool { return u.ID == id })
	}
	londonWithout := func(u U) policy.DirGroup {
		d := dir("d-london-org")
		d.MemberUsers = slices.DeleteFunc(slices.Clone(d.MemberUsers), func(x U) bool { return x == u })
		return d
	}
	inactiveAlice := user("u-alice")
	inactiveAlice.Active = false
	unnested := dir("d-organizers")
	unnested.MemberGroups = nil
	carolMembership := policy.Membership{User: "u-carol", Group: "g-isug", Role: "member", Origin: policy.OriginManual}

	tests := []struct {
		name    string
		changes []policy.Change
		user    U
		want    []EM
	}{
		{
			name:    "removed from dir group keeps manual membership",
			changes: []policy.Change{change(t, policy.KindDirGroup, policy.OpUpdate, "d-london-org", dir("d-london-org"), londonWithout("u-frank"))},
			user:    "u-frank",
			want:    []EM{{Group: "g-lug-london", Role: "organizer", Origins: []O{policy.OriginManual}}},
		},
		{
			name:    "removed from dir group loses rule membership",
			changes: []policy.Change{change(t, policy.KindDirGroup, policy.OpUpdate, "d-london-org", dir("d-london-org"), londonWithout("u-alice"))},
			user:    "u-alice",
		},
		{
			name:    "rule removed",
			changes: []policy.Change{change(t, policy.KindRule, policy.OpDelete, "r-org", base.Rules[0], nil)},
			user:    "u-frank",
			want:    []EM{{Group: "g-lug-london", Role: "organizer", Origins: []O{policy.OriginManual}}},
		},
		{
			name:    "rule removed without before",
			changes: []policy.Change{change(t, policy.KindRule, policy.OpDelete, "r-org", nil, nil)},
			user:    "u-alice",
		},
		{
			name:    "nesting removed",
			changes: []policy.Change{change(t, policy.KindDirGroup, policy.OpUpdate, "d-organizers", dir("d-organizers"), unnested)},
			user:    "u-alice",
		},
		{
			name:    "user deactivated",
			changes: []policy.Change{change(t, policy.KindUser, policy.OpUpdate, "u-alice", user("u-alice"), inactiveAlice)},
			user:    "u-alice",
		},
		{
			name:    "manual membership removed by key",
			changes: []policy.Change{change(t, policy.KindMembership, policy.OpDelete, policy.MembershipKey("g-isug", "u-carol", "member"), nil, nil)},
			user:    "u-carol",
			want:    []EM{{Group: "g-lug-london", Role: "member", Origins: []O{rule("r-acme")}}},
		},
		{
			name:    "manual membership removed with before",
			changes: []policy.Change{change(t, policy.KindMembership, policy.OpDelete, policy.MembershipKey("g-isug", "u-carol", "member"), carolMembership, nil)},
			user:    "u-carol",
			want:    []EM{{Group: "g-lug-london", Role: "member", Origins: []O{rule("r-acme")}}},
		},
		{
			name: "group deleted with its rules",
			changes: []policy.Change{
				change(t, policy.KindRule, policy.OpDelete, "r-cyc", nil, nil),
				change(t, policy.KindGroup, policy.OpDelete, "g-lug-paris", nil, nil),
			},
			user: "u-bob",
		},
		{
			name:    "event entries are ignored",
			changes: []policy.Change{{Kind: policy.KindEvent, Op: policy.OpCreate, ID: "x", After: json.RawMessage(`{"anything":1}`)}},
			user:    "u-alice",
			want:    []EM{{Group: "g-lug-london", Role: "organizer", Origins: []O{rule("r-org")}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loaded(t, fixture())
			if err := e.Apply(tt.changes); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := e.EffectiveGroups(tt.user); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EffectiveGroups(%s) = %+v, want %+v", tt.user, got, tt.want)
			}
		})
	}
}

func TestApplyRejectsBadChanges(t *testing.T) {
	tests := []struct {
		name string
		c    policy.Change
	}{
		{"bad json", policy.Change{Kind: policy.KindUser, Op: policy.OpCreate, ID: "x", After: json.RawMessage(`{`)}},
		{"create without after", policy.Change{Kind: policy.KindUser, Op: policy.OpCreate, ID: "x"}},
		{"unknown op", policy.Change{Kind: policy.KindUser, Op: "upsert", ID: "x", After: json.RawMessage(`{}`)}},
		{"bad membership key", policy.Change{Kind: policy.KindMembership, Op: policy.OpDelete, ID: "nokey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loaded(t, fixture())
			// A valid change before the bad one must not be applied either.
			ok := change(t, policy.KindRule, policy.OpDelete, "r-org", nil, nil)
			err := e.Apply([]policy.Change{ok, tt.c})
			if !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("Apply = %v, want ErrInvalid", err)
			}
			if !e.Check("u-alice", "members.manage", "g-lug-london") {
				t.Error("Apply was not atomic: the valid change was applied")
			}
		})
	}
}

func TestCharter(t *testing.T) {
	// build: isug ← rug ← lug; n users are members of lug (half manual,
	// half by a rule), the first inParent of them also members of isug.
	build := func(n, inParent int) policy.World {
		w := policy.World{
			Tenants: []policy.Tenant{{ID: "t"}},
			Roles:   policytest.Roles(),
			Groups: []policy.Group{
				{ID: "isug", Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational},
				{ID: "rug", Slug: "rug", Name: "RUG", Kind: policy.GroupRegional, Parent: "isug"},
				{ID: "lug", Slug: "lug", Name: "LUG", Kind: policy.GroupLocal, Parent: "rug"},
				{ID: "orphan", Slug: "orphan", Name: "Orphan", Kind: policy.GroupLocal},
			},
			DirGroups: []policy.DirGroup{{ID: "d", Tenant: "t", DisplayName: "D"}},
			Rules:     []policy.Rule{{ID: "r", Tenant: "t", DirGroup: "d", Group: "lug", Role: "member"}},
		}
		for i := range n {
			u := U(fmt.Sprintf("u%03d", i))
			w.Users = append(w.Users, policy.User{ID: u, Tenant: "t", UserName: string(u), Active: true})
			if i%2 == 0 {
				w.Memberships = append(w.Memberships, policy.Membership{User: u, Group: "lug", Role: "member"})
			} else {
				w.DirGroups[0].MemberUsers = append(w.DirGroups[0].MemberUsers, u)
			}
			if i == 0 { // a second role in lug does not count twice
				w.Memberships = append(w.Memberships, policy.Membership{User: u, Group: "lug", Role: "organizer"})
			}
			if i < inParent {
				w.Memberships = append(w.Memberships, policy.Membership{User: u, Group: "isug", Role: "member"})
			}
		}
		// Members of isug who are not in lug do not count.
		w.Users = append(w.Users, policy.User{ID: "outsider", Tenant: "t", UserName: "outsider", Active: true})
		w.Memberships = append(w.Memberships, policy.Membership{User: "outsider", Group: "isug", Role: "member"})
		return w
	}
	tests := []struct {
		name        string
		n, inParent int
		cfg         policy.CharterRule
		group       G
		wantApplies bool
		wantMembers int
		wantIn      int
		want        bool
	}{
		{"3 of 5 is exactly 60%", 5, 3, policy.CharterRule{}, "lug", true, 5, 3, true},
		{"2 of 5", 5, 2, policy.CharterRule{}, "lug", true, 5, 2, false},
		{"59 of 100", 100, 59, policy.CharterRule{}, "lug", true, 100, 59, false},
		{"60 of 100", 100, 60, policy.CharterRule{}, "lug", true, 100, 60, true},
		{"599 of 1000", 1000, 599, policy.CharterRule{}, "lug", true, 1000, 599, false},
		{"all", 4, 4, policy.CharterRule{}, "lug", true, 4, 4, true},
		{"no members", 0, 0, policy.CharterRule{}, "lug", true, 0, 0, false},
		{"no ancestor of parent kind", 5, 5, policy.CharterRule{}, "orphan", false, 0, 0, false},
		{"other kind", 5, 5, policy.CharterRule{}, "rug", false, 0, 0, false},
		{"custom 70%: 7 of 10", 10, 7, policy.CharterRule{Kind: policy.GroupLocal, Parent: policy.GroupInternational, Threshold: 0.7}, "lug", true, 10, 7, true},
		{"custom 70%: 6 of 10", 10, 6, policy.CharterRule{Kind: policy.GroupLocal, Parent: policy.GroupInternational, Threshold: 0.7}, "lug", true, 10, 6, false},
		{"custom parent regional", 5, 5, policy.CharterRule{Kind: policy.GroupLocal, Parent: policy.GroupRegional, Threshold: 0.5}, "lug", true, 5, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := policy.NewEngine(policy.EngineConfig{Charter: tt.cfg})
			e.Load(build(tt.n, tt.inParent))
			st := e.Charter(tt.group)
			if st.Applies != tt.wantApplies || st.Members != tt.wantMembers || st.InParent != tt.wantIn || st.Chartered != tt.want {
				t.Errorf("Charter(%s) = %+v, want applies=%v members=%d inParent=%d chartered=%v",
					tt.group, st, tt.wantApplies, tt.wantMembers, tt.wantIn, tt.want)
			}
			if st.Applies && st.Members > 0 {
				if want := float64(tt.wantIn) / float64(tt.wantMembers); st.Ratio != want {
					t.Errorf("Ratio = %v, want %v", st.Ratio, want)
				}
			}
		})
	}
}

func TestExplainReasons(t *testing.T) {
	e := loaded(t, fixture())
	tests := []struct {
		name  string
		user  U
		perm  P
		group G
		want  string // substring of Reason
	}{
		{"unknown user", "u-nobody", "group.read", "g-isug", "unknown user u-nobody"},
		{"unknown group", "u-alice", "group.read", "g-nowhere", "unknown group g-nowhere"},
		{"inactive", "u-dave", "group.read", "g-isug", "dave (tenant vendor) is inactive"},
		{"does not flow down", "u-alice", "members.manage", "g-sig-x", "organizer in lug-london (LUG London), which grants members.manage but does not flow down to sig-x (SIG X)"},
		{"role held grants not", "u-carol", "meetings.edit", "g-lug-london", "holds member in lug-london (LUG London), but no role there grants meetings.edit"},
		{"no role", "u-bob", "group.read", "g-isug", "holds no role in isug (ISUG) or its ancestors"},
		{"no role grants", "u-carol", "meetings.edit", "g-sig-x", "no role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := e.Explain(tt.user, tt.perm, tt.group)
			if ex.Allowed || len(ex.Steps) != 0 || !strings.Contains(ex.Reason, tt.want) {
				t.Errorf("Explain = %+v, want a no with reason containing %q", ex, tt.want)
			}
		})
	}
}

// TestExplainGolden compares explanations with testdata/explain.golden.json
// (refresh with go test ./policy -run ExplainGolden -update).
func TestExplainGolden(t *testing.T) {
	e := loaded(t, fixture())
	queries := []struct {
		User  U
		Perm  P
		Group G
	}{
		{"u-alice", "members.manage", "g-lug-london"}, // user → D → nested in E → rule → role
		{"u-frank", "members.manage", "g-lug-london"}, // manual preferred over rule
		{"u-erin", "members.manage", "g-sig-x"},       // admin flows down two levels
		{"u-bob", "group.read", "g-lug-paris"},        // through a cycle
		{"u-alice", "members.manage", "g-sig-x"},      // does not flow down
	}
	var got []policy.Explanation
	for _, q := range queries {
		got = append(got, e.Explain(q.User, q.Perm, q.Group))
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "explain.golden.json")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(want) {
		t.Errorf("explanations differ from %s (run with -update to refresh):\n%s", path, b)
	}
	// The structure of the first chain, independent of the wording.
	var kinds []string
	for _, s := range got[0].Steps {
		kinds = append(kinds, s.Kind)
	}
	if want := []string{"dirgroup-member", "dirgroup-nested", "rule", "role"}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("alice's chain = %v, want %v", kinds, want)
	}
	if got[1].Steps[0].Kind != "manual" {
		t.Errorf("frank's chain starts with %s, want manual", got[1].Steps[0].Kind)
	}
}

// TestExplainPrefersManual checks that, among roles held in the group asked
// about that all grant the permission, Explain shows a manual membership
// before a rule, whatever the roles' names.
func TestExplainPrefersManual(t *testing.T) {
	w := fixture()
	// frank holds organizer manually and by rule; give him admin by rule
	// too ("admin" sorts before "organizer").
	w.Rules = append(w.Rules, policy.Rule{ID: "r-admin", Tenant: "vendor", DirGroup: "d-london-org", Group: "g-lug-london", Role: "admin"})
	e := loaded(t, w)
	ex := e.Explain("u-frank", "members.manage", "g-lug-london")
	if !ex.Allowed || len(ex.Steps) == 0 || ex.Steps[0].Kind != "manual" {
		t.Errorf("Explain(frank) = %+v, want a chain starting with the manual membership", ex)
	}
}

// TestCharterWithoutReferenceSaysWhy: a local group with no international
// group above it is not silently "does not apply".
func TestCharterWithoutReferenceSaysWhy(t *testing.T) {
	e := policy.NewEngine(policy.EngineConfig{})
	e.Load(policy.World{Groups: []policy.Group{{ID: "g-lone", Slug: "lug-lone", Name: "Lone", Kind: policy.GroupLocal}}})
	st := e.Charter("g-lone")
	if st.Applies || !strings.Contains(st.Reason, "no international group above") || st.ReferenceKind != policy.GroupInternational {
		t.Fatalf("charter of an orphan LUG: %+v", st)
	}
}

// TestMemberCount: MemberCount is the number of distinct users of Members,
// also after a change invalidates the memo.
func TestMemberCount(t *testing.T) {
	w := policytest.Generate(policytest.Small)
	e := policy.NewEngine(policy.EngineConfig{})
	e.Load(w)
	check := func() {
		t.Helper()
		for _, g := range w.Groups {
			users := map[policy.UserID]bool{}
			for _, m := range e.Members(g.ID) {
				users[m.User] = true
			}
			if got := e.MemberCount(g.ID); got != len(users) {
				t.Fatalf("MemberCount(%s) = %d, want %d", g.Slug, got, len(users))
			}
		}
	}
	check()
	// Deactivate a member of some group: the memo must not answer stale.
	for _, g := range w.Groups {
		ms := e.Members(g.ID)
		if len(ms) == 0 {
			continue
		}
		var u policy.User
		for _, x := range w.Users {
			if x.ID == ms[0].User {
				u = x
			}
		}
		before, _ := json.Marshal(u)
		u.Active = false
		after, _ := json.Marshal(u)
		if err := e.Apply([]policy.Change{{Kind: policy.KindUser, Op: policy.OpUpdate, ID: string(u.ID), Tenant: u.Tenant, Before: before, After: after}}); err != nil {
			t.Fatal(err)
		}
		break
	}
	check()
}
