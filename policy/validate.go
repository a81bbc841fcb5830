package policy

import (
	"errors"
	"fmt"
	"regexp"
)

// ErrInvalid is returned (wrapped) when a record breaks a domain invariant.
var ErrInvalid = errors.New("policy: invalid")

// ErrCycle is returned (wrapped) when a parent change would make the user
// group hierarchy cyclic.
var ErrCycle = errors.New("policy: cycle in group hierarchy")

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidateUser checks the invariants of a user record.
func ValidateUser(u User) error {
	switch {
	case u.Tenant == "":
		return fmt.Errorf("%w: user has no tenant", ErrInvalid)
	case FoldUserName(u.UserName) == "":
		return fmt.Errorf("%w: userName is required", ErrInvalid)
	}
	return nil
}

// ValidateDirGroup checks the invariants of a directory group record.
func ValidateDirGroup(g DirGroup) error {
	switch {
	case g.Tenant == "":
		return fmt.Errorf("%w: directory group has no tenant", ErrInvalid)
	case FoldName(g.DisplayName) == "":
		return fmt.Errorf("%w: displayName is required", ErrInvalid)
	}
	for _, m := range g.MemberGroups {
		if m == g.ID {
			return fmt.Errorf("%w: directory group cannot contain itself", ErrInvalid)
		}
	}
	return nil
}

// ValidateGroup checks the invariants of a user group record (not the
// hierarchy: see CheckParent).
func ValidateGroup(g Group) error {
	switch {
	case !slugRE.MatchString(g.Slug):
		return fmt.Errorf("%w: slug %q must be lower-case letters, digits and dashes", ErrInvalid, g.Slug)
	case g.Name == "":
		return fmt.Errorf("%w: name is required", ErrInvalid)
	case g.Kind == "":
		return fmt.Errorf("%w: kind is required", ErrInvalid)
	case g.Parent != "" && g.Parent == g.ID:
		return fmt.Errorf("%w: group %s cannot be its own parent", ErrCycle, g.Slug)
	}
	return nil
}

// ValidateRole checks the invariants of a role.
func ValidateRole(r Role) error {
	if !slugRE.MatchString(string(r.Name)) {
		return fmt.Errorf("%w: role name %q must be lower-case letters, digits and dashes", ErrInvalid, r.Name)
	}
	return nil
}

// CheckParent reports whether giving group id the parent newParent keeps the
// hierarchy acyclic. parentOf returns the current parent of a group ("" for a
// root) and false if the group does not exist. It returns an error wrapping
// ErrCycle for a cycle and ErrInvalid for an unknown parent.
func CheckParent(id, newParent GroupID, parentOf func(GroupID) (GroupID, bool)) error {
	if newParent == "" {
		return nil
	}
	seen := map[GroupID]bool{}
	for g := newParent; g != ""; {
		if g == id {
			return fmt.Errorf("%w: %s would become its own ancestor", ErrCycle, id)
		}
		if seen[g] {
			return fmt.Errorf("%w: existing hierarchy loops at %s", ErrCycle, g)
		}
		seen[g] = true
		p, ok := parentOf(g)
		if !ok {
			return fmt.Errorf("%w: parent group %s does not exist", ErrInvalid, g)
		}
		g = p
	}
	return nil
}
