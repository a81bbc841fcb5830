package ldap

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// full reads the whole directory and reconciles the store with it.
func (r *run) full(ctx context.Context) error {
	s := r.s
	t0 := time.Now()
	// Maps sized for the directory as the last full run saw it.
	nu, ng := r.state.UserCount, r.state.GroupCount
	r.seenUsers = make(map[string]bool, nu)
	r.index = make(map[string]string, nu+ng)
	r.oldUsers = make(map[string]userRef, nu)
	r.userID = make(map[string]policy.UserID, nu)
	r.dnKind = make(map[string]string, nu+ng)
	if s.dir.Membership == MembershipMemberUID {
		r.userByName = make(map[string]string, nu)
	}
	prefix := s.dnPrefix()
	err := s.st.View(ctx, func(tx store.Tx) error {
		if err := tx.ForEachUser(s.tenant, func(u policy.User) error {
			if u.Source == s.source && u.ExternalID != "" {
				r.oldUsers[u.ExternalID] = r.s.refOf(u)
				r.userID[u.ExternalID] = u.ID
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.ForEachDirGroup(s.tenant, func(g policy.DirGroup) error {
			if g.Source == s.source && g.ExternalID != "" {
				// Member lists are a run's largest store data
				// (a 36-byte id per membership); a fingerprint is
				// enough to see that a group is unchanged, and an
				// update rewrites the whole list anyway.
				r.oldMembers[g.ExternalID] = membersRef{
					fp: s.membersFingerprint(sortedUnique(g.MemberUsers), sortedUnique(g.MemberGroups)),
					n:  len(g.MemberUsers) + len(g.MemberGroups),
				}
				g.MemberUsers, g.MemberGroups = nil, nil
				r.oldGroups[g.ExternalID] = g
				r.groupID[g.ExternalID] = g.ID
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.ScanRecords(DNNamespace, prefix, func(k string, v []byte) error {
			r.index[k[len(prefix):]] = string(v)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}
	if len(r.oldUsers) == 0 {
		r.batch = s.bulk // a first load
	}
	r.nUsers, r.nGroups = len(r.oldUsers), len(r.oldGroups)
	for _, m := range r.oldMembers {
		r.nMemberships += m.n
	}
	s.log.Debug("ldap sync: store read", "users", len(r.oldUsers), "groups", len(r.oldGroups), "took", since(t0))
	r.phase(PhaseDirectory)
	if s.useSyncrepl() && r.dry == nil {
		// Taken before reading: what changes meanwhile is seen again
		// by the next incremental run rather than lost.
		// Without them (refused, or a base DN gone, which the
		// searches below report), incremental runs poll.
		if uc, gc, err := s.syncCookies(ctx); err != nil {
			s.log.Info("ldap sync: no syncrepl cookie; incremental runs poll", "err", err)
		} else {
			r.usersCookie, r.groupsCookie = uc, gc
		}
	}

	if s.useRetroCL() && r.dry == nil {
		// Taken before reading, like the syncrepl cookies.
		if err := r.markChangelog(ctx); err != nil {
			return err
		}
	}

	// Two connections: users and groups are read at the same time.
	uc, err := s.dialSearch(ctx)
	if err != nil {
		return err
	}
	defer uc.Close()
	gc, err := s.dialSearch(ctx)
	if err != nil {
		return err
	}
	defer gc.Close()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var groups []dirGroup
	gdone := make(chan error, 1)
	go func() {
		err := s.pagedSearch(cctx, gc, s.dir.Groups.BaseDN, s.dir.Groups.Filter, s.groupAttrs(), func(page []*goldap.Entry) error {
			s.prog.update(func(p *Progress) { p.GroupsRead += len(page) })
			for _, e := range page {
				if g, ok := s.mapGroup(e); ok {
					groups = append(groups, g)
				} else {
					s.log.Debug("ldap sync: group entry without id or name skipped", "dn", e.DN)
				}
			}
			return nil
		})
		if err == nil {
			err = s.fetchRanges(cctx, gc, groups)
		}
		gdone <- err
	}()
	// Reading goes on while a batch is written: the queue holds about
	// one batch.
	pages := make(chan []*goldap.Entry, 2+r.batch/s.dir.PageSize)
	udone := make(chan error, 1)
	go func() {
		defer close(pages)
		udone <- s.pagedSearch(cctx, uc, s.dir.Users.BaseDN, s.dir.Users.Filter, s.userAttrs(), func(page []*goldap.Entry) error {
			select {
			case pages <- page:
				return nil
			case <-cctx.Done():
				return cctx.Err()
			}
		})
	}()

	// Creates and updates are written while the directory is read; each
	// batch leaves the store consistent.
	// Room for a batch of creates and their DN index entries, and a
	// page more: the list never grows (an op is large).
	ops := make([]op, 0, 2*r.batch+2*s.dir.PageSize)
	var applyErr error
	for page := range pages {
		if applyErr != nil {
			continue
		}
		for _, e := range page {
			r.st.UsersRead++
			if r.st.UsersRead%s.progress == 0 {
				s.log.Info("ldap sync progress", "usersRead", r.st.UsersRead, "elapsed", since(t0))
			}
			du, ok := s.mapUser(e)
			if !ok {
				s.log.Debug("ldap sync: user entry without id or userName skipped", "dn", e.DN)
				continue
			}
			ops = r.diffUser(du, ops)
		}
		n := r.st.UsersRead
		s.prog.update(func(p *Progress) { p.UsersRead = n })
		if len(ops) >= 2*r.batch {
			applyErr = r.apply(cctx, ops)
			ops = ops[:0]
			if applyErr != nil {
				cancel()
			}
		}
	}
	uerr := <-udone
	if applyErr == nil && uerr == nil {
		applyErr = r.apply(ctx, ops)
	}
	if applyErr != nil || uerr != nil {
		cancel()
		<-gdone
		if applyErr != nil {
			return applyErr
		}
		return uerr
	}
	if err := <-gdone; err != nil {
		return err
	}
	r.st.GroupsRead = len(groups)
	s.log.Info("ldap sync: directory read", "users", r.st.UsersRead, "groups", len(groups), "elapsed", since(t0))

	// No entries where there were many is a subtree gone (a wrong base
	// DN, a reorganised tree), not a directory emptied.
	var gone []string
	if m := s.dir.DeletionGuard.MinEntries; m > 0 {
		if r.st.UsersRead == 0 && len(r.oldUsers) >= m {
			gone = append(gone, fmt.Sprintf("the users base DN %q answered no entries where this directory had %d users", s.dir.Users.BaseDN, len(r.oldUsers)))
		}
		if len(groups) == 0 && len(r.oldGroups) >= m {
			gone = append(gone, fmt.Sprintf("the groups base DN %q answered no entries where this directory had %d groups", s.dir.Groups.BaseDN, len(r.oldGroups)))
		}
	}
	r.vanished = strings.Join(gone, "; ")

	if err := r.applyGroups(ctx, groups, true); err != nil {
		return err
	}
	r.phase(PhaseIndex)
	if err := r.syncIndex(ctx); err != nil {
		return err
	}
	r.userCount = len(r.oldUsers) + r.st.Users.Created - r.st.Users.Deleted
	r.groupCount = len(r.oldGroups) + r.st.Groups.Created - r.st.Groups.Deleted
	if r.vanished != "" && r.held != nil && r.held.Vanished {
		return fmt.Errorf("ldap[%s]: %w: %s; nothing removed, the change is held for approval", s.dir.ID, ErrSubtreeVanished, r.vanished)
	}
	return nil
}

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
		r.dnKind[u.norm] = "u:" + u.user.ExternalID
		r.userByName[policy.FoldUserName(u.user.UserName)] = u.user.ExternalID
	}
	for _, g := range groups {
		r.dnKind[g.norm] = "g:" + g.ext
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
				kv := string(v)
				r.dnKind[n] = kv
				if len(kv) < 2 {
					continue
				}
				if kv[0] == 'u' {
					if _, ok := r.userID[kv[2:]]; !ok {
						if err := lookupUser(kv[2:]); err != nil {
							return err
						}
					}
				} else if _, ok := r.groupID[kv[2:]]; !ok {
					if err := lookupGroup(kv[2:]); err != nil {
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
		ops = append(ops, op{kind: opPutDN, key: prefix + u.norm, val: "u:" + u.user.ExternalID})
		if dn, ok := r.oldDN[u.user.ExternalID]; ok {
			ops = r.dropOldDN(ops, dn, u.norm)
		}
	}
	for _, g := range groups {
		ops = append(ops, op{kind: opPutDN, key: prefix + g.norm, val: "g:" + g.ext})
		if old, ok := r.oldGroups[g.ext]; ok {
			oldDN, _ := old.Attributes[attrDN].(string)
			ops = r.dropOldDN(ops, oldDN, g.norm)
		}
	}
	// The DNs of deleted entries, unless the deletion is held.
	for _, ext := range sortedKeys(r.deleted) {
		if u, ok := r.oldUsers[ext]; ok && r.allowed("d:"+string(u.id)) {
			ops = r.dropOldDN(ops, r.oldDN[ext], "")
		}
		if g, ok := r.oldGroups[ext]; ok && r.allowed("g:"+string(g.ID)) {
			dn, _ := g.Attributes[attrDN].(string)
			ops = r.dropOldDN(ops, dn, "")
		}
	}
	return r.apply(ctx, ops)
}

// fetchPrimaryGroups reads the groups that users read by an incremental
// run join or leave as their primary group (Active Directory), among
// those the run did not read as changed: their members change though
// their entries do not.
func (r *run) fetchPrimaryGroups(ctx context.Context, c *searchConn, users []dirUser, groups []dirGroup) ([]dirGroup, error) {
	s := r.s
	stored := make(map[string]string, len(users)) // external id → primary group SID
	err := s.st.View(ctx, func(tx store.Tx) error {
		for _, du := range users {
			u, err := tx.UserByExternalID(s.tenant, du.user.ExternalID)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return err
			case u.Source == s.source:
				stored[du.user.ExternalID], _ = u.Attributes[attrPrimary].(string)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}
	read := make(map[string]bool, len(groups))
	for _, g := range groups {
		read[g.sid] = true
	}
	var want []string
	add := func(sid string) {
		if sid != "" && !read[sid] {
			read[sid] = true
			want = append(want, sid)
		}
	}
	for _, du := range users {
		now, _ := du.user.Attributes[attrPrimary].(string)
		if was := stored[du.user.ExternalID]; was != now {
			add(was)
			add(now)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	// AD (and Samba) match objectSid against the SID's string form.
	var f strings.Builder
	f.WriteString("(&" + s.dir.Groups.Filter + "(|")
	for _, sid := range want {
		f.WriteString("(" + attrObjectSid + "=" + goldap.EscapeFilter(sid) + ")")
	}
	f.WriteString("))")
	var out []dirGroup
	err = s.pagedSearch(ctx, c, s.dir.Groups.BaseDN, f.String(), s.groupAttrs(), func(page []*goldap.Entry) error {
		for _, e := range page {
			if g, ok := s.mapGroup(e); ok {
				// Its change mark says nothing of the changes
				// this run has seen.
				g.fetched, g.mark = true, ""
				out = append(out, g)
			}
		}
		return nil
	})
	if err == nil {
		err = s.fetchRanges(ctx, c, out)
	}
	return out, err
}

// keepPrimaryMembers finds, for each group an incremental run read, the
// stored members that are there as users whose primary group it is and
// that the run did not read (so that desiredGroup keeps them): among the
// stored members its member attribute does not list, those whose stored
// primary group is this one. A group read only because primary groups
// moved (fetched) has not changed since the last run, so all of these are.
// The users the run read join their primary groups through run.primary.
func (r *run) keepPrimaryMembers(tx store.Tx, users []dirUser, groups []dirGroup) error {
	s := r.s
	read := make(map[policy.UserID]bool, len(users))
	for _, du := range users {
		if id, ok := r.userID[du.user.ExternalID]; ok {
			read[id] = true
		}
	}
	for _, g := range groups {
		old, ok := r.oldGroups[g.ext]
		if g.sid == "" || !ok {
			continue
		}
		listed := make(map[policy.UserID]bool, len(g.members))
		for _, m := range g.members {
			if kv := r.dnKind[m]; len(kv) > 2 && kv[0] == 'u' {
				if id, ok := r.userID[kv[2:]]; ok {
					listed[id] = true
				}
			}
		}
		for _, id := range old.MemberUsers {
			if listed[id] || read[id] {
				continue
			}
			if !g.fetched {
				u, err := tx.User(s.tenant, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				if pg, _ := u.Attributes[attrPrimary].(string); u.Source != s.source || pg != g.sid {
					continue
				}
			}
			r.primaryIDs[g.sid] = append(r.primaryIDs[g.sid], id)
		}
	}
	return nil
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

// diffUser compares a directory user with the store and appends the
// write it needs, if any.
func (r *run) diffUser(du dirUser, ops []op) []op {
	if r.seenUsers[du.user.ExternalID] {
		r.recordErr(&r.st.Users, fmt.Sprintf("user %s: duplicate %s %s", du.dn, r.s.dir.Attributes.ID, du.user.ExternalID))
		return ops
	}
	// The strings kept in the run's maps are copies: those of the entry
	// share one buffer with the whole entry (see decodeEntry).
	v := "u:" + du.user.ExternalID
	ext := v[2:]
	du.user.ExternalID = ext
	norm := strings.Clone(du.norm)
	r.seenUsers[ext] = true
	if k, _ := du.user.Attributes[attrPrimary].(string); k != "" {
		r.primary[k] = append(r.primary[k], ext)
	}
	r.dnKind[norm] = v
	if r.s.dir.Membership == MembershipMemberUID || r.index == nil {
		// Needed to resolve memberUid values, and by incremental runs.
		r.userByName[strings.Clone(policy.FoldUserName(du.user.UserName))] = ext
	}
	r.usersMark = laterMark(r.usersMark, du.mark)
	if r.index != nil && r.index[norm] != v {
		// A full run writes the DN index along with the users.
		ops = append(ops, op{kind: opPutDN, key: r.s.dnPrefix() + norm, val: v})
		r.index[norm] = v
	}
	old, ok := r.oldUsers[ext]
	if !ok {
		return append(ops, op{kind: opCreateUser, user: du.user})
	}
	if old.fp == r.s.fingerprint(du.user) {
		r.st.Users.Unchanged++
		return ops
	}
	// The update is merged into the stored record when it is written
	// (mergeUser), provided that record still has the version read here.
	nu := du.user
	nu.ID, nu.Version = old.id, old.version
	if old.active && !nu.Active {
		r.deactivate = append(r.deactivate, nu)
		return ops
	}
	return append(ops, op{kind: opUpdateUser, user: nu})
}

// userRef is what a run keeps of a stored user: enough to diff, update
// and delete it without holding the record.
type userRef struct {
	id       policy.UserID
	version  uint64
	fp       uint64
	active   bool
	userName string
}

func (s *Source) refOf(u policy.User) userRef {
	return userRef{id: u.ID, version: u.Version, fp: s.fingerprint(u), active: u.Active, userName: u.UserName}
}

// fingerprint hashes the fields a directory entry maps to (see mapUser):
// two users with the same fingerprint need no update.
func (s *Source) fingerprint(u policy.User) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	str := func(v string) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.WriteString(v)
	}
	str(u.UserName)
	str(u.GivenName)
	str(u.FamilyName)
	str(u.DisplayName)
	str(u.ExternalID)
	if s.mapsLocation() {
		if l := u.Location; l != nil {
			str(l.City)
			str(l.Region)
			str(l.Country)
		} else {
			str("\x00no location")
		}
	}
	dn, isStr := u.Attributes[attrDN].(string)
	if !isStr && u.Attributes[attrDN] != nil {
		dn = fmt.Sprint(u.Attributes[attrDN]) + "\x00not a string"
	}
	str(dn)
	pg, isStr := u.Attributes[attrPrimary].(string)
	if !isStr && u.Attributes[attrPrimary] != nil {
		pg = fmt.Sprint(u.Attributes[attrPrimary]) + "\x00not a string"
	}
	str(pg)
	if s.dir.Attributes.Phone != "" {
		ph, _ := u.Attributes[attrPhone].(string)
		str(ph)
	}
	flags := byte(0)
	if u.Active {
		flags = 1
	}
	h.WriteByte(flags)
	for _, e := range u.Emails {
		str(e.Value)
		str(e.Type)
		if e.Primary {
			h.WriteByte(1)
		} else {
			h.WriteByte(0)
		}
	}
	h.WriteByte(byte(len(u.Emails)))
	return h.Sum64()
}

// mapsLocation reports whether this directory's attribute map reads a
// location (then the directory owns the users' Location).
func (s *Source) mapsLocation() bool {
	a := s.dir.Attributes
	return a.City != "" || a.Region != "" || a.Country != ""
}

// mergeUser applies the directory's view d of a user to the stored record
// cur: the mapped fields are replaced, other attributes are kept.
func mergeUser(cur, d policy.User, mapsLocation, mapsPhone bool) policy.User {
	nu := cur
	nu.UserName = d.UserName
	nu.GivenName = d.GivenName
	nu.FamilyName = d.FamilyName
	nu.DisplayName = d.DisplayName
	nu.Emails = d.Emails
	nu.Active = d.Active
	if mapsLocation {
		nu.Location = d.Location
	}
	nu.Attributes = make(map[string]any, len(cur.Attributes)+1)
	for k, v := range cur.Attributes {
		nu.Attributes[k] = v
	}
	nu.Attributes[attrDN] = d.Attributes[attrDN]
	if pg, ok := d.Attributes[attrPrimary]; ok {
		nu.Attributes[attrPrimary] = pg
	} else {
		delete(nu.Attributes, attrPrimary)
	}
	if mapsPhone {
		if ph, ok := d.Attributes[attrPhone]; ok {
			nu.Attributes[attrPhone] = ph
		} else {
			delete(nu.Attributes, attrPhone)
		}
	}
	return nu
}

// applyGroups creates new groups, brings every read group's name and
// members (users and nested groups) in line with the directory and, in a
// full run, deletes the users and groups the directory no longer has;
// it also applies the deactivations diffUser found. New groups are
// created first so that nesting can refer to them; a cycle is just two
// edges. Before anything is removed, the whole removal — deletions,
// deactivations and membership removals — is weighed by the deletion
// guard (decide); what it holds is left out of every write, additions
// and attribute changes are not.
func (r *run) applyGroups(ctx context.Context, groups []dirGroup, full bool) error {
	seen := make(map[string]bool, len(groups))
	uniq := groups[:0:0]
	for _, g := range groups {
		if seen[g.ext] {
			r.recordErr(&r.st.Groups, fmt.Sprintf("group %s: duplicate %s %s", g.dn, r.s.dir.Attributes.ID, g.ext))
			continue
		}
		seen[g.ext] = true
		uniq = append(uniq, g)
		r.dnKind[g.norm] = "g:" + g.ext
		r.groupsMark = laterMark(r.groupsMark, g.mark)
	}
	r.seenGroups = seen
	r.batch = r.s.batch
	if len(r.oldGroups) == 0 {
		r.batch = r.s.bulk // a first load of groups
		r.ramp = 0
	}

	// New groups are created after the new groups they contain, and
	// their members are resolved when the create runs, inside its
	// transaction: all but the groups of a nesting cycle are created
	// complete, without a second write.
	var creates []op
	for _, i := range r.creationOrder(uniq) {
		g := &uniq[i]
		creates = append(creates, op{kind: opCreateGroup, dg: g, members: len(g.members) + len(r.primary[g.sid]),
			group: policy.DirGroup{DisplayName: g.name, ExternalID: g.ext}})
	}
	r.finalGroups = make(map[string]bool, len(creates))
	r.curGroups = make(map[string]policy.DirGroup, len(uniq))
	for ext, g := range r.oldGroups {
		r.curGroups[ext] = g
	}
	r.phase(PhaseGroups)
	if err := r.apply(ctx, creates); err != nil {
		return err
	}

	// The groups that change, and how.
	var plans []groupPlan
	var load []int // plans whose stored member lists a full run must read
	for _, g := range uniq {
		cur, ok := r.curGroups[g.ext]
		if !ok {
			continue // its create failed
		}
		_, existed := r.oldGroups[g.ext]
		if !existed && r.finalGroups[g.ext] {
			continue
		}
		d := r.desiredGroup(g)
		if r.sameGroup(cur, d) {
			if existed {
				r.st.Groups.Unchanged++
			}
			continue
		}
		p := groupPlan{
			group:  policy.DirGroup{ID: cur.ID, ExternalID: g.ext, DisplayName: g.name, Attributes: map[string]any{attrDN: g.dn}},
			header: cur.DisplayName != g.name || cur.Attributes[attrDN] != any(g.dn),
			users:  d.MemberUsers, groups: d.MemberGroups,
			quiet: !existed,
		}
		if _, onlyFP := r.oldMembers[g.ext]; onlyFP {
			load = append(load, len(plans))
		} else {
			p.diff(cur.MemberUsers, cur.MemberGroups)
		}
		plans = append(plans, p)
	}
	if len(load) > 0 {
		err := r.s.st.View(ctx, func(tx store.Tx) error {
			for _, i := range load {
				sg, err := tx.DirGroup(r.s.tenant, plans[i].group.ID)
				if err != nil {
					return err
				}
				plans[i].diff(sg.MemberUsers, sg.MemberGroups)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("ldap[%s]: read store: %w", r.s.dir.ID, err)
		}
	}

	if !full {
		if err := r.keepLeavers(ctx, plans); err != nil {
			return err
		}
	}

	// The whole removal, weighed at once.
	c := &heldChange{}
	for _, p := range plans {
		if len(p.delta.delUsers)+len(p.delta.delGroups) > 0 {
			c.Removals = append(c.Removals, heldRemoval{Group: p.group.ID, Name: p.group.DisplayName,
				Users: p.delta.delUsers, Groups: p.delta.delGroups})
		}
	}
	if full {
		for _, ext := range sortedKeys(r.oldGroups) {
			if !r.seenGroups[ext] {
				g := r.oldGroups[ext]
				c.DeleteGroups = append(c.DeleteGroups, heldGroup{ID: g.ID, ExternalID: ext, Name: g.DisplayName, Members: r.oldMembers[ext].n})
			}
		}
		for _, ext := range sortedKeys(r.oldUsers) {
			if !r.seenUsers[ext] {
				old := r.oldUsers[ext]
				c.DeleteUsers = append(c.DeleteUsers, heldUser{ID: old.id, ExternalID: ext, UserName: old.userName})
			}
		}
	}
	var implicit map[policy.UserID]int
	if !full && len(r.deleted) > 0 {
		var err error
		if implicit, err = r.knownDeletions(ctx, c, plans); err != nil {
			return err
		}
	}
	for _, u := range r.deactivate {
		c.Deactivate = append(c.Deactivate, heldUser{ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName})
	}
	r.phase(PhaseGuard)
	if err := r.decide(ctx, c); err != nil {
		return err
	}
	r.phase(PhaseGroups)

	// Updates: additions and header changes always, removals unless held.
	var updates []op
	for _, p := range plans {
		id := p.group.ID
		p.delta.delUsers = slices.DeleteFunc(p.delta.delUsers, func(u policy.UserID) bool { return !r.allowed(removalKey(id, 'u', string(u))) })
		p.delta.delGroups = slices.DeleteFunc(p.delta.delGroups, func(g policy.DirGroupID) bool { return !r.allowed(removalKey(id, 'g', string(g))) })
		if !p.header && p.delta.empty() {
			if !p.quiet {
				r.st.Groups.Unchanged++
			}
			continue
		}
		delta := p.delta
		updates = append(updates, op{kind: opUpdateGroup, group: p.group, header: p.header, delta: &delta,
			quiet: p.quiet, members: len(p.users) + len(p.groups)})
	}
	if err := r.apply(ctx, updates); err != nil {
		return err
	}

	// Deletions and deactivations, unless held.
	r.phase(PhaseRemovals)
	var gdel, udel []op
	for _, g := range c.DeleteGroups {
		if r.allowed("g:" + string(g.ID)) {
			gdel = append(gdel, op{kind: opDeleteGroup, group: policy.DirGroup{ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.Name}, members: g.Members})
		}
	}
	if err := r.apply(ctx, gdel); err != nil {
		return err
	}
	for _, u := range c.DeleteUsers {
		if r.allowed("d:" + string(u.ID)) {
			udel = append(udel, op{kind: opDeleteUser, user: policy.User{ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName},
				members: implicit[u.ID]})
		}
	}
	for _, u := range r.deactivate {
		if r.allowed("x:" + string(u.ID)) {
			udel = append(udel, op{kind: opUpdateUser, user: u, deactivates: true})
			continue
		}
		// Held: the user stays active; its other changes land.
		u.Active = true
		if r.s.fingerprint(u) != r.oldUsers[u.ExternalID].fp {
			udel = append(udel, op{kind: opUpdateUser, user: u})
		}
	}
	return r.apply(ctx, udel)
}

// knownDeletions adds to c the users and groups a non-full run learnt
// were deleted (r.deleted: syncrepl, AD tombstones) and the store holds
// from this source, with the memberships that go with them: a deleted
// group's members, and a deleted user's place in each group that lists
// it (unless a plan removes it already; the store drops these with the
// user). It returns the number of such implicit removals per user.
func (r *run) knownDeletions(ctx context.Context, c *heldChange, plans []groupPlan) (map[policy.UserID]int, error) {
	s := r.s
	planned := map[string]bool{}
	for _, p := range plans {
		for _, u := range p.delta.delUsers {
			planned[removalKey(p.group.ID, 'u', string(u))] = true
		}
	}
	r.deletedIDs = map[policy.UserID]bool{}
	implicit := map[policy.UserID]int{}
	byGroup := map[policy.DirGroupID]*heldRemoval{}
	var order []policy.DirGroupID
	err := s.st.View(ctx, func(tx store.Tx) error {
		for _, ext := range sortedKeys(r.deleted) {
			if g, ok := r.oldGroups[ext]; ok && !r.seenGroups[ext] {
				c.DeleteGroups = append(c.DeleteGroups, heldGroup{ID: g.ID, ExternalID: ext, Name: g.DisplayName,
					Members: len(g.MemberUsers) + len(g.MemberGroups)})
			}
			u, ok := r.oldUsers[ext]
			if !ok || r.seenUsers[ext] {
				continue
			}
			r.deletedIDs[u.id] = true
			c.DeleteUsers = append(c.DeleteUsers, heldUser{ID: u.id, ExternalID: ext, UserName: u.userName})
			gs, err := tx.DirGroupsOf(s.tenant, string(u.id))
			if err != nil {
				return err
			}
			for _, gid := range gs {
				if planned[removalKey(gid, 'u', string(u.id))] {
					continue
				}
				g, err := tx.DirGroup(s.tenant, gid)
				if errors.Is(err, store.ErrNotFound) {
					continue
				} else if err != nil {
					return err
				}
				if g.Source != s.source || !slices.Contains(g.MemberUsers, u.id) {
					continue
				}
				rm := byGroup[gid]
				if rm == nil {
					rm = &heldRemoval{Group: gid, Name: g.DisplayName}
					byGroup[gid] = rm
					order = append(order, gid)
				}
				rm.Users = append(rm.Users, u.id)
				implicit[u.id]++
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}
	for _, gid := range order {
		c.Removals = append(c.Removals, *byGroup[gid])
	}
	return implicit, nil
}

// keepLeavers drops from an incremental run's plans the removals of
// users the directory no longer has: such a user's memberships go with
// the user, whose deletion only a full run sees and weighs (the groups'
// member values may go first, as with OpenLDAP's refint).
func (r *run) keepLeavers(ctx context.Context, plans []groupPlan) error {
	s := r.s
	read := make(map[policy.UserID]bool, len(r.seenUsers))
	for ext := range r.seenUsers {
		if id, ok := r.userID[ext]; ok {
			read[id] = true
		}
	}
	names := map[policy.UserID]string{}
	for _, p := range plans {
		for _, u := range p.delta.delUsers {
			if !read[u] && !r.deletedIDs[u] {
				names[u] = ""
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	err := s.st.View(ctx, func(tx store.Tx) error {
		for id := range names {
			u, err := tx.User(s.tenant, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			names[id] = u.UserName
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}
	var ask []string
	for _, n := range names {
		if n != "" {
			ask = append(ask, n)
		}
	}
	slices.Sort(ask)
	exists := make(map[string]bool, len(ask))
	for len(ask) > 0 {
		chunk := ask[:min(len(ask), 200)]
		ask = ask[len(chunk):]
		var f strings.Builder
		f.WriteString("(&" + s.dir.Users.Filter + "(|")
		for _, n := range chunk {
			f.WriteString("(" + s.dir.Attributes.UserName + "=" + goldap.EscapeFilter(n) + ")")
		}
		f.WriteString("))")
		err := s.pagedSearch(ctx, r.conn, s.dir.Users.BaseDN, f.String(), s.userAttrs(), func(page []*goldap.Entry) error {
			for _, e := range page {
				if du, ok := s.mapUser(e); ok {
					exists[policy.FoldUserName(du.user.UserName)] = true
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	kept := 0
	for i := range plans {
		d := &plans[i].delta
		d.delUsers = slices.DeleteFunc(d.delUsers, func(u policy.UserID) bool {
			gone := !read[u] && !exists[policy.FoldUserName(names[u])]
			if gone {
				kept++
			}
			return gone
		})
	}
	if kept > 0 {
		s.log.Info("ldap sync: memberships of users gone from the directory left for the next full run", "memberships", kept)
	}
	return nil
}

// groupPlan is the update a run wants for one group it read.
type groupPlan struct {
	group  policy.DirGroup // id, external id, name and DN as read
	header bool            // name or DN changed
	// users and groups are the desired member lists, sorted and unique;
	// delta what they change (diff).
	users  []policy.UserID
	groups []policy.DirGroupID
	delta  memberDelta
	quiet  bool // a group this run created
}

// diff sets p.delta from the stored member lists.
func (p *groupPlan) diff(users []policy.UserID, groups []policy.DirGroupID) {
	p.delta.addUsers, p.delta.delUsers = setDiff(sortedUnique(slices.Clone(users)), p.users)
	p.delta.addGroups, p.delta.delGroups = setDiff(sortedUnique(slices.Clone(groups)), p.groups)
}

// setDiff returns what want adds to have and what it drops; both sorted
// and unique.
func setDiff[T ~string](have, want []T) (add, del []T) {
	i, j := 0, 0
	for i < len(have) || j < len(want) {
		switch {
		case j == len(want) || (i < len(have) && have[i] < want[j]):
			del = append(del, have[i])
			i++
		case i == len(have) || want[j] < have[i]:
			add = append(add, want[j])
			j++
		default:
			i++
			j++
		}
	}
	return add, del
}

// memberDelta is a change to a group's member lists. Every membership
// write of this package — a run's, an approval's — is one, applied to
// the group as stored inside the transaction (see exec).
type memberDelta struct {
	addUsers, delUsers   []policy.UserID
	addGroups, delGroups []policy.DirGroupID
}

func (d memberDelta) empty() bool {
	return len(d.addUsers)+len(d.delUsers)+len(d.addGroups)+len(d.delGroups) == 0
}

// update returns d as the store's one membership operation.
func (d memberDelta) update() store.MemberUpdate {
	var u store.MemberUpdate
	for _, m := range d.addUsers {
		u.Add = append(u.Add, policy.UserMember(m))
	}
	for _, m := range d.addGroups {
		u.Add = append(u.Add, policy.GroupMember(m))
	}
	for _, m := range d.delUsers {
		u.Remove = append(u.Remove, policy.UserMember(m))
	}
	for _, m := range d.delGroups {
		u.Remove = append(u.Remove, policy.GroupMember(m))
	}
	return u
}

// applyDelta returns cur without del, with add.
func applyDelta[T ~string](cur, add, del []T) []T {
	if len(add)+len(del) == 0 {
		return cur
	}
	drop := make(map[T]bool, len(del))
	for _, m := range del {
		drop[m] = true
	}
	out := make([]T, 0, len(cur)+len(add))
	have := make(map[T]bool, len(cur)+len(add))
	for _, m := range cur {
		if !drop[m] && !have[m] {
			have[m] = true
			out = append(out, m)
		}
	}
	for _, m := range add {
		if !have[m] {
			have[m] = true
			out = append(out, m)
		}
	}
	return out
}

// creationOrder returns the indexes of the groups of uniq that the store
// does not have yet, each after the new groups it contains (depth first;
// a cycle is cut where it is met).
func (r *run) creationOrder(uniq []dirGroup) []int {
	isNew := make(map[string]int)
	for i, g := range uniq {
		if _, ok := r.oldGroups[g.ext]; !ok {
			isNew[g.ext] = i
		}
	}
	order := make([]int, 0, len(isNew))
	state := make(map[int]uint8, len(isNew)) // 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		state[i] = 1
		if r.s.dir.Membership != MembershipMemberUID {
			for _, m := range uniq[i].members {
				kv := r.dnKind[m]
				if len(kv) < 3 || kv[0] != 'g' {
					continue
				}
				if j, ok := isNew[kv[2:]]; ok && state[j] == 0 {
					visit(j)
				}
			}
		}
		state[i] = 2
		order = append(order, i)
	}
	for i, g := range uniq {
		if _, ok := isNew[g.ext]; ok && state[i] == 0 {
			visit(i)
		}
	}
	return order
}

// groupIDOf returns the store id of a group read in this run: created by
// an earlier run or batch, or earlier in the transaction being written.
func (r *run) groupIDOf(ext string) (policy.DirGroupID, bool) {
	if id, ok := r.groupID[ext]; ok {
		return id, true
	}
	id, ok := r.txGroupID[ext]
	return id, ok
}

// desiredGroup resolves a directory group's members to store ids. Members
// that are neither a known user nor a known group (outside the searched
// subtrees, placeholders, not yet created) are left out, and so is the
// group itself. In Active Directory the users whose primary group it is
// are members too, though its member attribute does not list them.
func (r *run) desiredGroup(g dirGroup) policy.DirGroup {
	d, _ := r.desiredGroupFinal(g)
	return d
}

// desiredGroupFinal is desiredGroup; final reports that no member is a
// group read in this run without a store id yet (one still to be
// created), so the result will not change once all groups exist.
func (r *run) desiredGroupFinal(g dirGroup) (d policy.DirGroup, final bool) {
	final = true
	d = policy.DirGroup{
		Tenant:      r.s.tenant,
		DisplayName: g.name,
		ExternalID:  g.ext,
		Source:      r.s.source,
		Attributes:  map[string]any{attrDN: g.dn},
	}
	for _, m := range g.members {
		var kv string
		if r.s.dir.Membership == MembershipMemberUID {
			if ext, ok := r.userByName[policy.FoldUserName(m)]; ok {
				kv = "u:" + ext
			}
		} else {
			kv = r.dnKind[m] // normalized by memberValues
		}
		if len(kv) < 3 {
			continue
		}
		ext := kv[2:]
		if kv[0] == 'u' {
			if id, ok := r.userID[ext]; ok {
				d.MemberUsers = append(d.MemberUsers, id)
			}
		} else if id, ok := r.groupIDOf(ext); ok && ext != g.ext {
			d.MemberGroups = append(d.MemberGroups, id)
		} else if !ok {
			final = false
		}
	}
	if g.sid != "" {
		for _, ext := range r.primary[g.sid] {
			if id, ok := r.userID[ext]; ok {
				d.MemberUsers = append(d.MemberUsers, id)
			}
		}
		d.MemberUsers = append(d.MemberUsers, r.primaryIDs[g.sid]...)
	}
	d.MemberUsers = sortedUnique(d.MemberUsers)
	d.MemberGroups = sortedUnique(d.MemberGroups)
	return d, final
}

func sortedUnique[T ~string](s []T) []T {
	slices.Sort(s)
	return slices.Compact(s)
}

// sameGroup reports whether the group cur needs no update to become d,
// whose member lists are sorted and unique.
func (r *run) sameGroup(cur, d policy.DirGroup) bool {
	if cur.DisplayName != d.DisplayName || cur.ExternalID != d.ExternalID ||
		cur.Attributes[attrDN] != d.Attributes[attrDN] {
		return false
	}
	if m, ok := r.oldMembers[cur.ExternalID]; ok {
		return m.fp == r.s.membersFingerprint(d.MemberUsers, d.MemberGroups)
	}
	return slices.Equal(sortedUnique(slices.Clone(cur.MemberUsers)), d.MemberUsers) &&
		slices.Equal(sortedUnique(slices.Clone(cur.MemberGroups)), d.MemberGroups)
}

// membersRef is what a full run keeps of a stored group's member lists.
type membersRef struct {
	fp uint64 // membersFingerprint of the sorted, unique lists
	n  int    // number of members
}

// membersFingerprint hashes sorted, unique member lists.
func (s *Source) membersFingerprint(users []policy.UserID, groups []policy.DirGroupID) uint64 {
	var h maphash.Hash
	h.SetSeed(s.seed)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(users)))
	h.Write(n[:])
	for _, u := range users {
		h.WriteString(string(u))
		h.WriteByte(0) // ids contain no NUL
	}
	binary.LittleEndian.PutUint64(n[:], uint64(len(groups)))
	h.Write(n[:])
	for _, g := range groups {
		h.WriteString(string(g))
		h.WriteByte(0)
	}
	return h.Sum64()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// syncIndex brings the DN index in line with the entries read by a full
// run.
func (r *run) syncIndex(ctx context.Context) error {
	prefix := r.s.dnPrefix()
	var ops []op
	for _, n := range sortedKeys(r.dnKind) {
		if v := r.dnKind[n]; r.index[n] != v {
			ops = append(ops, op{kind: opPutDN, key: prefix + n, val: v})
		}
	}
	// Entries the guard holds stay in the index, as in the store.
	keep := map[string]bool{}
	if r.held != nil {
		for _, u := range r.held.DeleteUsers {
			keep["u:"+u.ExternalID] = true
		}
		for _, g := range r.held.DeleteGroups {
			keep["g:"+g.ExternalID] = true
		}
	}
	for _, n := range sortedKeys(r.index) {
		if _, ok := r.dnKind[n]; !ok && !keep[r.index[n]] {
			ops = append(ops, op{kind: opDelDN, key: prefix + n})
		}
	}
	return r.apply(ctx, ops)
}

type opKind int

const (
	opCreateUser opKind = iota
	opUpdateUser
	opDeleteUser
	opCreateGroup
	opUpdateGroup
	opDeleteGroup
	opPutDN
	opDelDN
	opDeactivateUser // an approved deactivation: the stored user made inactive
)

// op is one write of a run.
type op struct {
	kind        opKind
	user        policy.User
	group       policy.DirGroup
	key, val    string
	deactivates bool
	quiet       bool // not counted (second pass over a group just created)
	// opUpdateGroup: header sets the name and DN of group; delta changes
	// the member lists.
	header bool
	delta  *memberDelta
	// members weighs a group op whose member lists are not in group: a
	// create resolved in its transaction (dg), a delete.
	members int
	dg      *dirGroup // opCreateGroup: the directory's group
}

func (o op) String() string {
	switch o.kind {
	case opCreateUser, opUpdateUser, opDeleteUser, opDeactivateUser:
		return fmt.Sprintf("user %q (%s)", o.user.UserName, o.user.ExternalID)
	case opCreateGroup, opUpdateGroup, opDeleteGroup:
		return fmt.Sprintf("group %q (%s)", o.group.DisplayName, o.group.ExternalID)
	}
	return "dn index " + o.key
}

type opResult struct {
	user  policy.User
	group policy.DirGroup
	final bool // a created group has all its members (desiredGroupFinal)
}

type opError struct {
	i   int
	err error
}

func (e *opError) Error() string { return e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// exec performs o in tx, leaving what done needs in res (written in
// place: an opResult is large).
func (r *run) exec(tx store.Tx, o op, res *opResult) error {
	t := r.s.tenant
	var err error
	switch o.kind {
	case opCreateUser:
		res.user, err = tx.CreateUser(t, o.user)
	case opUpdateUser:
		var cur policy.User
		cur, err = tx.User(t, o.user.ID)
		if err != nil {
			break
		}
		if cur.Version != o.user.Version {
			err = fmt.Errorf("ldap: user %s changed since this run read it: %w", cur.ID, store.ErrVersion)
			break
		}
		res.user, err = tx.UpdateUser(t, mergeUser(cur, o.user, r.s.mapsLocation(), r.s.dir.Attributes.Phone != ""))
	case opDeleteUser:
		err = tx.DeleteUser(t, o.user.ID)
	case opCreateGroup:
		d := o.group
		if o.dg != nil {
			d, res.final = r.desiredGroupFinal(*o.dg)
		}
		res.group, err = tx.CreateDirGroup(t, d)
		if err == nil {
			if r.txGroupID == nil {
				r.txGroupID = map[string]policy.DirGroupID{}
			}
			r.txGroupID[res.group.ExternalID] = res.group.ID
		}
	case opDeactivateUser:
		var cur policy.User
		cur, err = tx.User(t, o.user.ID)
		if err != nil || !cur.Active {
			res.user = cur
			break
		}
		cur.Active = false
		res.user, err = tx.UpdateUser(t, cur)
	case opUpdateGroup:
		if d := o.delta; d != nil && !o.header && !o.quiet {
			// Only members change: one delta write, at the cost of the
			// change (the group is not read). A group created earlier in
			// this run (quiet) is filled in by the general path below.
			var mr store.MemberResult
			mr, err = store.ChangeMembers(tx, t, o.group.ID, d.update())
			res.group = o.group
			res.group.Version, res.group.Updated = mr.Version, mr.Updated
			break
		}
		var cur policy.DirGroup
		cur, err = tx.DirGroup(t, o.group.ID)
		if err != nil {
			break
		}
		nu := cur
		if o.header {
			nu.DisplayName = o.group.DisplayName
			nu.Attributes = make(map[string]any, len(cur.Attributes)+1)
			for k, v := range cur.Attributes {
				nu.Attributes[k] = v
			}
			nu.Attributes[attrDN] = o.group.Attributes[attrDN]
		}
		if d := o.delta; d != nil {
			nu.MemberUsers = applyDelta(cur.MemberUsers, d.addUsers, d.delUsers)
			nu.MemberGroups = applyDelta(cur.MemberGroups, d.addGroups, d.delGroups)
		}
		res.group, err = tx.UpdateDirGroup(t, nu)
	case opDeleteGroup:
		err = tx.DeleteDirGroup(t, o.group.ID)
	case opPutDN:
		err = tx.PutRecord(DNNamespace, o.key, []byte(o.val))
	case opDelDN:
		err = tx.DeleteRecord(DNNamespace, o.key)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
	}
	return err
}

// createUsers writes the new users of chunk together (store.CreateUsers:
// a first load), before its other ops, which do not depend on them, and
// reports whether it did. A refused user is reported as an *opError at its
// place in chunk.
func (r *run) createUsers(tx store.Tx, chunk []op, res []opResult) (bool, error) {
	var at []int
	for i, o := range chunk {
		if o.kind == opCreateUser {
			at = append(at, i)
		}
	}
	if len(at) < 2 {
		return false, nil
	}
	us := make([]policy.User, len(at))
	for k, i := range at {
		us[k] = chunk[i].user
	}
	out, err := store.CreateUsers(tx, r.s.tenant, us)
	for k, u := range out {
		res[at[k]] = opResult{user: u}
	}
	if be, ok := store.AsBulkError(err); ok {
		return true, &opError{i: at[be.Index], err: be.Err}
	}
	return true, err
}

// createGroups writes the new groups of chunk together
// (store.CreateDirGroups: a first load) and reports whether it did. Their
// ids are chosen here, so that each group's members are resolved, as exec
// does one create at a time, with the groups created before it in the
// transaction. A refused group is reported as an *opError at its place in
// chunk.
func (r *run) createGroups(tx store.Tx, chunk []op, res []opResult) (bool, error) {
	var at []int
	for i, o := range chunk {
		if o.kind == opCreateGroup {
			at = append(at, i)
		}
	}
	if len(at) < 2 {
		return false, nil
	}
	if r.txGroupID == nil {
		r.txGroupID = map[string]policy.DirGroupID{}
	}
	// Every group of the batch gets its id first, and its members are
	// resolved on every CPU (the maps are only read meanwhile); then a
	// group keeps only the member groups created before it, as if they
	// had been resolved one create at a time.
	ids := make([]policy.DirGroupID, len(at))
	pos := make(map[policy.DirGroupID]int, len(at))
	for k, i := range at {
		ids[k] = policy.DirGroupID(uuid.Must(uuid.NewV7()).String())
		pos[ids[k]] = k
		r.txGroupID[chunk[i].group.ExternalID] = ids[k]
	}
	gs := make([]policy.DirGroup, len(at))
	final := make([]bool, len(at))
	store.Parallel(len(at), func(k int) {
		o := chunk[at[k]]
		gs[k] = o.group
		if o.dg != nil {
			gs[k], final[k] = r.desiredGroupFinal(*o.dg)
		}
	})
	for k := range gs {
		n := len(gs[k].MemberGroups)
		gs[k].MemberGroups = slices.DeleteFunc(gs[k].MemberGroups, func(m policy.DirGroupID) bool {
			p, inBatch := pos[m]
			return inBatch && p >= k
		})
		if len(gs[k].MemberGroups) < n {
			final[k] = false
		}
		gs[k].ID = ids[k]
	}
	out, err := store.CreateDirGroups(tx, r.s.tenant, gs)
	for k, g := range out {
		res[at[k]] = opResult{group: g, final: final[k]}
	}
	if be, ok := store.AsBulkError(err); ok {
		return true, &opError{i: at[be.Index], err: be.Err}
	}
	return true, err
}

// done accounts for a committed write.
func (r *run) done(o op, res opResult) {
	switch o.kind {
	case opCreateUser:
		r.userID[res.user.ExternalID] = res.user.ID
		r.st.Users.Created++
	case opUpdateUser:
		r.st.Users.Updated++
		if o.deactivates {
			r.st.Users.Deactivated++
		}
	case opDeleteUser:
		r.st.Users.Deleted++
		r.st.Memberships.Removed += o.members // the store drops them with the user
	case opDeactivateUser:
		r.st.Users.Updated++
		r.st.Users.Deactivated++
	case opCreateGroup:
		r.groupID[res.group.ExternalID] = res.group.ID
		r.curGroups[res.group.ExternalID] = res.group
		if res.final {
			r.finalGroups[res.group.ExternalID] = true
		}
		delete(r.oldMembers, res.group.ExternalID)
		r.st.Groups.Created++
		r.st.Memberships.Added += len(res.group.MemberUsers) + len(res.group.MemberGroups)
	case opUpdateGroup:
		if res.group.ExternalID != "" {
			r.curGroups[res.group.ExternalID] = res.group
			delete(r.oldMembers, res.group.ExternalID)
		}
		if !o.quiet {
			r.st.Groups.Updated++
		}
		if d := o.delta; d != nil {
			r.st.Memberships.Added += len(d.addUsers) + len(d.addGroups)
			r.st.Memberships.Removed += len(d.delUsers) + len(d.delGroups)
		}
	case opDeleteGroup:
		r.st.Groups.Deleted++
		r.st.Memberships.Removed += o.members
	}
}

// recordable reports whether a store error concerns one record (and the
// run may go on without it) rather than the store as a whole.
func recordable(err error) bool {
	return errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound) ||
		errors.Is(err, store.ErrVersion) || errors.Is(err, store.ErrInUse) || errors.Is(err, policy.ErrInvalid)
}

// apply writes ops in batches of BatchSize, one store.Update each. A
// record the store refuses is reported in the status and the rest of its
// batch is written without it.
func (r *run) apply(ctx context.Context, ops []op) error {
	if r.dry != nil {
		for _, o := range ops {
			r.done(o, r.simulate(o))
		}
		return nil
	}
	for len(ops) > 0 {
		// A batch holds BatchSize records, or fewer when groups bring
		// many members: each member is an index entry too, and very
		// large bbolt transactions get slow.
		limit := r.batch
		if limit > r.s.batch {
			// A first load ramps up to the bulk batch size: bbolt
			// splits nodes only at commit, so thousands of random
			// keys put into a still empty bucket would pile into one
			// node, each insertion moving the ones after it.
			limit = min(limit, max(r.s.batch, r.ramp/2))
		}
		n, records, weight := 0, 0, 0
		for n < len(ops) && records < limit && weight < 4*limit {
			weight += 1 + len(ops[n].group.MemberUsers) + len(ops[n].group.MemberGroups) + ops[n].members
			if ops[n].kind != opPutDN && ops[n].kind != opDelDN {
				records++
			}
			n++
		}
		chunk := ops[:n]
		res := make([]opResult, n)
		err := r.s.st.Update(ctx, r.s.source, func(tx store.Tx) error {
			clear(r.txGroupID)
			users, err := r.createUsers(tx, chunk, res)
			if err != nil {
				return err
			}
			groups, err := r.createGroups(tx, chunk, res)
			if err != nil {
				return err
			}
			for i, o := range chunk {
				if o.kind == opCreateUser && users || o.kind == opCreateGroup && groups {
					continue
				}
				res[i] = opResult{}
				if err := r.exec(tx, o, &res[i]); err != nil {
					return &opError{i: i, err: err}
				}
			}
			return nil
		})
		clear(r.txGroupID) // committed: now in groupID (done); or rolled back
		if err == nil {
			for i, o := range chunk {
				r.done(o, res[i])
			}
			r.s.prog.update(func(p *Progress) { p.Written += records })
			r.ramp += weight
			ops = ops[n:]
			continue
		}
		var oe *opError
		if !errors.As(err, &oe) || !recordable(err) {
			return fmt.Errorf("ldap[%s]: store: %w", r.s.dir.ID, err)
		}
		// Write what preceded the refused record, report it, go on.
		if err := r.apply(ctx, chunk[:oe.i]); err != nil {
			return err
		}
		bad := chunk[oe.i]
		kind := &r.st.Users
		if bad.kind == opCreateGroup || bad.kind == opUpdateGroup || bad.kind == opDeleteGroup {
			kind = &r.st.Groups
		}
		r.recordErr(kind, fmt.Sprintf("%s: %v", bad, oe.err))
		ops = ops[oe.i+1:]
	}
	return nil
}
