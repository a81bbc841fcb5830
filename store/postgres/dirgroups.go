package postgres

import (
	"fmt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func notFoundDG(tenant policy.TenantID, id any) error {
	return fmt.Errorf("postgres: directory group %v in tenant %q: %w", id, tenant, store.ErrNotFound)
}

// dgScope checks the tenant and flushes pending cascades, so that reads
// see them.
func (t *tx) dgScope(tenant policy.TenantID) error {
	if err := t.tenantExists(tenant); err != nil {
		return err
	}
	return t.flush()
}

func setOf[T comparable](s []T) map[T]struct{} {
	m := make(map[T]struct{}, len(s))
	for _, x := range s {
		m[x] = struct{}{}
	}
	return m
}

// existing returns which of ids are rows of table in the tenant.
func (t *tx) existing(table string, tenant policy.TenantID, ids []string) (map[string]bool, error) {
	var ask []string
	for _, id := range ids {
		if id != "" && text(id) {
			ask = append(ask, id)
		}
	}
	found := map[string]bool{}
	if len(ask) == 0 {
		return found, nil
	}
	got, err := t.strings("members", `SELECT id FROM `+table+` WHERE tenant = $1 AND id = ANY($2)`, string(tenant), ask)
	if err != nil {
		return nil, err
	}
	for _, id := range got {
		found[id] = true
	}
	return found, nil
}

// checkNewMembers verifies that the members of g not in oldUsers/oldGroups
// exist in the tenant, and returns them.
func (t *tx) checkNewMembers(g policy.DirGroup, oldUsers map[policy.UserID]struct{}, oldGroups map[policy.DirGroupID]struct{}) (addU []policy.UserID, addG []policy.DirGroupID, err error) {
	for _, u := range g.MemberUsers {
		if _, ok := oldUsers[u]; !ok {
			addU = append(addU, u)
		}
	}
	for _, m := range g.MemberGroups {
		if _, ok := oldGroups[m]; !ok {
			addG = append(addG, m)
		}
	}
	users, err := t.existing("users", g.Tenant, ids(addU))
	if err != nil {
		return nil, nil, err
	}
	for _, u := range addU {
		if !users[string(u)] {
			return nil, nil, fmt.Errorf("postgres: member user %q of directory group %s in tenant %q: %w", u, g.ID, g.Tenant, store.ErrNotFound)
		}
	}
	groups, err := t.existing("dirgroups", g.Tenant, ids(addG))
	if err != nil {
		return nil, nil, err
	}
	for _, m := range addG {
		if !groups[string(m)] {
			return nil, nil, fmt.Errorf("postgres: member group %q of directory group %s in tenant %q: %w", m, g.ID, g.Tenant, store.ErrNotFound)
		}
	}
	return addU, addG, nil
}

func ids[T ~string](s []T) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}

// putReverse adds reverse-membership rows for new members of g.
func (t *tx) putReverse(tenant policy.TenantID, g policy.DirGroupID, users []policy.UserID, groups []policy.DirGroupID) error {
	members := append(ids(users), ids(groups)...)
	if len(members) == 0 {
		return nil
	}
	_, err := t.exec("reverse membership", `INSERT INTO dg_members (tenant, member, group_id)
		SELECT $1, m, $3 FROM unnest($2::text[]) AS m ON CONFLICT DO NOTHING`, string(tenant), members, string(g))
	return err
}

func (t *tx) dgExtTaken(tenant policy.TenantID, ext string) error {
	if !text(ext) {
		return fmt.Errorf("postgres: directory group externalId contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
	}
	var taken bool
	if _, err := t.one("directory group externalId", `SELECT EXISTS (SELECT 1 FROM dirgroups WHERE tenant = $1 AND external_id = $2)`,
		[]any{string(tenant), ext}, &taken); err != nil {
		return err
	}
	if taken {
		return fmt.Errorf("postgres: directory group externalId %q in tenant %q: %w", ext, tenant, store.ErrExists)
	}
	return nil
}

// CreateDirGroup implements store.Tx. Repeated member ids are dropped.
func (t *tx) CreateDirGroup(tenant policy.TenantID, g policy.DirGroup) (policy.DirGroup, error) {
	if err := t.write(); err != nil {
		return policy.DirGroup{}, err
	}
	if err := t.dgScope(tenant); err != nil {
		return policy.DirGroup{}, err
	}
	fresh, err := store.NewDirGroup(tenant, &g, t.now, checkID)
	if err != nil {
		return policy.DirGroup{}, err
	}
	if !text(policy.FoldName(g.DisplayName)) {
		return policy.DirGroup{}, fmt.Errorf("postgres: directory group name contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
	}
	if !fresh {
		taken, err := t.idTaken(string(g.ID))
		if err != nil {
			return policy.DirGroup{}, err
		}
		if taken {
			return policy.DirGroup{}, fmt.Errorf("postgres: directory group id %s: %w", g.ID, store.ErrExists)
		}
	}
	if g.ExternalID != "" {
		if err := t.dgExtTaken(tenant, g.ExternalID); err != nil {
			return policy.DirGroup{}, err
		}
	}
	addU, addG, err := t.checkNewMembers(g, nil, nil)
	if err != nil {
		return policy.DirGroup{}, err
	}
	v, err := encode(g, "directory group")
	if err != nil {
		return policy.DirGroup{}, err
	}
	if _, err := t.exec("create directory group", `INSERT INTO dirgroups (id, tenant, name_fold, external_id, data) VALUES ($1, $2, $3, $4, $5)`,
		string(g.ID), string(tenant), policy.FoldName(g.DisplayName), nullable(g.ExternalID), v); err != nil {
		return policy.DirGroup{}, err
	}
	if err := t.putReverse(tenant, g.ID, addU, addG); err != nil {
		return policy.DirGroup{}, err
	}
	t.journal.Created(policy.KindDirGroup, tenant, string(g.ID), v, g)
	return g, nil
}

// dirGroupBy reads one directory group of the tenant by a column.
func (t *tx) dirGroupBy(tenant policy.TenantID, col, k string, what any) (policy.DirGroup, []byte, error) {
	if err := t.dgScope(tenant); err != nil {
		return policy.DirGroup{}, nil, err
	}
	var v []byte
	if k != "" && text(k) {
		var err error
		if v, err = t.data("directory group", `SELECT data FROM dirgroups WHERE tenant = $1 AND `+col+` = $2`, string(tenant), k); err != nil {
			return policy.DirGroup{}, nil, err
		}
	}
	if v == nil {
		return policy.DirGroup{}, nil, notFoundDG(tenant, what)
	}
	g, err := decode[policy.DirGroup](v, "directory group")
	return g, v, err
}

// DirGroup implements store.Tx.
func (t *tx) DirGroup(tenant policy.TenantID, id policy.DirGroupID) (policy.DirGroup, error) {
	if err := t.read(); err != nil {
		return policy.DirGroup{}, err
	}
	g, _, err := t.dirGroupBy(tenant, "id", string(id), id)
	return g, err
}

// DirGroupByExternalID implements store.Tx; the match is exact.
func (t *tx) DirGroupByExternalID(tenant policy.TenantID, externalID string) (policy.DirGroup, error) {
	if err := t.read(); err != nil {
		return policy.DirGroup{}, err
	}
	g, _, err := t.dirGroupBy(tenant, "external_id", externalID, fmt.Sprintf("externalId %q", externalID))
	return g, err
}

// DirGroupsByName implements store.Tx: the tenant's directory groups whose
// display name folds (policy.FoldName) to the same as displayName, in id
// order. None is not an error.
func (t *tx) DirGroupsByName(tenant policy.TenantID, displayName string) ([]policy.DirGroup, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	if err := t.dgScope(tenant); err != nil {
		return nil, err
	}
	fold := policy.FoldName(displayName)
	if !text(fold) {
		return nil, nil
	}
	return list[policy.DirGroup](t, "directory group", `SELECT data FROM dirgroups WHERE tenant = $1 AND name_fold = $2 ORDER BY id`,
		string(tenant), fold)
}

// UpdateDirGroup implements store.Tx.
func (t *tx) UpdateDirGroup(tenant policy.TenantID, g policy.DirGroup) (policy.DirGroup, error) {
	if err := t.write(); err != nil {
		return policy.DirGroup{}, err
	}
	old, before, err := t.dirGroupBy(tenant, "id", string(g.ID), g.ID)
	if err != nil {
		return policy.DirGroup{}, err
	}
	if err := store.ChangeDirGroup(tenant, old, &g, t.now); err != nil {
		return policy.DirGroup{}, err
	}
	if !text(policy.FoldName(g.DisplayName)) {
		return policy.DirGroup{}, fmt.Errorf("postgres: directory group name contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
	}
	if g.ExternalID != "" && g.ExternalID != old.ExternalID {
		if err := t.dgExtTaken(tenant, g.ExternalID); err != nil {
			return policy.DirGroup{}, err
		}
	}
	oldU, oldG := setOf(old.MemberUsers), setOf(old.MemberGroups)
	addU, addG, err := t.checkNewMembers(g, oldU, oldG)
	if err != nil {
		return policy.DirGroup{}, err
	}
	v, err := encode(g, "directory group")
	if err != nil {
		return policy.DirGroup{}, err
	}
	if _, err := t.exec("update directory group", `UPDATE dirgroups SET name_fold = $2, external_id = $3, data = $4 WHERE id = $1`,
		string(g.ID), policy.FoldName(g.DisplayName), nullable(g.ExternalID), v); err != nil {
		return policy.DirGroup{}, err
	}
	newU, newG := setOf(g.MemberUsers), setOf(g.MemberGroups)
	var gone []string
	for _, u := range old.MemberUsers {
		if _, ok := newU[u]; !ok {
			gone = append(gone, string(u))
		}
	}
	for _, m := range old.MemberGroups {
		if _, ok := newG[m]; !ok {
			gone = append(gone, string(m))
		}
	}
	if len(gone) > 0 {
		if _, err := t.exec("reverse membership", `DELETE FROM dg_members WHERE tenant = $1 AND group_id = $2 AND member = ANY($3)`,
			string(tenant), string(g.ID), gone); err != nil {
			return policy.DirGroup{}, err
		}
	}
	if err := t.putReverse(tenant, g.ID, addU, addG); err != nil {
		return policy.DirGroup{}, err
	}
	t.journal.Updated(policy.KindDirGroup, tenant, string(g.ID), before, v, old, g)
	return g, nil
}

// DeleteDirGroup implements store.Tx: the rules bound to the group are
// deleted, the group is taken out of the directory groups that list it,
// then it is deleted.
func (t *tx) DeleteDirGroup(tenant policy.TenantID, id policy.DirGroupID) error {
	if err := t.write(); err != nil {
		return err
	}
	old, before, err := t.dirGroupBy(tenant, "id", string(id), id)
	if err != nil {
		return err
	}
	rules, err := t.strings("rules of directory group", `SELECT id FROM rules WHERE tenant = $1 AND dir_group = $2 ORDER BY id`,
		string(tenant), string(id))
	if err != nil {
		return err
	}
	for _, r := range rules {
		if err := t.deleteRule(policy.RuleID(r)); err != nil {
			return err
		}
	}
	if err := t.dropMember(tenant, string(id), func(g policy.DirGroupID) { t.cascade.DropGroup(tenant, g, id) }); err != nil {
		return err
	}
	if _, err := t.exec("reverse membership", `DELETE FROM dg_members WHERE group_id = $1`, string(id)); err != nil {
		return err
	}
	if _, err := t.exec("delete directory group", `DELETE FROM dirgroups WHERE id = $1`, string(id)); err != nil {
		return err
	}
	t.journal.Deleted(policy.KindDirGroup, tenant, string(id), before, old)
	return nil
}

// DirGroups implements store.Tx: the tenant's directory groups in id order.
func (t *tx) DirGroups(tenant policy.TenantID, p store.Page) ([]policy.DirGroup, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	if err := t.dgScope(tenant); err != nil {
		return nil, err
	}
	if !text(p.After) {
		return nil, fmt.Errorf("postgres: page key contains NUL or invalid UTF-8: %w", policy.ErrInvalid)
	}
	return list[policy.DirGroup](t, "directory group", `SELECT data FROM dirgroups WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3`,
		string(tenant), p.After, limit(p.Limit))
}

// ForEachDirGroup implements store.Tx, in id order, reading in chunks.
func (t *tx) ForEachDirGroup(tenant policy.TenantID, fn func(policy.DirGroup) error) error {
	if err := t.read(); err != nil {
		return err
	}
	if err := t.dgScope(tenant); err != nil {
		return err
	}
	return forEach(t, "directory group", `SELECT data FROM dirgroups WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3`, tenant,
		func(g policy.DirGroup) string { return string(g.ID) }, fn)
}

// DirGroupsOf implements store.Tx, from the reverse membership rows, in id
// order.
func (t *tx) DirGroupsOf(tenant policy.TenantID, member string) ([]policy.DirGroupID, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	if err := t.tenantExists(tenant); err != nil {
		return nil, err
	}
	if member == "" || !text(member) {
		return nil, nil
	}
	got, err := t.strings("directory groups of member", `SELECT group_id FROM dg_members WHERE tenant = $1 AND member = $2 ORDER BY group_id`,
		string(tenant), member)
	if err != nil {
		return nil, err
	}
	var out []policy.DirGroupID
	for _, g := range got {
		out = append(out, policy.DirGroupID(g))
	}
	return out, nil
}
