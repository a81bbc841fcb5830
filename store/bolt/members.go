package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Members of directory groups are kept as keys (schema 2), not inside the
// group's record, so that adding or removing one member of a large group
// writes a few keys and a small record instead of the whole list:
//
//	t/<tenantID>/dg_members/<dirGroupID>·u·<userID>    → 8-byte position
//	t/<tenantID>/dg_members/<dirGroupID>·g·<memberID>  → 8-byte position
//
// The position is the bucket's sequence when the member was added, so a
// group's lists read back in the order they were written (the canonical
// form of policy.UniqueMembers). The record in dirgroups/ holds everything
// else; its memberUsers and memberGroups are empty.

// The middle part of a member key: what the member is.
const (
	tagUser  = "u"
	tagGroup = "g"
)

func memberTag(k policy.MemberKind) string {
	if k == policy.MemberGroup {
		return tagGroup
	}
	return tagUser
}

func memberKey(g policy.DirGroupID, k policy.MemberKind, id string) []byte {
	return key(string(g), memberTag(k), id)
}

// memberIDs returns the ids listed under g with tag, in position order.
func memberIDs[T ~string](mb *bbolt.Bucket, g policy.DirGroupID, tag string) []T {
	if mb == nil {
		return nil
	}
	type posID struct {
		pos uint64
		id  T
	}
	var list []posID
	_ = scanPrefix(mb, prefix(string(g), tag), func(k, v []byte) error {
		var pos uint64
		if len(v) == 8 {
			pos = binary.BigEndian.Uint64(v)
		}
		list = append(list, posID{pos, T(lastPart(k))})
		return nil
	})
	slices.SortStableFunc(list, func(a, b posID) int { return cmp.Compare(a.pos, b.pos) })
	out := make([]T, len(list))
	for i, x := range list {
		out[i] = x.id
	}
	return out
}

// decodeDG decodes the record v of tenant bucket tb and attaches the
// members kept as keys. (A record of schema 1, read without migration,
// still lists its members itself.)
func decodeDG(tb *bbolt.Bucket, v []byte) (policy.DirGroup, error) {
	g, err := decode[policy.DirGroup](v, "directory group")
	if err != nil {
		return g, err
	}
	attachMembers(tb, &g)
	return g, nil
}

// attachMembers appends to g's lists the members kept as keys.
func attachMembers(tb *bbolt.Bucket, g *policy.DirGroup) {
	mb := tb.Bucket(bktDGMembers)
	if u := memberIDs[policy.UserID](mb, g.ID, tagUser); len(u) > 0 {
		g.MemberUsers = append(g.MemberUsers, u...)
	}
	if m := memberIDs[policy.DirGroupID](mb, g.ID, tagGroup); len(m) > 0 {
		g.MemberGroups = append(g.MemberGroups, m...)
	}
}

// header returns g without its member lists: what dirgroups/ holds.
func header(g policy.DirGroup) policy.DirGroup {
	g.MemberUsers, g.MemberGroups = nil, nil
	return g
}

// putDG writes g (already validated, with Version and times set) as its
// record and its member keys, replacing old's member keys (old is nil for
// a new group), and returns the full encoding for the audit entry.
func putDG(tb *bbolt.Bucket, g policy.DirGroup, old *policy.DirGroup) ([]byte, error) {
	full, err := encode(g, "directory group")
	if err != nil {
		return nil, err
	}
	h := full
	if len(g.MemberUsers)+len(g.MemberGroups) > 0 {
		if h, err = encode(header(g), "directory group"); err != nil {
			return nil, err
		}
	}
	if err := put(tb.Bucket(bktDirGroups), []byte(g.ID), h); err != nil {
		return nil, err
	}
	mb := tb.Bucket(bktDGMembers)
	var prev policy.DirGroup
	if old != nil {
		prev = *old
	}
	c := policy.MembersDiff(prev, g.MemberUsers, g.MemberGroups)
	if u, m := policy.ApplyMembers(prev, c); !slices.Equal(u, g.MemberUsers) || !slices.Equal(m, g.MemberGroups) {
		// Same members in another order: write the lists anew.
		if err := dropMemberKeys(mb, g.ID); err != nil {
			return nil, err
		}
		c = policy.MembersDiff(policy.DirGroup{}, g.MemberUsers, g.MemberGroups)
	}
	if err := writeMemberKeys(mb, g.ID, c); err != nil {
		return nil, err
	}
	return full, nil
}

// writeMemberKeys applies a net change (kinds set) to the member keys of g.
func writeMemberKeys(mb *bbolt.Bucket, g policy.DirGroupID, c policy.MembersChange) error {
	for _, r := range c.Remove {
		if err := del(mb, memberKey(g, r.Kind, r.ID)); err != nil {
			return err
		}
	}
	for _, a := range c.Add {
		seq, err := mb.NextSequence()
		if err != nil {
			return fmt.Errorf("bolt: member sequence: %w", err)
		}
		if err := put(mb, memberKey(g, a.Kind, a.ID), be8(seq)); err != nil {
			return err
		}
	}
	return nil
}

// dropMemberKeys deletes every member key of g.
func dropMemberKeys(mb *bbolt.Bucket, g policy.DirGroupID) error {
	if mb == nil {
		return nil
	}
	for _, k := range keysWithPrefix(mb, prefix(string(g))) {
		if err := del(mb, k); err != nil {
			return err
		}
	}
	return nil
}

// ChangeMembers implements store.MemberChanger: the members' keys, their
// reverse-index entries and the group's small record are written; the
// member lists are never read whole. New members are resolved through the
// store-wide id indexes (idx/user_tenant, idx/dg_tenant), once each. The
// audit entry has Op policy.OpMembers and the net change as After.
func (t *tx) ChangeMembers(tenant policy.TenantID, id policy.DirGroupID, u store.MemberUpdate) (store.MemberResult, error) {
	if err := t.write(); err != nil {
		return store.MemberResult{}, err
	}
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return store.MemberResult{}, err
	}
	v := dgs.Get([]byte(id))
	if v == nil || id == "" {
		return store.MemberResult{}, notFoundDG(tenant, id)
	}
	g, err := decode[policy.DirGroup](v, "directory group")
	if err != nil {
		return store.MemberResult{}, err
	}
	if u.Version != 0 {
		if err := store.CheckVersion("directory group", id, g.Version, u.Version); err != nil {
			return store.MemberResult{}, err
		}
	}
	mb := tb.Bucket(bktDGMembers)
	isMember := func(m string) (policy.MemberKind, bool) {
		switch {
		case mb.Get(memberKey(id, policy.MemberUser, m)) != nil:
			return policy.MemberUser, true
		case mb.Get(memberKey(id, policy.MemberGroup, m)) != nil:
			return policy.MemberGroup, true
		}
		return "", false
	}
	idx := t.root.Bucket(bktIdx)
	users, groups := idx.Bucket(bktUserTenant), idx.Bucket(bktDGTenant)
	resolve := func(r policy.MemberRef) (policy.MemberKind, error) {
		if r.ID != "" {
			if r.Kind != policy.MemberGroup && string(users.Get([]byte(r.ID))) == string(tenant) {
				return policy.MemberUser, nil
			}
			if r.Kind != policy.MemberUser && string(groups.Get([]byte(r.ID))) == string(tenant) {
				return policy.MemberGroup, nil
			}
		}
		return "", &store.UnknownMemberError{Tenant: tenant, Group: id, Member: r}
	}
	c, err := store.ResolveMembers(id, policy.MembersChange{Add: u.Add, Remove: u.Remove}, isMember, resolve)
	if err != nil {
		return store.MemberResult{}, err
	}
	if u.Check != nil {
		if err := u.Check(c); err != nil {
			return store.MemberResult{}, err
		}
	}
	res := store.MemberResult{Applied: c, Version: g.Version, Updated: g.Updated}
	if c.Empty() {
		return res, nil
	}
	if err := writeMemberKeys(mb, id, c); err != nil {
		return store.MemberResult{}, err
	}
	// The member indexes, from the delta alone: the entries of the
	// members removed against those of the members added.
	removed, added := policy.DirGroup{ID: id}, policy.DirGroup{ID: id}
	removed.MemberUsers, removed.MemberGroups = policy.ApplyMembers(policy.DirGroup{}, policy.MembersChange{Add: c.Remove})
	added.MemberUsers, added.MemberGroups = policy.ApplyMembers(policy.DirGroup{}, policy.MembersChange{Add: c.Add})
	if err := t.writeIndexes(tb, dgIndexes(&removed, &added, true)); err != nil {
		return store.MemberResult{}, err
	}
	g = header(g)
	g.Updated, g.Version = t.now, g.Version+1
	h, err := encode(g, "directory group")
	if err != nil {
		return store.MemberResult{}, err
	}
	if err := put(dgs, []byte(id), h); err != nil {
		return store.MemberResult{}, err
	}
	res.Version, res.Updated = g.Version, g.Updated
	return res, t.journal.MembersChanged(tenant, id, c)
}

var _ store.MemberChanger = (*tx)(nil)

// migrateMembers moves the member lists out of every directory-group
// record under root into member keys (schema 1 to 2). It is idempotent: a
// record without member lists is left alone.
func migrateMembers(root *bbolt.Bucket) (int, error) {
	n := 0
	for _, tn := range tenantIDs(root) {
		tb := getBucket(root, bktTenantData, []byte(tn))
		mb, err := createBucket(tb, bktDGMembers)
		if err != nil {
			return n, err
		}
		dgs := tb.Bucket(bktDirGroups)
		if dgs == nil {
			continue
		}
		type rec struct {
			k []byte
			g policy.DirGroup
		}
		var move []rec
		err = dgs.ForEach(func(k, v []byte) error {
			if v == nil || !bytes.Contains(v, []byte(`"member`)) {
				return nil
			}
			g, err := decode[policy.DirGroup](v, "directory group")
			if err != nil {
				return nil // left for the quarantine sweep
			}
			if len(g.MemberUsers)+len(g.MemberGroups) > 0 {
				move = append(move, rec{bytes.Clone(k), g})
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		for _, r := range move {
			// Keys already there (an interrupted run) are replaced.
			if err := dropMemberKeys(mb, r.g.ID); err != nil {
				return n, err
			}
			c := policy.MembersDiff(policy.DirGroup{}, policy.UniqueMembers(r.g.MemberUsers), policy.UniqueMembers(r.g.MemberGroups))
			if err := writeMemberKeys(mb, r.g.ID, c); err != nil {
				return n, err
			}
			h, err := encode(header(r.g), "directory group")
			if err != nil {
				return n, err
			}
			if err := put(dgs, r.k, h); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
