// Package store defines how Roster keeps its facts: tenants, users,
// directory groups, user groups, roles, binding rules, manual memberships,
// opaque records of the protocol packages (tokens, keys, sync state), and an
// append-only audit log that doubles as the change feed.
//
// Store is the one interface the rest of the code uses; each backend lives
// in a folder below this one (store/bolt) and passes the conformance suite in
// store/storetest. Every logical change is one call to Update, which runs in
// one read-write transaction: the records, their secondary indexes and their
// audit entries commit together or not at all.
//
// Tenant isolation is enforced here: every user and directory-group method
// takes the tenant it is scoped to, and a record of another tenant is
// reported as ErrNotFound, exactly as if it did not exist.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/roster-dev/roster/policy"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	// ErrNotFound: no such record (in this tenant).
	ErrNotFound = errors.New("store: not found")
	// ErrExists: a unique key (id, userName, externalId, slug…) is taken.
	ErrExists = errors.New("store: already exists")
	// ErrVersion: the record changed since the caller read it
	// (optimistic concurrency).
	ErrVersion = errors.New("store: version mismatch")
	// ErrInUse: the record is still referenced (a group with children,
	// a role held by memberships or rules).
	ErrInUse = errors.New("store: still in use")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalid: the store refuses a record it could not keep or read
	// back as it is (too deep to decode, a number out of range, a key
	// too long for an index). It wraps policy.ErrInvalid, so edges that
	// answer a bad record already answer this one.
	ErrInvalid = fmt.Errorf("store: record cannot be stored: %w", policy.ErrInvalid)
)

// Store keeps Roster's facts. Implementations are safe for concurrent use.
type Store interface {
	// View runs fn in a read-only transaction. Write methods of the Tx
	// return an error inside View.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in one read-write transaction on behalf of actor
	// (who or which source: "admin", "scim:acme", "ldap:corp"…). If fn
	// returns an error, nothing it wrote is kept. fn may run more than
	// once (a backend retries a transaction that lost a serialization
	// conflict), so it must have no effect outside the Tx but on
	// variables it resets on each run. On commit, the audit
	// entries written by fn are delivered to subscribers, in order,
	// before Update returns.
	Update(ctx context.Context, actor string, fn func(Tx) error) error
	// Subscribe registers fn to receive every committed batch of
	// changes, in commit order. fn must not call Update. The returned
	// func unsubscribes.
	Subscribe(fn func([]policy.Change)) (cancel func())
	// Backup writes a consistent snapshot of the whole store to w while
	// the store stays online.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// Close releases the store.
	Close() error
}

// Page selects a slice of an ordered listing: the records after the key
// After (exclusive; "" for the start), at most Limit of them (0: all).
type Page struct {
	After string
	Limit int
}

// Tx is one transaction. Its values are copies: they stay valid after the
// transaction ends. Write methods set ID (a new UUID when empty), Created,
// Updated and Version themselves, validate the record with the policy
// package, keep every secondary index in step, and append an audit entry.
//
// Updates are optimistic: the record passed to an Update method must carry
// the Version it was read with, or ErrVersion is returned.
type Tx interface {
	// Tenants.
	PutTenant(t policy.Tenant) error
	Tenant(id policy.TenantID) (policy.Tenant, error)
	Tenants() ([]policy.Tenant, error)

	// Users, scoped to a tenant. userName is unique per tenant
	// case-insensitively; externalId is unique per tenant when set.
	CreateUser(tenant policy.TenantID, u policy.User) (policy.User, error)
	User(tenant policy.TenantID, id policy.UserID) (policy.User, error)
	UserByUserName(tenant policy.TenantID, userName string) (policy.User, error)
	UserByExternalID(tenant policy.TenantID, externalID string) (policy.User, error)
	UpdateUser(tenant policy.TenantID, u policy.User) (policy.User, error)
	// DeleteUser removes the user, its manual memberships and its
	// membership in every directory group of the tenant.
	DeleteUser(tenant policy.TenantID, id policy.UserID) error
	// Users lists the tenant's users ordered by id.
	Users(tenant policy.TenantID, p Page) ([]policy.User, error)
	// ForEachUser calls fn for each of the tenant's users in id order
	// until fn returns an error, which it returns.
	ForEachUser(tenant policy.TenantID, fn func(policy.User) error) error
	CountUsers(tenant policy.TenantID) (int, error)

	// Directory groups, scoped to a tenant. Members must be of the same
	// tenant (ErrNotFound otherwise). externalId is unique per tenant
	// when set; display names are indexed, not unique. Member lists are
	// kept in canonical form (policy.UniqueMembers). A change to members
	// only is store.ChangeMembers, a delta, not UpdateDirGroup.
	CreateDirGroup(tenant policy.TenantID, g policy.DirGroup) (policy.DirGroup, error)
	DirGroup(tenant policy.TenantID, id policy.DirGroupID) (policy.DirGroup, error)
	DirGroupByExternalID(tenant policy.TenantID, externalID string) (policy.DirGroup, error)
	DirGroupsByName(tenant policy.TenantID, displayName string) ([]policy.DirGroup, error)
	UpdateDirGroup(tenant policy.TenantID, g policy.DirGroup) (policy.DirGroup, error)
	// DeleteDirGroup removes the group, the rules bound to it, and its
	// membership in other directory groups.
	DeleteDirGroup(tenant policy.TenantID, id policy.DirGroupID) error
	DirGroups(tenant policy.TenantID, p Page) ([]policy.DirGroup, error)
	ForEachDirGroup(tenant policy.TenantID, fn func(policy.DirGroup) error) error
	// DirGroupsOf returns the ids of the directory groups that list
	// member (a UserID or DirGroupID string) directly, from the reverse
	// index.
	DirGroupsOf(tenant policy.TenantID, member string) ([]policy.DirGroupID, error)

	// User groups (not tenant-scoped: they span tenants). Slugs are
	// unique. A parent change that would form a cycle wraps
	// policy.ErrCycle.
	CreateGroup(g policy.Group) (policy.Group, error)
	Group(id policy.GroupID) (policy.Group, error)
	GroupBySlug(slug string) (policy.Group, error)
	UpdateGroup(g policy.Group) (policy.Group, error)
	// DeleteGroup removes a group without children (ErrInUse
	// otherwise), with its manual memberships and rules.
	DeleteGroup(id policy.GroupID) error
	Groups() ([]policy.Group, error)

	// Roles.
	PutRole(r policy.Role) (policy.Role, error)
	Role(name policy.RoleName) (policy.Role, error)
	Roles() ([]policy.Role, error)
	// DeleteRole fails with ErrInUse while memberships or rules use it.
	DeleteRole(name policy.RoleName) error

	// Binding rules. The directory group must exist in the rule's tenant,
	// the user group and the role must exist.
	CreateRule(r policy.Rule) (policy.Rule, error)
	Rule(id policy.RuleID) (policy.Rule, error)
	DeleteRule(id policy.RuleID) error
	Rules() ([]policy.Rule, error)

	// Manual memberships. AddMembership is idempotent (store.AddMembership
	// is its rule); RemoveMembership of an absent membership returns
	// ErrNotFound. Membership returns the membership (g, u, r) as stored,
	// ErrNotFound when it is not held.
	AddMembership(m policy.Membership) (policy.Membership, error)
	Membership(g policy.GroupID, u policy.UserID, r policy.RoleName) (policy.Membership, error)
	RemoveMembership(g policy.GroupID, u policy.UserID, r policy.RoleName) error
	MembershipsOfGroup(g policy.GroupID) ([]policy.Membership, error)
	MembershipsOfUser(u policy.UserID) ([]policy.Membership, error)
	Memberships() ([]policy.Membership, error)

	// Records are opaque values of the protocol packages (OIDC keys,
	// codes and refresh tokens, SCIM token hashes, sync state), kept by
	// namespace and key. They are not audited; use Record for that.
	PutRecord(ns, key string, value []byte) error
	GetRecord(ns, key string) ([]byte, error)
	DeleteRecord(ns, key string) error
	// ScanRecords calls fn for each record of ns whose key starts with
	// prefix, in key order, until fn returns an error.
	ScanRecords(ns, prefix string, fn func(key string, value []byte) error) error

	// Record appends an audit-only entry (Kind policy.KindEvent) such as
	// "scim token created". Secrets must not be put in it.
	Record(tenant policy.TenantID, op policy.Op, id string, detail any) error

	// Audit returns audit entries with Seq > after, oldest first, at most
	// limit (0: all). An entry the backend cannot read is returned as an
	// entry of Kind policy.KindEvent and Op OpUnreadable with its Seq and
	// no Before or After, rather than failing the listing.
	Audit(after uint64, limit int) ([]policy.Change, error)

	// Quarantine: records a backend found it could not read (written by
	// an older version, or damaged) are set aside when the store opens,
	// so the rest is served; see Quarantined. Quarantine lists them
	// without their values; QuarantinedRecord returns one with its value.
	Quarantine() ([]Quarantined, error)
	QuarantinedRecord(id string) (Quarantined, error)
	// RepairQuarantined puts value back as the record id was (same kind,
	// tenant and key) and drops it from the quarantine. value must
	// decode as that kind of record and pass its validation; it is
	// written like an update of the record (indexes, audit entry, change
	// feed), with its Version kept.
	RepairQuarantined(id string, value []byte) error
	// DeleteQuarantined drops the quarantined record id for good,
	// recording an audit entry.
	DeleteQuarantined(id string) error
}
