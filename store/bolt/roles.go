package bolt

// This file holds roles.

import (
	"bytes"
	"fmt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// PutRole implements store.Tx. A new role gets Version 1 whatever the
// input says; replacing a role needs the Version it was read with
// (ErrVersion otherwise) and increments it.
func (t *tx) PutRole(r policy.Role) (policy.Role, error) {
	if err := t.write(); err != nil {
		return policy.Role{}, err
	}
	if err := policy.ValidateRole(r); err != nil {
		return policy.Role{}, fmt.Errorf("bolt: %w", err)
	}
	roles := t.root.Bucket(bktRoles)
	before := roles.Get([]byte(r.Name))
	var old *policy.Role
	var prev any // the typed record for the change feed
	if before != nil {
		before = bytes.Clone(before)
		o, err := decode[policy.Role](before, "role")
		if err != nil {
			return policy.Role{}, err
		}
		old, prev = &o, o
	}
	if err := store.ReplaceRole(old, &r); err != nil {
		return policy.Role{}, err
	}
	v, err := encode(r, "role")
	if err != nil {
		return policy.Role{}, err
	}
	if err := put(roles, []byte(r.Name), v); err != nil {
		return policy.Role{}, err
	}
	t.journal.Put(policy.KindRole, "", string(r.Name), before, v, prev, r)
	return r, nil
}

// Role implements store.Tx.
func (t *tx) Role(name policy.RoleName) (policy.Role, error) {
	if err := t.read(); err != nil {
		return policy.Role{}, err
	}
	v := t.root.Bucket(bktRoles).Get([]byte(name))
	if v == nil || name == "" {
		return policy.Role{}, fmt.Errorf("bolt: role %q: %w", name, store.ErrNotFound)
	}
	return decode[policy.Role](v, "role")
}

// Roles implements store.Tx: all roles in name order.
func (t *tx) Roles() ([]policy.Role, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return decodeAll[policy.Role](t.root.Bucket(bktRoles), "role")
}

// DeleteRole implements store.Tx. It scans memberships and rules, which is
// fine for a rare administrative operation.
func (t *tx) DeleteRole(name policy.RoleName) error {
	if err := t.write(); err != nil {
		return err
	}
	roles := t.root.Bucket(bktRoles)
	before := roles.Get([]byte(name))
	if before == nil || name == "" {
		return fmt.Errorf("bolt: role %q: %w", name, store.ErrNotFound)
	}
	before = bytes.Clone(before)
	suffix := append([]byte{0}, name...)
	c := t.root.Bucket(bktMemberships).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if bytes.HasSuffix(k, suffix) {
			return fmt.Errorf("bolt: role %q is held by memberships: %w", name, store.ErrInUse)
		}
	}
	err := t.root.Bucket(bktRules).ForEach(func(_, v []byte) error {
		r, err := decode[policy.Rule](v, "rule")
		if err != nil {
			return err
		}
		if r.Role == name {
			return fmt.Errorf("bolt: role %q is used by rule %s: %w", name, r.ID, store.ErrInUse)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := del(roles, []byte(name)); err != nil {
		return err
	}
	t.journal.Deleted(policy.KindRole, "", string(name), before, nil)
	return nil
}
