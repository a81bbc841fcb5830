package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/policy"
)

// MemberUpdate is a delta write to the member lists of one directory group
// (see ChangeMembers).
type MemberUpdate struct {
	// Add and Remove are the members to add and to take out. A MemberRef
	// of Kind policy.MemberAny is resolved to a user or a directory group
	// of the tenant; one that is neither fails with an
	// *UnknownMemberError. Removing a non-member and adding a member are
	// no-ops. Removals apply first: an id in both lists is a member
	// afterwards, listed last.
	Add, Remove []policy.MemberRef
	// Version, when not zero, is the version the caller read the group
	// with: ErrVersion if it changed since (an If-Match).
	Version uint64
	// Check, when set, is called with the resolved net change (kinds set,
	// no-ops dropped) before anything is written; its error aborts the
	// change and is returned as it is. It lets a caller refuse a change
	// it can only judge once the members are known (a nested group that
	// would form a cycle).
	Check func(policy.MembersChange) error
}

// MemberResult is what a membership change did.
type MemberResult struct {
	// Applied is the net change: the ids added that were not members and
	// the ids removed that were, each with its kind. Empty: nothing was
	// written and the version did not move.
	Applied policy.MembersChange
	// Version and Updated are the group's after the change.
	Version uint64
	Updated time.Time
}

// MemberChanger is the optional ability of a Tx to change a directory
// group's members as a delta, at the cost of the change rather than of the
// group (Dex's way: found by type assertion). A backend that has it writes
// one audit entry of Op policy.OpMembers.
type MemberChanger interface {
	ChangeMembers(tenant policy.TenantID, id policy.DirGroupID, u MemberUpdate) (MemberResult, error)
}

// UnknownMemberError is returned (wrapped) when a member to add is not a
// user or directory group of the tenant. It unwraps to ErrNotFound.
type UnknownMemberError struct {
	Tenant policy.TenantID
	Group  policy.DirGroupID
	Member policy.MemberRef
}

// Error implements error.
func (e *UnknownMemberError) Error() string {
	what := "user or directory group"
	switch e.Member.Kind {
	case policy.MemberUser:
		what = "user"
	case policy.MemberGroup:
		what = "directory group"
	}
	return fmt.Sprintf("store: member %s %q of directory group %s in tenant %q: %v", what, e.Member.ID, e.Group, e.Tenant, ErrNotFound)
}

// Unwrap returns ErrNotFound.
func (e *UnknownMemberError) Unwrap() error { return ErrNotFound }

// ChangeMembers applies u to directory group id of tenant in tx: the one
// domain operation for a membership change. It uses the backend's
// MemberChanger when tx has it, and otherwise reads the group, applies the
// change (policy.ApplyMembers) and writes it back with UpdateDirGroup,
// which checks the new members' existence. Either way a change that
// changes nothing writes nothing.
func ChangeMembers(tx Tx, tenant policy.TenantID, id policy.DirGroupID, u MemberUpdate) (MemberResult, error) {
	if mc, ok := tx.(MemberChanger); ok {
		return mc.ChangeMembers(tenant, id, u)
	}
	g, err := tx.DirGroup(tenant, id)
	if err != nil {
		return MemberResult{}, err
	}
	if u.Version != 0 {
		if err := CheckVersion("directory group", id, g.Version, u.Version); err != nil {
			return MemberResult{}, err
		}
	}
	c, err := ResolveMembers(id, policy.MembersChange{Add: u.Add, Remove: u.Remove}, membersOf(g), func(ref policy.MemberRef) (policy.MemberKind, error) {
		return resolveByRead(tx, tenant, ref)
	})
	if err != nil {
		return MemberResult{}, err
	}
	if u.Check != nil {
		if err := u.Check(c); err != nil {
			return MemberResult{}, err
		}
	}
	res := MemberResult{Applied: c, Version: g.Version, Updated: g.Updated}
	if c.Empty() {
		return res, nil
	}
	g.MemberUsers, g.MemberGroups = policy.ApplyMembers(g, c)
	ng, err := tx.UpdateDirGroup(tenant, g)
	if err != nil {
		return MemberResult{}, err
	}
	res.Version, res.Updated = ng.Version, ng.Updated
	return res, nil
}

// ResolveMembers turns a requested change to directory group self into
// the net change: ids added that are already members (and not removed by
// the same change) and ids removed that are not members are dropped, removals get the kind the id has in the group
// (member reports it), and each new member gets its kind from resolve,
// called once per new member, which returns an error wrapping ErrNotFound
// (ideally an *UnknownMemberError) for an unknown one. A group added to
// itself is ErrInvalid. Backends call it with lookups of their own, so the
// rule is the same in each.
func ResolveMembers(self policy.DirGroupID, c policy.MembersChange, member func(id string) (policy.MemberKind, bool), resolve func(policy.MemberRef) (policy.MemberKind, error)) (policy.MembersChange, error) {
	c = c.Canonical()
	var out policy.MembersChange
	removed := make(map[string]bool, len(c.Remove))
	for _, r := range c.Remove {
		if k, ok := member(r.ID); ok {
			out.Remove = append(out.Remove, policy.MemberRef{Kind: k, ID: r.ID})
			removed[r.ID] = true
		}
	}
	for _, a := range c.Add {
		if _, ok := member(a.ID); ok && !removed[a.ID] {
			continue
		}
		if a.ID == string(self) && a.Kind != policy.MemberUser {
			return policy.MembersChange{}, fmt.Errorf("store: directory group %s: %w", self, ErrInvalidMember)
		}
		k, err := resolve(a)
		if err != nil {
			var ue *UnknownMemberError
			if errors.As(err, &ue) {
				ue.Group = self
			}
			return policy.MembersChange{}, err
		}
		out.Add = append(out.Add, policy.MemberRef{Kind: k, ID: a.ID})
	}
	return out, nil
}

// ErrInvalidMember: a directory group listed as its own member. It wraps
// policy.ErrInvalid, as the same write through UpdateDirGroup does.
var ErrInvalidMember = fmt.Errorf("directory group cannot contain itself: %w", policy.ErrInvalid)

// membersOf returns a member lookup over g's lists.
func membersOf(g policy.DirGroup) func(string) (policy.MemberKind, bool) {
	kinds := make(map[string]policy.MemberKind, len(g.MemberUsers)+len(g.MemberGroups))
	for _, u := range g.MemberUsers {
		kinds[string(u)] = policy.MemberUser
	}
	for _, m := range g.MemberGroups {
		kinds[string(m)] = policy.MemberGroup
	}
	return func(id string) (policy.MemberKind, bool) {
		k, ok := kinds[id]
		return k, ok
	}
}

// resolveByRead finds the kind of ref by reading the tenant's records.
func resolveByRead(tx Tx, tenant policy.TenantID, ref policy.MemberRef) (policy.MemberKind, error) {
	unknown := &UnknownMemberError{Tenant: tenant, Member: ref}
	if ref.ID == "" {
		return "", unknown
	}
	if ref.Kind != policy.MemberGroup {
		_, err := tx.User(tenant, policy.UserID(ref.ID))
		if err == nil {
			return policy.MemberUser, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return "", err
		}
	}
	if ref.Kind != policy.MemberUser {
		_, err := tx.DirGroup(tenant, policy.DirGroupID(ref.ID))
		if err == nil {
			return policy.MemberGroup, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return "", err
		}
	}
	return "", unknown
}
