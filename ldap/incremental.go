package ldap

// This file holds the incremental run: the entries changed since the last mark, renames and deletions.

import (
	"context"
	"errors"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// incremental reads the entries changed since the last run and applies
// them. It sees no deletions.
func (r *run) incremental(ctx context.Context) error {
	s := r.s
	r.phase(PhaseDirectory)
	c, err := s.dialSearch(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var (
		users  []dirUser
		groups []dirGroup
	)
	if ch := r.changes; ch != nil {
		ch.tidy()
		users, groups, r.deleted = ch.users, ch.groups, ch.deleted
		r.usersCookie, r.groupsCookie = ch.usersCookie, ch.groupsCookie
		r.st.UsersRead = len(users)
		return r.applyChanged(ctx, c, users, groups)
	}
	if s.primary {
		// Active Directory: tombstones of users and groups deleted
		// since the last run (Show Deleted control).
		r.deleted = map[string]bool{}
		if err := r.readTombstones(ctx, c); err != nil {
			return err
		}
	}
	err = s.pagedSearch(ctx, c, s.dir.Users.BaseDN, s.changedFilter(s.dir.Users.Filter, r.state.UsersMark), s.userAttrs(),
		func(page []*goldap.Entry) error {
			for _, e := range page {
				r.st.UsersRead++
				if du, ok := s.mapUser(e); ok {
					users = append(users, du)
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	err = s.pagedSearch(ctx, c, s.dir.Groups.BaseDN, s.changedFilter(s.dir.Groups.Filter, r.state.GroupsMark), s.groupAttrs(),
		func(page []*goldap.Entry) error {
			for _, e := range page {
				if g, ok := s.mapGroup(e); ok {
					groups = append(groups, g)
				}
			}
			return nil
		})
	if err == nil {
		err = s.fetchRanges(ctx, c, groups)
	}
	if err != nil {
		return err
	}
	if s.primary {
		fetched, err := r.fetchPrimaryGroups(ctx, c, users, groups)
		if err != nil {
			return err
		}
		groups = append(groups, fetched...)
	}
	return r.applyChanged(ctx, c, users, groups)
}

// applyChanged applies the entries a non-full run read as changed, and
// the deletions it learnt of (r.deleted).
func (r *run) applyChanged(ctx context.Context, c *searchConn, users []dirUser, groups []dirGroup) error {
	s := r.s
	r.st.GroupsRead = len(groups)
	nu, ng := r.st.UsersRead, len(groups)
	s.prog.update(func(p *Progress) { p.UsersRead, p.GroupsRead = nu, ng })

	// What the store knows about the changed entries and the members of
	// the changed groups.
	for _, u := range users {
		r.dnKind[u.norm] = userEntry(u.user.ExternalID)
		r.userByName[policy.FoldUserName(u.user.UserName)] = u.user.ExternalID
	}
	for _, g := range groups {
		r.dnKind[g.norm] = groupEntry(g.ext)
	}
	prefix := s.dnPrefix()
	err := s.st.View(ctx, func(tx store.Tx) error {
		lookupUser := func(ext string) error {
			u, err := tx.UserByExternalID(s.tenant, ext)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return nil
			case err != nil:
				return err
			case u.Source == s.source:
				r.oldUsers[ext] = s.refOf(u)
				r.userID[ext] = u.ID
				if dn, _ := u.Attributes[attrDN].(string); dn != "" {
					r.oldDN[ext] = dn
				}
			}
			return nil
		}
		lookupGroup := func(ext string) error {
			g, err := tx.DirGroupByExternalID(s.tenant, ext)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return nil
			case err != nil:
				return err
			case g.Source == s.source:
				r.oldGroups[ext] = g
				r.groupID[ext] = g.ID
			}
			return nil
		}
		for _, u := range users {
			if err := lookupUser(u.user.ExternalID); err != nil {
				return err
			}
		}
		for _, g := range groups {
			if err := lookupGroup(g.ext); err != nil {
				return err
			}
		}
		for _, ext := range sortedKeys(r.deleted) {
			if err := lookupUser(ext); err != nil {
				return err
			}
			if err := lookupGroup(ext); err != nil {
				return err
			}
		}
		for _, g := range groups {
			for _, m := range g.members {
				if s.dir.Membership == MembershipMemberUID {
					key := policy.FoldUserName(m)
					if _, ok := r.userByName[key]; ok {
						continue
					}
					u, err := tx.UserByUserName(s.tenant, m)
					if err == nil && u.Source == s.source {
						r.userByName[key] = u.ExternalID
						r.userID[u.ExternalID] = u.ID
					} else if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					continue
				}
				n := m // normalized by memberValues
				if _, ok := r.dnKind[n]; ok {
					continue
				}
				v, err := tx.GetRecord(DNNamespace, prefix+n)
				if errors.Is(err, store.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				kv := parseEntryRef(string(v))
				r.dnKind[n] = kv
				switch kv.kind {
				case entryUser:
					if _, ok := r.userID[kv.ext]; !ok {
						if err := lookupUser(kv.ext); err != nil {
							return err
						}
					}
				case entryGroup:
					if _, ok := r.groupID[kv.ext]; ok {
						continue
					}
					if err := lookupGroup(kv.ext); err != nil {
						return err
					}
				}
			}
		}
		if s.primary {
			return r.keepPrimaryMembers(tx, users, groups)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}

	r.seenUsers = map[string]bool{}
	r.nUsers, r.nGroups, r.nMemberships = r.state.UserCount, r.state.GroupCount, r.state.MembershipCount
	var ops []op
	for _, du := range users {
		ops = r.diffUser(du, ops)
	}
	if err := r.apply(ctx, ops); err != nil {
		return err
	}
	r.conn = c
	if err := r.applyGroups(ctx, groups, false); err != nil {
		return err
	}
	// DN index: new DNs in, DNs left behind by renames out.
	ops = ops[:0]
	for _, u := range users {
		ops = append(ops, op{kind: opPutDN, key: prefix + u.norm, val: userEntry(u.user.ExternalID).String()})
		if dn, ok := r.oldDN[u.user.ExternalID]; ok {
			ops = r.dropOldDN(ops, dn, u.norm)
		}
	}
	for _, g := range groups {
		ops = append(ops, op{kind: opPutDN, key: prefix + g.norm, val: groupEntry(g.ext).String()})
		if old, ok := r.oldGroups[g.ext]; ok {
			oldDN, _ := old.Attributes[attrDN].(string)
			ops = r.dropOldDN(ops, oldDN, g.norm)
		}
	}
	// The DNs of deleted entries, unless the deletion is held.
	for _, ext := range sortedKeys(r.deleted) {
		if u, ok := r.oldUsers[ext]; ok && r.allowed(deleteUserKey(u.id)) {
			ops = r.dropOldDN(ops, r.oldDN[ext], "")
		}
		if g, ok := r.oldGroups[ext]; ok && r.allowed(deleteGroupKey(g.ID)) {
			dn, _ := g.Attributes[attrDN].(string)
			ops = r.dropOldDN(ops, dn, "")
		}
	}
	return r.apply(ctx, ops)
}

func (r *run) dropOldDN(ops []op, oldDN string, now string) []op {
	if oldDN == "" {
		return ops
	}
	n := normDN(oldDN)
	if n == now {
		return ops
	}
	if _, taken := r.dnKind[n]; taken {
		return ops
	}
	return append(ops, op{kind: opDelDN, key: r.s.dnPrefix() + n})
}
