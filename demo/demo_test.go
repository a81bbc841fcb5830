package demo_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/policy"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func engine(t *testing.T) (*policy.Engine, policy.World) {
	t.Helper()
	w := demo.World(now)
	e := policy.NewEngine(policy.EngineConfig{})
	e.Load(w)
	return e, w
}

func bySlug(t *testing.T, w policy.World, slug string) policy.GroupID {
	t.Helper()
	for _, g := range w.Groups {
		if g.Slug == slug {
			return g.ID
		}
	}
	t.Fatalf("no group %s", slug)
	return ""
}

func TestCharter(t *testing.T) {
	e, w := engine(t)
	tests := []struct {
		slug            string
		members, inISUG int
		chartered       bool
	}{
		{"lug-london", 5, 4, true},
		{"lug-paris", 5, 3, true}, // exactly 60%
		{"lug-berlin", 6, 2, false},
		{"lug-new-york", 6, 5, true},
		{"lug-toronto", 4, 1, false},
		{"lug-sydney", 5, 4, true},
		{"lug-tokyo", 5, 2, true}, // through its mailing list
	}
	for _, tt := range tests {
		t.Run(tt.slug, func(t *testing.T) {
			st := e.Charter(bySlug(t, w, tt.slug))
			if !st.Applies || st.Parent != demo.GroupISUG || st.Members != tt.members || st.InParent != tt.inISUG || st.Chartered != tt.chartered {
				t.Errorf("Charter(%s) = %+v, want members=%d inParent=%d chartered=%v under isug",
					tt.slug, st, tt.members, tt.inISUG, tt.chartered)
			}
		})
	}
	if st := e.Charter(bySlug(t, w, "lug-tokyo")); st.Basis != policy.BasisMailingList || st.Subscribers != 5 || st.SubscribersInReference != 4 {
		t.Errorf("Charter(lug-tokyo) = %+v, want chartered by its mailing list, 4 of 5 subscribers", st)
	}
	if st := e.Charter(bySlug(t, w, "lug-london")); st.Basis != policy.BasisMembers {
		t.Errorf("Charter(lug-london) basis %q, want members", st.Basis)
	}
	for _, g := range w.Groups {
		if g.Kind == policy.GroupLocal && (g.Location == nil || g.Location.Country == "" || g.Location.TimeZone == "" || g.Type == "" || len(g.Topics) == 0 || len(g.Products) == 0) {
			t.Errorf("%s lacks a place or a subject: %+v", g.Slug, g)
		}
	}
	for _, slug := range []string{"isug", "rug-europe", "sig-security", "sig-devops"} {
		if st := e.Charter(bySlug(t, w, slug)); st.Applies || st.Chartered {
			t.Errorf("Charter(%s) = %+v, want not applicable", slug, st)
		}
	}
}

func TestShape(t *testing.T) {
	w := demo.World(now)
	if !reflect.DeepEqual(w, demo.World(now)) {
		t.Error("World is not deterministic")
	}
	if n := len(w.Users); n < 45 || n > 60 {
		t.Errorf("%d users, want about fifty", n)
	}
	inactive := 0
	for _, u := range w.Users {
		if !u.Active {
			inactive++
		}
	}
	if inactive < 1 || inactive > 3 {
		t.Errorf("%d inactive users, want one to three", inactive)
	}
	kinds := map[policy.GroupKind]int{}
	for _, g := range w.Groups {
		kinds[g.Kind]++
		if g.Kind == policy.GroupLocal && len(g.Meetings) == 0 {
			t.Errorf("%s has no meetings", g.Slug)
		}
	}
	if kinds[policy.GroupInternational] != 1 || kinds[policy.GroupRegional] != 3 || kinds[policy.GroupLocal] < 6 || kinds[policy.GroupSpecialInterest] != 2 {
		t.Errorf("group kinds = %v", kinds)
	}
	wantSlugs := []string{"isug", "rug-europe", "rug-north-america", "rug-apac", "lug-london", "lug-paris",
		"lug-berlin", "lug-new-york", "lug-toronto", "lug-sydney", "lug-tokyo", "sig-security", "sig-devops"}
	for _, s := range wantSlugs {
		bySlug(t, w, s)
	}
	sources := map[policy.TenantID]string{"vendor": "ldap:corp", "acme": "scim:acme", "globex": "scim:globex"}
	for _, u := range w.Users {
		if u.Source != sources[u.Tenant] {
			t.Errorf("user %s of %s has source %q", u.UserName, u.Tenant, u.Source)
		}
	}
	if !reflect.DeepEqual(demo.DefaultRoles(), demo.DefaultRoles()) || len(demo.DefaultRoles()) != 4 {
		t.Error("DefaultRoles is not the four default roles")
	}
	for _, r := range demo.DefaultRoles() {
		if r.Inherit != (r.Name == demo.RoleAdmin) {
			t.Errorf("role %s: Inherit = %v", r.Name, r.Inherit)
		}
	}
}

// TestIntegrity checks uniqueness, validity, acyclicity and that every
// reference resolves within its tenant.
func TestIntegrity(t *testing.T) {
	w := demo.World(now)
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$`)
	ids := map[string]bool{}
	unique := func(kind, id string) {
		t.Helper()
		if !uuid.MatchString(id) {
			t.Errorf("%s id %q is not UUID-shaped", kind, id)
		}
		if ids[id] {
			t.Errorf("%s id %s is used twice", kind, id)
		}
		ids[id] = true
	}

	tenants := map[policy.TenantID]bool{}
	for _, tn := range w.Tenants {
		tenants[tn.ID] = true
	}
	for _, want := range []policy.TenantID{demo.TenantVendor, demo.TenantAcme, demo.TenantGlobex} {
		if !tenants[want] {
			t.Errorf("tenant %s missing", want)
		}
	}

	users := map[policy.UserID]policy.User{}
	names := map[string]bool{}
	for _, u := range w.Users {
		unique("user", string(u.ID))
		if err := policy.ValidateUser(u); err != nil {
			t.Error(err)
		}
		if !tenants[u.Tenant] {
			t.Errorf("user %s: unknown tenant %s", u.UserName, u.Tenant)
		}
		k := string(u.Tenant) + "/" + policy.FoldUserName(u.UserName)
		if names[k] {
			t.Errorf("userName %s is not unique in tenant %s", u.UserName, u.Tenant)
		}
		names[k] = true
		users[u.ID] = u
	}

	dirs := map[policy.DirGroupID]policy.DirGroup{}
	for _, d := range w.DirGroups {
		unique("dirgroup", string(d.ID))
		if err := policy.ValidateDirGroup(d); err != nil {
			t.Error(err)
		}
		dirs[d.ID] = d
	}
	for _, d := range w.DirGroups {
		for _, u := range d.MemberUsers {
			if users[u].Tenant != d.Tenant {
				t.Errorf("dirgroup %s: member %q does not resolve in tenant %s", d.DisplayName, u, d.Tenant)
			}
		}
		for _, c := range d.MemberGroups {
			if cd, ok := dirs[c]; !ok || cd.Tenant != d.Tenant {
				t.Errorf("dirgroup %s: nested group %q does not resolve in tenant %s", d.DisplayName, c, d.Tenant)
			}
		}
	}

	groups := map[policy.GroupID]policy.Group{}
	slugs := map[string]bool{}
	for _, g := range w.Groups {
		unique("group", string(g.ID))
		if err := policy.ValidateGroup(g); err != nil {
			t.Error(err)
		}
		if slugs[g.Slug] {
			t.Errorf("slug %s is not unique", g.Slug)
		}
		slugs[g.Slug] = true
		groups[g.ID] = g
	}
	parentOf := func(id policy.GroupID) (policy.GroupID, bool) {
		g, ok := groups[id]
		return g.Parent, ok
	}
	for _, g := range w.Groups {
		if err := policy.CheckParent(g.ID, g.Parent, parentOf); err != nil {
			t.Errorf("group %s: %v", g.Slug, err)
		}
	}

	roles := map[policy.RoleName]bool{}
	for _, r := range w.Roles {
		if err := policy.ValidateRole(r); err != nil {
			t.Error(err)
		}
		roles[r.Name] = true
	}
	for _, r := range w.Rules {
		unique("rule", string(r.ID))
		d, ok := dirs[r.DirGroup]
		if !ok || d.Tenant != r.Tenant {
			t.Errorf("rule %s: directory group %q does not resolve in tenant %s", r.ID, r.DirGroup, r.Tenant)
		}
		if _, ok := groups[r.Group]; !ok {
			t.Errorf("rule %s: unknown group %s", r.ID, r.Group)
		}
		if !roles[r.Role] {
			t.Errorf("rule %s: unknown role %s", r.ID, r.Role)
		}
	}
	for _, m := range w.Memberships {
		if _, ok := users[m.User]; !ok {
			t.Errorf("membership %s: unknown user", policy.MembershipKey(m.Group, m.User, m.Role))
		}
		if _, ok := groups[m.Group]; !ok || !roles[m.Role] {
			t.Errorf("membership %s: unknown group or role", policy.MembershipKey(m.Group, m.User, m.Role))
		}
	}

	// The documented constants point at what the doc says.
	if u := users[demo.UserAlice]; u.UserName != "alice" {
		t.Errorf("UserAlice is %q", u.UserName)
	}
	if u := users[demo.UserBob]; u.UserName != "bob@acme.example" {
		t.Errorf("UserBob is %q", u.UserName)
	}
	if u := users[demo.UserTina]; u.UserName != "tina@globex.example" {
		t.Errorf("UserTina is %q", u.UserName)
	}
	if u := users[demo.UserMallory]; u.UserName != "mallory" || u.Active {
		t.Errorf("UserMallory is %q active=%v", u.UserName, u.Active)
	}
	for id, slug := range map[policy.GroupID]string{demo.GroupISUG: "isug", demo.GroupLUGLondon: "lug-london", demo.GroupLUGTokyo: "lug-tokyo", demo.GroupSIGDevOps: "sig-devops"} {
		if groups[id].Slug != slug {
			t.Errorf("group %s is %q, want %s", id, groups[id].Slug, slug)
		}
	}
}

// TestWellKnownUsers checks what the package documentation promises.
func TestWellKnownUsers(t *testing.T) {
	e, w := engine(t)
	tests := []struct {
		user policy.UserID
		perm policy.Permission
		slug string
		want bool
	}{
		{demo.UserAlice, "members.manage", "lug-london", true},
		{demo.UserAlice, "group.read", "isug", true},
		{demo.UserAlice, "members.manage", "sig-devops", false},
		{demo.UserVictor, "groups.manage", "lug-london", true},   // managed
		{demo.UserVictor, "groups.manage", "lug-tokyo", false},   // self-governing: oversight only
		{demo.UserVictor, "groups.suspend", "lug-tokyo", true},   // oversight
		{demo.UserVictor, "group.read", "lug-tokyo", true},       // oversight
		{demo.UserVictor, "roles.assign", "sig-security", false}, // a SIG governs itself
		{demo.UserQuinn, "members.manage", "lug-london", true},
		{demo.UserQuinn, "members.manage", "lug-berlin", false},
		{demo.UserQuinn, "groups.suspend", "lug-berlin", true},
		{demo.UserQuinn, "members.manage", "sig-devops", false},
		{demo.UserQuinn, "group.read", "lug-tokyo", false},
		{demo.UserAlice, "groups.manage", "lug-london", false},                        // managed: not hers to rename
		{"10000000-0000-4000-8000-000000000007", "groups.manage", "lug-berlin", true}, // greta governs Berlin
		{"10000000-0000-4000-8000-000000000007", "roles.assign", "lug-berlin", true},
		{demo.UserPeter, "group.read", "sig-devops", true},
		{demo.UserPeter, "talks.submit", "lug-berlin", true},
		{demo.UserBob, "talks.submit", "lug-london", true},
		{demo.UserBob, "group.read", "isug", true},
		{demo.UserTina, "group.read", "isug", true},
		{demo.UserTina, "group.read", "lug-sydney", true},
		{demo.UserMallory, "group.read", "lug-london", false},
	}
	for _, tt := range tests {
		if got := e.Check(tt.user, tt.perm, bySlug(t, w, tt.slug)); got != tt.want {
			ex := e.Explain(tt.user, tt.perm, bySlug(t, w, tt.slug))
			t.Errorf("Check(%s, %s, %s) = %v, want %v (%s)", tt.user, tt.perm, tt.slug, got, tt.want, ex.Reason)
		}
	}

	ex := e.Explain(demo.UserAlice, "members.manage", demo.GroupLUGLondon)
	var texts []string
	for _, s := range ex.Steps {
		texts = append(texts, s.Text)
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"alice", "ug-london-organizers", string(demo.RuleLondonOrganizers), "lug-london", "members.manage"} {
		if !strings.Contains(joined, want) {
			t.Errorf("Explain(alice, members.manage, lug-london) does not mention %q:\n%s", want, joined)
		}
	}
	// otto is an ISUG member both manually and through Acme ISUG.
	const otto policy.UserID = "10000000-0000-4000-8000-000000000034"
	var origins []policy.Origin
	for _, m := range e.Members(demo.GroupISUG) {
		if m.User == otto {
			origins = m.Origins
		}
	}
	if len(origins) != 2 || origins[0] != policy.OriginManual || !strings.HasPrefix(string(origins[1]), "rule:") {
		t.Errorf("otto's ISUG origins = %v, want manual and a rule", origins)
	}
}

// TestJoinAndMeetings: the demo shows a request-only LUG, an open SIG and
// recurring meetings with past and upcoming occurrences, all valid.
func TestJoinAndMeetings(t *testing.T) {
	now := time.Date(2031, 3, 20, 12, 0, 0, 0, time.UTC)
	w := demo.World(now)
	joins := map[string]policy.JoinPolicy{}
	recurring := 0
	for _, g := range w.Groups {
		joins[g.Slug] = g.Join
		if err := policy.ValidateGroup(g); err != nil {
			t.Errorf("%s: %v", g.Slug, err)
		}
		for _, m := range g.Meetings {
			if m.RRule == "" {
				continue
			}
			recurring++
			past := m.Occurrences(m.Start, now, 0)
			next, ok := m.Next(now)
			if len(past) == 0 || !ok {
				t.Errorf("%s: %q has no past (%v) or no next occurrence", g.Slug, m.Title, past)
			}
			if m.TimeZone == "Europe/London" && next.In(m.Zone()).Format("15:04 Mon") != "18:30 Tue" {
				t.Errorf("%s: next at %v", m.Title, next.In(m.Zone()))
			}
		}
	}
	if joins["lug-london"] != policy.JoinOnRequest || joins["sig-devops"] != policy.JoinOpen || joins["isug"] != "" {
		t.Errorf("join policies: %v", joins)
	}
	if recurring != 2 {
		t.Errorf("%d recurring meetings, want 2", recurring)
	}
}
