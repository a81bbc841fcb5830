package bolt

// This file holds the cascade of a user's deletion into the directory groups that list it, flushed once per transaction.

import (
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	bbolt "go.etcd.io/bbolt"
)

// dropMember removes member from every directory group of the tenant that
// lists it: the reverse-index entries go now, the groups are rewritten by
// flush. mark records the removal from group g in t.cascade.
func (t *tx) dropMember(tb *bbolt.Bucket, member string, mark func(g policy.DirGroupID)) error {
	rev := getBucket(tb, bktIdx, bktDGMember)
	for _, k := range keysWithPrefix(rev, prefix(member)) {
		g := policy.DirGroupID(lastPart(k))
		mark(g)
		if err := del(rev, k); err != nil {
			return err
		}
	}
	return nil
}

// flush makes the rewrites of the directory groups that lost members
// through cascades (store.Cascade.Flush decides which, skipping a group
// deleted meanwhile); it only writes them.
func (t *tx) flush() error {
	return t.cascade.Flush(t, t.now, func(rw *store.CascadeRewrite, old, g policy.DirGroup) error {
		tb, err := t.tenantBucket(rw.Tenant)
		if err != nil {
			return err
		}
		before, err := encode(old, "directory group")
		if err != nil {
			return err
		}
		after, err := putDG(tb, g, &old)
		if err != nil {
			return err
		}
		t.journal.Cascaded(rw, before, after, old, g)
		return nil
	})
}
