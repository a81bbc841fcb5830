package scim

import (
	"slices"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// checkNoCycle refuses (400 invalidValue) to make group self a member,
// directly or through other groups, of itself: it walks the nesting of
// every member group that before does not already hold, inside the
// writing transaction, so two concurrent writes cannot build a cycle
// between them. Cycles already stored (Roster tolerates them from LDAP)
// do not block other changes of the group. Every path that adds member
// groups to a SCIM group (PUT, PATCH, Bulk) goes through it.
func checkNoCycle(tx store.Tx, t policy.TenantID, self policy.DirGroupID, before, after []policy.DirGroupID) error {
	seen := map[policy.DirGroupID]bool{}
	var stack []policy.DirGroupID
	for _, m := range after {
		if !slices.Contains(before, m) {
			stack = append(stack, m)
		}
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if id == self {
			return errorf(scimerr.ScimErrorInvalidValue, "group %s would be a member of itself through its members: nesting cycles are refused", self)
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		g, err := tx.DirGroup(t, id)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		stack = append(stack, g.MemberGroups...)
	}
	return nil
}
