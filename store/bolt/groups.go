package bolt

import (
	"bytes"
	"fmt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// ---- user groups ----

func notFoundGroup(id any) error {
	return fmt.Errorf("bolt: group %v: %w", id, store.ErrNotFound)
}

// parentOf reads the current parent of a group, for policy.CheckParent.
func (t *tx) parentOf(id policy.GroupID) (policy.GroupID, bool) {
	v := t.root.Bucket(bktGroups).Get([]byte(id))
	if v == nil || id == "" {
		return "", false
	}
	g, err := decode[policy.Group](v, "group")
	if err != nil {
		return "", false
	}
	return g.Parent, true
}

// CreateGroup implements store.Tx. The parent, when set, must exist.
func (t *tx) CreateGroup(g policy.Group) (policy.Group, error) {
	if err := t.write(); err != nil {
		return policy.Group{}, err
	}
	if g.ID == "" {
		g.ID = policy.GroupID(newID())
	}
	if err := checkID("group", string(g.ID)); err != nil {
		return policy.Group{}, err
	}
	if err := checkID("group", string(g.Parent)); err != nil {
		return policy.Group{}, err
	}
	if err := policy.ValidateGroup(g); err != nil {
		return policy.Group{}, fmt.Errorf("bolt: %w", err)
	}
	groups := t.root.Bucket(bktGroups)
	if groups.Get([]byte(g.ID)) != nil {
		return policy.Group{}, fmt.Errorf("bolt: group id %s: %w", g.ID, store.ErrExists)
	}
	idx := t.root.Bucket(bktIdx)
	if idx.Bucket(bktGroupSlug).Get([]byte(g.Slug)) != nil {
		return policy.Group{}, fmt.Errorf("bolt: group slug %q: %w", g.Slug, store.ErrExists)
	}
	if err := policy.CheckParent(g.ID, g.Parent, t.parentOf); err != nil {
		return policy.Group{}, fmt.Errorf("bolt: %w", err)
	}
	g.Created, g.Updated, g.Version = t.now, t.now, 1
	v, err := encode(g, "group")
	if err != nil {
		return policy.Group{}, err
	}
	if err := put(groups, []byte(g.ID), v); err != nil {
		return policy.Group{}, err
	}
	if err := t.writeIndexes(nil, groupIndexes(nil, &g)); err != nil {
		return policy.Group{}, err
	}
	return g, t.audit("", policy.KindGroup, policy.OpCreate, string(g.ID), nil, v)
}

// Group implements store.Tx.
func (t *tx) Group(id policy.GroupID) (policy.Group, error) {
	if err := t.read(); err != nil {
		return policy.Group{}, err
	}
	v := t.root.Bucket(bktGroups).Get([]byte(id))
	if v == nil || id == "" {
		return policy.Group{}, notFoundGroup(id)
	}
	return decode[policy.Group](v, "group")
}

// GroupBySlug implements store.Tx; slugs match exactly.
func (t *tx) GroupBySlug(slug string) (policy.Group, error) {
	if err := t.read(); err != nil {
		return policy.Group{}, err
	}
	id := getBucket(t.root, bktIdx, bktGroupSlug).Get([]byte(slug))
	if id == nil || slug == "" {
		return policy.Group{}, notFoundGroup(fmt.Sprintf("slug %q", slug))
	}
	v := t.root.Bucket(bktGroups).Get(id)
	if v == nil {
		return policy.Group{}, fmt.Errorf("bolt: index group_slug points to missing group %s: %w", id, store.ErrNotFound)
	}
	return decode[policy.Group](v, "group")
}

// UpdateGroup implements store.Tx.
func (t *tx) UpdateGroup(g policy.Group) (policy.Group, error) {
	if err := t.write(); err != nil {
		return policy.Group{}, err
	}
	groups := t.root.Bucket(bktGroups)
	before := groups.Get([]byte(g.ID))
	if before == nil || g.ID == "" {
		return policy.Group{}, notFoundGroup(g.ID)
	}
	before = bytes.Clone(before)
	old, err := decode[policy.Group](before, "group")
	if err != nil {
		return policy.Group{}, err
	}
	if err := store.CheckVersion("group", g.ID, old.Version, g.Version); err != nil {
		return policy.Group{}, err
	}
	if err := checkID("group", string(g.Parent)); err != nil {
		return policy.Group{}, err
	}
	if err := policy.ValidateGroup(g); err != nil {
		return policy.Group{}, fmt.Errorf("bolt: %w", err)
	}
	idx := t.root.Bucket(bktIdx)
	if g.Slug != old.Slug && idx.Bucket(bktGroupSlug).Get([]byte(g.Slug)) != nil {
		return policy.Group{}, fmt.Errorf("bolt: group slug %q: %w", g.Slug, store.ErrExists)
	}
	if g.Parent != old.Parent {
		if err := policy.CheckParent(g.ID, g.Parent, t.parentOf); err != nil {
			return policy.Group{}, fmt.Errorf("bolt: %w", err)
		}
	}
	g.Created, g.Updated, g.Version = old.Created, t.now, old.Version+1
	v, err := encode(g, "group")
	if err != nil {
		return policy.Group{}, err
	}
	if err := put(groups, []byte(g.ID), v); err != nil {
		return policy.Group{}, err
	}
	if err := t.writeIndexes(nil, groupIndexes(&old, &g)); err != nil {
		return policy.Group{}, err
	}
	return g, t.audit("", policy.KindGroup, policy.OpUpdate, string(g.ID), before, v)
}

// DeleteGroup implements store.Tx: refused with ErrInUse while the group
// has children; otherwise its manual memberships and its rules are deleted
// first, then the group.
func (t *tx) DeleteGroup(id policy.GroupID) error {
	if err := t.write(); err != nil {
		return err
	}
	groups := t.root.Bucket(bktGroups)
	before := groups.Get([]byte(id))
	if before == nil || id == "" {
		return notFoundGroup(id)
	}
	before = bytes.Clone(before)
	old, err := decode[policy.Group](before, "group")
	if err != nil {
		return err
	}
	idx := t.root.Bucket(bktIdx)
	if hasPrefix(idx.Bucket(bktGroupChildren), prefix(string(id))) {
		return fmt.Errorf("bolt: group %s has child groups: %w", id, store.ErrInUse)
	}
	for _, k := range keysWithPrefix(t.root.Bucket(bktMemberships), prefix(string(id))) {
		p := splitKey(k) // group, user, role
		if err := t.removeMembership(id, policy.UserID(p[1]), policy.RoleName(p[2])); err != nil {
			return err
		}
	}
	for _, k := range keysWithPrefix(idx.Bucket(bktRuleGroup), prefix(string(id))) {
		if err := t.deleteRule(policy.RuleID(lastPart(k))); err != nil {
			return err
		}
	}
	if err := t.writeIndexes(nil, groupIndexes(&old, nil)); err != nil {
		return err
	}
	if err := del(groups, []byte(id)); err != nil {
		return err
	}
	return t.audit("", policy.KindGroup, policy.OpDelete, string(id), before, nil)
}

// Groups implements store.Tx: all user groups in id order.
func (t *tx) Groups() ([]policy.Group, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return decodeAll[policy.Group](t.root.Bucket(bktGroups), "group")
}

// ---- roles ----

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
	op := policy.OpCreate
	if before != nil {
		before = bytes.Clone(before)
		old, err := decode[policy.Role](before, "role")
		if err != nil {
			return policy.Role{}, err
		}
		if err := store.CheckVersion("role", r.Name, old.Version, r.Version); err != nil {
			return policy.Role{}, err
		}
		op, r.Version = policy.OpUpdate, old.Version+1
	} else {
		r.Version = 1
	}
	v, err := encode(r, "role")
	if err != nil {
		return policy.Role{}, err
	}
	if err := put(roles, []byte(r.Name), v); err != nil {
		return policy.Role{}, err
	}
	return r, t.audit("", policy.KindRole, op, string(r.Name), before, v)
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
	return t.audit("", policy.KindRole, policy.OpDelete, string(name), before, nil)
}

// ---- rules ----

// CreateRule implements store.Tx. The tenant, its directory group, the user
// group and the role must exist (ErrNotFound); the same binding twice is
// ErrExists.
func (t *tx) CreateRule(r policy.Rule) (policy.Rule, error) {
	if err := t.write(); err != nil {
		return policy.Rule{}, err
	}
	if r.ID == "" {
		r.ID = policy.RuleID(newID())
	}
	if err := checkID("rule", string(r.ID)); err != nil {
		return policy.Rule{}, err
	}
	rules := t.root.Bucket(bktRules)
	if rules.Get([]byte(r.ID)) != nil {
		return policy.Rule{}, fmt.Errorf("bolt: rule id %s: %w", r.ID, store.ErrExists)
	}
	tb, err := t.tenantBucket(r.Tenant)
	if err != nil {
		return policy.Rule{}, err
	}
	if r.DirGroup == "" || getBucket(tb, bktDirGroups).Get([]byte(r.DirGroup)) == nil {
		return policy.Rule{}, notFoundDG(r.Tenant, r.DirGroup)
	}
	if r.Group == "" || t.root.Bucket(bktGroups).Get([]byte(r.Group)) == nil {
		return policy.Rule{}, notFoundGroup(r.Group)
	}
	if r.Role == "" || t.root.Bucket(bktRoles).Get([]byte(r.Role)) == nil {
		return policy.Rule{}, fmt.Errorf("bolt: role %q: %w", r.Role, store.ErrNotFound)
	}
	idx := t.root.Bucket(bktIdx)
	err = scanPrefix(idx.Bucket(bktRuleDG), prefix(string(r.Tenant), string(r.DirGroup)), func(k, _ []byte) error {
		v := rules.Get([]byte(lastPart(k)))
		if v == nil {
			return nil
		}
		o, err := decode[policy.Rule](v, "rule")
		if err != nil {
			return err
		}
		if o.Group == r.Group && o.Role == r.Role {
			return fmt.Errorf("bolt: rule %s already binds %s to %s as %s: %w", o.ID, r.DirGroup, r.Group, r.Role, store.ErrExists)
		}
		return nil
	})
	if err != nil {
		return policy.Rule{}, err
	}
	r.Created, r.Version = t.now, 1
	v, err := encode(r, "rule")
	if err != nil {
		return policy.Rule{}, err
	}
	if err := put(rules, []byte(r.ID), v); err != nil {
		return policy.Rule{}, err
	}
	if err := t.writeIndexes(nil, ruleIndexes(nil, &r)); err != nil {
		return policy.Rule{}, err
	}
	return r, t.audit(r.Tenant, policy.KindRule, policy.OpCreate, string(r.ID), nil, v)
}

// Rule implements store.Tx.
func (t *tx) Rule(id policy.RuleID) (policy.Rule, error) {
	if err := t.read(); err != nil {
		return policy.Rule{}, err
	}
	v := t.root.Bucket(bktRules).Get([]byte(id))
	if v == nil || id == "" {
		return policy.Rule{}, fmt.Errorf("bolt: rule %s: %w", id, store.ErrNotFound)
	}
	return decode[policy.Rule](v, "rule")
}

// DeleteRule implements store.Tx.
func (t *tx) DeleteRule(id policy.RuleID) error {
	if err := t.write(); err != nil {
		return err
	}
	return t.deleteRule(id)
}

func (t *tx) deleteRule(id policy.RuleID) error {
	rules := t.root.Bucket(bktRules)
	before := rules.Get([]byte(id))
	if before == nil || id == "" {
		return fmt.Errorf("bolt: rule %s: %w", id, store.ErrNotFound)
	}
	before = bytes.Clone(before)
	r, err := decode[policy.Rule](before, "rule")
	if err != nil {
		return err
	}
	if err := t.writeIndexes(nil, ruleIndexes(&r, nil)); err != nil {
		return err
	}
	if err := del(rules, []byte(id)); err != nil {
		return err
	}
	return t.audit(r.Tenant, policy.KindRule, policy.OpDelete, string(id), before, nil)
}

// Rules implements store.Tx: all rules in id order.
func (t *tx) Rules() ([]policy.Rule, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return decodeAll[policy.Rule](t.root.Bucket(bktRules), "rule")
}

// ---- manual memberships ----

// AddMembership implements store.Tx. The user (in any tenant), the group
// and the role must exist. Origin defaults to policy.OriginManual; any other
// origin is refused, since rule memberships are derived, not stored. Adding
// an existing membership returns it unchanged and writes nothing.
func (t *tx) AddMembership(m policy.Membership) (policy.Membership, error) {
	if err := t.write(); err != nil {
		return policy.Membership{}, err
	}
	if m.Origin == "" {
		m.Origin = policy.OriginManual
	}
	if m.Origin != policy.OriginManual {
		return policy.Membership{}, fmt.Errorf("bolt: membership origin %q is not manual: %w", m.Origin, policy.ErrInvalid)
	}
	for _, id := range []string{string(m.Group), string(m.User), string(m.Role)} {
		if err := checkID("membership", id); err != nil {
			return policy.Membership{}, err
		}
	}
	tenant := getBucket(t.root, bktIdx, bktUserTenant).Get([]byte(m.User))
	if tenant == nil || m.User == "" {
		return policy.Membership{}, fmt.Errorf("bolt: user %s: %w", m.User, store.ErrNotFound)
	}
	if m.Group == "" || t.root.Bucket(bktGroups).Get([]byte(m.Group)) == nil {
		return policy.Membership{}, notFoundGroup(m.Group)
	}
	if m.Role == "" || t.root.Bucket(bktRoles).Get([]byte(m.Role)) == nil {
		return policy.Membership{}, fmt.Errorf("bolt: role %q: %w", m.Role, store.ErrNotFound)
	}
	ms := t.root.Bucket(bktMemberships)
	k := key(string(m.Group), string(m.User), string(m.Role))
	if v := ms.Get(k); v != nil {
		return decode[policy.Membership](v, "membership")
	}
	m.Created = t.now
	v, err := encode(m, "membership")
	if err != nil {
		return policy.Membership{}, err
	}
	if err := put(ms, k, v); err != nil {
		return policy.Membership{}, err
	}
	if err := t.writeIndexes(nil, membershipIndexes(nil, &m)); err != nil {
		return policy.Membership{}, err
	}
	return m, t.audit(policy.TenantID(tenant), policy.KindMembership, policy.OpCreate,
		policy.MembershipKey(m.Group, m.User, m.Role), nil, v)
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
	return t.audit(policy.TenantID(tenant), policy.KindMembership, policy.OpDelete, policy.MembershipKey(g, u, r), before, nil)
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
