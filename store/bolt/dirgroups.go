package bolt

import (
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func notFoundDG(tenant policy.TenantID, id any) error {
	return fmt.Errorf("bolt: directory group %v in tenant %q: %w", id, tenant, store.ErrNotFound)
}

// dgScope returns the tenant bucket and its dirgroups bucket, after
// flushing pending cascades so that reads see them.
func (t *tx) dgScope(tenant policy.TenantID) (tb, dgs *bbolt.Bucket, err error) {
	tb, err = t.tenantBucket(tenant)
	if err != nil {
		return nil, nil, err
	}
	if err := t.flush(); err != nil {
		return nil, nil, err
	}
	return tb, tb.Bucket(bktDirGroups), nil
}

// checkNewMembers verifies that the members of g not in oldUsers/oldGroups
// exist in the tenant. It asks the store-wide id indexes
// (idx/user_tenant, idx/dg_tenant), which are a fraction of the size of the
// records: a large group's members are found without reading (and mapping
// in) the pages of every member's record.
func (t *tx) checkNewMembers(g policy.DirGroup, oldUsers map[policy.UserID]struct{}, oldGroups map[policy.DirGroupID]struct{}) error {
	idx := t.root.Bucket(bktIdx)
	users, dgs := idx.Bucket(bktUserTenant), idx.Bucket(bktDGTenant)
	for _, u := range g.MemberUsers {
		if _, ok := oldUsers[u]; ok {
			continue
		}
		if u == "" || string(users.Get([]byte(u))) != string(g.Tenant) {
			return fmt.Errorf("bolt: member user %q of directory group %s in tenant %q: %w", u, g.ID, g.Tenant, store.ErrNotFound)
		}
	}
	for _, m := range g.MemberGroups {
		if _, ok := oldGroups[m]; ok {
			continue
		}
		if m == "" || string(dgs.Get([]byte(m))) != string(g.Tenant) {
			return fmt.Errorf("bolt: member group %q of directory group %s in tenant %q: %w", m, g.ID, g.Tenant, store.ErrNotFound)
		}
	}
	return nil
}

func setOf[T comparable](s []T) map[T]struct{} {
	m := make(map[T]struct{}, len(s))
	for _, x := range s {
		m[x] = struct{}{}
	}
	return m
}

// CreateDirGroup implements store.Tx. Repeated member ids are dropped.
func (t *tx) CreateDirGroup(tenant policy.TenantID, g policy.DirGroup) (policy.DirGroup, error) {
	if err := t.write(); err != nil {
		return policy.DirGroup{}, err
	}
	tb, _, err := t.dgScope(tenant)
	if err != nil {
		return policy.DirGroup{}, err
	}
	fresh, err := store.NewDirGroup(tenant, &g, t.now, checkID)
	if err != nil {
		return policy.DirGroup{}, err
	}
	if !fresh && t.idTaken(string(g.ID)) { // a new v7 id is unique (see store.NewID)
		return policy.DirGroup{}, fmt.Errorf("bolt: directory group id %s: %w", g.ID, store.ErrExists)
	}
	idx := tb.Bucket(bktIdx)
	if g.ExternalID != "" && idx.Bucket(bktDGExt).Get([]byte(g.ExternalID)) != nil {
		return policy.DirGroup{}, fmt.Errorf("bolt: directory group externalId %q in tenant %q: %w", g.ExternalID, tenant, store.ErrExists)
	}
	if err := t.checkNewMembers(g, nil, nil); err != nil {
		return policy.DirGroup{}, err
	}
	v, err := putDG(tb, g, nil)
	if err != nil {
		return policy.DirGroup{}, err
	}
	if err := t.writeIndexes(tb, dgIndexes(nil, &g, false)); err != nil {
		return policy.DirGroup{}, err
	}
	t.journal.Created(policy.KindDirGroup, tenant, string(g.ID), v, g)
	return g, nil
}

// DirGroup implements store.Tx.
func (t *tx) DirGroup(tenant policy.TenantID, id policy.DirGroupID) (policy.DirGroup, error) {
	if err := t.read(); err != nil {
		return policy.DirGroup{}, err
	}
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return policy.DirGroup{}, err
	}
	v := dgs.Get([]byte(id))
	if v == nil || id == "" {
		return policy.DirGroup{}, notFoundDG(tenant, id)
	}
	return decodeDG(tb, v)
}

// DirGroupByExternalID implements store.Tx.
func (t *tx) DirGroupByExternalID(tenant policy.TenantID, externalID string) (policy.DirGroup, error) {
	if err := t.read(); err != nil {
		return policy.DirGroup{}, err
	}
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return policy.DirGroup{}, err
	}
	id := getBucket(tb, bktIdx, bktDGExt).Get([]byte(externalID))
	if id == nil || externalID == "" {
		return policy.DirGroup{}, notFoundDG(tenant, fmt.Sprintf("externalId %q", externalID))
	}
	v := dgs.Get(id)
	if v == nil {
		return policy.DirGroup{}, fmt.Errorf("bolt: index dg_ext points to missing directory group %s: %w", id, store.ErrNotFound)
	}
	return decodeDG(tb, v)
}

// DirGroupsByName implements store.Tx: the tenant's directory groups whose
// display name folds (policy.FoldName) to the same as displayName, in id
// order. None is not an error.
func (t *tx) DirGroupsByName(tenant policy.TenantID, displayName string) ([]policy.DirGroup, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return nil, err
	}
	var out []policy.DirGroup
	err = scanPrefix(getBucket(tb, bktIdx, bktDGName), prefix(policy.FoldName(displayName)), func(_, id []byte) error {
		v := dgs.Get(id)
		if v == nil {
			return fmt.Errorf("bolt: index dg_name points to missing directory group %s: %w", id, store.ErrNotFound)
		}
		g, err := decodeDG(tb, v)
		if err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// UpdateDirGroup implements store.Tx. The member lists are diffed with
// maps, so adding n members to a group of m costs O(n+m) index work.
func (t *tx) UpdateDirGroup(tenant policy.TenantID, g policy.DirGroup) (policy.DirGroup, error) {
	if err := t.write(); err != nil {
		return policy.DirGroup{}, err
	}
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return policy.DirGroup{}, err
	}
	id := []byte(g.ID)
	before := dgs.Get(id)
	if before == nil || g.ID == "" {
		return policy.DirGroup{}, notFoundDG(tenant, g.ID)
	}
	old, err := decodeDG(tb, before)
	if err != nil {
		return policy.DirGroup{}, err
	}
	if before, err = encode(old, "directory group"); err != nil {
		return policy.DirGroup{}, err
	}
	if err := store.ChangeDirGroup(tenant, old, &g, t.now); err != nil {
		return policy.DirGroup{}, err
	}
	idx := tb.Bucket(bktIdx)
	if g.ExternalID != "" && g.ExternalID != old.ExternalID && idx.Bucket(bktDGExt).Get([]byte(g.ExternalID)) != nil {
		return policy.DirGroup{}, fmt.Errorf("bolt: directory group externalId %q in tenant %q: %w", g.ExternalID, tenant, store.ErrExists)
	}
	oldU, oldG := setOf(old.MemberUsers), setOf(old.MemberGroups)
	if err := t.checkNewMembers(g, oldU, oldG); err != nil {
		return policy.DirGroup{}, err
	}
	v, err := putDG(tb, g, &old)
	if err != nil {
		return policy.DirGroup{}, err
	}
	if err := t.writeIndexes(tb, dgIndexes(&old, &g, false)); err != nil {
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
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return err
	}
	before := dgs.Get([]byte(id))
	if before == nil || id == "" {
		return notFoundDG(tenant, id)
	}
	old, err := decodeDG(tb, before)
	if err != nil {
		return err
	}
	if before, err = encode(old, "directory group"); err != nil {
		return err
	}
	// Rules bound to it.
	for _, k := range keysWithPrefix(getBucket(t.root, bktIdx, bktRuleDG), prefix(string(tenant), string(id))) {
		if err := t.deleteRule(policy.RuleID(lastPart(k))); err != nil {
			return err
		}
	}
	// Its membership in other directory groups.
	if err := t.dropMember(tb, string(id), func(g policy.DirGroupID) { t.cascade.DropGroup(tenant, g, id) }); err != nil {
		return err
	}
	// Its indexes, its own members' reverse entries among them.
	if err := t.writeIndexes(tb, dgIndexes(&old, nil, false)); err != nil {
		return err
	}
	if err := dropMemberKeys(tb.Bucket(bktDGMembers), id); err != nil {
		return err
	}
	if err := del(dgs, []byte(id)); err != nil {
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
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return nil, err
	}
	out, err := page[policy.DirGroup](dgs, p, "directory group")
	for i := range out {
		attachMembers(tb, &out[i])
	}
	return out, err
}

// ForEachDirGroup implements store.Tx, streaming in id order.
func (t *tx) ForEachDirGroup(tenant policy.TenantID, fn func(policy.DirGroup) error) error {
	if err := t.read(); err != nil {
		return err
	}
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return err
	}
	return forEach(t.ctx, dgs, "directory group", func(g policy.DirGroup) error {
		attachMembers(tb, &g)
		return fn(g)
	})
}

// DirGroupsOf implements store.Tx, from the reverse membership index, in id
// order.
func (t *tx) DirGroupsOf(tenant policy.TenantID, member string) ([]policy.DirGroupID, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	tb, err := t.tenantBucket(tenant)
	if err != nil {
		return nil, err
	}
	if member == "" {
		return nil, nil
	}
	var out []policy.DirGroupID
	err = scanPrefix(getBucket(tb, bktIdx, bktDGMember), prefix(member), func(k, _ []byte) error {
		out = append(out, policy.DirGroupID(lastPart(k)))
		return nil
	})
	return out, err
}
