package postgres

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// ---- user groups ----

func notFoundGroup(id any) error {
	return fmt.Errorf("postgres: group %v: %w", id, store.ErrNotFound)
}

// parentOf reads the current parent of a group, for policy.CheckParent.
func (t *tx) parentOf(id policy.GroupID) (policy.GroupID, bool) {
	if id == "" || !text(string(id)) {
		return "", false
	}
	var parent *string
	found, err := t.one("group parent", `SELECT parent FROM groups WHERE id = $1`, []any{string(id)}, &parent)
	if err != nil || !found {
		return "", false // a failed read also fails the transaction
	}
	if parent == nil {
		return "", true
	}
	return policy.GroupID(*parent), true
}

func (t *tx) exists(what, sql string, args ...any) (bool, error) {
	var ok bool
	_, err := t.one(what, `SELECT EXISTS (`+sql+`)`, args, &ok)
	return ok, err
}

// CreateGroup implements store.Tx. The parent, when set, must exist.
func (t *tx) CreateGroup(g policy.Group) (policy.Group, error) {
	if err := t.write(); err != nil {
		return policy.Group{}, err
	}
	if err := store.NewGroup(&g, t.now, checkID); err != nil {
		return policy.Group{}, err
	}
	if err := checkID("group slug", g.Slug); err != nil {
		return policy.Group{}, err
	}
	taken, err := t.exists("group", `SELECT 1 FROM groups WHERE id = $1`, string(g.ID))
	if err != nil {
		return policy.Group{}, err
	}
	if taken {
		return policy.Group{}, fmt.Errorf("postgres: group id %s: %w", g.ID, store.ErrExists)
	}
	if err := t.groupPlaceFree(g, nil); err != nil {
		return policy.Group{}, err
	}
	v, err := encode(g, "group")
	if err != nil {
		return policy.Group{}, err
	}
	if _, err := t.exec("create group", `INSERT INTO groups (id, slug, parent, data) VALUES ($1, $2, $3, $4)`,
		string(g.ID), g.Slug, nullable(string(g.Parent)), v); err != nil {
		return policy.Group{}, err
	}
	t.journal.Created(policy.KindGroup, "", string(g.ID), v, g)
	return g, nil
}

// keyData reads the record that sql selects by key: nil when there is
// none, or when key (empty, NUL, invalid UTF-8) cannot be one.
func (t *tx) keyData(what, sql, key string) ([]byte, error) {
	if key == "" || !text(key) {
		return nil, nil
	}
	return t.data(what, sql, key)
}

// byKey reads and decodes the record that sql selects by key, or returns
// notFound().
func byKey[T any](t *tx, what, sql, key string, notFound func() error) (T, error) {
	var zero T
	if err := t.read(); err != nil {
		return zero, err
	}
	v, err := t.keyData(what, sql, key)
	if err != nil {
		return zero, err
	}
	if v == nil {
		return zero, notFound()
	}
	return decode[T](v, what)
}

const (
	groupByID  = `SELECT data FROM groups WHERE id = $1`
	roleByName = `SELECT data FROM roles WHERE name = $1`
	ruleByID   = `SELECT data FROM rules WHERE id = $1`
)

// groupPlaceFree checks g's slug is not another group's (ErrExists) and
// its parent makes no cycle, each only when it differs from old's (nil for
// a new group).
func (t *tx) groupPlaceFree(g policy.Group, old *policy.Group) error {
	if old == nil || g.Slug != old.Slug {
		taken, err := t.exists("group slug", `SELECT 1 FROM groups WHERE slug = $1`, g.Slug)
		if err != nil {
			return err
		}
		if taken {
			return fmt.Errorf("postgres: group slug %q: %w", g.Slug, store.ErrExists)
		}
	}
	if old == nil || g.Parent != old.Parent {
		if err := policy.CheckParent(g.ID, g.Parent, t.parentOf); err != nil {
			if t.err != nil {
				return t.err
			}
			return fmt.Errorf("postgres: %w", err)
		}
	}
	return nil
}

func (t *tx) groupData(id policy.GroupID) ([]byte, error) {
	return t.keyData("group", groupByID, string(id))
}

// Group implements store.Tx.
func (t *tx) Group(id policy.GroupID) (policy.Group, error) {
	return byKey[policy.Group](t, "group", groupByID, string(id), func() error { return notFoundGroup(id) })
}

// GroupBySlug implements store.Tx; slugs match exactly.
func (t *tx) GroupBySlug(slug string) (policy.Group, error) {
	if err := t.read(); err != nil {
		return policy.Group{}, err
	}
	var v []byte
	if slug != "" && text(slug) {
		var err error
		if v, err = t.data("group", `SELECT data FROM groups WHERE slug = $1`, slug); err != nil {
			return policy.Group{}, err
		}
	}
	if v == nil {
		return policy.Group{}, notFoundGroup(fmt.Sprintf("slug %q", slug))
	}
	return decode[policy.Group](v, "group")
}

// UpdateGroup implements store.Tx.
func (t *tx) UpdateGroup(g policy.Group) (policy.Group, error) {
	if err := t.write(); err != nil {
		return policy.Group{}, err
	}
	before, err := t.groupData(g.ID)
	if err != nil {
		return policy.Group{}, err
	}
	if before == nil {
		return policy.Group{}, notFoundGroup(g.ID)
	}
	old, err := decode[policy.Group](before, "group")
	if err != nil {
		return policy.Group{}, err
	}
	if err := store.ChangeGroup(old, &g, t.now, checkID); err != nil {
		return policy.Group{}, err
	}
	if err := checkID("group slug", g.Slug); err != nil {
		return policy.Group{}, err
	}
	if err := t.groupPlaceFree(g, &old); err != nil {
		return policy.Group{}, err
	}
	v, err := encode(g, "group")
	if err != nil {
		return policy.Group{}, err
	}
	if _, err := t.exec("update group", `UPDATE groups SET slug = $2, parent = $3, data = $4 WHERE id = $1`,
		string(g.ID), g.Slug, nullable(string(g.Parent)), v); err != nil {
		return policy.Group{}, err
	}
	t.journal.Updated(policy.KindGroup, "", string(g.ID), before, v, old, g)
	return g, nil
}

// DeleteGroup implements store.Tx: refused with ErrInUse while the group
// has children; otherwise its manual memberships and its rules are deleted
// first, then the group.
func (t *tx) DeleteGroup(id policy.GroupID) error {
	if err := t.write(); err != nil {
		return err
	}
	before, err := t.groupData(id)
	if err != nil {
		return err
	}
	if before == nil {
		return notFoundGroup(id)
	}
	children, err := t.exists("child groups", `SELECT 1 FROM groups WHERE parent = $1`, string(id))
	if err != nil {
		return err
	}
	if children {
		return fmt.Errorf("postgres: group %s has child groups: %w", id, store.ErrInUse)
	}
	type ms struct {
		user, role, tenant string
		data               []byte
	}
	rows, err := t.pg.Query(t.ctx, `DELETE FROM memberships WHERE group_id = $1 RETURNING user_id, role, tenant, data`, string(id))
	if err != nil {
		return t.fail("delete memberships", err)
	}
	gone, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ms, error) {
		var m ms
		return m, r.Scan(&m.user, &m.role, &m.tenant, &m.data)
	})
	if err != nil {
		return t.fail("delete memberships", err)
	}
	slices.SortFunc(gone, func(a, b ms) int { return cmp.Or(cmp.Compare(a.user, b.user), cmp.Compare(a.role, b.role)) })
	for _, m := range gone {
		t.journal.MembershipDeleted(policy.TenantID(m.tenant), id, policy.UserID(m.user), policy.RoleName(m.role), m.data, nil)
	}
	rules, err := t.strings("rules of group", `SELECT id FROM rules WHERE group_id = $1 ORDER BY id`, string(id))
	if err != nil {
		return err
	}
	for _, r := range rules {
		if err := t.deleteRule(policy.RuleID(r)); err != nil {
			return err
		}
	}
	if _, err := t.exec("delete group", `DELETE FROM groups WHERE id = $1`, string(id)); err != nil {
		return err
	}
	t.journal.Deleted(policy.KindGroup, "", string(id), before, nil)
	return nil
}

// Groups implements store.Tx: all user groups in id order.
func (t *tx) Groups() ([]policy.Group, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return list[policy.Group](t, "group", `SELECT data FROM groups ORDER BY id`)
}

// ---- roles ----

func (t *tx) roleData(name policy.RoleName) ([]byte, error) {
	return t.keyData("role", roleByName, string(name))
}

// groupAndRoleExist checks what a rule or a membership refers to: the
// user group g and the role r (ErrNotFound when either is missing).
func (t *tx) groupAndRoleExist(g policy.GroupID, r policy.RoleName) error {
	if v, err := t.groupData(g); err != nil || v == nil {
		if err == nil {
			err = notFoundGroup(g)
		}
		return err
	}
	if v, err := t.roleData(r); err != nil || v == nil {
		if err == nil {
			err = fmt.Errorf("postgres: role %q: %w", r, store.ErrNotFound)
		}
		return err
	}
	return nil
}

// PutRole implements store.Tx. A new role gets Version 1 whatever the
// input says; replacing a role needs the Version it was read with
// (ErrVersion otherwise) and increments it.
func (t *tx) PutRole(r policy.Role) (policy.Role, error) {
	if err := t.write(); err != nil {
		return policy.Role{}, err
	}
	if err := policy.ValidateRole(r); err != nil {
		return policy.Role{}, fmt.Errorf("postgres: %w", err)
	}
	if err := checkID("role", string(r.Name)); err != nil {
		return policy.Role{}, err
	}
	before, err := t.roleData(r.Name)
	if err != nil {
		return policy.Role{}, err
	}
	var old *policy.Role
	var prev any // the typed record for the change feed
	if before != nil {
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
	if _, err := t.exec("put role", `INSERT INTO roles (name, data) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data`, string(r.Name), v); err != nil {
		return policy.Role{}, err
	}
	t.journal.Put(policy.KindRole, "", string(r.Name), before, v, prev, r)
	return r, nil
}

// Role implements store.Tx.
func (t *tx) Role(name policy.RoleName) (policy.Role, error) {
	return byKey[policy.Role](t, "role", roleByName, string(name), func() error {
		return fmt.Errorf("postgres: role %q: %w", name, store.ErrNotFound)
	})
}

// Roles implements store.Tx: all roles in name order.
func (t *tx) Roles() ([]policy.Role, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return list[policy.Role](t, "role", `SELECT data FROM roles ORDER BY name`)
}

// DeleteRole implements store.Tx: refused with ErrInUse while memberships
// or rules use the role.
func (t *tx) DeleteRole(name policy.RoleName) error {
	if err := t.write(); err != nil {
		return err
	}
	before, err := t.roleData(name)
	if err != nil {
		return err
	}
	if before == nil {
		return fmt.Errorf("postgres: role %q: %w", name, store.ErrNotFound)
	}
	held, err := t.exists("role memberships", `SELECT 1 FROM memberships WHERE role = $1`, string(name))
	if err != nil {
		return err
	}
	if held {
		return fmt.Errorf("postgres: role %q is held by memberships: %w", name, store.ErrInUse)
	}
	var rule string
	found, err := t.one("role rules", `SELECT id FROM rules WHERE role = $1 ORDER BY id LIMIT 1`, []any{string(name)}, &rule)
	if err != nil {
		return err
	}
	if found {
		return fmt.Errorf("postgres: role %q is used by rule %s: %w", name, rule, store.ErrInUse)
	}
	if _, err := t.exec("delete role", `DELETE FROM roles WHERE name = $1`, string(name)); err != nil {
		return err
	}
	t.journal.Deleted(policy.KindRole, "", string(name), before, nil)
	return nil
}

// ---- rules ----

// CreateRule implements store.Tx. The tenant, its directory group, the user
// group and the role must exist (ErrNotFound); the same binding twice is
// ErrExists.
func (t *tx) CreateRule(r policy.Rule) (policy.Rule, error) {
	if err := t.write(); err != nil {
		return policy.Rule{}, err
	}
	if err := store.NewRule(&r, t.now, checkID); err != nil {
		return policy.Rule{}, err
	}
	taken, err := t.exists("rule", `SELECT 1 FROM rules WHERE id = $1`, string(r.ID))
	if err != nil {
		return policy.Rule{}, err
	}
	if taken {
		return policy.Rule{}, fmt.Errorf("postgres: rule id %s: %w", r.ID, store.ErrExists)
	}
	if err := t.tenantExists(r.Tenant); err != nil {
		return policy.Rule{}, err
	}
	ok := r.DirGroup != "" && text(string(r.DirGroup))
	if ok {
		if ok, err = t.exists("directory group", `SELECT 1 FROM dirgroups WHERE tenant = $1 AND id = $2`, string(r.Tenant), string(r.DirGroup)); err != nil {
			return policy.Rule{}, err
		}
	}
	if !ok {
		return policy.Rule{}, notFoundDG(r.Tenant, r.DirGroup)
	}
	if err := t.groupAndRoleExist(r.Group, r.Role); err != nil {
		return policy.Rule{}, err
	}
	var dup string
	found, err := t.one("rule binding", `SELECT id FROM rules WHERE tenant = $1 AND dir_group = $2 AND group_id = $3 AND role = $4 LIMIT 1`,
		[]any{string(r.Tenant), string(r.DirGroup), string(r.Group), string(r.Role)}, &dup)
	if err != nil {
		return policy.Rule{}, err
	}
	if found {
		return policy.Rule{}, fmt.Errorf("postgres: rule %s already binds %s to %s as %s: %w", dup, r.DirGroup, r.Group, r.Role, store.ErrExists)
	}
	v, err := encode(r, "rule")
	if err != nil {
		return policy.Rule{}, err
	}
	if _, err := t.exec("create rule", `INSERT INTO rules (id, tenant, dir_group, group_id, role, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		string(r.ID), string(r.Tenant), string(r.DirGroup), string(r.Group), string(r.Role), v); err != nil {
		return policy.Rule{}, err
	}
	t.journal.Created(policy.KindRule, r.Tenant, string(r.ID), v, r)
	return r, nil
}

// Rule implements store.Tx.
func (t *tx) Rule(id policy.RuleID) (policy.Rule, error) {
	return byKey[policy.Rule](t, "rule", ruleByID, string(id), func() error {
		return fmt.Errorf("postgres: rule %s: %w", id, store.ErrNotFound)
	})
}

// DeleteRule implements store.Tx.
func (t *tx) DeleteRule(id policy.RuleID) error {
	if err := t.write(); err != nil {
		return err
	}
	return t.deleteRule(id)
}

func (t *tx) deleteRule(id policy.RuleID) error {
	var tenant string
	var before []byte
	found := false
	if id != "" && text(string(id)) {
		var err error
		if found, err = t.one("delete rule", `DELETE FROM rules WHERE id = $1 RETURNING tenant, data`, []any{string(id)}, &tenant, &before); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("postgres: rule %s: %w", id, store.ErrNotFound)
	}
	t.journal.Deleted(policy.KindRule, policy.TenantID(tenant), string(id), before, nil)
	return nil
}

// Rules implements store.Tx: all rules in id order.
func (t *tx) Rules() ([]policy.Rule, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return list[policy.Rule](t, "rule", `SELECT data FROM rules ORDER BY id`)
}

// ---- manual memberships ----

// AddMembership implements store.Tx with store.AddMembership's rule:
// adding a membership already held returns it unchanged and writes
// nothing. The user (in any tenant), the group and the role must exist.
func (t *tx) AddMembership(m policy.Membership) (policy.Membership, error) {
	if err := t.write(); err != nil {
		return policy.Membership{}, err
	}
	return store.AddMembership(t, m, t.now, checkID, t.insertMembership)
}

// insertMembership stores the new membership m and its audit entry, once
// its user, group and role are found.
func (t *tx) insertMembership(m policy.Membership) error {
	var tenant string
	found := false
	if m.User != "" {
		var err error
		if found, err = t.one("user tenant", `SELECT tenant FROM users WHERE id = $1`, []any{string(m.User)}, &tenant); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("postgres: user %s: %w", m.User, store.ErrNotFound)
	}
	if err := t.groupAndRoleExist(m.Group, m.Role); err != nil {
		return err
	}
	v, err := encode(m, "membership")
	if err != nil {
		return err
	}
	if _, err := t.exec("add membership", `INSERT INTO memberships (group_id, user_id, role, tenant, data) VALUES ($1, $2, $3, $4, $5)`,
		string(m.Group), string(m.User), string(m.Role), tenant, v); err != nil {
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
	var cur []byte
	if g != "" && u != "" && r != "" && text(string(g)) && text(string(u)) && text(string(r)) {
		var err error
		if cur, err = t.data("membership", `SELECT data FROM memberships WHERE group_id = $1 AND user_id = $2 AND role = $3`,
			string(g), string(u), string(r)); err != nil {
			return policy.Membership{}, err
		}
	}
	if cur == nil {
		return policy.Membership{}, fmt.Errorf("postgres: membership %s: %w", policy.MembershipKey(g, u, r), store.ErrNotFound)
	}
	return decode[policy.Membership](cur, "membership")
}

// RemoveMembership implements store.Tx.
func (t *tx) RemoveMembership(g policy.GroupID, u policy.UserID, r policy.RoleName) error {
	if err := t.write(); err != nil {
		return err
	}
	return t.removeMembership(g, u, r)
}

func (t *tx) removeMembership(g policy.GroupID, u policy.UserID, r policy.RoleName) error {
	var tenant string
	var before []byte
	found := false
	if text(string(g)) && text(string(u)) && text(string(r)) {
		var err error
		if found, err = t.one("remove membership", `DELETE FROM memberships WHERE group_id = $1 AND user_id = $2 AND role = $3 RETURNING tenant, data`,
			[]any{string(g), string(u), string(r)}, &tenant, &before); err != nil {
			return err
		}
	}
	if !found {
		return fmt.Errorf("postgres: membership %s: %w", policy.MembershipKey(g, u, r), store.ErrNotFound)
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
	if g == "" || !text(string(g)) {
		return nil, nil
	}
	return list[policy.Membership](t, "membership", `SELECT data FROM memberships WHERE group_id = $1 ORDER BY user_id, role`, string(g))
}

// MembershipsOfUser implements store.Tx, ordered by group then role. An
// unknown user has none.
func (t *tx) MembershipsOfUser(u policy.UserID) ([]policy.Membership, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	if u == "" || !text(string(u)) {
		return nil, nil
	}
	return list[policy.Membership](t, "membership", `SELECT data FROM memberships WHERE user_id = $1 ORDER BY group_id, role`, string(u))
}

// Memberships implements store.Tx: every manual membership, ordered by
// group, user, role.
func (t *tx) Memberships() ([]policy.Membership, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return list[policy.Membership](t, "membership", `SELECT data FROM memberships ORDER BY group_id, user_id, role`)
}
