package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// ErrInconsistent is wrapped by the *IndexError that Verify returns when a
// secondary index disagrees with its source records.
var ErrInconsistent = errors.New("bolt: index inconsistent with records")

// IndexError lists what Verify found wrong. It unwraps to ErrInconsistent.
type IndexError struct {
	// Problems describes each stale, missing, wrong or duplicate entry,
	// as "index[tenant]: …".
	Problems []string
}

// Error implements error, showing the first problems.
func (e *IndexError) Error() string {
	const show = 10
	p := e.Problems
	more := ""
	if len(p) > show {
		more = fmt.Sprintf("; and %d more", len(p)-show)
		p = p[:show]
	}
	return fmt.Sprintf("%v: %d problems: %s%s", ErrInconsistent, len(e.Problems), strings.Join(p, "; "), more)
}

// Unwrap returns ErrInconsistent.
func (e *IndexError) Unwrap() error { return ErrInconsistent }

type kv struct{ k, v []byte }

// indexDef describes one secondary index: where it lives, which records it
// is derived from, and the entries one record contributes (influxdb's
// kv/index.go, with the source bucket as the truth). The same entries
// drive the writes (writeIndexes: entries(old) against entries(new)),
// Verify and Rebuild, so an index is defined once.
type indexDef struct {
	name string
	// tenantIndex: the index bucket is t/<tenant>/idx/<name>; otherwise
	// idx/<name>.
	tenantIndex bool
	// tenantSource: the source bucket is t/<tenant>/<src>; otherwise <src>.
	tenantSource bool
	src          []byte
	// unique: two records may not produce the same key.
	unique bool
	// members: the entries need the directory group's members, which
	// are kept as keys beside the record (see members.go).
	members bool
	// fill is the bucket's FillPercent for writes (0: bbolt's default);
	// keys that grow at the right edge fill their pages.
	fill float64
	// The entries of one record, by the record's type: exactly one is
	// set.
	user   func(policy.User) []kv
	dg     func(policy.DirGroup) []kv
	group  func(policy.Group) []kv
	rule   func(policy.Rule) []kv
	member func(policy.Membership) []kv
}

// entriesOf decodes the record v of d's source and returns its entries.
func (d indexDef) entriesOf(v []byte) ([]kv, error) {
	switch {
	case d.user != nil:
		u, err := decode[policy.User](v, "user")
		return d.user(u), err
	case d.dg != nil:
		g, err := decode[policy.DirGroup](v, "directory group")
		return d.dg(g), err
	case d.group != nil:
		g, err := decode[policy.Group](v, "group")
		return d.group(g), err
	case d.rule != nil:
		r, err := decode[policy.Rule](v, "rule")
		return d.rule(r), err
	case d.member != nil:
		m, err := decode[policy.Membership](v, "membership")
		return d.member(m), err
	}
	return nil, fmt.Errorf("bolt: index %s has no entries", d.name)
}

// indexes lists every secondary index of the schema.
var indexes = []indexDef{
	{name: string(bktUserName), tenantIndex: true, tenantSource: true, src: bktUsers, unique: true,
		user: func(u policy.User) []kv {
			return []kv{{[]byte(policy.FoldUserName(u.UserName)), []byte(u.ID)}}
		}},
	{name: string(bktUserExt), tenantIndex: true, tenantSource: true, src: bktUsers, unique: true,
		user: func(u policy.User) []kv {
			if u.ExternalID == "" {
				return nil
			}
			return []kv{{[]byte(u.ExternalID), []byte(u.ID)}}
		}},
	{name: string(bktUserEmail), tenantIndex: true, tenantSource: true, src: bktUsers,
		user: emailEntries},
	{name: string(bktDGExt), tenantIndex: true, tenantSource: true, src: bktDirGroups, unique: true,
		dg: func(g policy.DirGroup) []kv {
			if g.ExternalID == "" {
				return nil
			}
			return []kv{{[]byte(g.ExternalID), []byte(g.ID)}}
		}},
	{name: string(bktDGName), tenantIndex: true, tenantSource: true, src: bktDirGroups,
		dg: func(g policy.DirGroup) []kv {
			return []kv{{key(policy.FoldName(g.DisplayName), string(g.ID)), []byte(g.ID)}}
		}},
	{name: string(bktDGMember), tenantIndex: true, tenantSource: true, src: bktDirGroups, members: true,
		dg: func(g policy.DirGroup) []kv {
			out := make([]kv, 0, len(g.MemberUsers)+len(g.MemberGroups))
			for _, u := range g.MemberUsers {
				out = append(out, kv{key(string(u), string(g.ID)), []byte{}})
			}
			for _, m := range g.MemberGroups {
				out = append(out, kv{key(string(m), string(g.ID)), []byte{}})
			}
			return out
		}},
	{name: string(bktUserTenant), tenantSource: true, src: bktUsers, unique: true, fill: 0.9, // keyed by time-ordered ids
		user: func(u policy.User) []kv { return []kv{{[]byte(u.ID), []byte(u.Tenant)}} }},
	{name: string(bktDGTenant), tenantSource: true, src: bktDirGroups, unique: true,
		dg: func(g policy.DirGroup) []kv { return []kv{{[]byte(g.ID), []byte(g.Tenant)}} }},
	{name: string(bktGroupSlug), src: bktGroups, unique: true,
		group: func(g policy.Group) []kv { return []kv{{[]byte(g.Slug), []byte(g.ID)}} }},
	{name: string(bktGroupChildren), src: bktGroups,
		group: func(g policy.Group) []kv {
			if g.Parent == "" {
				return nil
			}
			return []kv{{key(string(g.Parent), string(g.ID)), []byte{}}}
		}},
	{name: string(bktMSUser), src: bktMemberships,
		member: func(m policy.Membership) []kv {
			return []kv{{key(string(m.User), string(m.Group), string(m.Role)), []byte{}}}
		}},
	{name: string(bktRuleDG), src: bktRules,
		rule: func(r policy.Rule) []kv {
			return []kv{{key(string(r.Tenant), string(r.DirGroup), string(r.ID)), []byte{}}}
		}},
	{name: string(bktRuleGroup), src: bktRules,
		rule: func(r policy.Rule) []kv {
			return []kv{{key(string(r.Group), string(r.ID)), []byte{}}}
		}},
}

// writeIndexes brings the entries of one record's indexes in step with
// its change from old to cur: entries(old) against entries(new), the
// entries Verify expects, so writes and Verify cannot disagree. of returns
// the two entry lists for an index of the record's type (ok false for the
// others); nil old entries is a create, nil new a delete. Only the entries
// that differ are written. tb is the record's tenant bucket.
func (t *tx) writeIndexes(tb *bbolt.Bucket, of func(indexDef) (old, cur []kv, ok bool)) error {
	for _, d := range indexes {
		old, cur, ok := of(d)
		if !ok {
			continue
		}
		b := getBucket(t.root, bktIdx, []byte(d.name))
		if d.tenantIndex {
			b = getBucket(tb, bktIdx, []byte(d.name))
		}
		if d.fill > 0 {
			b.FillPercent = d.fill
		}
		if err := diffEntries(b, old, cur); err != nil {
			return err
		}
	}
	return nil
}

// diffEntries deletes the entries of old that cur does not have and puts
// those of cur that old does not have as they are.
func diffEntries(b *bbolt.Bucket, old, cur []kv) error {
	if len(old) > 0 {
		keep := make(map[string][]byte, len(cur))
		for _, e := range cur {
			keep[string(e.k)] = e.v
		}
		was := make(map[string][]byte, len(old))
		for _, e := range old {
			was[string(e.k)] = e.v
			if _, ok := keep[string(e.k)]; !ok {
				if err := del(b, e.k); err != nil {
					return err
				}
			}
		}
		for _, e := range cur {
			if v, ok := was[string(e.k)]; ok && bytes.Equal(v, e.v) {
				continue
			}
			if err := put(b, e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range cur {
		if err := put(b, e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}

// recordIndexes returns the writeIndexes selector of a record changing
// from old to cur (nil: none), for the indexes whose entry function of
// the record's type (fn picks it) is set.
func recordIndexes[T any](fn func(indexDef) func(T) []kv, old, cur *T) func(indexDef) ([]kv, []kv, bool) {
	return func(d indexDef) (o, n []kv, ok bool) {
		f := fn(d)
		if f == nil {
			return nil, nil, false
		}
		if old != nil {
			o = f(*old)
		}
		if cur != nil {
			n = f(*cur)
		}
		return o, n, true
	}
}

// userIndexes selects the indexes of a user changing from old to cur.
func userIndexes(old, cur *policy.User) func(indexDef) ([]kv, []kv, bool) {
	return recordIndexes(func(d indexDef) func(policy.User) []kv { return d.user }, old, cur)
}

// groupIndexes selects the indexes of a user group changing from old to
// cur.
func groupIndexes(old, cur *policy.Group) func(indexDef) ([]kv, []kv, bool) {
	return recordIndexes(func(d indexDef) func(policy.Group) []kv { return d.group }, old, cur)
}

// ruleIndexes selects the indexes of a rule changing from old to cur.
func ruleIndexes(old, cur *policy.Rule) func(indexDef) ([]kv, []kv, bool) {
	return recordIndexes(func(d indexDef) func(policy.Rule) []kv { return d.rule }, old, cur)
}

// membershipIndexes selects the indexes of a manual membership changing
// from old to cur.
func membershipIndexes(old, cur *policy.Membership) func(indexDef) ([]kv, []kv, bool) {
	return recordIndexes(func(d indexDef) func(policy.Membership) []kv { return d.member }, old, cur)
}

// dgIndexes selects the indexes of a directory group changing from old to
// cur; with membersOnly, only the indexes of its members (a delta, whose
// old and cur hold the members removed and added).
func dgIndexes(old, cur *policy.DirGroup, membersOnly bool) func(indexDef) ([]kv, []kv, bool) {
	return recordIndexes(func(d indexDef) func(policy.DirGroup) []kv {
		if membersOnly && !d.members {
			return nil
		}
		return d.dg
	}, old, cur)
}

// tenantIDs lists the per-tenant buckets.
func tenantIDs(root *bbolt.Bucket) []string {
	var out []string
	_ = root.Bucket(bktTenantData).ForEachBucket(func(k []byte) error {
		out = append(out, string(k))
		return nil
	})
	return out
}

// scope is one index bucket with the source buckets it derives from.
type scope struct {
	label   string
	idx     func() *bbolt.Bucket
	parent  func() *bbolt.Bucket // the bucket that holds idx, for Rebuild
	sources []*bbolt.Bucket
	tenants []*bbolt.Bucket // the tenant bucket of each source, when tenantSource
}

func scopes(root *bbolt.Bucket, d indexDef) []scope {
	name := []byte(d.name)
	tenants := tenantIDs(root)
	if d.tenantIndex {
		out := make([]scope, 0, len(tenants))
		for _, tn := range tenants {
			tb := getBucket(root, bktTenantData, []byte(tn))
			out = append(out, scope{
				label:   d.name + "[" + tn + "]",
				idx:     func() *bbolt.Bucket { return getBucket(tb, bktIdx, name) },
				parent:  func() *bbolt.Bucket { return tb.Bucket(bktIdx) },
				sources: []*bbolt.Bucket{tb.Bucket(d.src)},
				tenants: []*bbolt.Bucket{tb},
			})
		}
		return out
	}
	sc := scope{
		label:  d.name,
		idx:    func() *bbolt.Bucket { return getBucket(root, bktIdx, name) },
		parent: func() *bbolt.Bucket { return root.Bucket(bktIdx) },
	}
	if d.tenantSource {
		for _, tn := range tenants {
			tb := getBucket(root, bktTenantData, []byte(tn))
			sc.sources = append(sc.sources, getBucket(tb, d.src))
			sc.tenants = append(sc.tenants, tb)
		}
	} else {
		sc.sources = []*bbolt.Bucket{root.Bucket(d.src)}
	}
	return []scope{sc}
}

// expected computes the entries an index scope should hold, and the
// duplicate keys of a unique index.
func expected(ctx context.Context, d indexDef, sc scope) (map[string][]byte, []string, error) {
	want := map[string][]byte{}
	var problems []string
	for i, src := range sc.sources {
		if src == nil {
			problems = append(problems, sc.label+": source bucket missing")
			continue
		}
		c := src.Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
			}
			var es []kv
			var err error
			if d.members {
				var g policy.DirGroup
				if g, err = decodeDG(sc.tenants[i], v); err == nil {
					es = d.dg(g)
				}
			} else {
				es, err = d.entriesOf(v)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("bolt: record %q: %w", k, err)
			}
			for _, e := range es {
				if old, dup := want[string(e.k)]; dup && d.unique && !bytes.Equal(old, e.v) {
					problems = append(problems, fmt.Sprintf("%s: key %q claimed by %q and %q", sc.label, e.k, old, e.v))
					continue
				}
				want[string(e.k)] = e.v
			}
		}
	}
	return want, problems, nil
}

// Verify checks every secondary index against its source records, in one
// read transaction, and returns an *IndexError (wrapping ErrInconsistent)
// listing stale, missing or wrong entries, or nil. It does not repair: see
// Rebuild.
func (s *Store) Verify(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("bolt: verify: %w", store.ErrClosed)
	}
	var problems []string
	err := s.db.View(func(btx *bbolt.Tx) error {
		root := rootBucket(btx)
		for _, d := range indexes {
			for _, sc := range scopes(root, d) {
				want, dups, err := expected(ctx, d, sc)
				if err != nil {
					return err
				}
				problems = append(problems, dups...)
				b := sc.idx()
				if b == nil {
					problems = append(problems, sc.label+": index bucket missing")
					continue
				}
				seen := 0
				err = b.ForEach(func(k, v []byte) error {
					w, ok := want[string(k)]
					switch {
					case !ok:
						problems = append(problems, fmt.Sprintf("%s: stale entry %q", sc.label, k))
					case !bytes.Equal(w, v):
						seen++
						problems = append(problems, fmt.Sprintf("%s: entry %q is %q, want %q", sc.label, k, v, w))
					default:
						seen++
					}
					return nil
				})
				if err != nil {
					return err
				}
				if seen != len(want) {
					var missing []string
					for k := range want {
						if b.Get([]byte(k)) == nil {
							missing = append(missing, fmt.Sprintf("%s: missing entry %q", sc.label, k))
						}
					}
					sort.Strings(missing)
					problems = append(problems, missing...)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: verify: %w", err)
	}
	if len(problems) > 0 {
		return &IndexError{Problems: problems}
	}
	return nil
}

// Rebuild recomputes every secondary index from its source records in one
// write transaction. It is not audited: indexes are not facts. It fails,
// changing nothing, when a unique index cannot be rebuilt because two
// records claim the same key.
func (s *Store) Rebuild(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("bolt: rebuild: %w", store.ErrClosed)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	n := 0
	err := s.db.Update(func(btx *bbolt.Tx) error {
		var err error
		n, err = rebuildIndexes(ctx, rootBucket(btx))
		return err
	})
	if err != nil {
		return fmt.Errorf("bolt: rebuild: %w", err)
	}
	s.log.Info("bolt: indexes rebuilt", "entries", n)
	return nil
}

// rebuildIndexes recomputes every secondary index under root from its
// source records and returns the number of entries written. A unique
// index claimed twice is an *IndexError.
func rebuildIndexes(ctx context.Context, root *bbolt.Bucket) (int, error) {
	n := 0
	for _, d := range indexes {
		for _, sc := range scopes(root, d) {
			want, dups, err := expected(ctx, d, sc)
			if err != nil {
				return n, err
			}
			if len(dups) > 0 {
				return n, &IndexError{Problems: dups}
			}
			parent := sc.parent()
			if parent.Bucket([]byte(d.name)) != nil {
				if err := parent.DeleteBucket([]byte(d.name)); err != nil {
					return n, err
				}
			}
			b, err := parent.CreateBucket([]byte(d.name))
			if err != nil {
				return n, err
			}
			keys := make([]string, 0, len(want))
			for k := range want {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.FillPercent = 0.9 // sequential inserts
			for _, k := range keys {
				if err := b.Put([]byte(k), want[k]); err != nil {
					return n, err
				}
			}
			n += len(keys)
		}
	}
	return n, ctx.Err()
}
