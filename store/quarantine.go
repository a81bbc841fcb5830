package store

import (
	"time"

	"github.com/roster-dev/roster/policy"
)

// Audit operations of the quarantine (Kind policy.KindEvent).
const (
	// OpQuarantine: a record that could not be read was set aside.
	OpQuarantine policy.Op = "quarantine"
	// OpUnreadable marks an audit entry the backend could not read.
	OpUnreadable policy.Op = "unreadable"
	// OpQuarantineDelete: a quarantined record was dropped.
	OpQuarantineDelete policy.Op = "quarantine-delete"
)

// Quarantined is a record set aside because it could not be read. The
// rest of the store is served without it; references to it (directory
// group members, memberships) are kept, so repairing it restores them.
type Quarantined struct {
	// ID names the quarantine entry.
	ID string `json:"id"`
	// Kind, Tenant and Key say which record it was: Key is its id (a
	// role's name, a membership's policy.MembershipKey).
	Kind   policy.Kind     `json:"kind"`
	Tenant policy.TenantID `json:"tenant,omitempty"`
	Key    string          `json:"key"`
	// Reason says why it could not be read, without quoting it.
	Reason string `json:"reason"`
	// Size is the length of Value in bytes.
	Size int `json:"size"`
	// Time is when it was set aside.
	Time time.Time `json:"time"`
	// Value is the record as it was stored; only QuarantinedRecord
	// fills it.
	Value []byte `json:"value,omitempty"`
}
