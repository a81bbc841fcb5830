package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Governance says who governs a user group day to day.
type Governance string

// Governance modes.
const (
	// GovernSelf: the group governs itself. Its organizers (whoever
	// holds, in the group itself, a role that carries members.manage)
	// also hold SelfGovernment there: they rename it, edit its remit,
	// appoint roles up to their own and create subgroups. Roles that
	// flow down from above stop at the group except for Oversight.
	GovernSelf Governance = "self"
	// GovernManaged: the parent's admins govern the group; roles that
	// flow down apply in full.
	GovernManaged Governance = "managed"
)

// Valid reports whether m is empty (the kind's default) or a mode.
func (m Governance) Valid() bool { return m == "" || m == GovernSelf || m == GovernManaged }

// Oversight is what a role flowing down from above still gives inside a
// self-governing group: read everything, read its audit trail and its
// analytics, suspend the group or one of its organizers (with a stated
// reason).
var Oversight = []Permission{PermGroupRead, PermMeetingsRead, PermAuditRead, PermStatsRead, PermGroupsSuspend}

// SelfGovernment is what the organizers of a self-governing group hold
// there besides their role's own permissions.
var SelfGovernment = []Permission{PermGroupsManage, PermRolesAssign}

// ReadOnly is what a role held in a suspended group (or by a suspended
// organizer) still gives there.
var ReadOnly = []Permission{PermGroupRead, PermMeetingsRead}

// Suspension is a suspension of a user group, or of one person's roles in
// it, decided from above with a stated reason. While it lasts the roles held
// in the group itself (by everybody, or by User) give only ReadOnly.
type Suspension struct {
	// User is the suspended person; empty: the group itself.
	User   UserID    `json:"user,omitempty"`
	Reason string    `json:"reason"`
	By     string    `json:"by,omitempty"` // the actor who suspended
	Since  time.Time `json:"since,omitzero"`
}

// MaxSuspensions bounds the suspensions of a group.
const MaxSuspensions = 1000

// Suspended returns the suspension of the group itself, if any.
func (g Group) Suspended() (Suspension, bool) {
	for _, s := range g.Suspensions {
		if s.User == "" {
			return s, true
		}
	}
	return Suspension{}, false
}

// SuspendedUser returns the suspension of u's roles in g, if any.
func (g Group) SuspendedUser(u UserID) (Suspension, bool) {
	for _, s := range g.Suspensions {
		if s.User == u && u != "" {
			return s, true
		}
	}
	return Suspension{}, false
}

// GovernanceOf returns the mode of g: its own Governance, else its kind's
// (Hierarchy.Governance), else GovernManaged.
func (h Hierarchy) GovernanceOf(g Group) Governance {
	if g.Governance != "" {
		return g.Governance
	}
	if m := h.Governance[g.Kind]; m != "" {
		return m
	}
	return GovernManaged
}

// govCtx is what the governance rule needs to know of one question "may u
// do something in g": computed once per Check, Permissions or Explain.
type govCtx struct {
	g       GroupID
	anc     []GroupID
	self    bool // g governs itself
	fence   int  // level of the nearest self-governing group at or above g (0: g; i: anc[i-1]); len(anc)+1 when none
	suspAll bool // g is suspended
	suspU   bool // u's roles in g are suspended
}

// govNote says which part of the governance rule decided.
type govNote int

const (
	noteNone      govNote = iota
	noteSelf              // a self-governing group's organizers: SelfGovernment
	noteOversight         // a role from above crossed a self-governing group: oversight only, and p is oversight
	noteManaged           // a role from above into a managed group
	noteFenced            // a role from above stopped at a self-governing group
	noteSuspended         // a suspension restricted a role held in g
)

// govern builds the context of the governance rule for user u in group g.
// The caller holds e.mu.
func (e *Engine) govern(u UserID, g Group, anc []GroupID) govCtx {
	gc := govCtx{g: g.ID, anc: anc, fence: len(anc) + 1}
	gc.self = e.hier.GovernanceOf(g) == GovernSelf
	if gc.self {
		gc.fence = 0
	} else {
		for i, a := range anc {
			if e.hier.GovernanceOf(e.groups[a]) == GovernSelf {
				gc.fence = i + 1
				break
			}
		}
	}
	if len(g.Suspensions) > 0 {
		_, gc.suspAll = g.Suspended()
		_, gc.suspU = g.SuspendedUser(u)
	}
	return gc
}

// level returns 0 for g itself and i for its i-th ancestor (parent: 1).
func (gc *govCtx) level(x GroupID) int {
	if x == gc.g {
		return 0
	}
	return 1 + slices.Index(gc.anc, x)
}

// allows is the governance rule, in one place: whether role r, held (by
// the user of gc) in group at — g itself or an ancestor — gives p in g.
//
//   - Held in g: the role's permissions; in a self-governing group a role
//     carrying members.manage (the organizers) also gives SelfGovernment.
//     While g or the user is suspended there, only ReadOnly.
//   - Held above g: only when the role flows down (Inherit); if a
//     self-governing group lies between (g included), only Oversight
//     crosses it.
func (gc *govCtx) allows(r Role, at GroupID, p Permission) (bool, govNote) {
	if at == gc.g {
		has := slices.Contains(r.Permissions, p)
		note := noteNone
		if !has && gc.self && slices.Contains(SelfGovernment, p) && slices.Contains(r.Permissions, PermMembersManage) {
			has, note = true, noteSelf
		}
		if has && (gc.suspAll || gc.suspU) && !slices.Contains(ReadOnly, p) {
			return false, noteSuspended
		}
		return has, note
	}
	if !r.Inherit || !slices.Contains(r.Permissions, p) {
		return false, noteNone
	}
	if gc.fence < gc.level(at) {
		if slices.Contains(Oversight, p) {
			return true, noteOversight
		}
		return false, noteFenced
	}
	return true, noteManaged
}

// fenceGroup returns the self-governing group that stops roles from above.
func (gc *govCtx) fenceGroup() GroupID {
	if gc.fence == 0 {
		return gc.g
	}
	if gc.fence <= len(gc.anc) {
		return gc.anc[gc.fence-1]
	}
	return ""
}

// governanceStep explains the part of the governance rule that decided a
// yes.
func (e *Engine) governanceStep(gc *govCtx, note govNote, role RoleName, p Permission) (Step, bool) {
	switch note {
	case noteSelf:
		return Step{Kind: "governance", Object: string(gc.g), Text: fmt.Sprintf(
			"%s governs itself: role %s manages its members there, so it also gives %s",
			e.groupLabel(gc.g), role, joinPerms(SelfGovernment))}, true
	case noteOversight:
		return Step{Kind: "governance", Object: string(gc.fenceGroup()), Text: fmt.Sprintf(
			"%s governs itself: from above only oversight (%s) crosses it, and %s is oversight",
			e.groupLabel(gc.fenceGroup()), joinPerms(Oversight), p)}, true
	case noteManaged:
		return Step{Kind: "governance", Object: string(gc.g), Text: fmt.Sprintf(
			"%s is managed: the roles of its parents' admins apply in it in full", e.groupLabel(gc.g))}, true
	}
	return Step{}, false
}

func joinPerms(ps []Permission) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, ", ")
}
