// Package policy is the domain of Roster: tenants, users, directory groups,
// user groups, roles, binding rules and memberships, and the computation of
// effective membership, permissions, explanations and charter status.
//
// The package is pure: it performs no I/O and imports no adapter. Facts are
// kept by package store; the Engine derives the effective view from them and
// is fed by the store's change feed (see Change).
package policy

import (
	"slices"
	"strings"
	"time"

	"golang.org/x/text/secure/precis"
)

// TenantID names a tenant: the vendor itself or one partner company.
type TenantID string

// UserID is the stable identifier (a UUID) of a user.
type UserID string

// DirGroupID is the stable identifier (a UUID) of a directory group.
type DirGroupID string

// GroupID is the stable identifier (a UUID) of a user group.
type GroupID string

// RoleName names a role such as "member" or "organizer".
type RoleName string

// RuleID is the stable identifier (a UUID) of a binding rule.
type RuleID string

// Permission is a capability string such as "members.manage".
type Permission string

// TenantKind tells whether a tenant's people are employees or customers.
type TenantKind string

// Tenant kinds.
const (
	TenantVendor  TenantKind = "vendor"
	TenantPartner TenantKind = "partner"
)

// Tenant is a company whose people join user groups. Every user and every
// directory group belongs to exactly one tenant.
type Tenant struct {
	ID   TenantID   `json:"id"`
	Name string     `json:"name"`
	Kind TenantKind `json:"kind"`
	// Domains are the e-mail domains the company owns (lower case, no
	// "@"). An address inside them belongs to this tenant only: no other
	// tenant may put it on its users, and it can be vouched for
	// (email_verified) only by this tenant's own sources.
	Domains []string `json:"domains,omitempty"`
}

// Equal reports whether t and o are the same tenant record.
func (t Tenant) Equal(o Tenant) bool {
	return t.ID == o.ID && t.Name == o.Name && t.Kind == o.Kind && slices.Equal(t.Domains, o.Domains)
}

// EmailDomain returns the folded domain part of an e-mail address, or ""
// when addr has none.
func EmailDomain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(addr[i+1:]), "."))
}

// InDomains reports whether addr lies in one of domains: its domain is
// one of them or a subdomain of one.
func InDomains(addr string, domains []string) bool {
	d := EmailDomain(addr)
	if d == "" {
		return false
	}
	for _, o := range domains {
		if d == o || strings.HasSuffix(d, "."+o) {
			return true
		}
	}
	return false
}

// DomainOwner returns the tenant among tenants whose Domains contain
// addr, if any.
func DomainOwner(tenants []Tenant, addr string) (TenantID, bool) {
	for _, t := range tenants {
		if InDomains(addr, t.Domains) {
			return t.ID, true
		}
	}
	return "", false
}

// Email is one e-mail address of a user (RFC 7643 §4.1.2).
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// User is a person known to Roster, always within one tenant.
//
// UserName is unique per tenant, compared case-insensitively (see
// FoldUserName). Version changes on every write and serves as the SCIM ETag.
type User struct {
	ID          UserID   `json:"id"`
	Tenant      TenantID `json:"tenant"`
	UserName    string   `json:"userName"`
	ExternalID  string   `json:"externalId,omitempty"`
	GivenName   string   `json:"givenName,omitempty"`
	FamilyName  string   `json:"familyName,omitempty"`
	DisplayName string   `json:"displayName,omitempty"`
	Emails      []Email  `json:"emails,omitempty"`
	Active      bool     `json:"active"`
	// Source says where the user comes from: "ldap:<dir>", "scim:<tenant>"
	// or "local".
	Source string `json:"source"`
	// Location is where the person is, when the directory says (LDAP l,
	// c, co).
	Location *Location `json:"location,omitempty"`
	// Attributes holds everything else a source sends (SCIM enterprise
	// extension, LDAP extras), as JSON-compatible values.
	Attributes map[string]any `json:"attributes,omitempty"`
	Created    time.Time      `json:"created"`
	Updated    time.Time      `json:"updated"`
	Version    uint64         `json:"version"`
}

// PrimaryEmail returns the primary e-mail address, or the first one.
func (u User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// DirGroup is a group as it exists in a directory source (an LDAP group, a
// SCIM Group), within one tenant. Its members are users of the same tenant
// and other directory groups of the same tenant (nesting, possibly cyclic).
type DirGroup struct {
	ID           DirGroupID     `json:"id"`
	Tenant       TenantID       `json:"tenant"`
	DisplayName  string         `json:"displayName"`
	ExternalID   string         `json:"externalId,omitempty"`
	Source       string         `json:"source"`
	MemberUsers  []UserID       `json:"memberUsers,omitempty"`
	MemberGroups []DirGroupID   `json:"memberGroups,omitempty"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	Created      time.Time      `json:"created"`
	Updated      time.Time      `json:"updated"`
	Version      uint64         `json:"version"`
}

// GroupKind is the kind of a user group. The built-in kinds are below;
// configuration may add custom kinds.
type GroupKind string

// Built-in user-group kinds. They are named Group… so that they never read
// like the Kind… of a Change (KindUser, KindGroup…), which are record
// kinds of the change feed.
const (
	GroupInternational   GroupKind = "international"
	GroupRegional        GroupKind = "regional"
	GroupLocal           GroupKind = "local"
	GroupSpecialInterest GroupKind = "special-interest"
)

// Meeting records when and where a user group meets: once, or again and
// again by an RFC 5545 recurrence rule (see RRule). Start and End are
// instants; TimeZone (an IANA name, "" for UTC) is the zone whose wall
// clock the recurrence follows, so a meeting at 18:30 in Europe/London
// stays at 18:30 across a daylight-saving change. Sequence counts the
// changes people were told of (RFC 5545 §3.8.7.4); a cancelled meeting
// stays listed, marked, so calendars drop it (STATUS:CANCELLED).
type Meeting struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitzero"`
	TimeZone    string    `json:"timeZone,omitempty"`
	// RRule is the value of an RFC 5545 RRULE, e.g.
	// "FREQ=MONTHLY;BYDAY=2TU" (see ParseRRule for what is supported).
	RRule string `json:"rrule,omitempty"`
	// Location is the venue's name; Address its postal address;
	// OnlineURL a link to join from afar. Any may be empty.
	Location  string    `json:"location,omitempty"`
	Address   string    `json:"address,omitempty"`
	OnlineURL string    `json:"onlineUrl,omitempty"`
	Capacity  int       `json:"capacity,omitempty"` // 0: no limit
	Sequence  int       `json:"sequence,omitempty"`
	Cancelled bool      `json:"cancelled,omitempty"`
	Created   time.Time `json:"created,omitzero"`
	Updated   time.Time `json:"updated,omitzero"`
}

// Group is a user group: the ISUG, a RUG, a LUG or a SIG. User groups span
// tenants. Parent forms the hierarchy; it never forms a cycle.
type Group struct {
	ID          GroupID   `json:"id"`
	Slug        string    `json:"slug"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Kind        GroupKind `json:"kind"`
	Parent      GroupID   `json:"parent,omitempty"`
	// Join says how people become members on their own: open, request
	// or closed (empty: closed). See JoinPolicy.
	Join     JoinPolicy `json:"join,omitempty"`
	Meetings []Meeting  `json:"meetings,omitempty"`
	// Governance overrides the kind's governance mode (empty: the
	// kind's; see Hierarchy.GovernanceOf).
	Governance Governance `json:"governance,omitempty"`
	// Location is where the group meets; Type what it is (social,
	// special-interest, software); Topics its free tags; Products the
	// vendor's product lines it is about (from the configured list).
	Location *Location `json:"location,omitempty"`
	Type     GroupType `json:"type,omitempty"`
	Topics   []string  `json:"topics,omitempty"`
	Products []string  `json:"products,omitempty"`
	// Public: the group has a public page and the LUG finder lists it.
	// A public page shows what the group is (name, remit, place,
	// topics, next meetings) and only those of its organizers who agreed
	// to be shown (Profile.Public); never its members.
	Public bool `json:"public,omitempty"`
	// MailingList is the group's mailing list, whose subscribers may or
	// may not be members; it counts for the charter rule.
	MailingList *MailingList `json:"mailingList,omitempty"`
	// Suspensions are the suspensions in force, of the group itself
	// (User empty) or of one person's roles in it.
	Suspensions []Suspension `json:"suspensions,omitempty"`
	// Archived: the group is retired. It keeps its history, members and
	// meetings but takes no new members, meetings or subgroups; the
	// portal hides it from the tree unless asked. It can be unarchived.
	Archived bool      `json:"archived,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Version  uint64    `json:"version"`
}

// Role is a named set of permissions. When Inherit is true, holding the role
// in a group grants its permissions on every descendant group too.
type Role struct {
	Name        RoleName     `json:"name"`
	Description string       `json:"description,omitempty"`
	Permissions []Permission `json:"permissions"`
	Inherit     bool         `json:"inherit"`
	// Products, when set, narrows the product-scoped permissions the role
	// grants (PermFeedbackTriage) to these products (configured product
	// lines, as NormalizeTags leaves them): a product team's role.
	Products []string `json:"products,omitempty"`
	Version  uint64   `json:"version"`
}

// Origin says why a membership exists: "manual" or "rule:<id>".
type Origin string

// OriginManual is the origin of memberships set by an administrator.
const OriginManual Origin = "manual"

// RuleOrigin returns the origin of memberships given by rule id.
func RuleOrigin(id RuleID) Origin { return Origin("rule:" + string(id)) }

// Membership says that a user holds a role in a user group. The store keeps
// manual memberships; rule memberships are derived by the Engine.
type Membership struct {
	User    UserID    `json:"user"`
	Group   GroupID   `json:"group"`
	Role    RoleName  `json:"role"`
	Origin  Origin    `json:"origin"`
	Created time.Time `json:"created"`
}

// Rule binds a directory group to a role in a user group: members of
// DirGroup (transitively, through nested directory groups) hold Role in
// Group.
type Rule struct {
	ID       RuleID     `json:"id"`
	Tenant   TenantID   `json:"tenant"`
	DirGroup DirGroupID `json:"dirGroup"`
	Group    GroupID    `json:"group"`
	Role     RoleName   `json:"role"`
	Created  time.Time  `json:"created"`
	Version  uint64     `json:"version"`
}

// FoldUserName returns the form of a userName under which it is stored,
// looked up, compared and rate-limited: the PRECIS UsernameCaseMapped
// profile (RFC 8265 §3.3: width-mapped, lower-cased, NFC), applied to
// each space-separated userpart (§3.5) after trimming, so "Ｂert" and
// "bert" are one name. A name that does not survive the profile folds to
// "", which ValidateUser refuses and which matches nothing.
func FoldUserName(s string) string {
	s = strings.TrimSpace(s)
	if isPlainASCII(s) {
		return strings.ToLower(s) // the profile's result for printable ASCII
	}
	parts := strings.Fields(s)
	for i, p := range parts {
		f, err := precis.UsernameCaseMapped.String(p)
		if err != nil {
			return ""
		}
		parts[i] = f
	}
	return strings.Join(parts, " ")
}

// isPlainASCII reports whether s is printable ASCII with no run of two
// spaces, for which FoldUserName's profile reduces to lower-casing.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == ' ' && i > 0 && s[i-1] == ' ' {
			return false
		}
	}
	return true
}

// FoldName returns the case-folded form of a group display name.
func FoldName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
