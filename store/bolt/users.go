package bolt

// This file holds users: create, read by id and by index, update, delete, list.

import (
	"bytes"
	"fmt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	bbolt "go.etcd.io/bbolt"
)

// userScope returns the tenant bucket and its users bucket.
func (t *tx) userScope(tenant policy.TenantID) (tb, users *bbolt.Bucket, err error) {
	tb, err = t.tenantBucket(tenant)
	if err != nil {
		return nil, nil, err
	}
	users = tb.Bucket(bktUsers)
	// Ids are time-ordered (newID), so new users append at the right
	// edge: fill pages before splitting, as for the audit log, instead
	// of bbolt's default half (a full reconcile reads the whole bucket).
	users.FillPercent = 1.0
	return tb, users, nil
}

func notFoundUser(tenant policy.TenantID, id any) error {
	return fmt.Errorf("bolt: user %v in tenant %q: %w", id, tenant, store.ErrNotFound)
}

// idTaken reports whether id is used by any user or directory group.
func (t *tx) idTaken(id string) bool {
	idx := t.root.Bucket(bktIdx)
	return idx.Bucket(bktUserTenant).Get([]byte(id)) != nil || idx.Bucket(bktDGTenant).Get([]byte(id)) != nil
}

// CreateUser implements store.Tx.
func (t *tx) CreateUser(tenant policy.TenantID, u policy.User) (policy.User, error) {
	if err := t.write(); err != nil {
		return policy.User{}, err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return policy.User{}, err
	}
	fresh, err := store.NewUser(tenant, &u, t.now, checkID)
	if err != nil {
		return policy.User{}, err
	}
	if !fresh && t.idTaken(string(u.ID)) { // a new v7 id is unique (see store.NewID)
		return policy.User{}, fmt.Errorf("bolt: user id %s: %w", u.ID, store.ErrExists)
	}
	idx := tb.Bucket(bktIdx)
	fold := policy.FoldUserName(u.UserName)
	if idx.Bucket(bktUserName).Get([]byte(fold)) != nil {
		return policy.User{}, fmt.Errorf("bolt: userName %q in tenant %q: %w", u.UserName, tenant, store.ErrExists)
	}
	if u.ExternalID != "" && idx.Bucket(bktUserExt).Get([]byte(u.ExternalID)) != nil {
		return policy.User{}, fmt.Errorf("bolt: user externalId %q in tenant %q: %w", u.ExternalID, tenant, store.ErrExists)
	}
	v, err := encodeUser(u)
	if err != nil {
		return policy.User{}, err
	}
	id := []byte(u.ID)
	if err := put(users, id, v); err != nil {
		return policy.User{}, err
	}
	if err := t.writeIndexes(tb, userIndexes(nil, &u)); err != nil {
		return policy.User{}, err
	}
	t.journal.Created(policy.KindUser, tenant, string(u.ID), v, u)
	return u, nil
}

// User implements store.Tx.
func (t *tx) User(tenant policy.TenantID, id policy.UserID) (policy.User, error) {
	if err := t.read(); err != nil {
		return policy.User{}, err
	}
	_, users, err := t.userScope(tenant)
	if err != nil {
		return policy.User{}, err
	}
	v := users.Get([]byte(id))
	if v == nil || id == "" {
		return policy.User{}, notFoundUser(tenant, id)
	}
	return decode[policy.User](v, "user")
}

// userByIndex looks up a user through a unique index of its tenant.
func (t *tx) userByIndex(tenant policy.TenantID, bkt []byte, k string) (policy.User, error) {
	if err := t.read(); err != nil {
		return policy.User{}, err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return policy.User{}, err
	}
	id := getBucket(tb, bktIdx, bkt).Get([]byte(k))
	if id == nil || k == "" {
		return policy.User{}, notFoundUser(tenant, fmt.Sprintf("%s %q", bkt, k))
	}
	v := users.Get(id)
	if v == nil {
		return policy.User{}, fmt.Errorf("bolt: index %s points to missing user %s: %w", bkt, id, store.ErrNotFound)
	}
	return decode[policy.User](v, "user")
}

// UserByUserName implements store.Tx; the match is case-insensitive.
func (t *tx) UserByUserName(tenant policy.TenantID, userName string) (policy.User, error) {
	return t.userByIndex(tenant, bktUserName, policy.FoldUserName(userName))
}

// UserByExternalID implements store.Tx; the match is exact.
func (t *tx) UserByExternalID(tenant policy.TenantID, externalID string) (policy.User, error) {
	return t.userByIndex(tenant, bktUserExt, externalID)
}

// UpdateUser implements store.Tx.
func (t *tx) UpdateUser(tenant policy.TenantID, u policy.User) (policy.User, error) {
	if err := t.write(); err != nil {
		return policy.User{}, err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return policy.User{}, err
	}
	id := []byte(u.ID)
	before := users.Get(id)
	if before == nil || u.ID == "" {
		return policy.User{}, notFoundUser(tenant, u.ID)
	}
	before = bytes.Clone(before)
	old, err := decode[policy.User](before, "user")
	if err != nil {
		return policy.User{}, err
	}
	if err := store.ChangeUser(tenant, old, &u, t.now); err != nil {
		return policy.User{}, err
	}
	idx := tb.Bucket(bktIdx)
	oldFold, newFold := policy.FoldUserName(old.UserName), policy.FoldUserName(u.UserName)
	if oldFold != newFold && idx.Bucket(bktUserName).Get([]byte(newFold)) != nil {
		return policy.User{}, fmt.Errorf("bolt: userName %q in tenant %q: %w", u.UserName, tenant, store.ErrExists)
	}
	if u.ExternalID != "" && u.ExternalID != old.ExternalID && idx.Bucket(bktUserExt).Get([]byte(u.ExternalID)) != nil {
		return policy.User{}, fmt.Errorf("bolt: user externalId %q in tenant %q: %w", u.ExternalID, tenant, store.ErrExists)
	}
	v, err := encodeUser(u)
	if err != nil {
		return policy.User{}, err
	}
	if err := put(users, id, v); err != nil {
		return policy.User{}, err
	}
	if err := t.writeIndexes(tb, userIndexes(&old, &u)); err != nil {
		return policy.User{}, err
	}
	t.journal.Updated(policy.KindUser, tenant, string(u.ID), before, v, old, u)
	return u, nil
}

// DeleteUser implements store.Tx. The user's manual memberships are
// deleted first, then it is taken out of its directory groups (each such
// group gets one new version and one audit entry per transaction), then the
// user itself is deleted.
func (t *tx) DeleteUser(tenant policy.TenantID, id policy.UserID) error {
	if err := t.write(); err != nil {
		return err
	}
	tb, users, err := t.userScope(tenant)
	if err != nil {
		return err
	}
	before := users.Get([]byte(id))
	if before == nil || id == "" {
		return notFoundUser(tenant, id)
	}
	before = bytes.Clone(before)
	old, err := decode[policy.User](before, "user")
	if err != nil {
		return err
	}
	// Manual memberships.
	msUser := getBucket(t.root, bktIdx, bktMSUser)
	for _, k := range keysWithPrefix(msUser, prefix(string(id))) {
		p := splitKey(k) // user, group, role
		if err := t.removeMembership(policy.GroupID(p[1]), id, policy.RoleName(p[2])); err != nil {
			return err
		}
	}
	// Directory groups listing the user.
	if err := t.dropMember(tb, string(id), func(g policy.DirGroupID) { t.cascade.DropUser(tenant, g, id) }); err != nil {
		return err
	}
	if err := t.writeIndexes(tb, userIndexes(&old, nil)); err != nil {
		return err
	}
	if err := del(users, []byte(id)); err != nil {
		return err
	}
	t.journal.Deleted(policy.KindUser, tenant, string(id), before, old)
	return nil
}

// Users implements store.Tx: the tenant's users in id order.
func (t *tx) Users(tenant policy.TenantID, p store.Page) ([]policy.User, error) {
	if err := t.read(); err != nil {
		return nil, err
	}
	_, users, err := t.userScope(tenant)
	if err != nil {
		return nil, err
	}
	return page[policy.User](users, p, "user")
}

// ForEachUser implements store.Tx. It streams with a cursor: one user is
// decoded at a time.
func (t *tx) ForEachUser(tenant policy.TenantID, fn func(policy.User) error) error {
	if err := t.read(); err != nil {
		return err
	}
	_, users, err := t.userScope(tenant)
	if err != nil {
		return err
	}
	return forEach(t.ctx, users, "user", fn)
}

// CountUsers implements store.Tx.
func (t *tx) CountUsers(tenant policy.TenantID) (int, error) {
	if err := t.read(); err != nil {
		return 0, err
	}
	_, users, err := t.userScope(tenant)
	if err != nil {
		return 0, err
	}
	n := 0
	c := users.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n, nil
}
