package bolt

// This file holds manual memberships and their by-user index.

import (
	"bytes"
	"fmt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// AddMembership implements store.Tx with store.AddMembership's rule:
// adding a membership already held returns it unchanged and writes
// nothing. The user (in any tenant), the group and the role must exist.
func (t *tx) AddMembership(m policy.Membership) (policy.Membership, error) {
	if err := t.write(); err != nil {
		return policy.Membership{}, err
	}
	return store.AddMembership(t, m, t.now, checkID, t.insertMembership)
}

// insertMembership stores the new membership m, its index entry and its
// audit entry, once its user, group and role are found.
func (t *tx) insertMembership(m policy.Membership) error {
	tenant := getBucket(t.root, bktIdx, bktUserTenant).Get([]byte(m.User))
	if tenant == nil || m.User == "" {
		return fmt.Errorf("bolt: user %s: %w", m.User, store.ErrNotFound)
	}
	if m.Group == "" || t.root.Bucket(bktGroups).Get([]byte(m.Group)) == nil {
		return notFoundGroup(m.Group)
	}
	if m.Role == "" || t.root.Bucket(bktRoles).Get([]byte(m.Role)) == nil {
		return fmt.Errorf("bolt: role %q: %w", m.Role, store.ErrNotFound)
	}
	v, err := encode(m, "membership")
	if err != nil {
		return err
	}
	if err := put(t.root.Bucket(bktMemberships), key(string(m.Group), string(m.User), string(m.Role)), v); err != nil {
		return err
	}
	if err := t.writeIndexes(nil, membershipIndexes(nil, &m)); err != nil {
		return err
	}
	t.journal.MembershipCreated(policy.TenantID(tenant), m, v)
	return nil
}

// Membership implements store.Tx.
func (t *tx) Membership(g policy.GroupID, u policy.UserID, r policy.RoleName) (policy.Membership, error) {
	if err := t.read(); err != nil {
		return policy.Membership{}, err
	}
	var v []byte
	if g != "" && u != "" && r != "" {
		v = t.root.Bucket(bktMemberships).Get(key(string(g), string(u), string(r)))
	}
	if v == nil {
		return policy.Membership{}, fmt.Errorf("bolt: membership %s: %w", policy.MembershipKey(g, u, r), store.ErrNotFound)
	}
	return decode[policy.Membership](v, "membership")
}

// RemoveMembership implements store.Tx.
func (t *tx) RemoveMembership(g policy.GroupID, u policy.UserID, r policy.RoleName) error {
	if err := t.write(); err != nil {
		return err
	}
	return t.removeMembership(g, u, r)
}

func (t *tx) removeMembership(g policy.GroupID, u policy.UserID, r policy.RoleName) error {
	ms := t.root.Bucket(bktMemberships)
	k := key(string(g), string(u), string(r))
	before := ms.Get(k)
	if before == nil {
		return fmt.Errorf("bolt: membership %s: %w", policy.MembershipKey(g, u, r), store.ErrNotFound)
	}
	before = bytes.Clone(before)
	tenant := bytes.Clone(getBucket(t.root, bktIdx, bktUserTenant).Get([]byte(u)))
	if err := del(ms, k); err != nil {
		return err
	}
	if err := t.writeIndexes(nil, membershipIndexes(&policy.Membership{Group: g, User: u, Role: r}, nil)); err != nil {
		return err
	}
	t.journal.MembershipDeleted(policy.TenantID(tenant), g, u, r, before, nil)
	return nil
}

// MembershipsOfGroup implements store.Tx, ordered by user then role. An
// unknown group has none.
func (t *tx) MembershipsOfGroup(g policy.GroupID) ([]policy.Membership, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	if g == "" {
		return nil, nil
	}
	var out []policy.Membership
	err := scanPrefix(t.root.Bucket(bktMemberships), prefix(string(g)), func(_, v []byte) error {
		m, err := decode[policy.Membership](v, "membership")
		out = append(out, m)
		return err
	})
	return out, err
}

// MembershipsOfUser implements store.Tx, from the by-user index, ordered by
// group then role. An unknown user has none.
func (t *tx) MembershipsOfUser(u policy.UserID) ([]policy.Membership, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	if u == "" {
		return nil, nil
	}
	ms := t.root.Bucket(bktMemberships)
	var out []policy.Membership
	err := scanPrefix(getBucket(t.root, bktIdx, bktMSUser), prefix(string(u)), func(k, _ []byte) error {
		p := splitKey(k) // user, group, role
		v := ms.Get(key(p[1], p[0], p[2]))
		if v == nil {
			return fmt.Errorf("bolt: index ms_user points to missing membership %q: %w", k, store.ErrNotFound)
		}
		m, err := decode[policy.Membership](v, "membership")
		out = append(out, m)
		return err
	})
	return out, err
}

// Memberships implements store.Tx: every manual membership, ordered by
// group, user, role.
func (t *tx) Memberships() ([]policy.Membership, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return decodeAll[policy.Membership](t.root.Bucket(bktMemberships), "membership")
}
