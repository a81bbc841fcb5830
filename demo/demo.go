// Package demo holds Roster's demo data set: the user groups of a vendor
// (an international user group over three regional ones over seven local
// ones, plus two special-interest groups), fifty people of the vendor and
// two partner companies, their directory groups, the four default roles,
// binding rules and a few manual memberships.
//
// The package is pure: World builds the data in memory and performs no I/O.
// Every id is fixed and UUID-shaped, so documentation and demos can cite
// them; only meeting times depend on the now passed to World.
//
// # Tenants
//
//   - vendor "Vendor Inc" (kind vendor): 20 employees from LDAP, source
//     "ldap:corp", userName = LDAP uid ("alice").
//   - acme "Acme Corp" (partner): 15 people pushed by Okta, source
//     "scim:acme", userName = e-mail ("bob@acme.example").
//   - globex "Globex Corporation" (partner): 15 people pushed by Entra ID,
//     source "scim:globex", userName = e-mail ("tina@globex.example").
//
// # User groups
//
//	isug                 International Systems User Group (international)
//	├── rug-europe       RUG Europe (regional)
//	│   ├── lug-london   managed (the RUG's and ISUG's admins govern it); the other LUGs and
//	│   │                the SIGs govern themselves (their organizers govern; oversight above)
//	│   │                chartered: 4 of 5 members are ISUG members (80%); join on request
//	│   │                (a monthly meeting on the 2nd Tuesday, 18:30 London time)
//	│   ├── lug-paris    chartered: 3 of 5 (exactly 60%)
//	│   ├── lug-berlin   not chartered: 2 of 6 (33%)
//	│   └── sig-devops   SIG DevOps (special-interest); open: join with one click
//	│                    (online office hours every other Thursday)
//	├── rug-north-america
//	│   ├── lug-new-york chartered: 5 of 6 (83%)
//	│   └── lug-toronto  not chartered: 1 of 4 (25%)
//	├── rug-apac
//	│   ├── lug-sydney   chartered: 4 of 5 (80%)
//	│   └── lug-tokyo    chartered through its mailing list: 2 of 5 members (40%),
//	│                    but 4 of 5 subscribers (80%) are ISUG members
//	└── sig-security     SIG Security (special-interest)
//
// # Well-known users
//
//   - alice (UserAlice, vendor): organizer of lug-london through the LDAP
//     group "ug-london-organizers" (rule RuleLondonOrganizers), and ISUG
//     member because that group is nested in "ug-organizers". Explain
//     (alice, members.manage, lug-london) is a yes; (alice,
//     members.manage, sig-devops) is a no.
//   - victor (UserVictor, vendor): admin of isug through "roster-admins";
//     admin flows down: he governs isug, the RUGs and the managed
//     lug-london, and has oversight (read, audit, suspend) of the
//     self-governing LUGs and SIGs.
//   - quinn (UserQuinn, vendor): manual admin of rug-europe; governs
//     lug-london, has oversight of lug-paris, lug-berlin and sig-devops,
//     nothing in lug-tokyo.
//   - greta (vendor): organizer of the self-governing lug-berlin; she
//     renames it, appoints its speakers and co-organizers, creates SIGs
//     under it.
//   - peter (UserPeter, vendor): member of sig-devops through the cyclic
//     LDAP nesting "engineering" ↔ "platform"; manual speaker in lug-berlin.
//   - bob@acme.example (UserBob, acme): member and speaker of lug-london,
//     ISUG member, through Acme's SCIM groups.
//   - tina@globex.example (UserTina, globex): member of lug-sydney and of
//     isug through the nested Entra ID group "Globex Leads".
//   - hans (UserHans, vendor): the storage product team (RoleStorageTeam,
//     held in sig-security): answers feedback on "vendor storage" only.
//     ISUG admins (victor) triage every product; see demo/voice.go for
//     the feedback items, the pending application and the analytics.
//   - mallory (UserMallory, vendor) and pam@acme.example,
//     oscar@globex.example: inactive; they hold nothing although their
//     directory groups are bound to groups.
package demo

import (
	"fmt"
	"time"

	"github.com/roster-dev/roster/policy"
)

// Tenants of the demo.
const (
	TenantVendor policy.TenantID = "vendor"
	TenantAcme   policy.TenantID = "acme"
	TenantGlobex policy.TenantID = "globex"
)

// Well-known user groups.
const (
	GroupISUG            policy.GroupID = "30000000-0000-4000-8000-000000000001"
	GroupRUGEurope       policy.GroupID = "30000000-0000-4000-8000-000000000002"
	GroupRUGNorthAmerica policy.GroupID = "30000000-0000-4000-8000-000000000003"
	GroupRUGAPAC         policy.GroupID = "30000000-0000-4000-8000-000000000004"
	GroupLUGLondon       policy.GroupID = "30000000-0000-4000-8000-000000000011"
	GroupLUGParis        policy.GroupID = "30000000-0000-4000-8000-000000000012"
	GroupLUGBerlin       policy.GroupID = "30000000-0000-4000-8000-000000000013"
	GroupLUGNewYork      policy.GroupID = "30000000-0000-4000-8000-000000000014"
	GroupLUGToronto      policy.GroupID = "30000000-0000-4000-8000-000000000015"
	GroupLUGSydney       policy.GroupID = "30000000-0000-4000-8000-000000000016"
	GroupLUGTokyo        policy.GroupID = "30000000-0000-4000-8000-000000000017"
	GroupSIGSecurity     policy.GroupID = "30000000-0000-4000-8000-000000000021"
	GroupSIGDevOps       policy.GroupID = "30000000-0000-4000-8000-000000000022"
)

// Well-known users (see the package documentation).
const (
	UserAlice   policy.UserID = "10000000-0000-4000-8000-000000000001"
	UserVictor  policy.UserID = "10000000-0000-4000-8000-000000000002"
	UserQuinn   policy.UserID = "10000000-0000-4000-8000-000000000017"
	UserPeter   policy.UserID = "10000000-0000-4000-8000-000000000016"
	UserMallory policy.UserID = "10000000-0000-4000-8000-000000000020"
	UserBob     policy.UserID = "10000000-0000-4000-8000-000000000021"
	UserTina    policy.UserID = "10000000-0000-4000-8000-000000000039"
)

// RuleLondonOrganizers binds vendor's LDAP group "ug-london-organizers" to
// organizer in lug-london.
const RuleLondonOrganizers policy.RuleID = "40000000-0000-4000-8000-000000000002"

// Role names of the default roles.
const (
	RoleMember    policy.RoleName = "member"
	RoleSpeaker   policy.RoleName = "speaker"
	RoleOrganizer policy.RoleName = "organizer"
	RoleAdmin     policy.RoleName = "admin"
)

// DefaultRoles returns the four default roles: member, speaker and
// organizer (which do not flow down) and admin (every permission; flows
// down to descendant groups). cmd seeds them in a fresh, non-demo store.
func DefaultRoles() []policy.Role {
	return []policy.Role{
		{Name: RoleMember, Description: "Member of the group", Permissions: []policy.Permission{policy.PermGroupRead, policy.PermMeetingsRead}},
		{Name: RoleSpeaker, Description: "May submit talks", Permissions: []policy.Permission{policy.PermGroupRead, policy.PermMeetingsRead, policy.PermTalksSubmit}},
		{Name: RoleOrganizer, Description: "Runs the group: meetings and members (and, in a self-governing group, the group itself)", Permissions: []policy.Permission{policy.PermGroupRead, policy.PermMeetingsRead, policy.PermMeetingsEdit, policy.PermMembersManage, policy.PermTalksSubmit, policy.PermAnnouncementsSend, policy.PermStatsRead}},
		{Name: RoleAdmin, Description: "Everything, in this group and every group below it (oversight only in a self-governing group below)", Inherit: true, Permissions: []policy.Permission{
			policy.PermGroupRead, policy.PermMeetingsRead, policy.PermMeetingsEdit, policy.PermMembersManage, policy.PermTalksSubmit, policy.PermRolesAssign, policy.PermGroupsManage, policy.PermAnnouncementsSend,
			policy.PermAuditRead, policy.PermGroupsSuspend, // oversight: what still flows into a self-governing group
			policy.PermStatsRead, policy.PermApplicationsReview, // analytics; founding applications below
			policy.PermFeedbackTriage,          // product feedback on every product (the community team)
			"directories.manage",               // held on every root group: directory sync status and approval
			"tenants.manage", "clients.manage", // held on every root group: SCIM tokens, OIDC clients
		}},
	}
}

func id(kind, n int) string { return fmt.Sprintf("%d0000000-0000-4000-8000-%012d", kind, n) }

// Id kinds (the first digit of every id).
const (
	kindUser     = 1
	kindDirGroup = 2
	kindGroup    = 3
	kindRule     = 4
	kindMeeting  = 5
	kindFeedback = 6
)

type userRow struct {
	n                       int
	tenant                  policy.TenantID
	userName, given, family string
	active                  bool
	department              string
}

func users() []userRow {
	v, a, g := TenantVendor, TenantAcme, TenantGlobex
	return []userRow{
		{1, v, "alice", "Alice", "Andersen", true, "Sales Engineering"},
		{2, v, "victor", "Victor", "Vance", true, "Community"},
		{3, v, "charlotte", "Charlotte", "Clarke", true, "Support"},
		{4, v, "daniel", "Daniel", "Davies", true, "Consulting"},
		{5, v, "emma", "Emma", "Moreau", true, "Sales Engineering"},
		{6, v, "francois", "François", "Lefèvre", true, "Support"},
		{7, v, "greta", "Greta", "Gruber", true, "Consulting"},
		{8, v, "hans", "Hans", "Hoffmann", true, "Engineering"},
		{9, v, "ian", "Ian", "Irving", true, "Sales Engineering"},
		{10, v, "julia", "Julia", "Jones", true, "Support"},
		{11, v, "kevin", "Kevin", "Kowalski", true, "Consulting"},
		{12, v, "liam", "Liam", "Lee", true, "Sales Engineering"},
		{13, v, "mia", "Mia", "Tanaka", true, "Sales Engineering"},
		{14, v, "noah", "Noah", "Nakamura", true, "Security"},
		{15, v, "olivia", "Olivia", "Olsen", true, "Platform"},
		{16, v, "peter", "Peter", "Parker", true, "Engineering"},
		{17, v, "quinn", "Quinn", "Quigley", true, "Community"},
		{18, v, "rachel", "Rachel", "Reyes", true, "Marketing"},
		{19, v, "sam", "Sam", "Sullivan", true, "Support"},
		{20, v, "mallory", "Mallory", "Malone", false, "Engineering"},
		{21, a, "bob@acme.example", "Bob", "Baker", true, "IT"},
		{22, a, "carol@acme.example", "Carol", "Carter", true, "IT"},
		{23, a, "dave@acme.example", "Dave", "Dupont", true, "Operations"},
		{24, a, "erin@acme.example", "Erin", "Engel", true, "IT"},
		{25, a, "frank@acme.example", "Frank", "Fischer", true, "Operations"},
		{26, a, "grace@acme.example", "Grace", "Green", true, "IT"},
		{27, a, "heidi@acme.example", "Heidi", "Hall", true, "Finance"},
		{28, a, "ivan@acme.example", "Ivan", "Ivanov", true, "IT"},
		{29, a, "judy@acme.example", "Judy", "Jackson", true, "Operations"},
		{30, a, "ken@acme.example", "Ken", "King", true, "Security"},
		{31, a, "laura@acme.example", "Laura", "Lewis", true, "IT"},
		{32, a, "mike@acme.example", "Mike", "Miller", true, "Platform"},
		{33, a, "nina@acme.example", "Nina", "Nguyen", true, "IT"},
		{34, a, "otto@acme.example", "Otto", "Olsson", true, "Architecture"},
		{35, a, "pam@acme.example", "Pam", "Price", false, "IT"},
		{36, g, "quentin@globex.example", "Quentin", "Sato", true, "IT"},
		{37, g, "rita@globex.example", "Rita", "Suzuki", true, "IT"},
		{38, g, "steve@globex.example", "Steve", "Watanabe", true, "Operations"},
		{39, g, "tina@globex.example", "Tina", "Taylor", true, "IT"},
		{40, g, "ursula@globex.example", "Ursula", "Underwood", true, "Operations"},
		{41, g, "vince@globex.example", "Vince", "Valdez", true, "IT"},
		{42, g, "wendy@globex.example", "Wendy", "Laurent", true, "IT"},
		{43, g, "xavier@globex.example", "Xavier", "Xu", true, "Security"},
		{44, g, "yvonne@globex.example", "Yvonne", "Ito", true, "IT"},
		{45, g, "zack@globex.example", "Zack", "Zimmermann", true, "Operations"},
		{46, g, "oscar@globex.example", "Oscar", "Ortiz", false, "IT"},
		{47, g, "paula@globex.example", "Paula", "Pereira", true, "Platform"},
		{48, g, "rob@globex.example", "Rob", "Roberts", true, "Architecture"},
		{49, g, "sara@globex.example", "Sara", "Smith", true, "IT"},
		{50, g, "tom@globex.example", "Tom", "Thompson", true, "Operations"},
	}
}

type dirRow struct {
	n      int
	tenant policy.TenantID
	name   string
	users  []string // userNames of the same tenant
	groups []string // names of nested directory groups of the same tenant
}

func dirGroups() []dirRow {
	v, a, g := TenantVendor, TenantAcme, TenantGlobex
	s := func(x ...string) []string { return x }
	return []dirRow{
		// Vendor, LDAP.
		{1, v, "ug-london", s("charlotte", "daniel", "mallory"), nil},
		{2, v, "ug-london-organizers", s("alice"), nil},
		{3, v, "ug-paris", s("francois"), nil},
		{4, v, "ug-paris-organizers", s("emma"), nil},
		{5, v, "ug-berlin", s("hans"), nil},
		{6, v, "ug-berlin-organizers", s("greta"), nil},
		{7, v, "ug-north-america", s("julia", "sam"), nil},
		{8, v, "ug-new-york-organizers", s("ian"), nil},
		{9, v, "ug-toronto-organizers", s("kevin"), nil},
		{10, v, "ug-sydney-organizers", s("liam"), nil},
		{11, v, "ug-tokyo-organizers", s("mia"), nil},
		{12, v, "ug-organizers", nil, s("ug-london-organizers", "ug-paris-organizers", "ug-berlin-organizers",
			"ug-new-york-organizers", "ug-toronto-organizers", "ug-sydney-organizers", "ug-tokyo-organizers")},
		{13, v, "isug-members", s("charlotte", "daniel", "francois", "julia", "sam", "rachel"), nil},
		{14, v, "roster-admins", s("victor"), nil},
		{15, v, "security-champions", s("noah"), nil},
		{16, v, "devops-guild", s("olivia"), nil},
		{17, v, "engineering", s("peter", "hans", "mallory"), s("platform")},
		{18, v, "platform", s("olivia"), s("engineering")}, // a cycle, as real directories have
		{19, v, "ug-speakers", s("peter", "alice"), nil},
		// Acme, SCIM from Okta.
		{21, a, "Acme UG London", s("bob@acme.example", "laura@acme.example", "pam@acme.example"), nil},
		{22, a, "Acme UG Paris", s("carol@acme.example", "dave@acme.example"), nil},
		{23, a, "Acme UG Berlin", s("erin@acme.example", "frank@acme.example"), nil},
		{24, a, "Acme UG New York", s("grace@acme.example", "heidi@acme.example"), nil},
		{25, a, "Acme UG Toronto", s("ivan@acme.example", "judy@acme.example"), nil},
		{26, a, "Acme UG Sydney", s("nina@acme.example"), nil},
		{27, a, "Acme Speakers", s("bob@acme.example"), nil},
		{28, a, "Acme Security", s("ken@acme.example"), nil},
		{29, a, "Acme ISUG", s("bob@acme.example", "carol@acme.example", "erin@acme.example", "grace@acme.example", "nina@acme.example", "otto@acme.example"), s("Acme Security")},
		{30, a, "Acme DevOps", s("mike@acme.example"), nil},
		// Globex, SCIM from Entra ID.
		{31, g, "Globex Tokyo", s("quentin@globex.example", "rita@globex.example", "steve@globex.example", "yvonne@globex.example", "oscar@globex.example"), nil},
		{32, g, "Globex Sydney", s("tina@globex.example", "ursula@globex.example", "tom@globex.example"), nil},
		{33, g, "Globex New York", s("vince@globex.example"), nil},
		{34, g, "Globex Toronto", s("sara@globex.example"), nil},
		{35, g, "Globex Paris", s("wendy@globex.example"), nil},
		{36, g, "Globex Berlin", s("zack@globex.example"), nil},
		{37, g, "Globex Leads", s("quentin@globex.example", "tina@globex.example"), nil},
		{38, g, "Globex ISUG", s("tom@globex.example", "vince@globex.example", "rob@globex.example"), s("Globex Leads")},
		{39, g, "Globex Security", s("xavier@globex.example"), nil},
		{40, g, "Globex DevOps", s("paula@globex.example"), nil},
	}
}

type groupRow struct {
	n           int
	slug, name  string
	kind        policy.GroupKind
	parent      int
	city, venue string
	description string
}

func groups() []groupRow {
	return []groupRow{
		{1, "isug", "International Systems User Group", policy.GroupInternational, 0, "", "", "The worldwide user group of Vendor Inc's systems."},
		{2, "rug-europe", "RUG Europe", policy.GroupRegional, 1, "", "", "Regional user group for Europe."},
		{3, "rug-north-america", "RUG North America", policy.GroupRegional, 1, "", "", "Regional user group for North America."},
		{4, "rug-apac", "RUG Asia/Pacific", policy.GroupRegional, 1, "", "", "Regional user group for Asia and the Pacific."},
		{11, "lug-london", "LUG London", policy.GroupLocal, 2, "London", "Vendor Inc office, 1 King's Cross", "Monthly meetings in London."},
		{12, "lug-paris", "LUG Paris", policy.GroupLocal, 2, "Paris", "Station F, Paris", "Rencontres trimestrielles à Paris."},
		{13, "lug-berlin", "LUG Berlin", policy.GroupLocal, 2, "Berlin", "Betahaus, Kreuzberg", "Stammtisch und Vorträge in Berlin."},
		{14, "lug-new-york", "LUG New York", policy.GroupLocal, 3, "New York", "Acme HQ, 5th Avenue", "New York local group."},
		{15, "lug-toronto", "LUG Toronto", policy.GroupLocal, 3, "Toronto", "MaRS Discovery District", "Toronto local group."},
		{16, "lug-sydney", "LUG Sydney", policy.GroupLocal, 4, "Sydney", "Globex office, Barangaroo", "Sydney local group."},
		{17, "lug-tokyo", "LUG Tokyo", policy.GroupLocal, 4, "Tokyo", "Globex Japan, Shibuya", "Tokyo local group."},
		{21, "sig-security", "SIG Security", policy.GroupSpecialInterest, 1, "online", "Video conference", "Hardening, audits and incident stories."},
		{22, "sig-devops", "SIG DevOps", policy.GroupSpecialInterest, 2, "online", "Video conference", "Automation, CI/CD and operations."},
	}
}

// place is where a demo group is and what it is about.
type place struct {
	city, region, country, tz string
	lat, lon                  float64
	typ                       policy.GroupType
	topics                    []string
}

func places() map[string]place {
	return map[string]place{
		"isug":              {"", "", "", "", 0, 0, policy.TypeSoftware, []string{"systems", "operations"}},
		"rug-europe":        {"", "Europe", "", "Europe/Brussels", 0, 0, policy.TypeSoftware, nil},
		"rug-north-america": {"", "North America", "", "America/New_York", 0, 0, policy.TypeSoftware, nil},
		"rug-apac":          {"", "Asia/Pacific", "", "Asia/Singapore", 0, 0, policy.TypeSoftware, nil},
		"lug-london":        {"London", "England", "GB", "Europe/London", 51.5308, -0.1238, policy.TypeSocial, []string{"automation", "storage"}},
		"lug-paris":         {"Paris", "Île-de-France", "FR", "Europe/Paris", 48.8339, 2.3707, policy.TypeSocial, []string{"security", "storage"}},
		"lug-berlin":        {"Berlin", "Berlin", "DE", "Europe/Berlin", 52.4995, 13.4177, policy.TypeSoftware, []string{"kubernetes", "automation"}},
		"lug-new-york":      {"New York", "New York", "US", "America/New_York", 40.7536, -73.9832, policy.TypeSocial, []string{"finance", "storage"}},
		"lug-toronto":       {"Toronto", "Ontario", "CA", "America/Toronto", 43.6598, -79.3886, policy.TypeSoftware, []string{"kubernetes"}},
		"lug-sydney":        {"Sydney", "New South Wales", "AU", "Australia/Sydney", -33.8614, 151.2016, policy.TypeSocial, []string{"automation"}},
		"lug-tokyo":         {"Tokyo", "Tokyo", "JP", "Asia/Tokyo", 35.6580, 139.7016, policy.TypeSoftware, []string{"kubernetes", "security"}},
		"sig-security":      {"", "", "", "", 0, 0, policy.TypeSpecialInterest, []string{"security", "audits"}},
		"sig-devops":        {"", "", "", "Europe/London", 0, 0, policy.TypeSpecialInterest, []string{"automation", "ci/cd", "kubernetes"}},
	}
}

// Products are the demo vendor's product lines (config policy.products).
var Products = []string{"vendor os", "vendor storage", "vendor cloud"}

type ruleRow struct {
	n      int
	tenant policy.TenantID
	dir    string
	group  int
	role   policy.RoleName
}

func rules() []ruleRow {
	v, a, g := TenantVendor, TenantAcme, TenantGlobex
	return []ruleRow{
		{1, v, "ug-london", 11, RoleMember},
		{2, v, "ug-london-organizers", 11, RoleOrganizer}, // RuleLondonOrganizers
		{3, v, "ug-paris", 12, RoleMember},
		{4, v, "ug-paris-organizers", 12, RoleOrganizer},
		{5, v, "ug-berlin", 13, RoleMember},
		{6, v, "ug-berlin-organizers", 13, RoleOrganizer},
		{7, v, "ug-north-america", 14, RoleMember},
		{8, v, "ug-new-york-organizers", 14, RoleOrganizer},
		{9, v, "ug-toronto-organizers", 15, RoleOrganizer},
		{10, v, "ug-sydney-organizers", 16, RoleOrganizer},
		{11, v, "ug-tokyo-organizers", 17, RoleOrganizer},
		{12, v, "ug-organizers", 1, RoleMember},
		{13, v, "isug-members", 1, RoleMember},
		{14, v, "roster-admins", 1, RoleAdmin},
		{15, v, "security-champions", 21, RoleOrganizer},
		{16, v, "devops-guild", 22, RoleOrganizer},
		{17, v, "platform", 22, RoleMember},
		{18, v, "ug-speakers", 2, RoleSpeaker},
		{21, a, "Acme UG London", 11, RoleMember},
		{22, a, "Acme UG Paris", 12, RoleMember},
		{23, a, "Acme UG Berlin", 13, RoleMember},
		{24, a, "Acme UG New York", 14, RoleMember},
		{25, a, "Acme UG Toronto", 15, RoleMember},
		{26, a, "Acme UG Sydney", 16, RoleMember},
		{27, a, "Acme Speakers", 11, RoleSpeaker},
		{28, a, "Acme ISUG", 1, RoleMember},
		{29, a, "Acme Security", 21, RoleMember},
		{30, a, "Acme DevOps", 22, RoleMember},
		{31, g, "Globex Tokyo", 17, RoleMember},
		{32, g, "Globex Sydney", 16, RoleMember},
		{33, g, "Globex New York", 14, RoleMember},
		{34, g, "Globex Toronto", 15, RoleMember},
		{35, g, "Globex Paris", 12, RoleMember},
		{36, g, "Globex Berlin", 13, RoleMember},
		{37, g, "Globex ISUG", 1, RoleMember},
		{38, g, "Globex Security", 21, RoleMember},
		{39, g, "Globex DevOps", 22, RoleMember},
	}
}

type manualRow struct {
	tenant   policy.TenantID
	userName string
	group    int
	role     policy.RoleName
}

func manual() []manualRow {
	return []manualRow{
		{TenantVendor, "quinn", 2, RoleAdmin},
		{TenantVendor, "peter", 13, RoleSpeaker},
		{TenantVendor, "mia", 21, RoleSpeaker},
		{TenantAcme, "laura@acme.example", 11, RoleSpeaker},
		{TenantAcme, "otto@acme.example", 1, RoleMember}, // also given by Acme ISUG: two origins
		{TenantVendor, "mallory", 11, RoleOrganizer},     // inactive: holds nothing
		{TenantVendor, "hans", 21, RoleStorageTeam},      // the storage product team (demo/voice.go)
	}
}

// World returns the demo data set. Records are created at fixed times in
// 2025; meetings are placed around now (one past, two upcoming per local
// group, at 18:00 UTC), so that a demo always has upcoming meetings. The
// result is deterministic for a given now.
func World(now time.Time) policy.World {
	created := time.Date(2025, 1, 15, 9, 0, 0, 0, time.UTC)
	var w policy.World
	w.Tenants = []policy.Tenant{
		{ID: TenantVendor, Name: "Vendor Inc", Kind: policy.TenantVendor, Domains: []string{"vendor.example"}},
		{ID: TenantAcme, Name: "Acme Corp", Kind: policy.TenantPartner, Domains: []string{"acme.example"}},
		{ID: TenantGlobex, Name: "Globex Corporation", Kind: policy.TenantPartner, Domains: []string{"globex.example"}},
	}
	w.Roles = append(DefaultRoles(), ProductTeamRoles()...)
	for i := range w.Roles {
		w.Roles[i].Version = 1
	}

	domains := map[policy.TenantID]string{TenantVendor: "vendor.example", TenantAcme: "acme.example", TenantGlobex: "globex.example"}
	sources := map[policy.TenantID]string{TenantVendor: "ldap:corp", TenantAcme: "scim:acme", TenantGlobex: "scim:globex"}
	userIDs := map[string]policy.UserID{} // tenant/userName → id
	for _, r := range users() {
		u := policy.User{
			ID:          policy.UserID(id(kindUser, r.n)),
			Tenant:      r.tenant,
			UserName:    r.userName,
			GivenName:   r.given,
			FamilyName:  r.family,
			DisplayName: r.given + " " + r.family,
			Active:      r.active,
			Source:      sources[r.tenant],
			Attributes:  map[string]any{"department": r.department},
			Created:     created,
			Updated:     created,
			Version:     1,
		}
		mail := r.userName
		if r.tenant == TenantVendor {
			mail = r.userName + "@" + domains[r.tenant]
			u.ExternalID = "uid=" + r.userName + ",ou=people,dc=vendor,dc=example"
		} else {
			u.ExternalID = fmt.Sprintf("%s-%04d", r.tenant, r.n)
		}
		u.Emails = []policy.Email{{Value: mail, Type: "work", Primary: true}}
		w.Users = append(w.Users, u)
		userIDs[string(r.tenant)+"/"+r.userName] = u.ID
	}

	dirIDs := map[string]policy.DirGroupID{} // tenant/name → id
	for _, r := range dirGroups() {
		dirIDs[string(r.tenant)+"/"+r.name] = policy.DirGroupID(id(kindDirGroup, r.n))
	}
	for _, r := range dirGroups() {
		d := policy.DirGroup{
			ID:          dirIDs[string(r.tenant)+"/"+r.name],
			Tenant:      r.tenant,
			DisplayName: r.name,
			Source:      sources[r.tenant],
			Created:     created,
			Updated:     created,
			Version:     1,
		}
		if r.tenant == TenantVendor {
			d.ExternalID = "cn=" + r.name + ",ou=groups,dc=vendor,dc=example"
		} else {
			d.ExternalID = fmt.Sprintf("%s-group-%04d", r.tenant, r.n)
		}
		for _, un := range r.users {
			d.MemberUsers = append(d.MemberUsers, userIDs[string(r.tenant)+"/"+un])
		}
		for _, gn := range r.groups {
			d.MemberGroups = append(d.MemberGroups, dirIDs[string(r.tenant)+"/"+gn])
		}
		w.DirGroups = append(w.DirGroups, d)
	}

	day := time.Date(now.Year(), now.Month(), now.Day(), 18, 0, 0, 0, time.UTC)
	for _, r := range groups() {
		g := policy.Group{
			ID:          policy.GroupID(id(kindGroup, r.n)),
			Slug:        r.slug,
			Name:        r.name,
			Description: r.description,
			Kind:        r.kind,
			Created:     created,
			Updated:     created,
			Version:     1,
		}
		if r.parent != 0 {
			g.Parent = policy.GroupID(id(kindGroup, r.parent))
		}
		// Every group has a public page and is in the finder but the
		// security SIG, whose members would rather not be found.
		g.Public = r.slug != "sig-security"
		if pl, ok := places()[r.slug]; ok {
			g.Type, g.Topics = pl.typ, pl.topics
			if pl.city != "" || pl.region != "" || pl.tz != "" {
				g.Location = &policy.Location{City: pl.city, Region: pl.region, Country: pl.country, TimeZone: pl.tz}
				if pl.country != "" {
					g.Location.Coordinates = &policy.Coordinates{Lat: pl.lat, Lon: pl.lon}
				}
			}
			switch {
			case r.kind == policy.GroupLocal && r.n%2 == 1:
				g.Products = []string{Products[0], Products[1]}
			case r.kind == policy.GroupLocal:
				g.Products = []string{Products[0], Products[2]}
			}
		}
		if r.city != "" {
			// Meetings: one past, two upcoming, spread by group number.
			for k, offset := range []int{-28 + r.n%7, 7 + r.n%14, 35 + r.n%14} {
				start := day.AddDate(0, 0, offset)
				g.Meetings = append(g.Meetings, policy.Meeting{
					ID:       id(kindMeeting, r.n*10+k+1),
					Title:    fmt.Sprintf("%s meetup #%d", r.name, 10+k),
					Start:    start,
					End:      start.Add(2 * time.Hour),
					Location: r.venue + ", " + r.city,
				})
			}
		}
		switch r.slug {
		case "lug-london":
			// Managed: the vendor runs London through the RUG and ISUG
			// admins, unlike the other LUGs, which govern themselves.
			g.Governance = policy.GovernManaged
			// Request-only, with a monthly meeting on the second
			// Tuesday, 18:30 London time, that began two months ago.
			g.Join = policy.JoinOnRequest
			london, err := time.LoadLocation("Europe/London")
			if err != nil {
				london = time.UTC
			}
			first := time.Date(now.Year(), now.Month()-2, 1, 18, 30, 0, 0, london)
			for first.Weekday() != time.Tuesday {
				first = first.AddDate(0, 0, 1)
			}
			first = first.AddDate(0, 0, 7)
			g.Meetings = append(g.Meetings, policy.Meeting{
				ID: id(kindMeeting, 901), Title: "LUG London monthly", Description: "Two talks, then the pub.",
				Start: first, End: first.Add(150 * time.Minute), TimeZone: "Europe/London",
				RRule: "FREQ=MONTHLY;COUNT=12;BYDAY=2TU", Location: "Vendor Inc office", Address: "1 King's Cross, London N1C 4AG",
				Capacity: 40, Created: created, Updated: created,
			})
		case "lug-tokyo":
			// Two of five members are ISUG members (40%), but four of
			// the five subscribers of its mailing list are (80%):
			// chartered through the mailing list.
			g.MailingList = &policy.MailingList{Addresses: []policy.Subscriber{
				{Address: "mia@vendor.example", Source: policy.SubscriberManual},
				{Address: "quentin@globex.example", Source: policy.SubscriberImport},
				{Address: "rob@globex.example", Source: policy.SubscriberImport},
				{Address: "vince@globex.example", Source: policy.SubscriberImport},
				{Address: "kenji@example.jp", Name: "Kenji (not a member)", Source: policy.SubscriberImport},
			}}
		case "sig-devops":
			// Open: anyone joins with one click; office hours online
			// every other Thursday, 16:00 UTC, that began three weeks ago.
			g.Join = policy.JoinOpen
			start := time.Date(now.Year(), now.Month(), now.Day(), 16, 0, 0, 0, time.UTC).AddDate(0, 0, -21)
			for start.Weekday() != time.Thursday {
				start = start.AddDate(0, 0, 1)
			}
			g.Meetings = append(g.Meetings, policy.Meeting{
				ID: id(kindMeeting, 902), Title: "DevOps office hours", Start: start, End: start.Add(time.Hour),
				RRule: "FREQ=WEEKLY;INTERVAL=2;COUNT=10", OnlineURL: "https://meet.vendor.example/sig-devops", Created: created, Updated: created,
			})
		}
		w.Groups = append(w.Groups, g)
	}

	for _, r := range rules() {
		w.Rules = append(w.Rules, policy.Rule{
			ID:       policy.RuleID(id(kindRule, r.n)),
			Tenant:   r.tenant,
			DirGroup: dirIDs[string(r.tenant)+"/"+r.dir],
			Group:    policy.GroupID(id(kindGroup, r.group)),
			Role:     r.role,
			Created:  created,
			Version:  1,
		})
	}
	for _, r := range manual() {
		w.Memberships = append(w.Memberships, policy.Membership{
			User:    userIDs[string(r.tenant)+"/"+r.userName],
			Group:   policy.GroupID(id(kindGroup, r.group)),
			Role:    r.role,
			Origin:  policy.OriginManual,
			Created: created,
		})
	}
	return w
}
