// Package bolt is the embedded backend of store.Store, on bbolt
// (go.etcd.io/bbolt): one file, one writer at a time, readers that never
// block, and every logical change in one transaction.
//
// # Bucket tree
//
// All data lives under a versioned root bucket, so that a later schema can
// be migrated next to the old one. Records are JSON; ids are UUID strings;
// composite keys join their parts with a NUL byte (shown as "·" below), so
// ids and names must not contain NUL. Index values are the primary key, or
// empty when the key already holds it.
//
//	v1/
//	├── meta/
//	│   └── schema                       → 8-byte big-endian schema version
//	├── tenants/
//	│   └── <tenantID>                   → policy.Tenant
//	├── t/                               (one bucket per tenant)
//	│   └── <tenantID>/
//	│       ├── users/
//	│       │   └── <userID>             → policy.User
//	│       ├── dirgroups/
//	│       │   └── <dirGroupID>         → policy.DirGroup, without members
//	│       ├── dg_members/              members as keys (schema 2; members.go)
//	│       │   ├── <dirGroupID>·u·<userID>   → 8-byte position
//	│       │   └── <dirGroupID>·g·<memberID> → 8-byte position
//	│       └── idx/
//	│           ├── user_name/           unique
//	│           │   └── <FoldUserName>   → userID
//	│           ├── user_ext/            unique, only when set
//	│           │   └── <externalId>     → userID
//	│           ├── user_email/          not unique; each address of a user
//	│           │   └── <FoldEmail>·<userID>  → userID
//	│           ├── dg_ext/              unique, only when set
//	│           │   └── <externalId>     → dirGroupID
//	│           ├── dg_name/             not unique
//	│           │   └── <FoldName>·<dirGroupID>  → dirGroupID
//	│           └── dg_member/           reverse membership (DirGroupsOf)
//	│               └── <member id>·<dirGroupID> → ""
//	├── groups/
//	│   └── <groupID>                    → policy.Group
//	├── roles/
//	│   └── <roleName>                   → policy.Role
//	├── rules/
//	│   └── <ruleID>                     → policy.Rule
//	├── memberships/                     (manual memberships, by group)
//	│   └── <groupID>·<userID>·<role>    → policy.Membership
//	├── idx/
//	│   ├── user_tenant/                 user ids are unique store-wide
//	│   │   └── <userID>                 → tenantID
//	│   ├── dg_tenant/                   directory-group ids likewise
//	│   │   └── <dirGroupID>             → tenantID
//	│   ├── group_slug/                  unique
//	│   │   └── <slug>                   → groupID
//	│   ├── group_children/
//	│   │   └── <parentID>·<childID>     → ""
//	│   ├── ms_user/                     memberships by user
//	│   │   └── <userID>·<groupID>·<role> → ""
//	│   ├── rule_dg/                     rules by directory group
//	│   │   └── <tenantID>·<dirGroupID>·<ruleID> → ""
//	│   └── rule_group/                  rules by user group
//	│       └── <groupID>·<ruleID>       → ""
//	├── audit/
//	│   └── <8-byte big-endian seq>      → policy.Change
//	├── records/
//	│   └── <namespace>/
//	│       └── <key>                    → opaque bytes
//	└── quarantine/                      (created when first needed)
//	    └── <8-byte big-endian seq>      → quarantineEntry: store.Quarantined,
//	                                       the record's bucket path and key
//
// # Records that do not read back
//
// A record is written only if its encoding decodes again as its type (see
// encode), and its keys fit bbolt's limits; anything else is
// store.ErrInvalid. Open, on a writable file, reads every typed record
// (tenants, users, directory groups, groups, roles, rules, memberships); one
// that does not decode — written by an older version, or damaged — is moved
// to quarantine/, logged by kind, tenant and key (never its value), and the
// indexes are rebuilt without it, so the rest is served. References to it
// are kept; Tx.RepairQuarantined puts a corrected record back,
// Tx.DeleteQuarantined drops it with the cascades of a delete. An audit
// entry that does not decode is listed by Tx.Audit as a KindEvent entry
// with Op store.OpUnreadable.
//
// # Indexes
//
// Every index is written in the same transaction as its record; Verify
// diffs each index against its source records and Rebuild recomputes them.
// All three read one table (indexes, in index.go) of the entries each
// record contributes: a write puts entries(new) and deletes what
// entries(old) had that entries(new) has not (writeIndexes).
// Cascades that take members out of directory groups (DeleteUser,
// DeleteDirGroup) update the reverse index at once but rewrite each affected
// group only once per transaction, before the next directory-group read or
// write and before commit: each such group gets one new Version and one
// audit entry per transaction, however many of its members were deleted.
//
// ForEachUser and ForEachDirGroup read in chunks and re-seek, so their fn may
// write inside Update. The callback of ScanRecords must not write to the
// namespace it scans.
//
// User ids and directory-group ids share one id space (no user has the id
// of a directory group), because both appear as members of directory groups.
package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"
)

// SchemaVersion is the version of the bucket layout this package writes. A
// file with a higher version is refused.
//
// Schema 2 keeps the members of directory groups as keys of dg_members/
// instead of inside their records; Open migrates a schema-1 file in place
// (the root bucket keeps its name).
const SchemaVersion uint64 = 2

// Bucket and key names, declared once.
var (
	bktRoot = []byte("v1")

	bktMeta   = []byte("meta")
	keySchema = []byte("schema")

	bktTenants    = []byte("tenants")
	bktTenantData = []byte("t")
	bktUsers      = []byte("users")
	bktDirGroups  = []byte("dirgroups")
	bktDGMembers  = []byte("dg_members")
	bktIdx        = []byte("idx")

	bktUserName  = []byte("user_name")
	bktUserExt   = []byte("user_ext")
	bktUserEmail = []byte("user_email")
	bktDGExt     = []byte("dg_ext")
	bktDGName    = []byte("dg_name")
	bktDGMember  = []byte("dg_member")

	bktGroups      = []byte("groups")
	bktRoles       = []byte("roles")
	bktRules       = []byte("rules")
	bktMemberships = []byte("memberships")

	bktUserTenant    = []byte("user_tenant")
	bktDGTenant      = []byte("dg_tenant")
	bktGroupSlug     = []byte("group_slug")
	bktGroupChildren = []byte("group_children")
	bktMSUser        = []byte("ms_user")
	bktRuleDG        = []byte("rule_dg")
	bktRuleGroup     = []byte("rule_group")

	bktAudit      = []byte("audit")
	bktRecords    = []byte("records")
	bktQuarantine = []byte("quarantine")
)

// staticPaths are the buckets created when a store is opened, relative to
// the root bucket.
var staticPaths = [][][]byte{
	{bktMeta},
	{bktTenants},
	{bktTenantData},
	{bktGroups},
	{bktRoles},
	{bktRules},
	{bktMemberships},
	{bktIdx, bktUserTenant},
	{bktIdx, bktDGTenant},
	{bktIdx, bktGroupSlug},
	{bktIdx, bktGroupChildren},
	{bktIdx, bktMSUser},
	{bktIdx, bktRuleDG},
	{bktIdx, bktRuleGroup},
	{bktAudit},
	{bktRecords},
}

// tenantPaths are the buckets of one tenant, relative to t/<tenantID>.
var tenantPaths = [][][]byte{
	{bktUsers},
	{bktDirGroups},
	{bktDGMembers},
	{bktIdx, bktUserName},
	{bktIdx, bktUserExt},
	{bktIdx, bktUserEmail},
	{bktIdx, bktDGExt},
	{bktIdx, bktDGName},
	{bktIdx, bktDGMember},
}

// getBucket walks path from b and returns nil if any bucket is missing.
func getBucket(b *bbolt.Bucket, path ...[]byte) *bbolt.Bucket {
	for _, name := range path {
		if b == nil {
			return nil
		}
		b = b.Bucket(name)
	}
	return b
}

// getKey returns the value of k in b, or nil when b or k is missing.
func getKey(b *bbolt.Bucket, k []byte) []byte {
	if b == nil {
		return nil
	}
	return b.Get(k)
}

// createBucket walks path from b, creating the buckets that are missing.
func createBucket(b *bbolt.Bucket, path ...[]byte) (*bbolt.Bucket, error) {
	for _, name := range path {
		var err error
		if b, err = b.CreateBucketIfNotExists(name); err != nil {
			return nil, fmt.Errorf("bolt: create bucket %q: %w", name, err)
		}
	}
	return b, nil
}

// rootBucket returns the versioned root bucket of a transaction.
func rootBucket(tx *bbolt.Tx) *bbolt.Bucket { return tx.Bucket(bktRoot) }

// be8 encodes n as an 8-byte big-endian key.
func be8(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// key joins parts with NUL bytes.
func key(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

// prefix returns the scan prefix of the composite keys that start with
// parts: the parts joined and followed by NUL.
func prefix(parts ...string) []byte { return append(key(parts...), 0) }

// lastPart returns what follows the last NUL of k, as a string (a copy).
func lastPart(k []byte) string {
	if i := bytes.LastIndexByte(k, 0); i >= 0 {
		return string(k[i+1:])
	}
	return string(k)
}

// splitKey splits a composite key into its parts (copies).
func splitKey(k []byte) []string { return strings.Split(string(k), "\x00") }

// scanPrefix calls fn for each key of b that starts with p, in order. fn
// must not modify b.
func scanPrefix(b *bbolt.Bucket, p []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// keysWithPrefix returns copies of the keys of b that start with p.
func keysWithPrefix(b *bbolt.Bucket, p []byte) [][]byte {
	var out [][]byte
	_ = scanPrefix(b, p, func(k, _ []byte) error {
		out = append(out, bytes.Clone(k))
		return nil
	})
	return out
}

// hasPrefix reports whether b has a key starting with p.
func hasPrefix(b *bbolt.Bucket, p []byte) bool {
	k, _ := b.Cursor().Seek(p)
	return k != nil && bytes.HasPrefix(k, p)
}
