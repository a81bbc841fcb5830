package scim

import (
	"strings"

	scimerr "github.com/elimity-com/scim/errors"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// checkEmailDomains refuses a user of tenant t carrying an e-mail address
// inside a domain another tenant owns (policy.Tenant.Domains): no tenant
// may put such an address on its users, since tools that link accounts by
// e-mail would take it for the owner's. It runs inside the writing
// transaction, so the write is refused whole.
//
// Addresses the user already had (in before, nil on create) are kept: a
// domain claimed after the fact must not keep the tenant from deactivating
// or otherwise updating its user; they are never vouched for
// (email_verified) anyway, since only the owner's sources vouch.
func checkEmailDomains(tx store.Tx, t policy.TenantID, u policy.User, before []policy.Email) error {
	var tenants []policy.Tenant
	for _, e := range u.Emails {
		if hadEmail(before, e.Value) || policy.EmailDomain(e.Value) == "" {
			continue
		}
		if tenants == nil {
			var err error
			if tenants, err = tx.Tenants(); err != nil {
				return err
			}
		}
		if owner, ok := policy.DomainOwner(tenants, e.Value); ok && owner != t {
			return errorf(scimerr.ScimErrorInvalidValue,
				"emails: %q is inside the domain %s, which belongs to another tenant; an address there can only be set by that tenant",
				e.Value, policy.EmailDomain(e.Value))
		}
	}
	return nil
}

func hadEmail(list []policy.Email, addr string) bool {
	for _, e := range list {
		if strings.EqualFold(strings.TrimSpace(e.Value), strings.TrimSpace(addr)) {
			return true
		}
	}
	return false
}
