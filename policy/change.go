package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kind names the type of record a Change is about.
type Kind string

// Record kinds that appear in the change feed.
const (
	KindTenant     Kind = "tenant"
	KindUser       Kind = "user"
	KindDirGroup   Kind = "dirgroup"
	KindGroup      Kind = "group"
	KindRole       Kind = "role"
	KindRule       Kind = "rule"
	KindMembership Kind = "membership"
	// KindEvent marks an audit-only entry (a token created, a sync
	// approved…) that changes no domain fact.
	KindEvent Kind = "event"
)

// Op is what a Change did.
type Op string

// Change operations.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
	// OpMembers is a change to the member lists of a directory group
	// (Kind KindDirGroup) made as a delta: After holds a MembersChange
	// whose Add lists only ids that were not members and whose Remove
	// lists only ids that were, each with its Kind; Before is empty. It
	// costs what the change costs, not what the group weighs.
	OpMembers Op = "members"
	// OpCreateBatch is the audit entry of records of one Kind created
	// together by a bulk load (store.BulkTx: a directory's first load):
	// ID is empty and After holds a CreatedBatch naming them in order.
	// The records are not copied into the log (a first load would copy
	// the whole directory): each is in the store, at version 1 until it
	// changes, and the entries of its later changes carry it as Before.
	// The change feed (store.Store.Subscribe) still receives one OpCreate
	// per record, with the record, under the batch entry's Seq.
	OpCreateBatch Op = "create-batch"
)

// CreatedBatch is the After of an OpCreateBatch entry.
type CreatedBatch struct {
	IDs []string `json:"ids"`
}

// BatchIDs returns the ids an OpCreateBatch entry names (nil for any other
// entry, or one whose After does not decode).
func (c Change) BatchIDs() []string {
	if c.Op != OpCreateBatch {
		return nil
	}
	var b CreatedBatch
	if json.Unmarshal(c.After, &b) != nil {
		return nil
	}
	return b.IDs
}

// Change is one entry of the append-only audit log, which doubles as the
// change feed that keeps the Engine current. Before and After hold the JSON
// encoding of the record (null for a create or a delete respectively).
type Change struct {
	Seq    uint64          `json:"seq"`
	Time   time.Time       `json:"time"`
	Actor  string          `json:"actor"`
	Tenant TenantID        `json:"tenant,omitempty"`
	Kind   Kind            `json:"kind"`
	Op     Op              `json:"op"`
	ID     string          `json:"id"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`

	// before and after are the typed records Before and After encode (a
	// *T of the type Kind names, a *MembersChange for an OpMembers
	// After), when the writer handed them (WithRecords): in memory only,
	// never encoded. Either may be nil; Records and MembersDelta then
	// decode the JSON.
	before, after any
}

// MembershipKey returns the identity of a manual membership, used as the
// Change ID of membership entries: "<group>/<user>/<role>".
func MembershipKey(g GroupID, u UserID, r RoleName) string {
	return string(g) + "/" + string(u) + "/" + string(r)
}

// ParseMembershipKey splits a MembershipKey into its group, user and role.
func ParseMembershipKey(key string) (GroupID, UserID, RoleName, error) {
	g, rest, ok1 := strings.Cut(key, "/")
	u, r, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || strings.Contains(r, "/") {
		return "", "", "", fmt.Errorf("policy: membership key %q is not group/user/role", key)
	}
	return GroupID(g), UserID(u), RoleName(r), nil
}

// Record is a type of record the change feed carries: the one a Change's
// Kind names.
type Record interface {
	Tenant | User | DirGroup | Group | Role | Rule | Membership
}

// KindOf returns the Kind of change entries about records of type T.
func KindOf[T Record]() Kind {
	var zero T
	switch any(zero).(type) {
	case Tenant:
		return KindTenant
	case User:
		return KindUser
	case DirGroup:
		return KindDirGroup
	case Group:
		return KindGroup
	case Role:
		return KindRole
	case Rule:
		return KindRule
	default: // Membership: the type set allows nothing else
		return KindMembership
	}
}

// WithRecords returns c carrying before and after, the records c.Before
// and c.After encode, so that Records and MembersDelta hand them out
// without decoding: values of the type c's Kind names (a User for
// KindUser…) or, for the After of an OpMembers change, a MembersChange;
// nil for a side that carries none. A value of another type is not kept
// (that side is then decoded). It keeps deep copies, so the caller may go
// on modifying its values. The typed records live in memory only: they are
// never encoded, and a Change read back from where it was stored carries
// none. The caller vouches that each value is the one its side encodes.
func (c Change) WithRecords(before, after any) Change {
	c.before, c.after = c.typed(before), c.typed(after)
	return c
}

// Typed reports whether every side of c that carries JSON also carries its
// typed record (WithRecords, Decoded), so that reading c decodes nothing.
// A change about no record (KindEvent, an unknown kind) is never typed.
func (c Change) Typed() bool {
	if !known(c.Kind) {
		return false
	}
	return (isNull(c.Before) || c.before != nil) && (isNull(c.After) || c.after != nil)
}

// Decoded returns c carrying the typed records of all its sides, each side
// that carries none decoded from its JSON once, so that no reader of the
// result decodes: what a feed does with a change that comes without them
// (read back from where it was stored, or written by a backend that had
// only the JSON at hand). A change about no record (KindEvent, an unknown
// kind) is returned as it is. It fails as Records and MembersDelta do.
func (c Change) Decoded() (Change, error) {
	if c.Typed() {
		return c, nil
	}
	switch c.Kind {
	case KindTenant:
		return decodeSides[Tenant](c)
	case KindUser:
		return decodeSides[User](c)
	case KindDirGroup:
		if c.Op == OpMembers {
			d, err := c.MembersDelta()
			c.after = &d
			return c, err
		}
		return decodeSides[DirGroup](c)
	case KindGroup:
		return decodeSides[Group](c)
	case KindRole:
		return decodeSides[Role](c)
	case KindRule:
		return decodeSides[Rule](c)
	case KindMembership:
		return decodeSides[Membership](c)
	}
	return c, nil
}

// decodeSides sets the typed sides of c from Records.
func decodeSides[T Record](c Change) (Change, error) {
	before, after, err := Records[T](c)
	if err != nil {
		return c, err
	}
	if before != nil {
		c.before = before
	}
	if after != nil {
		c.after = after
	}
	return c, nil
}

// typed returns a deep copy of v, behind a pointer, when v is a record of
// the type c is about; nil otherwise.
func (c Change) typed(v any) any {
	if v == nil {
		return nil
	}
	if c.Op == OpMembers {
		if d, ok := v.(MembersChange); ok && c.Kind == KindDirGroup {
			d = cloneDelta(d)
			return &d
		}
		return nil
	}
	switch r := v.(type) {
	case Tenant:
		return ownedIf(c.Kind == KindTenant, cloneTenant(r))
	case User:
		return ownedIf(c.Kind == KindUser, cloneUser(r))
	case DirGroup:
		return ownedIf(c.Kind == KindDirGroup, cloneDirGroup(r))
	case Group:
		return ownedIf(c.Kind == KindGroup, cloneGroup(r))
	case Role:
		return ownedIf(c.Kind == KindRole, cloneRole(r))
	case Rule:
		return ownedIf(c.Kind == KindRule, &r)
	case Membership:
		return ownedIf(c.Kind == KindMembership, &r)
	}
	return nil
}

// ownedIf returns &v when ok, else nil (as an untyped nil).
func ownedIf[T any](ok bool, v T) any {
	if !ok {
		return nil
	}
	return &v
}

// Records returns c's Before and After as T, the record type its Kind
// names: the typed reading of the change feed. A side the change does not
// carry (the before of a create, the after of a delete, either side of an
// OpMembers delta) is nil. It fails when c is about another kind of record
// or a side does not decode.
//
// A side that carries its typed record (WithRecords) is not decoded: the
// caller gets its own copy of the record, whose slices and maps it shares
// with every other reader of c, read-only. A side that does not is decoded
// from its JSON.
func Records[T Record](c Change) (before, after *T, err error) {
	if k := KindOf[T](); c.Kind != k {
		return nil, nil, fmt.Errorf("policy: change %d is about a %s, not a %s", c.Seq, c.Kind, k)
	}
	if c.Op == OpMembers {
		return nil, nil, nil
	}
	side := func(b json.RawMessage, typed any, what string) (*T, error) {
		if p, ok := typed.(*T); ok {
			v := *p
			return &v, nil
		}
		if isNull(b) {
			return nil, nil
		}
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("policy: decode %s of change %d: %w", what, c.Seq, err)
		}
		return v, nil
	}
	if before, err = side(c.Before, c.before, "before"); err != nil {
		return nil, nil, err
	}
	if after, err = side(c.After, c.after, "after"); err != nil {
		return nil, nil, err
	}
	return before, after, nil
}

// MembersDelta returns the delta an OpMembers change carries: its typed
// record when c carries it (WithRecords; the lists are shared with every
// other reader of c, read-only), else decoded from After.
func (c Change) MembersDelta() (MembersChange, error) {
	var d MembersChange
	if c.Op != OpMembers || c.Kind != KindDirGroup {
		return d, fmt.Errorf("policy: change %d is %s %s, not a members change", c.Seq, c.Op, c.Kind)
	}
	if p, ok := c.after.(*MembersChange); ok {
		return *p, nil
	}
	if err := json.Unmarshal(c.After, &d); err != nil {
		return d, fmt.Errorf("policy: decode members change %d: %w", c.Seq, err)
	}
	return d, nil
}

// isNull reports whether b holds no record (empty or JSON null). It
// copies nothing: it is asked of every record a bulk write feeds (a
// first load's 100,000 users and 5,000 groups: 60 MB copied when it
// trimmed a string of b).
func isNull(b json.RawMessage) bool {
	s := bytes.TrimSpace(b)
	return len(s) == 0 || string(s) == "null"
}
