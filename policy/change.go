package policy

import (
	"encoding/json"
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
}

// MembershipKey returns the identity of a manual membership, used as the
// Change ID of membership entries: "<group>/<user>/<role>".
func MembershipKey(g GroupID, u UserID, r RoleName) string {
	return string(g) + "/" + string(u) + "/" + string(r)
}
