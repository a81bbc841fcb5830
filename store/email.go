package store

import (
	"strings"

	"github.com/roster-dev/roster/policy"
)

// EmailTx is implemented by the transactions of backends that index users
// by e-mail address. SCIM clients match users on it (Entra ID's
// `emails[type eq "work"].value eq "…"`); without the index such a lookup
// scans the tenant. Callers find it by type assertion on a Tx and fall
// back to a scan when it is missing. Backends that implement it keep the
// index in the same transaction as the user record.
type EmailTx interface {
	// UsersByEmail returns the tenant's users having an e-mail address
	// (any type) equal to addr under FoldEmail, in id order. None is not
	// an error; an unknown tenant is ErrNotFound.
	UsersByEmail(tenant policy.TenantID, addr string) ([]policy.User, error)
}

// FoldEmail is the key under which e-mail addresses are compared: two
// addresses are the same when their FoldEmail are equal. It lowers the
// case of the whole address (SCIM's emails.value is not caseExact,
// RFC 7643 §4.1.2) and nothing else: no trimming, no Unicode
// normalisation, no provider-specific rules.
func FoldEmail(addr string) string { return strings.ToLower(addr) }
