package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/roster-dev/roster/policy"
)

// Item is one stored record in a form every backend shares, for moving an
// installation from one backend to another (`roster store copy`): the
// record's kind, its tenant (users and directory groups; "" otherwise), its
// key and its value exactly as the backend keeps it.
//
// Keys: the id for tenants, users, directory groups, user groups, rules;
// the name for roles; policy.MembershipKey for manual memberships;
// namespace + "\x00" + key for opaque records (KindRecord); the sequence
// number, 20 decimal digits, for audit entries (KindAudit).
//
// Values: the JSON of the policy type for typed records, the opaque bytes
// for records, and for audit entries the JSON of the policy.Change in
// the canonical form of CanonicalChange.
type Item struct {
	Kind   policy.Kind
	Tenant policy.TenantID
	Key    string
	Value  []byte
}

// Kinds of Items beyond the policy kinds.
const (
	// KindRecord is an opaque record of a protocol package.
	KindRecord policy.Kind = "record"
	// KindAudit is an audit-log entry.
	KindAudit policy.Kind = "audit"
)

// CopyKinds is the order in which Export yields kinds, and Import expects
// them: each kind after the ones it refers to. Within a kind, items come
// ordered by tenant, then by key, bytewise.
var CopyKinds = []policy.Kind{policy.KindTenant, policy.KindUser, policy.KindDirGroup, policy.KindGroup,
	policy.KindRole, policy.KindRule, policy.KindMembership, KindRecord, KindAudit}

// Copier is implemented by backends that can export every record as it is
// kept (ids, versions and times included) and import such a stream into an
// empty store.
type Copier interface {
	// Export calls fn for every record in one consistent snapshot, in
	// the order of CopyKinds. A store with quarantined records refuses
	// (ErrQuarantined): repair or drop them first.
	Export(ctx context.Context, fn func(Item) error) error
	// Import writes the items that items yields into this store, which
	// must hold no tenant, user or audit entry (ErrNotEmpty), with every
	// index, and continues the audit sequence after the last one
	// imported. Nothing is delivered to subscribers.
	Import(ctx context.Context, items func(yield func(Item) error) error) error
}

var (
	// ErrNotEmpty: Import into a store that already holds data.
	ErrNotEmpty = errors.New("store: the target store is not empty")
	// ErrQuarantined: Export of a store with quarantined records.
	ErrQuarantined = errors.New("store: the store has quarantined records (roster doctor repairs or drops them)")
)

// CanonicalChange encodes an audit entry as Items carry it: its time in
// UTC to the microsecond (PostgreSQL's resolution), Before and After
// compact.
func CanonicalChange(c policy.Change) ([]byte, error) {
	c.Time = c.Time.UTC().Truncate(time.Microsecond)
	return json.Marshal(c)
}

// AuditKey is the Item key of audit entry seq.
func AuditKey(seq uint64) string { return fmt.Sprintf("%020d", seq) }

// Digest sums a stream of Items: the count of each kind and one SHA-256
// over every item, kind, tenant, key and value, in stream order. Two stores
// whose Exports give equal digests hold the same records.
type Digest struct {
	Counts map[policy.Kind]int
	sum    hashState
}

type hashState interface {
	Write([]byte) (int, error)
	Sum([]byte) []byte
}

// NewDigest returns an empty Digest.
func NewDigest() *Digest { return &Digest{Counts: map[policy.Kind]int{}, sum: sha256.New()} }

// Add adds one item.
func (d *Digest) Add(it Item) {
	d.Counts[it.Kind]++
	var n [8]byte
	for _, part := range [][]byte{[]byte(it.Kind), []byte(it.Tenant), []byte(it.Key), it.Value} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		d.sum.Write(n[:])
		d.sum.Write(part)
	}
}

// Sum returns the checksum in hex.
func (d *Digest) Sum() string { return hex.EncodeToString(d.sum.Sum(nil)) }

// DigestOf exports c and returns the digest of what it holds.
func DigestOf(ctx context.Context, c Copier) (*Digest, error) {
	d := NewDigest()
	err := c.Export(ctx, func(it Item) error { d.Add(it); return nil })
	return d, err
}
