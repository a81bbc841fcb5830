package scim

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// memberFilter matches the one filtered path the delta path takes:
// members[value eq "<id>"].
var memberFilter = regexp.MustCompile(`(?i)^members\[\s*value\s+eq\s+"([^"\\]*)"\s*\]$`)

// membersDelta reads a PATCH of a group that touches only its members, in
// the shapes provisioning clients send (Entra ID, Okta): add to "members",
// remove from "members" with a list of values, remove
// members[value eq "id"]. It returns false for anything else (another
// attribute, replace, remove of all members, a value of another shape),
// which takes the general path. Operations apply in order: an id ends as
// its last operation leaves it.
func membersDelta(ops []patchOp) (store.MemberUpdate, bool) {
	last := map[string]bool{}    // id → added (true) or removed (false)
	removed := map[string]bool{} // ids removed by some operation
	var order []string
	set := func(id string, add bool) {
		if _, ok := last[id]; !ok {
			order = append(order, id)
		}
		last[id] = add
		removed[id] = removed[id] || !add
	}
	for _, op := range ops {
		switch {
		case op.Op == "add" && strings.EqualFold(op.Path, "members"), op.Op == "remove" && strings.EqualFold(op.Path, "members") && op.Value != nil:
			ids, ok := memberValues(op.Value)
			if !ok {
				return store.MemberUpdate{}, false
			}
			for _, id := range ids {
				set(id, op.Op == "add")
			}
		case op.Op == "remove" && op.Value == nil:
			m := memberFilter.FindStringSubmatch(op.Path)
			if m == nil || m[1] == "" {
				return store.MemberUpdate{}, false
			}
			set(m[1], false)
		default:
			return store.MemberUpdate{}, false
		}
	}
	var u store.MemberUpdate
	for _, id := range order {
		// Removed, then added again: out and back in, listed last, as
		// the operations applied one by one leave it.
		if removed[id] {
			u.Remove = append(u.Remove, policy.MemberRef{ID: id})
		}
		if last[id] {
			u.Add = append(u.Add, policy.MemberRef{ID: id})
		}
	}
	return u, true
}

// memberValues returns the ids of a list of member objects, or false when
// the list is not one the general path would take as it is (only value,
// display, type and $ref, all strings, value not empty).
func memberValues(v any) ([]string, bool) {
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	ids := make([]string, 0, len(list))
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			return nil, false
		}
		for k, x := range m {
			switch strings.ToLower(k) {
			case "value", "display", "type", "$ref":
			default:
				return nil, false
			}
			if _, ok := x.(string); !ok {
				return nil, false
			}
		}
		id, _ := getKey(m, "value").(string)
		if id == "" {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// patchMembers applies a members-only PATCH as one store.ChangeMembers: the
// group is not rendered, the new members are looked up once (by the
// store's indexes), and a nested group added is checked for cycles as the
// general path checks it. It answers 204 like every group PATCH.
func (h *resourceHandler) patchMembers(r request, id string, u store.MemberUpdate) (response, error) {
	var version uint64
	err := h.s.update(r, func(tx store.Tx) error {
		u := u
		u.Check = func(c policy.MembersChange) error {
			var groups []policy.DirGroupID
			for _, a := range c.Add {
				if a.Kind == policy.MemberGroup {
					groups = append(groups, policy.DirGroupID(a.ID))
				}
			}
			if len(groups) == 0 {
				return nil
			}
			return checkNoCycle(tx, r.tenant, policy.DirGroupID(id), nil, groups)
		}
		res, err := store.ChangeMembers(tx, r.tenant, policy.DirGroupID(id), u)
		version = res.Version
		var ue *store.UnknownMemberError
		switch {
		case errors.As(err, &ue):
			return errorf(scimerr.ScimErrorInvalidValue, "member %q is not a user or group of this tenant", ue.Member.ID)
		case errors.Is(err, store.ErrInvalidMember):
			return errorf(scimerr.ScimErrorInvalidValue, "group %s would be a member of itself through its members: nesting cycles are refused", id)
		case isNotFound(err):
			return errNotFound(h.noun(), id)
		}
		return err
	})
	if err != nil {
		return response{}, err
	}
	return response{status: http.StatusNoContent, etag: etag(version)}, nil
}
