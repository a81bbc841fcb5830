package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
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

// NewID returns a new record id: a version 7 UUID (RFC 9562 §5.7), whose
// leading timestamp makes new keys sort after existing ones, so a bulk load
// appends to the right edge of a backend's B+trees instead of rewriting
// pages all over them. Its 74 random bits under a millisecond timestamp
// make it unique without a look-up: creates check only ids given by the
// caller.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// KeyRule is a backend's rule for the ids it can keep as keys: nil, or an
// error wrapping policy.ErrInvalid naming the kind of id.
type KeyRule func(kind, id string) error

// assignID gives an empty id a NewID and reports whether it did.
func assignID[T ~string](id *T) (fresh bool) {
	if *id != "" {
		return false
	}
	*id = T(NewID())
	return true
}

// NewUser readies u for CreateUser in tenant: a new id when it has none
// (fresh reports that: such an id needs no look-up), the id checked by the
// backend's key rule, then PrepareUser; u is then Created and Updated now,
// at version 1.
func NewUser(tenant policy.TenantID, u *policy.User, now time.Time, key KeyRule) (fresh bool, err error) {
	fresh = assignID(&u.ID)
	if err := key("user", string(u.ID)); err != nil {
		return fresh, err
	}
	if err := PrepareUser(tenant, u); err != nil {
		return fresh, err
	}
	u.Created, u.Updated, u.Version = now, now, 1
	return fresh, nil
}

// NewDirGroup readies g for CreateDirGroup in tenant: a new id when it has
// none (fresh reports that), the id checked by the backend's key rule,
// then PrepareDirGroup; g is then Created and Updated now, at version 1.
func NewDirGroup(tenant policy.TenantID, g *policy.DirGroup, now time.Time, key KeyRule) (fresh bool, err error) {
	fresh = assignID(&g.ID)
	if err := key("directory group", string(g.ID)); err != nil {
		return fresh, err
	}
	if err := PrepareDirGroup(tenant, g); err != nil {
		return fresh, err
	}
	g.Created, g.Updated, g.Version = now, now, 1
	return fresh, nil
}

// NewGroup readies g for CreateGroup: a new id when it has none, its id
// and its parent's checked by the backend's key rule, the group validated;
// g is then Created and Updated now, at version 1.
func NewGroup(g *policy.Group, now time.Time, key KeyRule) error {
	assignID(&g.ID)
	if err := key("group", string(g.ID)); err != nil {
		return err
	}
	if err := checkGroup(*g, key); err != nil {
		return err
	}
	g.Created, g.Updated, g.Version = now, now, 1
	return nil
}

// ChangeGroup readies g to replace old: g made with old's version
// (CheckVersion), its parent's id accepted by the backend's key rule, the
// group valid. g then keeps old's Created time, is Updated now and gets
// the next version.
func ChangeGroup(old policy.Group, g *policy.Group, now time.Time, key KeyRule) error {
	if err := CheckVersion("group", g.ID, old.Version, g.Version); err != nil {
		return err
	}
	if err := checkGroup(*g, key); err != nil {
		return err
	}
	g.Created, g.Updated, g.Version = old.Created, now, old.Version+1
	return nil
}

// ChangeUser readies u to replace old in tenant: u made with old's version
// (CheckVersion), then PrepareUser. u then keeps old's Created time, is
// Updated now and gets the next version.
func ChangeUser(tenant policy.TenantID, old policy.User, u *policy.User, now time.Time) error {
	if err := CheckVersion("user", u.ID, old.Version, u.Version); err != nil {
		return err
	}
	if err := PrepareUser(tenant, u); err != nil {
		return err
	}
	u.Created, u.Updated, u.Version = old.Created, now, old.Version+1
	return nil
}

// ChangeDirGroup readies g to replace old in tenant: g made with old's
// version (CheckVersion), then PrepareDirGroup. g then keeps old's Created
// time, is Updated now and gets the next version.
func ChangeDirGroup(tenant policy.TenantID, old policy.DirGroup, g *policy.DirGroup, now time.Time) error {
	if err := CheckVersion("directory group", g.ID, old.Version, g.Version); err != nil {
		return err
	}
	if err := PrepareDirGroup(tenant, g); err != nil {
		return err
	}
	g.Created, g.Updated, g.Version = old.Created, now, old.Version+1
	return nil
}

func checkGroup(g policy.Group, key KeyRule) error {
	if err := key("group", string(g.Parent)); err != nil {
		return err
	}
	if err := policy.ValidateGroup(g); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// ReplaceRole readies r to be stored over old, nil when there is no role
// of that name: a new role gets version 1 whatever r says; a replacement
// must carry old's version (ErrVersion otherwise) and gets the next one.
// Which audit entry it makes is Journal.Put's rule.
func ReplaceRole(old *policy.Role, r *policy.Role) error {
	if old == nil {
		r.Version = 1
		return nil
	}
	if err := CheckVersion("role", r.Name, old.Version, r.Version); err != nil {
		return err
	}
	r.Version = old.Version + 1
	return nil
}

// PrepareMembership readies m for AddMembership: its origin defaults to
// policy.OriginManual and any other origin is refused (policy.ErrInvalid),
// since rule memberships are derived, not stored; its group, user and role
// ids must pass the backend's key rule.
func PrepareMembership(m *policy.Membership, key KeyRule) error {
	if m.Origin == "" {
		m.Origin = policy.OriginManual
	}
	if m.Origin != policy.OriginManual {
		return fmt.Errorf("store: membership origin %q is not manual: %w", m.Origin, policy.ErrInvalid)
	}
	for _, id := range []string{string(m.Group), string(m.User), string(m.Role)} {
		if err := key("membership", id); err != nil {
			return err
		}
	}
	return nil
}

// AddMembership is the rule of Tx.AddMembership, above the backends: m is
// readied (PrepareMembership); a membership tx already holds (Tx.Membership)
// is returned as stored and nothing is written: no audit entry, no record
// in the change feed, its Created time kept. Otherwise m, Created now, goes
// to insert, which checks that its user, group and role exist and stores
// it with its index and its audit entry; AddMembership returns it as
// inserted. A backend's AddMembership is this call.
func AddMembership(tx Tx, m policy.Membership, now time.Time, key KeyRule, insert func(policy.Membership) error) (policy.Membership, error) {
	if err := PrepareMembership(&m, key); err != nil {
		return policy.Membership{}, err
	}
	held, err := tx.Membership(m.Group, m.User, m.Role)
	if err == nil {
		return held, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return policy.Membership{}, err
	}
	m.Created = now
	if err := insert(m); err != nil {
		return policy.Membership{}, err
	}
	return m, nil
}

// NewRule readies r for CreateRule: a new id when it has none, checked by
// the backend's key rule; r is then Created now, at version 1.
func NewRule(r *policy.Rule, now time.Time, key KeyRule) error {
	assignID(&r.ID)
	if err := key("rule", string(r.ID)); err != nil {
		return err
	}
	r.Created, r.Version = now, 1
	return nil
}
