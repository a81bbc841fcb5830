package ldap

// This file holds the full run: read every entry, reconcile the store with it, and bring the DN index in line.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/roster-dev/roster/internal/hugeheap"
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
	r.index = make(map[string]entryRef, nu+ng)
	r.oldUsers = make(map[string]userRef, nu)
	r.userID = make(map[string]policy.UserID, nu)
	r.dnKind = make(map[string]entryRef, nu+ng)
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
			r.index[k[len(prefix):]] = parseEntryRef(string(v))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	}
	r.storedIndex = len(r.index)
	if len(r.oldUsers) == 0 {
		r.batch = s.bulk // a first load
		r.firstLoad = r.dry == nil
		if r.firstLoad && s.hugeHeap > 0 && !s.heapAdvised.Swap(true) {
			// A first load grows the heap by hundreds of MiB
			// (see Performance in the package doc).
			n := hugeheap.Advise(s.hugeHeap)
			s.log.Debug("ldap sync: heap advised for huge pages", "bytes", n)
		}
	}
	r.preIDs = r.dry == nil
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

	// Creates and updates are written while the directory is read, by a
	// writer goroutine: a batch is written while the next one is mapped
	// and diffed, so reading, decoding and diffing use the other CPU.
	// Batches are written one after another, in order, one transaction
	// each, as before; each leaves the store consistent.
	// Room for a batch of creates and their DN index entries, and a
	// page more: the lists never grow (an op is large). Two of them: one
	// being filled, one being written.
	ops := make([]op, 0, 2*r.batch+2*s.dir.PageSize)
	spare := make([]op, 0, cap(ops))
	var w writer
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
			// The previous batch must be written first (in order);
			// its buffer then takes the next batch.
			if applyErr = w.wait(); applyErr == nil {
				batch := ops
				w.start(func() error { return r.apply(cctx, batch) })
				ops, spare = spare[:0], ops
			} else {
				cancel()
			}
		}
	}
	uerr := <-udone
	if err := w.wait(); applyErr == nil {
		applyErr = err
	}
	var (
		gerr    error
		waited  bool // gerr is gdone's answer
		uniq    []dirGroup
		creates []op
		planned bool
	)
	if applyErr == nil && uerr == nil {
		if r.preIDs {
			// The users' ids are known: the groups are planned and
			// resolved while the last users are written.
			batch := ops
			w.start(func() error { return r.apply(ctx, batch) })
			gerr, waited = <-gdone, true
			if gerr == nil {
				uniq, creates = r.planGroups(groups)
				planned = true
			}
			applyErr = w.wait()
		} else {
			applyErr = r.apply(ctx, ops)
		}
	}
	if applyErr != nil || uerr != nil {
		cancel()
		if !waited {
			<-gdone
		}
		if applyErr != nil {
			return applyErr
		}
		return uerr
	}
	if !waited {
		gerr = <-gdone
	}
	if gerr != nil {
		return gerr
	}
	// The users the store refused are not members of anything.
	for id, ext := range r.refusedUsers {
		if r.userID[ext] == id {
			delete(r.userID, ext)
		}
	}
	if !planned {
		uniq, creates = r.planGroups(groups)
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

	if err := r.writeGroups(ctx, uniq, creates, true); err != nil {
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

// syncIndex brings the DN index in line with the entries read by a full
// run.
func (r *run) syncIndex(ctx context.Context) error {
	prefix := r.s.dnPrefix()
	var ops []op
	// Only the groups' entries (planGroups) may differ: diffUser wrote
	// the users' along with them and keeps index in line with dnKind.
	// (Scanning both maps whole took 40-80 ms after a first load.)
	slices.Sort(r.dnGroups)
	for _, n := range slices.Compact(r.dnGroups) {
		if v := r.dnKind[n]; r.index[n] != v {
			ops = append(ops, op{kind: opPutDN, key: prefix + n, val: v.String()})
		}
	}
	// Entries the guard holds stay in the index, as in the store.
	keep := map[entryRef]bool{}
	if r.held != nil {
		for _, u := range r.held.DeleteUsers {
			keep[userEntry(u.ExternalID)] = true
		}
		for _, g := range r.held.DeleteGroups {
			keep[groupEntry(g.ExternalID)] = true
		}
	}
	gone := func(n string, v entryRef) bool {
		_, ok := r.dnKind[n]
		return !ok && !keep[v]
	}
	if r.storedIndex > 0 {
		// The entries this run added are all in dnKind: only a stored
		// one can be gone.
		for _, n := range sortedKeysWhere(r.index, gone) {
			ops = append(ops, op{kind: opDelDN, key: prefix + n})
		}
	}
	return r.apply(ctx, ops)
}

// writer runs one write at a time on its own goroutine (see full).
type writer struct {
	done chan error // nil when no write is running
}

// start runs fn on a new goroutine. A write must not be running (wait).
func (w *writer) start(fn func() error) {
	w.done = make(chan error, 1)
	go func() { w.done <- fn() }()
}

// wait waits for the running write, if any, and returns its error.
func (w *writer) wait() error {
	if w.done == nil {
		return nil
	}
	err := <-w.done
	w.done = nil
	return err
}
