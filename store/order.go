package store

import "github.com/roster-dev/roster/policy"

// UserNameOrderTx is implemented by the transactions of backends that can
// walk a tenant's users in userName order from their unique userName
// index. SCIM's sortBy=userName (RFC 7644 §3.4.2.3) pages with it without
// reading or sorting every user. Callers find it by type assertion on a
// Tx and fall back to a scan when it is missing.
type UserNameOrderTx interface {
	// UserIDsByUserName calls fn with the id of each of the tenant's
	// users in the bytewise order of policy.FoldUserName(userName),
	// descending when desc, until fn returns an error, which it returns.
	// An unknown tenant is ErrNotFound.
	UserIDsByUserName(tenant policy.TenantID, desc bool, fn func(policy.UserID) error) error
}
