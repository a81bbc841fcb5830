package policy

// This file fixes the public API of the Engine for the packages that consume
// it. The implementation lives in engine.go (state, Load), apply.go
// (Apply), queries.go, explain.go and charter.go.

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Charter configures the charter rule. Zero value: DefaultCharter.
	Charter CharterRule
	// Hierarchy gives the governance mode of each kind (see
	// Governance). Zero value: DefaultHierarchy.
	Hierarchy Hierarchy
}

// CharterRule is the rule "a group of kind Kind is chartered when at least
// Threshold of its members are also members of the nearest ancestor of kind
// Parent".
type CharterRule struct {
	Kind      GroupKind `json:"kind" yaml:"kind"`
	Parent    GroupKind `json:"parent" yaml:"parent"`
	Threshold float64   `json:"threshold" yaml:"threshold"`
}

// DefaultCharter is the rule from the user groups' world: a local group is
// chartered when at least 60% of its members also belong to the
// international group above it.
var DefaultCharter = CharterRule{Kind: GroupLocal, Parent: GroupInternational, Threshold: 0.60}

// World is a full snapshot of the facts, used to load an Engine.
type World struct {
	Tenants     []Tenant
	Users       []User
	DirGroups   []DirGroup
	Groups      []Group
	Roles       []Role
	Rules       []Rule
	Memberships []Membership
}

// EffectiveMembership is one role a user holds in one user group, with every
// origin that gives it (a manual membership, one or more rules).
type EffectiveMembership struct {
	Group   GroupID  `json:"group"`
	Role    RoleName `json:"role"`
	Origins []Origin `json:"origins"`
}

// EffectiveMember is one user holding one role in a group.
type EffectiveMember struct {
	User    UserID   `json:"user"`
	Role    RoleName `json:"role"`
	Origins []Origin `json:"origins"`
}

// Step is one fact in an explanation chain, e.g. "user u is a member of
// directory group d", "rule r binds d to organizer in g", "role organizer
// grants members.manage and flows down", "g is the parent of h".
type Step struct {
	Kind   string `json:"kind"` // "dirgroup-member", "dirgroup-nested", "rule", "manual", "role", "parent", "inactive"…
	Text   string `json:"text"` // human-readable sentence
	Object string `json:"object,omitempty"`
	Source string `json:"source,omitempty"`
}

// Explanation is the answer to "may user U do P in group G, and why?".
// When Allowed, Steps is the chain of facts behind the yes (the first
// sufficient chain found); otherwise Reason says why no.
type Explanation struct {
	User       UserID     `json:"user"`
	Permission Permission `json:"permission"`
	Group      GroupID    `json:"group"`
	Allowed    bool       `json:"allowed"`
	// Governance is the mode of Group (self or managed); a step of kind
	// "governance", or the Reason, says when it decided.
	Governance Governance `json:"governance,omitempty"`
	Steps      []Step     `json:"steps,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

// CharterStatus is the computed charter property of a group: the rule
// compares the group's members, and the subscribers of its mailing list,
// with the members of the reference group (the nearest ancestor of the
// rule's Parent kind: the international group by default, not the direct
// parent).
type CharterStatus struct {
	Group     GroupID `json:"group"`
	Applies   bool    `json:"applies"`             // the rule applies to this group's kind and an ancestor of the reference kind exists
	Parent    GroupID `json:"parent,omitempty"`    // the reference group (named Parent for compatibility)
	Reference string  `json:"reference,omitempty"` // the reference group's slug
	Members   int     `json:"members"`             // distinct effective members of the group
	InParent  int     `json:"inParent"`            // of those, effective members of the reference group (same as InReference)
	// InReference is InParent under its right name.
	InReference int     `json:"inReference"`
	Ratio       float64 `json:"ratio"` // InReference / Members (0 when no members)
	// Subscribers counts the distinct subscribers of the mailing list;
	// SubscribersInReference those who are effective members of the
	// reference group; SubscriberRatio the one over the other.
	Subscribers            int     `json:"subscribers"`
	SubscribersInReference int     `json:"subscribersInReference"`
	SubscriberRatio        float64 `json:"subscriberRatio"`
	Threshold              float64 `json:"threshold"`
	Chartered              bool    `json:"chartered"`
	// Basis says what qualified: "members", "mailing-list" or "both"
	// (empty when not chartered).
	Basis CharterBasis `json:"basis,omitempty"`
	// ReferenceKind is the kind of the reference group.
	ReferenceKind GroupKind `json:"referenceKind,omitempty"`
	// Reason says why the rule cannot be computed for a group of the
	// rule's kind (no group of the reference kind above it).
	Reason string `json:"reason,omitempty"`
}

// CharterBasis says which count made a group chartered.
type CharterBasis string

// Charter bases.
const (
	BasisMembers     CharterBasis = "members"
	BasisMailingList CharterBasis = "mailing-list"
	BasisBoth        CharterBasis = "both"
)

// The Engine's methods (implemented in engine.go, apply.go, queries.go,
// explain.go and charter.go):
//
//	func NewEngine(cfg EngineConfig) *Engine
//	func (e *Engine) Load(w World)                 // replaces all facts
//	func (e *Engine) Apply(changes []Change) error // from the store's change feed
//	func (e *Engine) EffectiveGroups(u UserID) []EffectiveMembership
//	func (e *Engine) Members(g GroupID) []EffectiveMember   // direct members of g (not of descendants)
//	func (e *Engine) Permissions(u UserID, g GroupID) []Permission
//	func (e *Engine) Check(u UserID, p Permission, g GroupID) bool
//	func (e *Engine) Explain(u UserID, p Permission, g GroupID) Explanation
//	func (e *Engine) Charter(g GroupID) CharterStatus
//	func (e *Engine) Group(id GroupID) (Group, bool)
//	func (e *Engine) Children(id GroupID) []GroupID
//	func (e *Engine) Ancestors(id GroupID) []GroupID // parent first
//
// Inactive users hold no effective membership. Membership does not flow up
// the hierarchy; permissions of roles with Inherit flow down.
