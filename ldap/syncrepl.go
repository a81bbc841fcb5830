package ldap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// ErrSyncreplRefused: the directory does not offer content
// synchronisation (RFC 4533) for the configured searches; Persist returns
// it, and Run then polls.
var ErrSyncreplRefused = errors.New("ldap: content synchronisation (syncrepl) refused by the directory")

// Persist is the mode of the status of a change Persist applied.
const Persist Mode = "persist"

// useSyncrepl reports whether the directory is followed with RFC 4533
// content synchronisation: OpenLDAP (syncprov) with entryUUID ids, the
// identifier the protocol reports deletions by.
func (s *Source) useSyncrepl() bool {
	return s.dir.Syncrepl != SyncreplOff && s.dir.Flavor == FlavorOpenLDAP && strings.EqualFold(s.dir.Attributes.ID, "entryUUID")
}

// syncEvent is one message of a syncrepl search.
type syncEvent struct {
	entry   *goldap.Entry // an added or modified entry
	present string        // an entryUUID present, unchanged (refresh)
	deleted string        // an entryUUID deleted
	// refreshDone ends the refresh stage; presentPhase says it was a
	// present phase (entries not reported are gone).
	refreshDone, presentPhase bool
	cookie                    []byte // the cookie after this message
}

// syncSearch runs one syncrepl search (RFC 4533 §3.3) and calls fn with
// each event. A refreshOnly search returns after the refresh; a
// refreshAndPersist one runs until ctx ends or the connection breaks.
// ErrSyncreplRefused is returned when the server refuses the control.
func (s *Source) syncSearch(ctx context.Context, c *goldap.Conn, base, filter string, attrs []string, mode goldap.ControlSyncRequestMode, cookie []byte, fn func(syncEvent) error) error {
	req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp := c.Syncrepl(cctx, req, 64, mode, cookie, false)
	for resp.Next() {
		var ev syncEvent
		e := resp.Entry()
		for _, ctl := range resp.Controls() {
			switch ctl := ctl.(type) {
			case *goldap.ControlSyncState:
				ev.cookie = ctl.Cookie
				id := ctl.EntryUUID.String()
				switch ctl.State {
				case goldap.SyncStatePresent:
					ev.present = id
				case goldap.SyncStateDelete:
					ev.deleted = id
				default:
					ev.entry = e
				}
			case *goldap.ControlSyncInfo:
				switch {
				case ctl.NewCookie != nil:
					ev.cookie = ctl.NewCookie.Cookie
				case ctl.RefreshDelete != nil:
					ev.cookie, ev.refreshDone = ctl.RefreshDelete.Cookie, ctl.RefreshDelete.RefreshDone
				case ctl.RefreshPresent != nil:
					ev.cookie, ev.refreshDone, ev.presentPhase = ctl.RefreshPresent.Cookie, ctl.RefreshPresent.RefreshDone, ctl.RefreshPresent.RefreshDone
				case ctl.SyncIdSet != nil:
					ev.cookie = ctl.SyncIdSet.Cookie
					for _, u := range ctl.SyncIdSet.SyncUUIDs {
						sub := syncEvent{}
						if ctl.SyncIdSet.RefreshDeletes {
							sub.deleted = u.String()
						} else {
							sub.present = u.String()
						}
						if err := fn(sub); err != nil {
							return err
						}
					}
				}
			case *goldap.ControlSyncDone:
				ev.cookie, ev.refreshDone, ev.presentPhase = ctl.Cookie, true, !ctl.RefreshDeletes
			}
		}
		if ev.entry == nil && ev.present == "" && ev.deleted == "" && !ev.refreshDone && ev.cookie == nil {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	err := resp.Err()
	switch {
	case err == nil:
		return ctx.Err()
	case goldap.IsErrorAnyOf(err, goldap.LDAPResultUnavailableCriticalExtension, goldap.LDAPResultUnwillingToPerform,
		goldap.LDAPResultProtocolError, goldap.LDAPResultInsufficientAccessRights):
		return fmt.Errorf("ldap[%s]: %w: %w", s.dir.ID, ErrSyncreplRefused, err)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultSyncRefreshRequired):
		return fmt.Errorf("ldap[%s]: syncrepl: %w: %w", s.dir.ID, errRefreshRequired, err)
	}
	return s.wrapOp("syncrepl "+base, err)
}

// errRefreshRequired: the server cannot resume from the cookie (RFC 4533
// §3.4, e-syncRefreshRequired); a full run must read everything again.
var errRefreshRequired = errors.New("the directory asks for a full refresh")

// dialSync opens a go-ldap connection bound as the service account,
// without a request timeout (a persistent search waits indefinitely).
func (s *Source) dialSync(ctx context.Context) (*goldap.Conn, error) {
	c, err := s.dialService(ctx)
	if err != nil {
		return nil, err
	}
	c.SetTimeout(0)
	return c, nil
}

// syncCookies returns the current cookies of the user and group searches
// without reading any entry: a refreshOnly search whose filter matches
// nothing ends with the server's current state (its contextCSN). A full
// run takes them before it reads, so that changes made during the run
// are seen again by the next incremental run, and none is lost.
func (s *Source) syncCookies(ctx context.Context) (users, groups []byte, err error) {
	c, err := s.dialSync(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	const none = "(entryUUID=00000000-0000-0000-0000-000000000000)"
	get := func(base string) ([]byte, error) {
		var cookie []byte
		err := s.syncSearch(ctx, c, base, none, []string{"1.1"}, goldap.SyncRequestModeRefreshOnly, nil, func(ev syncEvent) error {
			if ev.cookie != nil {
				cookie = ev.cookie
			}
			return nil
		})
		return cookie, err
	}
	if users, err = get(s.dir.Users.BaseDN); err != nil {
		return nil, nil, err
	}
	groups, err = get(s.dir.Groups.BaseDN)
	return users, groups, err
}

// syncChanges is what syncrepl searches reported: the changed entries,
// the deleted entryUUIDs and, after a present phase, the entryUUIDs
// present.
type syncChanges struct {
	users        []dirUser
	groups       []dirGroup
	deleted      map[string]bool
	present      map[string]bool // nil without a present phase
	usersCookie  []byte
	groupsCookie []byte
}

func (ch *syncChanges) empty() bool {
	return len(ch.users)+len(ch.groups)+len(ch.deleted) == 0 && ch.present == nil
}

// readSyncrepl reads what changed since the stored cookies with
// refreshOnly searches: the incremental run of a syncrepl directory.
func (r *run) readSyncrepl(ctx context.Context) (*syncChanges, error) {
	s := r.s
	c, err := s.dialSync(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ch := &syncChanges{deleted: map[string]bool{}, usersCookie: r.state.UsersCookie, groupsCookie: r.state.GroupsCookie}
	var presentUsers, presentGroups map[string]bool
	collect := func(kind entryKind, present *map[string]bool, cookie *[]byte) func(syncEvent) error {
		return func(ev syncEvent) error {
			switch {
			case ev.entry != nil:
				if kind == entryUser {
					if du, ok := s.mapUser(ev.entry); ok {
						ch.users = append(ch.users, du)
					}
				} else if g, ok := s.mapGroup(ev.entry); ok {
					ch.groups = append(ch.groups, g)
				}
			case ev.deleted != "":
				ch.deleted[ev.deleted] = true
			case ev.present != "":
				if *present == nil {
					*present = map[string]bool{}
				}
				(*present)[ev.present] = true
			}
			if ev.presentPhase && *present == nil {
				// A present phase that named no entry: taken as no
				// information rather than as a directory emptied.
				s.log.Warn("ldap sync: syncrepl present phase without entries ignored", "kind", string(kind))
			}
			if ev.cookie != nil {
				*cookie = ev.cookie
			}
			return nil
		}
	}
	var uc, gc []byte = ch.usersCookie, ch.groupsCookie
	if err := s.syncSearch(ctx, c, s.dir.Users.BaseDN, s.dir.Users.Filter, s.userAttrs(), goldap.SyncRequestModeRefreshOnly, uc, collect(entryUser, &presentUsers, &ch.usersCookie)); err != nil {
		return nil, err
	}
	if err := s.syncSearch(ctx, c, s.dir.Groups.BaseDN, s.dir.Groups.Filter, s.groupAttrs(), goldap.SyncRequestModeRefreshOnly, gc, collect(entryGroup, &presentGroups, &ch.groupsCookie)); err != nil {
		return nil, err
	}
	ch.refreshed()
	s.log.Debug("ldap sync: syncrepl refresh read", "users", len(ch.users), "groups", len(ch.groups), "deleted", len(ch.deleted),
		"presentUsers", len(presentUsers), "presentGroups", len(presentGroups))
	if presentUsers != nil || presentGroups != nil {
		if err := r.absentFromPresent(ctx, ch, presentUsers, presentGroups); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// absentFromPresent turns a present phase into deletions: the records of
// this source whose entryUUID the phase did not name (nor report changed).
func (r *run) absentFromPresent(ctx context.Context, ch *syncChanges, users, groups map[string]bool) error {
	s := r.s
	for _, du := range ch.users {
		if users != nil {
			users[du.user.ExternalID] = true
		}
	}
	for _, g := range ch.groups {
		if groups != nil {
			groups[g.ext] = true
		}
	}
	return s.st.View(ctx, func(tx store.Tx) error {
		if users != nil {
			if err := tx.ForEachUser(s.tenant, func(u policy.User) error {
				if u.Source == s.source && u.ExternalID != "" && !users[u.ExternalID] {
					ch.deleted[u.ExternalID] = true
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if groups == nil {
			return nil
		}
		return tx.ForEachDirGroup(s.tenant, func(g policy.DirGroup) error {
			if g.Source == s.source && g.ExternalID != "" && !groups[g.ExternalID] {
				ch.deleted[g.ExternalID] = true
			}
			return nil
		})
	})
}

// PersistOptions tune Persist.
type PersistOptions struct {
	// Settle is how long Persist gathers changes after the first one
	// before applying them together (default 100ms): one run, one guard
	// decision, for a burst of changes.
	Settle time.Duration
	// Retry is the wait before reconnecting after the connection broke
	// (default 1s).
	Retry time.Duration
	// Applied, when set, is called with the status of each applied
	// batch of changes.
	Applied func(RunStatus)
}

// Persist follows the directory with RFC 4533 content synchronisation in
// refreshAndPersist mode: adds, modifies, renames and deletes are applied
// as the server reports them, a burst at a time (Settle), through the
// same diff and deletion guard as incremental runs — deletions are
// weighed with what the runs of the last FullSyncInterval removed.
// After each applied batch the cookies are stored, so that a broken
// connection (or a restart) resumes from them without reading the
// directory again. Without stored cookies it first performs a full run.
//
// It runs until ctx ends (returning ctx.Err()), and returns an error
// wrapping ErrSyncreplRefused when the directory does not offer syncrepl
// (or the source is not an OpenLDAP one with entryUUID ids): the caller
// then polls with Sync (Run does).
func (s *Source) Persist(ctx context.Context, opts PersistOptions) error {
	if !s.useSyncrepl() {
		return fmt.Errorf("ldap[%s]: %w: only for OpenLDAP directories with entryUUID ids (syncrepl: auto)", s.dir.ID, ErrSyncreplRefused)
	}
	if opts.Settle <= 0 {
		opts.Settle = 100 * time.Millisecond
	}
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	for {
		err := s.persistOnce(ctx, opts)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrSyncreplRefused):
			return err
		case errors.Is(err, errRefreshRequired):
			s.log.Warn("ldap sync: syncrepl cookie refused; full run", "err", err)
			if _, err := s.runWith(ctx, Full, runOptions{}); err != nil && ctx.Err() == nil {
				s.log.Error("ldap sync failed", "mode", Full, "err", err)
			}
		case err != nil:
			s.log.Warn("ldap sync: syncrepl interrupted; resuming from the stored cookie", "err", err, "retry", opts.Retry)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(opts.Retry):
		}
	}
}

// persistOnce runs the two persistent searches until one fails.
func (s *Source) persistOnce(ctx context.Context, opts PersistOptions) error {
	st, err := s.readState(ctx)
	if err != nil {
		return err
	}
	if st.LastFull.IsZero() || st.UsersCookie == nil || st.GroupsCookie == nil {
		if _, err := s.runWith(ctx, Full, runOptions{}); err != nil {
			return err
		}
		if st, err = s.readState(ctx); err != nil {
			return err
		}
		if st.UsersCookie == nil || st.GroupsCookie == nil {
			return fmt.Errorf("ldap[%s]: %w: no cookie after a full run", s.dir.ID, ErrSyncreplRefused)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type msg struct {
		kind entryKind
		ev   syncEvent
	}
	events := make(chan msg, 256)
	errs := make(chan error, 2)
	follow := func(kind entryKind, base, filter string, attrs []string, cookie []byte) {
		c, err := s.dialSync(cctx)
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		err = s.syncSearch(cctx, c, base, filter, attrs, goldap.SyncRequestModeRefreshAndPersist, cookie, func(ev syncEvent) error {
			select {
			case events <- msg{kind, ev}:
				return nil
			case <-cctx.Done():
				return cctx.Err()
			}
		})
		if err == nil {
			err = fmt.Errorf("ldap[%s]: syncrepl search of %s ended: %w", s.dir.ID, base, ErrDirectoryUnavailable)
		}
		errs <- err
	}
	go follow(entryUser, s.dir.Users.BaseDN, s.dir.Users.Filter, s.userAttrs(), st.UsersCookie)
	go follow(entryGroup, s.dir.Groups.BaseDN, s.dir.Groups.Filter, s.groupAttrs(), st.GroupsCookie)
	s.log.Info("ldap sync: following the directory (syncrepl refreshAndPersist)")

	// Changes are gathered from the first event of a burst for Settle,
	// and during the refresh stage until both searches finished it.
	ch := &syncChanges{deleted: map[string]bool{}, usersCookie: st.UsersCookie, groupsCookie: st.GroupsCookie}
	var presentU, presentG map[string]bool
	refreshing := map[entryKind]bool{entryUser: true, entryGroup: true}
	var settle <-chan time.Time
	pending := false
	flush := func() error {
		if err := ctx.Err(); err != nil {
			// Stopped: what was not applied yet is read again from the
			// stored cookies when Roster follows again; a run begun now
			// would only fail on the cancelled context and record that
			// as the directory's status.
			return err
		}
		// A batch begun is applied whole, even when Persist is stopped
		// meanwhile: cancelled, the run stopped between its transactions
		// (a user deleted, the cookies not stored) and recorded the
		// cancellation as the directory's status. A store or directory
		// that does not answer holds the stop for finishGrace at most.
		actx, cancel := finishing(ctx, finishGrace)
		defer cancel()
		if presentU != nil || presentG != nil {
			r := s.newRun(Persist)
			if err := r.absentFromPresent(actx, ch, presentU, presentG); err != nil {
				return err
			}
		}
		if pending {
			rs, err := s.applyChanges(actx, ch)
			if opts.Applied != nil {
				opts.Applied(rs)
			}
			if err != nil {
				return err
			}
		}
		ch = &syncChanges{deleted: map[string]bool{}, usersCookie: ch.usersCookie, groupsCookie: ch.groupsCookie}
		presentU, presentG, pending, settle = nil, nil, false, nil
		return nil
	}
	for {
		select {
		case err := <-errs:
			if ferr := flush(); ferr != nil && err == nil {
				err = ferr
			}
			return err
		case m := <-events:
			ev := m.ev
			present := &presentU
			if m.kind == entryGroup {
				present = &presentG
			}
			switch {
			case ev.entry != nil:
				if m.kind == entryUser {
					if du, ok := s.mapUser(ev.entry); ok {
						ch.users = append(ch.users, du)
					}
				} else if g, ok := s.mapGroup(ev.entry); ok {
					ch.groups = append(ch.groups, g)
				}
				if len(refreshing) == 0 {
					delete(ch.deleted, s.externalID(ev.entry))
				}
				pending = true
			case ev.deleted != "":
				if len(refreshing) == 0 {
					ch.deleteNow(ev.deleted)
				} else {
					ch.deleted[ev.deleted] = true
				}
				pending = true
			case ev.present != "":
				if *present == nil {
					*present = map[string]bool{}
				}
				(*present)[ev.present] = true
				pending = true
			}
			if ev.cookie != nil {
				cur := &ch.usersCookie
				if m.kind == entryGroup {
					cur = &ch.groupsCookie
				}
				if !bytes.Equal(*cur, ev.cookie) {
					*cur = ev.cookie
					pending = true
				}
			}
			if ev.refreshDone && refreshing[m.kind] {
				delete(refreshing, m.kind)
				if len(refreshing) == 0 {
					ch.refreshed()
				}
			}
			if pending && settle == nil && len(refreshing) == 0 {
				settle = time.After(opts.Settle)
			}
		case <-settle:
			if err := flush(); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// finishing returns a context with ctx's values that ends grace after ctx
// ends (or when cancel is called): work begun under ctx finishes unless it
// hangs.
func finishing(ctx context.Context, grace time.Duration) (_ context.Context, cancel context.CancelFunc) {
	fctx, cancelF := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancelF)
		context.AfterFunc(fctx, func() { t.Stop() })
	})
	return fctx, func() {
		stop()
		cancelF()
	}
}

// applyChanges applies what syncrepl reported as one run of mode
// Persist, and stores the cookies with its state.
func (s *Source) applyChanges(ctx context.Context, ch *syncChanges) (RunStatus, error) {
	return s.runWith(ctx, Persist, runOptions{changes: ch})
}

// refreshed settles a refresh stage: an entry it reported exists, even if
// it also named it deleted (a session log records renames as deletions).
func (ch *syncChanges) refreshed() {
	for _, du := range ch.users {
		delete(ch.deleted, du.user.ExternalID)
	}
	for _, g := range ch.groups {
		delete(ch.deleted, g.ext)
	}
}

// deleteNow records a deletion reported after the refresh stage: it
// overrides earlier reports of the entry.
func (ch *syncChanges) deleteNow(ext string) {
	ch.deleted[ext] = true
	ch.users = slices.DeleteFunc(ch.users, func(du dirUser) bool { return du.user.ExternalID == ext })
	ch.groups = slices.DeleteFunc(ch.groups, func(g dirGroup) bool { return g.ext == ext })
}

// tidy keeps the last report of each entry and drops those deleted
// (see refreshed and deleteNow).
func (ch *syncChanges) tidy() {
	lastU := map[string]int{}
	for i, du := range ch.users {
		lastU[du.user.ExternalID] = i
	}
	users := ch.users[:0:0]
	for i, du := range ch.users {
		if lastU[du.user.ExternalID] == i && !ch.deleted[du.user.ExternalID] {
			users = append(users, du)
		}
	}
	lastG := map[string]int{}
	for i, g := range ch.groups {
		lastG[g.ext] = i
	}
	groups := ch.groups[:0:0]
	for i, g := range ch.groups {
		if lastG[g.ext] == i && !ch.deleted[g.ext] {
			groups = append(groups, g)
		}
	}
	ch.users, ch.groups = users, groups
}
