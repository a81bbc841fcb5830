package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

var _ store.Copier = (*Store)(nil)

// Export implements store.Copier: one read transaction, each bucket in
// key order (users and directory groups tenant by tenant; memberships
// ordered by group, user and role, as their keys are).
func (s *Store) Export(ctx context.Context, fn func(store.Item) error) error {
	if s.closed.Load() {
		return fmt.Errorf("bolt: export: %w", store.ErrClosed)
	}
	return s.db.View(func(btx *bbolt.Tx) error {
		root := rootBucket(btx)
		if q := getBucket(root, bktQuarantine); q != nil && q.Stats().KeyN > 0 {
			return fmt.Errorf("bolt: export: %d records: %w", q.Stats().KeyN, store.ErrQuarantined)
		}
		// A directory group is exported whole: its record with the
		// members kept as keys (members.go).
		var dgTenant *bbolt.Bucket
		emit := func(kind policy.Kind, tenant policy.TenantID, b *bbolt.Bucket, keyOf func(k []byte) string) error {
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				if v == nil { // a nested bucket
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if kind == policy.KindDirGroup {
					g, err := decodeDG(dgTenant, v)
					if err != nil {
						return err
					}
					if v, err = json.Marshal(g); err != nil {
						return err
					}
				}
				return fn(store.Item{Kind: kind, Tenant: tenant, Key: keyOf(k), Value: bytes.Clone(v)})
			})
		}
		plain := func(k []byte) string { return string(k) }
		if err := emit(policy.KindTenant, "", root.Bucket(bktTenants), plain); err != nil {
			return err
		}
		var tenants []policy.TenantID
		if err := root.Bucket(bktTenants).ForEach(func(k, _ []byte) error {
			tenants = append(tenants, policy.TenantID(k))
			return nil
		}); err != nil {
			return err
		}
		for _, kind := range []policy.Kind{policy.KindUser, policy.KindDirGroup} {
			name := bktUsers
			if kind == policy.KindDirGroup {
				name = bktDirGroups
			}
			for _, t := range tenants {
				dgTenant = getBucket(root, bktTenantData, []byte(t))
				if err := emit(kind, t, getBucket(dgTenant, name), plain); err != nil {
					return err
				}
			}
		}
		for _, k := range []struct {
			kind policy.Kind
			b    []byte
		}{{policy.KindGroup, bktGroups}, {policy.KindRole, bktRoles}, {policy.KindRule, bktRules}} {
			if err := emit(k.kind, "", root.Bucket(k.b), plain); err != nil {
				return err
			}
		}
		if err := emit(policy.KindMembership, "", root.Bucket(bktMemberships), func(k []byte) string {
			return strings.Join(splitKey(k), "/")
		}); err != nil {
			return err
		}
		if recs := root.Bucket(bktRecords); recs != nil {
			if err := recs.ForEach(func(ns, v []byte) error {
				if v != nil {
					return nil
				}
				return emit(store.KindRecord, "", recs.Bucket(ns), func(k []byte) string { return string(ns) + "\x00" + string(k) })
			}); err != nil {
				return err
			}
		}
		return root.Bucket(bktAudit).ForEach(func(k, v []byte) error {
			var c policy.Change
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("bolt: export: audit entry %x: %w", k, err)
			}
			cv, err := store.CanonicalChange(c)
			if err != nil {
				return err
			}
			return fn(store.Item{Kind: store.KindAudit, Key: store.AuditKey(c.Seq), Value: cv})
		})
	})
}

// Import implements store.Copier: one write transaction puts every record
// in its bucket, then rebuilds every index from them (Rebuild's code) and
// sets the audit sequence to the last entry imported.
func (s *Store) Import(ctx context.Context, items func(yield func(store.Item) error) error) error {
	if s.closed.Load() {
		return fmt.Errorf("bolt: import: %w", store.ErrClosed)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.db.Update(func(btx *bbolt.Tx) error {
		root := rootBucket(btx)
		if k, _ := root.Bucket(bktTenants).Cursor().First(); k != nil {
			return fmt.Errorf("bolt: import: %w", store.ErrNotEmpty)
		}
		if k, _ := root.Bucket(bktAudit).Cursor().First(); k != nil {
			return fmt.Errorf("bolt: import: %w", store.ErrNotEmpty)
		}
		var last uint64
		err := items(func(it store.Item) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			bad := func(err error) error { return fmt.Errorf("bolt: import %s %q: %w", it.Kind, it.Key, err) }
			var (
				b   *bbolt.Bucket
				k   []byte
				err error
			)
			switch it.Kind {
			case policy.KindTenant:
				b, k = root.Bucket(bktTenants), []byte(it.Key)
				tb, err := createBucket(root, bktTenantData, k)
				if err != nil {
					return bad(err)
				}
				for _, p := range tenantPaths {
					if _, err := createBucket(tb, p...); err != nil {
						return bad(err)
					}
				}
			case policy.KindUser:
				b, k = getBucket(root, bktTenantData, []byte(it.Tenant), bktUsers), []byte(it.Key)
			case policy.KindDirGroup:
				b, k = getBucket(root, bktTenantData, []byte(it.Tenant), bktDirGroups), []byte(it.Key)
			case policy.KindGroup:
				b, k = root.Bucket(bktGroups), []byte(it.Key)
			case policy.KindRole:
				b, k = root.Bucket(bktRoles), []byte(it.Key)
			case policy.KindRule:
				b, k = root.Bucket(bktRules), []byte(it.Key)
			case policy.KindMembership:
				var m policy.Membership
				if err := json.Unmarshal(it.Value, &m); err != nil {
					return bad(err)
				}
				b, k = root.Bucket(bktMemberships), key(string(m.Group), string(m.User), string(m.Role))
			case store.KindRecord:
				ns, rk, ok := strings.Cut(it.Key, "\x00")
				if !ok {
					return bad(fmt.Errorf("key without a namespace"))
				}
				if b, err = createBucket(root, bktRecords, []byte(ns)); err != nil {
					return bad(err)
				}
				k = []byte(rk)
			case store.KindAudit:
				var c policy.Change
				if err := json.Unmarshal(it.Value, &c); err != nil {
					return bad(err)
				}
				if seq, err := strconv.ParseUint(it.Key, 10, 64); err != nil || seq != c.Seq {
					return bad(fmt.Errorf("key does not match seq %d", c.Seq))
				}
				v, err := appendChange(nil, c)
				if err != nil {
					return bad(err)
				}
				last = max(last, c.Seq)
				ab := root.Bucket(bktAudit)
				ab.FillPercent = 1.0
				return ab.Put(be8(c.Seq), v)
			default:
				return bad(fmt.Errorf("unknown kind"))
			}
			if b == nil {
				return bad(fmt.Errorf("its tenant %q is not in the copy", it.Tenant))
			}
			return b.Put(k, it.Value)
		})
		if err != nil {
			return err
		}
		if _, err := migrateMembers(root); err != nil {
			return fmt.Errorf("bolt: import: members: %w", err)
		}
		if _, err := rebuildIndexes(ctx, root); err != nil {
			return fmt.Errorf("bolt: import: indexes: %w", err)
		}
		if err := root.Bucket(bktAudit).SetSequence(last); err != nil {
			return err
		}
		return nil
	})
}
