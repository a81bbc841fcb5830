package bolt

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

var _ store.BulkTx = (*tx)(nil)

// CreateUsers implements store.BulkTx: the same checks, records and index
// entries as one CreateUser per user, written faster, and one audit entry
// (policy.OpCreateBatch) naming them.
// The checks that need no store (tenant, id, policy validation) and the
// JSON encoding run on every CPU; each index's entries are then put in key
// order, so that bbolt walks its B+tree from left to right rather than
// all over it.
func (t *tx) CreateUsers(tenant policy.TenantID, us []policy.User) ([]policy.User, error) {
	if err := t.write(); err != nil {
		return nil, err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return nil, err
	}
	out := make([]policy.User, len(us))
	fresh := make([]bool, len(us))
	for i, u := range us {
		if fresh[i] = u.ID == ""; fresh[i] {
			// Assigned in order, so that the ids of a batch ascend
			// like those of successive CreateUser calls.
			u.ID = policy.UserID(store.NewID())
		}
		u.Created, u.Updated, u.Version = t.now, t.now, 1
		out[i] = u
	}
	// What a user's own record decides: refused, or its encoding.
	pureErr := make([]error, len(us))
	enc := make([][]byte, len(us))
	encErr := make([]error, len(us))
	store.Parallel(len(us), func(i int) {
		u := &out[i]
		if err := checkID("user", string(u.ID)); err != nil {
			pureErr[i] = err
			return
		}
		if err := store.PrepareUser(tenant, u); err != nil {
			pureErr[i] = err
			return
		}
		enc[i], encErr[i] = encodeUser(*u)
	})
	// What the store and the users before decide, in order, as CreateUser
	// would: the first refused user ends the batch.
	idx := tb.Bucket(bktIdx)
	names, exts := idx.Bucket(bktUserName), idx.Bucket(bktUserExt)
	folds := make([]string, len(us))
	takenName := make(map[string]bool, len(us))
	takenExt := make(map[string]bool, len(us))
	// Ids chosen by the caller (an LDAP first load chooses them when it
	// reads the users) must be new store-wide: looked up in one cursor
	// walk per id index rather than two Gets per user.
	var given []policy.UserID
	for i := range out {
		if !fresh[i] && given == nil {
			given = make([]policy.UserID, 0, len(out)-i)
		}
		if !fresh[i] && pureErr[i] == nil {
			given = append(given, out[i].ID)
		}
	}
	takenID := make(map[policy.UserID]bool, len(given))
	stored := map[policy.UserID]bool{}
	if len(given) > 0 {
		root := t.root.Bucket(bktIdx)
		all := func([]byte) bool { return true }
		stored = matchSorted(root.Bucket(bktUserTenant), given, all)
		for id := range matchSorted(root.Bucket(bktDGTenant), given, all) {
			stored[id] = true
		}
	}
	n := len(us)
	var refused error
	var kb []byte // the key of a Get (bbolt keeps no key it is asked)
	get := func(b *bbolt.Bucket, k string) []byte {
		kb = append(kb[:0], k...)
		return b.Get(kb)
	}
	for i := range out {
		u := &out[i]
		err := pureErr[i]
		if err == nil && !fresh[i] && (takenID[u.ID] || stored[u.ID]) {
			err = fmt.Errorf("bolt: user id %s: %w", u.ID, store.ErrExists)
		}
		if err == nil {
			folds[i] = policy.FoldUserName(u.UserName)
			if takenName[folds[i]] || get(names, folds[i]) != nil {
				err = fmt.Errorf("bolt: userName %q in tenant %q: %w", u.UserName, tenant, store.ErrExists)
			}
		}
		if err == nil && u.ExternalID != "" && (takenExt[u.ExternalID] || get(exts, u.ExternalID) != nil) {
			err = fmt.Errorf("bolt: user externalId %q in tenant %q: %w", u.ExternalID, tenant, store.ErrExists)
		}
		if err == nil {
			err = encErr[i]
		}
		if err == nil {
			// What put would refuse, refused before anything is put.
			err = cmp.Or(keyFits([]byte(u.ID)), keyFits([]byte(folds[i])), keyFits([]byte(u.ExternalID)))
			for _, e := range emailEntries(*u) {
				err = cmp.Or(err, keyFits(e.k))
			}
		}
		if err != nil {
			n, refused = i, &store.BulkError{Index: i, Err: err}
			break
		}
		takenName[folds[i]] = true
		if u.ExternalID != "" {
			takenExt[u.ExternalID] = true
		}
		if !fresh[i] {
			takenID[u.ID] = true
		}
	}
	out = out[:n]

	// The records and their index entries, each bucket in key order.
	recs := make([]kv, n)
	nameKV := make([]kv, n)
	tenantKV := make([]kv, n)
	extKV := make([]kv, 0, n)
	emailKV := make([]kv, 0, n)
	tn := []byte(tenant)
	for i := range out {
		u := &out[i]
		id := []byte(u.ID)
		recs[i] = kv{id, enc[i]}
		nameKV[i] = kv{[]byte(folds[i]), id}
		tenantKV[i] = kv{id, tn}
		if u.ExternalID != "" {
			extKV = append(extKV, kv{[]byte(u.ExternalID), id})
		}
		emailKV = append(emailKV, emailEntries(*u)...)
	}
	ut := getBucket(t.root, bktIdx, bktUserTenant)
	ut.FillPercent = 0.9 // as putUserIndexes
	if err := putAll([]bucketKVs{
		{b: users, kvs: recs},
		{b: names, kvs: nameKV},
		{b: exts, kvs: extKV},
		{b: getBucket(tb, bktIdx, bktUserEmail), kvs: emailKV},
		{b: ut, kvs: tenantKV},
	}); err != nil {
		return nil, err
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = string(out[i].ID)
	}
	if err := t.journal.CreatedBatch(policy.KindUser, tenant, ids, enc, func(i int) any { return out[i] }); err != nil {
		return nil, err
	}
	if refused != nil {
		return out, refused
	}
	return out, nil
}

// inTenantSorted returns the ids that the store-wide id index b maps to
// tenant. It sorts them and walks one cursor forward from each to the
// next, instead of searching the B+tree from its root for each (a first
// load's groups list most of the tenant's users, many times over).
func inTenantSorted[T ~string](b *bbolt.Bucket, ids []T, tenant policy.TenantID) map[T]bool {
	return matchSorted(b, ids, func(v []byte) bool { return string(v) == string(tenant) })
}

// matchSorted returns the ids that are keys of b whose value match
// accepts, in one cursor walk (see inTenantSorted). The answer's map
// first collects the distinct ids, so that only those are sorted (a first
// load's groups: 264,000 member ids, 100,000 distinct).
func matchSorted[T ~string](b *bbolt.Bucket, ids []T, match func(v []byte) bool) map[T]bool {
	in := make(map[T]bool, len(ids))
	for _, id := range ids {
		if id != "" {
			in[id] = false
		}
	}
	distinct := make([]T, 0, len(in))
	for id := range in {
		distinct = append(distinct, id)
	}
	slices.Sort(distinct)
	c := b.Cursor()
	var k, v []byte
	started := false
	for _, id := range distinct {
		if !started {
			k, v = c.Seek([]byte(id))
			started = true
		}
		// Step forward a little; seek when the next id is further.
		for steps := 0; k != nil && string(k) < string(id); steps++ {
			if steps == 8 {
				k, v = c.Seek([]byte(id))
				break
			}
			k, v = c.Next()
		}
		if k != nil && string(k) == string(id) && match(v) {
			in[id] = true
		} else {
			delete(in, id)
		}
	}
	return in
}

// joinedKV is a bulk entry whose key is its parts joined by NUL (as key
// joins them), built only when it is put (putJoined): bbolt copies every
// key it is given, so one buffer serves all the puts of a list, where
// keys built in advance were each a copy more (a first load's member keys
// and reverse index entries: 500,000 keys, 40 MB). Unused trailing parts
// are "". The parts hold no NUL (ids never do: checkID), so comparing
// the parts one after the other orders the entries as their keys.
type joinedKV struct {
	parts [3]string
	v     []byte
}

// appendKey appends e's key to buf.
func (e *joinedKV) appendKey(buf []byte) []byte {
	for i, p := range e.parts {
		if i > 0 {
			if p == "" {
				break
			}
			buf = append(buf, 0)
		}
		buf = append(buf, p...)
	}
	return buf
}

// compareJoined orders joinedKVs with the same number of parts as their
// keys.
func compareJoined(a, b joinedKV) int {
	return cmp.Or(strings.Compare(a.parts[0], b.parts[0]), strings.Compare(a.parts[1], b.parts[1]),
		strings.Compare(a.parts[2], b.parts[2]))
}

// sortJoined sorts es by key, unless they are.
func sortJoined(es []joinedKV) {
	if !slices.IsSortedFunc(es, compareJoined) {
		slices.SortFunc(es, compareJoined)
	}
}

// putJoined puts es into b in key order, as putSorted puts a list of kv.
func putJoined(b *bbolt.Bucket, es []joinedKV) error {
	sortJoined(es)
	buf := make([]byte, 0, 128)
	if len(es) > 0 {
		buf = es[0].appendKey(buf[:0])
		if last, _ := b.Cursor().Last(); last == nil || bytes.Compare(last, buf) < 0 {
			b.FillPercent = 1.0
		}
	}
	for i := range es {
		buf = es[i].appendKey(buf[:0])
		if err := put(b, buf, es[i].v); err != nil {
			return err
		}
	}
	return nil
}

// keyFits refuses, as put does, a key too long for bbolt.
func keyFits(k []byte) error {
	if len(k) > bbolt.MaxKeySize {
		return fmt.Errorf("bolt: put a key of %d bytes: %w: %w", len(k), bolterrors.ErrKeyTooLarge, store.ErrInvalid)
	}
	return nil
}

// bucketKVs is a list of entries to put into a bucket: kvs, or joined
// (joinedKV).
type bucketKVs struct {
	b      *bbolt.Bucket
	kvs    []kv
	joined []joinedKV
}

// putAll puts each list into its bucket in key order (putSorted), one
// list after the other. The lists are sorted on another goroutine
// meanwhile, so that putting one overlaps sorting the next (the reverse
// membership index of a first load's groups: 100,000s of keys). Only the
// puts touch the transaction.
func putAll(ws []bucketKVs) error {
	sorted := make([]chan struct{}, len(ws))
	for i := range sorted {
		sorted[i] = make(chan struct{})
	}
	go func() {
		for i, w := range ws {
			sortKVs(w.kvs)
			sortJoined(w.joined)
			close(sorted[i])
		}
	}()
	// The sorter is done with every list when this returns.
	defer func() { <-sorted[len(ws)-1] }()
	for i, w := range ws {
		<-sorted[i]
		if err := putSorted(w.b, w.kvs); err != nil {
			return err
		}
		if err := putJoined(w.b, w.joined); err != nil {
			return err
		}
	}
	return nil
}

// sortKVs sorts kvs by key, unless they are.
func sortKVs(kvs []kv) {
	byKey := func(a, b kv) int { return bytes.Compare(a.k, b.k) }
	if !slices.IsSortedFunc(kvs, byKey) {
		slices.SortFunc(kvs, byKey)
	}
}

// putSorted puts kvs into b in key order. When every key comes after b's
// last (a first load into an empty bucket, or keys that grow), the pages
// are filled before they split, as for time-ordered ids: bbolt's default
// would leave each page of such a load half empty (100,000 users: 25 MiB
// more of name, externalId and email index pages written).
func putSorted(b *bbolt.Bucket, kvs []kv) error {
	sortKVs(kvs)
	if len(kvs) > 0 {
		if last, _ := b.Cursor().Last(); last == nil || bytes.Compare(last, kvs[0].k) < 0 {
			b.FillPercent = 1.0
		}
	}
	for _, e := range kvs {
		if err := put(b, e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}

// CreateDirGroups implements store.BulkTx: the same checks, records,
// member keys and index entries as one CreateDirGroup per group, in order (a group may list groups created before it in the same
// call). Validation and encoding run on every CPU; the member keys, the
// reverse index and the other indexes are each put in key order. One
// audit entry (policy.OpCreateBatch) names the groups.
func (t *tx) CreateDirGroups(tenant policy.TenantID, gs []policy.DirGroup) ([]policy.DirGroup, error) {
	if err := t.write(); err != nil {
		return nil, err
	}
	tb, dgs, err := t.dgScope(tenant)
	if err != nil {
		return nil, err
	}
	out := make([]policy.DirGroup, len(gs))
	fresh := make([]bool, len(gs))
	for i, g := range gs {
		if fresh[i] = g.ID == ""; fresh[i] {
			g.ID = policy.DirGroupID(store.NewID())
		}
		g.Created, g.Updated, g.Version = t.now, t.now, 1
		out[i] = g
	}
	root := t.root.Bucket(bktIdx)
	userTenant, dgTenant := root.Bucket(bktUserTenant), root.Bucket(bktDGTenant)
	// The member users of all the groups are looked up in one pass, on
	// another goroutine while the groups are checked and encoded (which
	// does not touch the transaction): the lists as given, which
	// PrepareDirGroup only rids of duplicates, of every group, even one
	// refused below (a first load's groups: 155,000 member ids a
	// transaction, 0.06-0.1 s of lookups).
	nu := 0
	for i := range out {
		nu += len(out[i].MemberUsers)
	}
	memberUsers := make([]policy.UserID, 0, nu)
	for i := range out {
		memberUsers = append(memberUsers, out[i].MemberUsers...)
	}
	usersInC := make(chan map[policy.UserID]bool, 1)
	go func() { usersInC <- inTenantSorted(userTenant, memberUsers, tenant) }()
	pureErr := make([]error, len(gs))
	full := make([][]byte, len(gs))
	head := make([][]byte, len(gs))
	encErr := make([]error, len(gs))
	store.Parallel(len(gs), func(i int) {
		g := &out[i]
		if err := checkID("directory group", string(g.ID)); err != nil {
			pureErr[i] = err
			return
		}
		if err := store.PrepareDirGroup(tenant, g); err != nil {
			pureErr[i] = err
			return
		}
		if full[i], encErr[i] = encode(*g, "directory group"); encErr[i] != nil {
			return
		}
		head[i] = full[i]
		if len(g.MemberUsers)+len(g.MemberGroups) > 0 {
			head[i], encErr[i] = encode(header(*g), "directory group")
		}
	})
	usersIn := <-usersInC
	idx := tb.Bucket(bktIdx)
	exts := idx.Bucket(bktDGExt)
	inTenant := func(b *bbolt.Bucket, id string) bool { return id != "" && string(b.Get([]byte(id))) == string(tenant) }
	takenExt := make(map[string]bool, len(gs))
	made := make(map[policy.DirGroupID]bool, len(gs)) // ids of this call's groups so far
	n := len(gs)
	var refused error
	for i := range out {
		g := &out[i]
		err := pureErr[i]
		if err == nil && !fresh[i] && (made[g.ID] || t.idTaken(string(g.ID))) {
			err = fmt.Errorf("bolt: directory group id %s: %w", g.ID, store.ErrExists)
		}
		if err == nil && g.ExternalID != "" && (takenExt[g.ExternalID] || exts.Get([]byte(g.ExternalID)) != nil) {
			err = fmt.Errorf("bolt: directory group externalId %q in tenant %q: %w", g.ExternalID, tenant, store.ErrExists)
		}
		if err == nil {
			for _, u := range g.MemberUsers {
				if !usersIn[u] {
					err = fmt.Errorf("bolt: member user %q of directory group %s in tenant %q: %w", u, g.ID, g.Tenant, store.ErrNotFound)
					break
				}
			}
		}
		if err == nil {
			for _, m := range g.MemberGroups {
				if !made[m] && !inTenant(dgTenant, string(m)) {
					err = fmt.Errorf("bolt: member group %q of directory group %s in tenant %q: %w", m, g.ID, g.Tenant, store.ErrNotFound)
					break
				}
			}
		}
		if err == nil {
			err = encErr[i]
		}
		if err == nil {
			err = cmp.Or(keyFits([]byte(g.ID)), keyFits([]byte(g.ExternalID)), keyFits(key(policy.FoldName(g.DisplayName), string(g.ID))))
		}
		if err != nil {
			n, refused = i, &store.BulkError{Index: i, Err: err}
			break
		}
		made[g.ID] = true
		if g.ExternalID != "" {
			takenExt[g.ExternalID] = true
		}
	}
	out = out[:n]

	// Member keys get their positions in order, as writeMemberKeys
	// gives them one CreateDirGroup after another.
	mb := tb.Bucket(bktDGMembers)
	// The new groups' ids are time-ordered and newer than every stored
	// one, so their records, member keys and tenant index entries append
	// at the right edge: fill pages before splitting (as for users).
	dgs.FillPercent, mb.FillPercent, dgTenant.FillPercent = 1.0, 1.0, 0.9
	seq := mb.Sequence()
	// A first load's groups hold hundreds of thousands of memberships:
	// their keys are joined only when put (joinedKV), their positions cut
	// from one buffer. The member lists are unique (PrepareDirGroup), so
	// each member is one addition, users first, as policy.MembersDiff from
	// an empty group lists them.
	nm := 0
	for i := range out {
		nm += len(out[i].MemberUsers) + len(out[i].MemberGroups)
	}
	recs, extKV, nameKV, tenantKV := make([]kv, 0, n), make([]kv, 0, n), make([]kv, 0, n), make([]kv, 0, n)
	// Both keys name the member and the group: id, NUL, tag, NUL,
	// member; member, NUL, id.
	memberKV, reverseKV := make([]joinedKV, 0, nm), make([]joinedKV, 0, nm)
	pos := make([]byte, 0, 8*nm)
	tn := []byte(tenant)
	member := func(g policy.DirGroupID, tag, id string, at uint64) {
		pos = binary.BigEndian.AppendUint64(pos, at)
		memberKV = append(memberKV, joinedKV{parts: [3]string{string(g), tag, id}, v: pos[len(pos)-8:]})
		reverseKV = append(reverseKV, joinedKV{parts: [3]string{id, string(g)}})
	}
	for i := range out {
		g := &out[i]
		id := []byte(g.ID)
		recs = append(recs, kv{id, head[i]})
		if g.ExternalID != "" {
			extKV = append(extKV, kv{[]byte(g.ExternalID), id})
		}
		nameKV = append(nameKV, kv{key(policy.FoldName(g.DisplayName), string(g.ID)), id})
		tenantKV = append(tenantKV, kv{id, tn})
		// Positions: users first, then groups. Keys: tagGroup sorts
		// before tagUser, so with sorted lists (a sync's) the member keys
		// of a batch come out in key order and need no sort.
		nu := uint64(len(g.MemberUsers))
		for k, m := range g.MemberGroups {
			member(g.ID, tagGroup, string(m), seq+nu+uint64(k)+1)
		}
		for k, u := range g.MemberUsers {
			member(g.ID, tagUser, string(u), seq+uint64(k)+1)
		}
		seq += nu + uint64(len(g.MemberGroups))
	}
	if err := putAll([]bucketKVs{
		{b: dgs, kvs: recs},
		{b: mb, joined: memberKV},
		{b: exts, kvs: extKV},
		{b: idx.Bucket(bktDGName), kvs: nameKV},
		{b: dgTenant, kvs: tenantKV},
		{b: idx.Bucket(bktDGMember), joined: reverseKV},
	}); err != nil {
		return nil, err
	}
	if err := mb.SetSequence(seq); err != nil {
		return nil, fmt.Errorf("bolt: member sequence: %w", err)
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = string(out[i].ID)
	}
	if err := t.journal.CreatedBatch(policy.KindDirGroup, tenant, ids, full, func(i int) any { return out[i] }); err != nil {
		return nil, err
	}
	if refused != nil {
		return out, refused
	}
	return out, nil
}
