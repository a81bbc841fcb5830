package bolt

// This file holds the cascade of a user's deletion into the directory groups that list it, flushed once per transaction.

import (
	"slices"

	"github.com/roster-dev/roster/policy"
	bbolt "go.etcd.io/bbolt"
)

type dgRef struct {
	tenant policy.TenantID
	id     policy.DirGroupID
}

type pendingDG struct {
	removeUsers  map[policy.UserID]bool
	removeGroups map[policy.DirGroupID]bool
}

// dropMember removes member from every directory group of the tenant that
// lists it: the reverse-index entries go now, the groups are rewritten by
// flush. mark records the removal in a group's pending entry.
func (t *tx) dropMember(tb *bbolt.Bucket, tenant policy.TenantID, member string, mark func(*pendingDG)) error {
	rev := getBucket(tb, bktIdx, bktDGMember)
	for _, k := range keysWithPrefix(rev, prefix(member)) {
		g := policy.DirGroupID(lastPart(k))
		mark(t.pendingFor(tenant, g))
		if err := del(rev, k); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) pendingFor(tenant policy.TenantID, id policy.DirGroupID) *pendingDG {
	r := dgRef{tenant, id}
	if pd, ok := t.pending[r]; ok {
		return pd
	}
	if t.pending == nil {
		t.pending = map[dgRef]*pendingDG{}
	}
	pd := &pendingDG{removeUsers: map[policy.UserID]bool{}, removeGroups: map[policy.DirGroupID]bool{}}
	t.pending[r] = pd
	t.pendingOrder = append(t.pendingOrder, r)
	return pd
}

// flush rewrites the directory groups that lost members through cascades.
func (t *tx) flush() error {
	if len(t.pendingOrder) == 0 {
		return nil
	}
	order, pending := t.pendingOrder, t.pending
	t.pendingOrder, t.pending = nil, nil
	for _, r := range order {
		pd := pending[r]
		tb, err := t.tenantBucket(r.tenant)
		if err != nil {
			return err
		}
		v := tb.Bucket(bktDirGroups).Get([]byte(r.id))
		if v == nil {
			continue // deleted meanwhile
		}
		old, err := decodeDG(tb, v)
		if err != nil {
			return err
		}
		before, err := encode(old, "directory group")
		if err != nil {
			return err
		}
		g := old
		g.MemberUsers, g.MemberGroups = slices.Clone(old.MemberUsers), slices.Clone(old.MemberGroups)
		g.MemberUsers = nilIfEmpty(slices.DeleteFunc(g.MemberUsers, func(u policy.UserID) bool { return pd.removeUsers[u] }))
		g.MemberGroups = nilIfEmpty(slices.DeleteFunc(g.MemberGroups, func(m policy.DirGroupID) bool { return pd.removeGroups[m] }))
		g.Updated, g.Version = t.now, g.Version+1
		after, err := putDG(tb, g, &old)
		if err != nil {
			return err
		}
		if err := t.audit(r.tenant, policy.KindDirGroup, policy.OpUpdate, string(g.ID), before, after); err != nil {
			return err
		}
	}
	return nil
}

// nilIfEmpty returns nil for an empty slice, so that a group left without
// members encodes as it did when created without them.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
