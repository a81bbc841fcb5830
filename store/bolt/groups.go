package bolt

// This file holds user groups: create, read by id and slug, update, delete.

import (
	"bytes"
	"fmt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	bbolt "go.etcd.io/bbolt"
)

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
	if err := store.NewGroup(&g, t.now, checkID); err != nil {
		return policy.Group{}, err
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
	return t.putGroup(groups, nil, nil, g)
}

// putGroup writes g over old (nil for a new group, whose encoding before
// is then nil too), its indexes and its audit entry.
func (t *tx) putGroup(groups *bbolt.Bucket, old *policy.Group, before []byte, g policy.Group) (policy.Group, error) {
	v, err := encode(g, "group")
	if err != nil {
		return policy.Group{}, err
	}
	if err := put(groups, []byte(g.ID), v); err != nil {
		return policy.Group{}, err
	}
	if err := t.writeIndexes(nil, groupIndexes(old, &g)); err != nil {
		return policy.Group{}, err
	}
	var prev any // the typed record for the change feed
	if old != nil {
		prev = *old
	}
	t.journal.Put(policy.KindGroup, "", string(g.ID), before, v, prev, g)
	return g, nil
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
	if err := store.ChangeGroup(old, &g, t.now, checkID); err != nil {
		return policy.Group{}, err
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
	return t.putGroup(groups, &old, before, g)
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
	t.journal.Deleted(policy.KindGroup, "", string(id), before, old)
	return nil
}

// Groups implements store.Tx: all user groups in id order.
func (t *tx) Groups() ([]policy.Group, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	return decodeAll[policy.Group](t.root.Bucket(bktGroups), "group")
}
