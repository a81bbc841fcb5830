package bolt

// This file holds the cascade of a user's deletion into the directory groups that list it, flushed once per transaction.

import (
	"github.com/roster-dev/roster/policy"
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

// flush rewrites the directory groups that lost members through cascades.
func (t *tx) flush() error {
	for _, rw := range t.cascade.Take() {
		tb, err := t.tenantBucket(rw.Tenant)
		if err != nil {
			return err
		}
		v := tb.Bucket(bktDirGroups).Get([]byte(rw.ID))
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
		g := rw.Apply(old, t.now)
		after, err := putDG(tb, g, &old)
		if err != nil {
			return err
		}
		t.journal.Cascaded(rw, before, after)
	}
	return nil
}
