package store

import (
	"errors"
	"slices"
	"time"

	"github.com/roster-dev/roster/policy"
)

// Cascade gathers, within one transaction, the members that deletions
// (of a user, of a directory group) take out of the directory groups that
// list them. A backend marks each removal as it deletes the member's
// reverse-index entries, then rewrites each marked group once (Take,
// CascadeRewrite.Apply) before the next directory-group read or write and
// before commit, so deleting many members of one large group stays linear.
// The zero value is empty and ready to use.
type Cascade struct {
	pending map[cascadeRef]*CascadeRewrite
	order   []cascadeRef
}

type cascadeRef struct {
	tenant policy.TenantID
	id     policy.DirGroupID
}

// CascadeRewrite is the rewrite a cascade makes of one directory group:
// the members to take out of it.
type CascadeRewrite struct {
	Tenant policy.TenantID
	ID     policy.DirGroupID
	users  map[policy.UserID]bool
	groups map[policy.DirGroupID]bool
}

// DropUser marks user u for removal from directory group g of tenant.
func (c *Cascade) DropUser(tenant policy.TenantID, g policy.DirGroupID, u policy.UserID) {
	c.rewrite(tenant, g).users[u] = true
}

// DropGroup marks directory group m for removal from the member groups of
// directory group g of tenant.
func (c *Cascade) DropGroup(tenant policy.TenantID, g, m policy.DirGroupID) {
	c.rewrite(tenant, g).groups[m] = true
}

func (c *Cascade) rewrite(tenant policy.TenantID, id policy.DirGroupID) *CascadeRewrite {
	r := cascadeRef{tenant, id}
	if rw, ok := c.pending[r]; ok {
		return rw
	}
	if c.pending == nil {
		c.pending = map[cascadeRef]*CascadeRewrite{}
	}
	rw := &CascadeRewrite{Tenant: tenant, ID: id, users: map[policy.UserID]bool{}, groups: map[policy.DirGroupID]bool{}}
	c.pending[r] = rw
	c.order = append(c.order, r)
	return rw
}

// Flush makes the marked rewrites (Take), in the order their groups were
// first marked. Each group is read through tx (Tx.DirGroup); one deleted
// since it was marked is skipped: nothing is written for it, no audit
// entry, no version. Otherwise write stores g, rw.Apply(old, now), over
// old and records it (Journal.Cascaded); the backend only writes. A
// backend calls Flush before each directory-group read or write and before
// commit (a read Flush makes itself finds nothing left to flush).
func (c *Cascade) Flush(tx Tx, now time.Time, write func(rw *CascadeRewrite, old, g policy.DirGroup) error) error {
	for _, rw := range c.Take() {
		old, err := tx.DirGroup(rw.Tenant, rw.ID)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		if err := write(rw, old, rw.Apply(old, now)); err != nil {
			return err
		}
	}
	return nil
}

// Take returns the marked rewrites, in the order their groups were first
// marked, and leaves c empty.
func (c *Cascade) Take() []*CascadeRewrite {
	if len(c.order) == 0 {
		return nil
	}
	out := make([]*CascadeRewrite, len(c.order))
	for i, r := range c.order {
		out[i] = c.pending[r]
	}
	c.pending, c.order = nil, nil
	return out
}

// Apply returns g without the marked members, its version one higher and
// its Updated time now: what a cascade writes. A member list left empty
// becomes nil, so the group encodes as one created without members. g's
// member slices are not modified.
func (rw *CascadeRewrite) Apply(g policy.DirGroup, now time.Time) policy.DirGroup {
	g.MemberUsers = dropAll(g.MemberUsers, rw.users)
	g.MemberGroups = dropAll(g.MemberGroups, rw.groups)
	g.Updated, g.Version = now, g.Version+1
	return g
}

// dropAll returns a copy of s without the elements in drop, nil when none
// are left.
func dropAll[T comparable](s []T, drop map[T]bool) []T {
	out := slices.DeleteFunc(slices.Clone(s), func(x T) bool { return drop[x] })
	if len(out) == 0 {
		return nil
	}
	return out
}
