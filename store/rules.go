package store

import (
	"fmt"

	"github.com/roster-dev/roster/policy"
)

// The rules of a write that are not about storage live here, above the
// backends, so that each backend calls them instead of writing them again:
// a backend persists, indexes and audits; what a record may be is decided
// once. The conformance suite (storetest) pins each of them.

// ScopeTenant fills in the Tenant field of a record written through tenant
// scope, or refuses (policy.ErrInvalid) a record of another tenant: a
// write can never cross tenants.
func ScopeTenant(kind string, rec *policy.TenantID, scope policy.TenantID) error {
	if *rec == "" {
		*rec = scope
		return nil
	}
	if *rec != scope {
		return fmt.Errorf("store: %s of tenant %q written through tenant %q: %w", kind, *rec, scope, policy.ErrInvalid)
	}
	return nil
}

// CheckVersion refuses (ErrVersion) an update made with version want of a
// record whose stored version is have (optimistic concurrency).
func CheckVersion(kind string, id any, have, want uint64) error {
	if have != want {
		return fmt.Errorf("store: %s %v has version %d, not %d: %w", kind, id, have, want, ErrVersion)
	}
	return nil
}

// PrepareUser scopes u to tenant and validates it: what every backend
// does to a user before it looks at its keys.
func PrepareUser(tenant policy.TenantID, u *policy.User) error {
	if err := ScopeTenant("user", &u.Tenant, tenant); err != nil {
		return err
	}
	if err := policy.ValidateUser(*u); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// PrepareDirGroup scopes g to tenant, puts its member lists in canonical
// form (policy.UniqueMembers: repeats dropped, first occurrence kept) and
// validates it: what every backend does to a directory group before it
// looks at its keys and members. g.ID must be set (a group cannot list
// itself).
func PrepareDirGroup(tenant policy.TenantID, g *policy.DirGroup) error {
	if err := ScopeTenant("directory group", &g.Tenant, tenant); err != nil {
		return err
	}
	g.MemberUsers, g.MemberGroups = policy.UniqueMembers(g.MemberUsers), policy.UniqueMembers(g.MemberGroups)
	if err := policy.ValidateDirGroup(*g); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}
