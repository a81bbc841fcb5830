package policy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/policy/policytest"
)

// govWorld: isug (admin victor) > rug (admin quinn) > lug-self (organizer
// alice, member bob) and lug-managed (organizer alice, governance managed)
// > sig (special-interest, under lug-self, self by kind).
func govWorld(mod func(*policy.World)) *policy.Engine {
	w := policy.World{
		Tenants: []policy.Tenant{{ID: "t", Kind: policy.TenantVendor}},
		Users: []policy.User{
			{ID: "victor", Tenant: "t", UserName: "victor", Active: true},
			{ID: "quinn", Tenant: "t", UserName: "quinn", Active: true},
			{ID: "alice", Tenant: "t", UserName: "alice", Active: true},
			{ID: "bob", Tenant: "t", UserName: "bob", Active: true},
		},
		Groups: []policy.Group{
			{ID: "isug", Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational},
			{ID: "rug", Slug: "rug", Name: "RUG", Kind: policy.GroupRegional, Parent: "isug"},
			{ID: "self", Slug: "lug-self", Name: "LUG Self", Kind: policy.GroupLocal, Parent: "rug"},
			{ID: "managed", Slug: "lug-managed", Name: "LUG Managed", Kind: policy.GroupLocal, Parent: "rug", Governance: policy.GovernManaged},
			{ID: "sig", Slug: "sig", Name: "SIG", Kind: policy.GroupSpecialInterest, Parent: "self"},
		},
		Roles: append(policytest.Roles(), policy.Role{Name: "overseer", Inherit: true, Permissions: []policy.Permission{"group.read", "groups.manage", "audit.read", "groups.suspend"}}),
		Memberships: []policy.Membership{
			{User: "victor", Group: "isug", Role: "admin"},
			{User: "quinn", Group: "rug", Role: "overseer"},
			{User: "alice", Group: "self", Role: "organizer"},
			{User: "alice", Group: "managed", Role: "organizer"},
			{User: "bob", Group: "self", Role: "member"},
		},
	}
	if mod != nil {
		mod(&w)
	}
	e := policy.NewEngine(policy.EngineConfig{})
	e.Load(w)
	return e
}

func TestGovernance(t *testing.T) {
	e := govWorld(nil)
	tests := []struct {
		user  policy.UserID
		perm  policy.Permission
		group policy.GroupID
		want  bool
		note  string // a word the explanation must contain
	}{
		{"alice", "groups.manage", "self", true, "governs itself"},
		{"alice", "roles.assign", "self", true, "governs itself"},
		{"alice", "members.manage", "self", true, ""},
		{"alice", "groups.manage", "managed", false, ""},
		{"alice", "roles.assign", "managed", false, ""},
		{"alice", "members.manage", "managed", true, ""},
		{"bob", "groups.manage", "self", false, "its organizers"},
		{"victor", "members.manage", "self", false, "governs itself"},
		{"victor", "groups.manage", "self", false, "only oversight"},
		{"victor", "group.read", "self", true, "oversight"},
		{"victor", "members.manage", "managed", true, "is managed"},
		{"victor", "members.manage", "sig", false, "governs itself"},
		{"victor", "group.read", "sig", true, "oversight"},
		{"quinn", "groups.manage", "self", false, "only oversight"},
		{"quinn", "groups.suspend", "self", true, "oversight"},
		{"quinn", "audit.read", "self", true, "oversight"},
		{"quinn", "groups.manage", "managed", true, "is managed"},
		{"alice", "groups.manage", "sig", false, ""}, // organizer does not flow down
	}
	for _, tt := range tests {
		name := string(tt.user) + "/" + string(tt.perm) + "/" + string(tt.group)
		t.Run(name, func(t *testing.T) {
			if got := e.Check(tt.user, tt.perm, tt.group); got != tt.want {
				t.Errorf("Check = %v, want %v", got, tt.want)
			}
			if got := slices.Contains(e.Permissions(tt.user, tt.group), tt.perm); got != tt.want {
				t.Errorf("Permissions contains = %v, want %v", got, tt.want)
			}
			ex := e.Explain(tt.user, tt.perm, tt.group)
			if ex.Allowed != tt.want {
				t.Errorf("Explain.Allowed = %v, want %v (%+v)", ex.Allowed, tt.want, ex)
			}
			text := ex.Reason
			for _, s := range ex.Steps {
				text += " | " + s.Text
			}
			if !strings.Contains(text, tt.note) {
				t.Errorf("Explain = %q, want it to say %q", text, tt.note)
			}
		})
	}
	if ex := e.Explain("alice", "groups.manage", "self"); ex.Governance != policy.GovernSelf || ex.Steps[len(ex.Steps)-1].Kind != "governance" {
		t.Errorf("Explain(alice, groups.manage, self) = %+v, want governance self and a governance step", ex)
	}
}

func TestSuspension(t *testing.T) {
	tests := []struct {
		name string
		susp policy.Suspension
		user policy.UserID
		perm policy.Permission
		want bool
	}{
		{"group suspended: organizer reads", policy.Suspension{Reason: "r"}, "alice", "group.read", true},
		{"group suspended: organizer cannot manage", policy.Suspension{Reason: "r"}, "alice", "members.manage", false},
		{"group suspended: nor rename", policy.Suspension{Reason: "r"}, "alice", "groups.manage", false},
		{"group suspended: oversight stays", policy.Suspension{Reason: "r"}, "quinn", "groups.suspend", true},
		{"organizer suspended", policy.Suspension{User: "alice", Reason: "r"}, "alice", "meetings.edit", false},
		{"another organizer suspended", policy.Suspension{User: "bob", Reason: "r"}, "alice", "meetings.edit", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := govWorld(func(w *policy.World) { w.Groups[2].Suspensions = []policy.Suspension{tt.susp} })
			if got := e.Check(tt.user, tt.perm, "self"); got != tt.want {
				t.Errorf("Check = %v, want %v", got, tt.want)
			}
			if ex := e.Explain(tt.user, tt.perm, "self"); ex.Allowed != tt.want || !tt.want && !strings.Contains(ex.Reason, "suspen") {
				t.Errorf("Explain = %+v", ex)
			}
		})
	}
}

func TestGovernanceByKindConfig(t *testing.T) {
	h := policy.DefaultHierarchy()
	h.Governance[policy.GroupLocal] = policy.GovernManaged
	e := policy.NewEngine(policy.EngineConfig{Hierarchy: h})
	w := policy.World{
		Tenants: []policy.Tenant{{ID: "t"}},
		Users:   []policy.User{{ID: "victor", Tenant: "t", UserName: "victor", Active: true}},
		Groups: []policy.Group{
			{ID: "isug", Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational},
			{ID: "lug", Slug: "lug", Name: "LUG", Kind: policy.GroupLocal, Parent: "isug"},
			{ID: "lug2", Slug: "lug2", Name: "LUG 2", Kind: policy.GroupLocal, Parent: "isug", Governance: policy.GovernSelf},
		},
		Roles:       policytest.Roles(),
		Memberships: []policy.Membership{{User: "victor", Group: "isug", Role: "admin"}},
	}
	e.Load(w)
	if !e.Check("victor", "members.manage", "lug") {
		t.Error("managed by configuration: the ISUG admin should manage lug")
	}
	if e.Check("victor", "members.manage", "lug2") {
		t.Error("self by override: the ISUG admin should not manage lug2")
	}
}
