package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// quarantineActor is the actor of the audit entries the open-time sweep
// writes.
const quarantineActor = "bolt:quarantine"

// quarantineEntry is the value of quarantine/<seq>: where the record was,
// why it was set aside, and its bytes as they were.
type quarantineEntry struct {
	store.Quarantined
	// Path is the record's bucket, relative to the root bucket.
	Path [][]byte `json:"path"`
	// RawKey is the record's key in that bucket.
	RawKey []byte `json:"rawKey"`
}

// source is one bucket of typed records that the sweep reads.
type source struct {
	kind   policy.Kind
	tenant policy.TenantID
	path   [][]byte
}

// sources lists every bucket of typed records.
func sources(root *bbolt.Bucket) []source {
	out := []source{{kind: policy.KindTenant, path: [][]byte{bktTenants}}}
	for _, tn := range tenantIDs(root) {
		out = append(out,
			source{kind: policy.KindUser, tenant: policy.TenantID(tn), path: [][]byte{bktTenantData, []byte(tn), bktUsers}},
			source{kind: policy.KindDirGroup, tenant: policy.TenantID(tn), path: [][]byte{bktTenantData, []byte(tn), bktDirGroups}})
	}
	return append(out,
		source{kind: policy.KindGroup, path: [][]byte{bktGroups}},
		source{kind: policy.KindRole, path: [][]byte{bktRoles}},
		source{kind: policy.KindRule, path: [][]byte{bktRules}},
		source{kind: policy.KindMembership, path: [][]byte{bktMemberships}})
}

// decodeKind decodes v as a record of kind and returns the key it must be
// stored under and its validation error (nil when valid).
func decodeKind(kind policy.Kind, v []byte) (k []byte, tenant policy.TenantID, invalid error, err error) {
	switch kind {
	case policy.KindTenant:
		x, err := decode[policy.Tenant](v, "tenant")
		return []byte(x.ID), x.ID, nil, err
	case policy.KindUser:
		x, err := decode[policy.User](v, "user")
		return []byte(x.ID), x.Tenant, policy.ValidateUser(x), err
	case policy.KindDirGroup:
		x, err := decode[policy.DirGroup](v, "directory group")
		return []byte(x.ID), x.Tenant, policy.ValidateDirGroup(x), err
	case policy.KindGroup:
		x, err := decode[policy.Group](v, "group")
		return []byte(x.ID), "", policy.ValidateGroup(x), err
	case policy.KindRole:
		x, err := decode[policy.Role](v, "role")
		return []byte(x.Name), "", policy.ValidateRole(x), err
	case policy.KindRule:
		x, err := decode[policy.Rule](v, "rule")
		return []byte(x.ID), x.Tenant, nil, err
	case policy.KindMembership:
		x, err := decode[policy.Membership](v, "membership")
		return key(string(x.Group), string(x.User), string(x.Role)), "", nil, err
	}
	return nil, "", nil, fmt.Errorf("bolt: unknown record kind %q", kind)
}

// displayKey renders a record key for people: composite keys with "/".
func displayKey(k []byte) string { return strings.ReplaceAll(string(k), "\x00", "/") }

type unreadable struct {
	src    source
	key    []byte
	value  []byte
	reason string
}

// findUnreadable lists the typed records that do not decode.
func findUnreadable(ctx context.Context, root *bbolt.Bucket) ([]unreadable, error) {
	var out []unreadable
	for _, src := range sources(root) {
		b := getBucket(root, src.path...)
		if b == nil {
			continue
		}
		c := b.Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			if v == nil {
				continue // a nested bucket
			}
			if _, _, _, err := decodeKind(src.kind, v); err != nil {
				out = append(out, unreadable{src: src, key: bytes.Clone(k), value: bytes.Clone(v), reason: errorKind(err)})
			}
		}
	}
	return out, nil
}

// quarantineUnreadable moves every typed record that does not decode to
// the quarantine bucket, logs it (kind, tenant, key and reason; never the
// value) and rebuilds the indexes without it, so that the rest of the
// store is served. It reads first and writes only when there is something
// to move.
func (s *Store) quarantineUnreadable(ctx context.Context) (int, error) {
	var bad []unreadable
	err := s.db.View(func(btx *bbolt.Tx) error {
		var err error
		bad, err = findUnreadable(ctx, rootBucket(btx))
		return err
	})
	if err != nil || len(bad) == 0 {
		return 0, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err = s.db.Update(func(btx *bbolt.Tx) error {
		now := s.now().UTC()
		t := &tx{ctx: ctx, s: s, btx: btx, root: rootBucket(btx), now: now, journal: store.NewJournal(quarantineActor, now)}
		defer func() { t.done = true }()
		// Read again inside the write: another process may have won.
		bad, err := findUnreadable(ctx, t.root)
		if err != nil {
			return err
		}
		for _, u := range bad {
			q, err := t.quarantine(u)
			if err != nil {
				return err
			}
			s.log.Warn("bolt: record could not be read and was quarantined; the rest is served",
				"kind", q.Kind, "tenant", q.Tenant, "key", q.Key, "reason", q.Reason, "size", q.Size, "quarantine", q.ID)
		}
		if _, err = rebuildIndexes(ctx, t.root); err != nil {
			return err
		}
		return t.commit()
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: quarantine: %w", err)
	}
	return len(bad), nil
}

// quarantine moves one record to the quarantine bucket and audits it.
func (t *tx) quarantine(u unreadable) (store.Quarantined, error) {
	qb, err := createBucket(t.root, bktQuarantine)
	if err != nil {
		return store.Quarantined{}, err
	}
	seq, err := qb.NextSequence()
	if err != nil {
		return store.Quarantined{}, fmt.Errorf("bolt: quarantine sequence: %w", err)
	}
	e := quarantineEntry{
		Quarantined: store.Quarantined{
			ID: strconv.FormatUint(seq, 10), Kind: u.src.kind, Tenant: u.src.tenant, Key: displayKey(u.key),
			Reason: u.reason, Size: len(u.value), Time: t.now, Value: u.value,
		},
		Path: u.src.path, RawKey: u.key,
	}
	v, err := json.Marshal(e)
	if err != nil {
		return store.Quarantined{}, fmt.Errorf("bolt: encode quarantine entry: %w", err)
	}
	if err := put(qb, be8(seq), v); err != nil {
		return store.Quarantined{}, err
	}
	if err := del(getBucket(t.root, u.src.path...), u.key); err != nil {
		return store.Quarantined{}, err
	}
	q := e.Quarantined
	q.Value = nil
	detail, err := encode(q, "quarantine entry")
	if err != nil {
		return store.Quarantined{}, err
	}
	t.journal.Event(u.src.tenant, store.OpQuarantine, q.ID, detail)
	return q, nil
}

// entry reads quarantine entry id.
func (t *tx) quarantineEntry(id string) (quarantineEntry, []byte, error) {
	n, err := strconv.ParseUint(id, 10, 64)
	v := getKey(getBucket(t.root, bktQuarantine), be8(n))
	if err != nil || v == nil {
		return quarantineEntry{}, nil, fmt.Errorf("bolt: quarantined record %q: %w", id, store.ErrNotFound)
	}
	e, err := decode[quarantineEntry](v, "quarantine entry")
	return e, be8(n), err
}

// Quarantine implements store.Tx: the quarantined records in the order
// they were set aside, without their values.
func (t *tx) Quarantine() ([]store.Quarantined, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	out := []store.Quarantined{}
	b := getBucket(t.root, bktQuarantine)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(_, v []byte) error {
		e, err := decode[quarantineEntry](v, "quarantine entry")
		if err != nil {
			return err
		}
		e.Value = nil
		out = append(out, e.Quarantined)
		return nil
	})
	return out, err
}

// QuarantinedRecord implements store.Tx.
func (t *tx) QuarantinedRecord(id string) (store.Quarantined, error) {
	if err := t.read(); err != nil {
		return store.Quarantined{}, err
	}
	e, _, err := t.quarantineEntry(id)
	return e.Quarantined, err
}

// RepairQuarantined implements store.Tx. The repaired record must decode
// as its kind, carry the key it had and pass validation; it is stored in
// its compact encoding, the indexes are rebuilt (a unique key taken
// meanwhile is store.ErrExists) and its audit entry is a create, which
// brings it back to the change feed's subscribers.
func (t *tx) RepairQuarantined(id string, value []byte) error {
	if err := t.write(); err != nil {
		return err
	}
	e, qk, err := t.quarantineEntry(id)
	if err != nil {
		return err
	}
	k, tenant, invalid, err := decodeKind(e.Kind, value)
	if err != nil {
		return fmt.Errorf("bolt: repair %s: %s: %w", e.Kind, errorKind(err), store.ErrInvalid)
	}
	if invalid != nil {
		return fmt.Errorf("bolt: repair %s: %w", e.Kind, invalid)
	}
	if !bytes.Equal(k, e.RawKey) || (e.Tenant != "" && tenant != e.Tenant) {
		return fmt.Errorf("bolt: repair %s: the record must keep its id %s and tenant: %w", e.Kind, e.Key, policy.ErrInvalid)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, value); err != nil {
		return fmt.Errorf("bolt: repair %s: %s: %w", e.Kind, errorKind(err), store.ErrInvalid)
	}
	v := compact.Bytes()
	b := getBucket(t.root, e.Path...)
	if b == nil {
		return fmt.Errorf("bolt: repair %s: its bucket is gone (tenant %q): %w", e.Kind, e.Tenant, store.ErrNotFound)
	}
	if b.Get(e.RawKey) != nil {
		return fmt.Errorf("bolt: repair %s %s: a record with its key exists: %w", e.Kind, e.Key, store.ErrExists)
	}
	if e.Kind == policy.KindDirGroup {
		// The repaired record lists its members; they replace the keys
		// kept while it was set aside.
		g, err := decode[policy.DirGroup](v, "directory group")
		if err != nil {
			return err
		}
		tb := getBucket(t.root, bktTenantData, []byte(e.Tenant))
		if err := dropMemberKeys(tb.Bucket(bktDGMembers), g.ID); err != nil {
			return err
		}
		g.MemberUsers, g.MemberGroups = policy.UniqueMembers(g.MemberUsers), policy.UniqueMembers(g.MemberGroups)
		_, err = putDG(tb, g, nil)
		if err != nil {
			return err
		}
	} else if err := put(b, e.RawKey, v); err != nil {
		return err
	}
	if err := del(t.root.Bucket(bktQuarantine), qk); err != nil {
		return err
	}
	if _, err := rebuildIndexes(t.ctx, t.root); err != nil {
		var ie *IndexError
		if errors.As(err, &ie) {
			return fmt.Errorf("bolt: repair %s %s: a unique key is taken: %w", e.Kind, e.Key, store.ErrExists)
		}
		return err
	}
	auditID := e.Key
	if e.Kind == policy.KindMembership {
		if p := splitKey(e.RawKey); len(p) == 3 {
			auditID = policy.MembershipKey(policy.GroupID(p[0]), policy.UserID(p[1]), policy.RoleName(p[2]))
		}
	}
	t.journal.Created(e.Kind, e.Tenant, auditID, bytes.Clone(v), nil)
	return nil
}

// DeleteQuarantined implements store.Tx. A quarantined user or directory
// group is deleted as DeleteUser and DeleteDirGroup would: its manual
// memberships, its membership in directory groups and the rules bound to
// it go too.
func (t *tx) DeleteQuarantined(id string) error {
	if err := t.write(); err != nil {
		return err
	}
	e, qk, err := t.quarantineEntry(id)
	if err != nil {
		return err
	}
	switch e.Kind {
	case policy.KindUser:
		uid := policy.UserID(e.RawKey)
		for _, k := range keysWithPrefix(getBucket(t.root, bktIdx, bktMSUser), prefix(string(uid))) {
			p := splitKey(k)
			if err := t.removeMembership(policy.GroupID(p[1]), uid, policy.RoleName(p[2])); err != nil {
				return err
			}
		}
		if tb, err := t.tenantBucket(e.Tenant); err == nil {
			if err := t.dropMember(tb, string(uid), func(g policy.DirGroupID) { t.cascade.DropUser(e.Tenant, g, uid) }); err != nil {
				return err
			}
		}
	case policy.KindDirGroup:
		gid := policy.DirGroupID(e.RawKey)
		for _, k := range keysWithPrefix(getBucket(t.root, bktIdx, bktRuleDG), prefix(string(e.Tenant), string(gid))) {
			if err := t.deleteRule(policy.RuleID(lastPart(k))); err != nil {
				return err
			}
		}
		if tb, err := t.tenantBucket(e.Tenant); err == nil {
			if err := t.dropMember(tb, string(gid), func(g policy.DirGroupID) { t.cascade.DropGroup(e.Tenant, g, gid) }); err != nil {
				return err
			}
			if err := dropMemberKeys(tb.Bucket(bktDGMembers), gid); err != nil {
				return err
			}
		}
	}
	if err := del(t.root.Bucket(bktQuarantine), qk); err != nil {
		return err
	}
	e.Value = nil
	detail, err := encode(e.Quarantined, "quarantine entry")
	if err != nil {
		return err
	}
	t.journal.Event(e.Tenant, store.OpQuarantineDelete, id, detail)
	return nil
}
