// Package ldap keeps a tenant's users and directory groups in step with an
// LDAP directory (OpenLDAP, Active Directory, FreeIPA, 389 Directory
// Server) and checks passwords against it.
//
// A Source pulls one directory (DirectoryConfig) into the store:
//
//   - a Full run reads every user and group with the simple paged results
//     control (RFC 2696), users and groups at once on two connections,
//     writes creates and updates while it reads, and after the whole
//     directory has been read deletes what is gone and resolves nested
//     groups (a group member that is a group becomes a MemberGroups entry;
//     cycles are kept as edges, never followed here);
//   - an Incremental run reads only entries changed since the last run
//     (entryCSN for OpenLDAP, modifyTimestamp for FreeIPA and 389-ds,
//     uSNChanged for Active Directory). It sees deletions on OpenLDAP with
//     syncprov (RFC 4533 refreshOnly from the stored cookies; syncrepl.go),
//     on Active Directory (tombstones with the Show Deleted control;
//     tombstone.go) and on FreeIPA and 389-ds (the retro changelog after
//     the stored change number; retrocl.go); elsewhere the periodic full
//     run does;
//   - Persist follows an OpenLDAP directory with RFC 4533 refreshAndPersist
//     and applies each burst of changes as a run (Mode Persist); Run uses
//     it when the server offers it, and polls otherwise.
//
// Active Directory groups of any size are read with ranged retrieval
// (member;range=N-M, DirectoryConfig.MemberRange).
//
// Records carry Source "ldap:<dir>" and ExternalID the entry's stable id
// (entryUUID, objectGUID, ipaUniqueID, nsUniqueId), so a rename or a move to another OU
// is an update. Only differences are written, in store.Update batches of
// about a thousand records on behalf of actor "ldap:<dir>" (a first load,
// into a store without any of the directory's users or groups, ramps up to
// BulkBatchSize). Every batch leaves the store consistent; deletions only
// happen once the directory has been read completely, so a directory that
// fails mid-run deletes nothing.
//
// # Performance
//
// Runs read with their own minimal LDAP client (simple bind, StartTLS,
// paged subtree search; see searchConn), which decodes entries straight
// into goldap.Entry values; go-ldap's packet trees cost several times the
// raw search in CPU and garbage. Sign-in uses go-ldap. A full run keeps
// no stored user record in memory: the store's users are streamed once
// and reduced to an id, a version and a fingerprint of the mapped fields
// (userRef); an update re-reads the record inside its transaction and is
// refused with store.ErrVersion if it changed meanwhile, as before. A
// full run that writes chooses the store ids of the users and groups it
// creates when it plans them (store.NewID), so that its new groups are
// resolved while the last users are still being written; a create the
// store refuses is left out of the groups resolved with it.
//
// Memory of a run grows with the directory (a few hundred bytes per entry
// for the maps that resolve members; stored groups' member lists are kept
// only as a fingerprint), plus bbolt's commit buffers (about the pages a
// batch dirties) and the pages of its memory-mapped file that the run
// reads. With 100,000 users and 5,000 groups, scripts/bench-ldap.sh
// measured (November 2026, no memory limit) a peak RSS of 387 MiB, reached
// in the full reconcile after the first load: about 230 MiB of Go heap the
// runtime had not yet returned since the first load, and 154 MiB of the
// 273 MiB file. For directories of 100,000 users and more, run roster with
// a soft Go memory limit, e.g. GOMEMLIMIT=256MiB (an earlier measurement
// gave 500 MiB with it and 620 MiB without, for the same CPU time); the
// limit does not govern the mapped file.
//
// A first load asks Linux for transparent huge pages for the heap it is
// about to grow (Config.HugePageHeap, internal/hugeheap). Where memory is
// faulted in lazily by a hypervisor, a 4 KiB fault costs about 12 µs (the
// test machines, December 2026): a first load of 100,000 users took about
// 100,000 of them, a fifth of its CPU time; with the advice 10,000-16,000.
//
// A deletion guard (guard.go) weighs the whole removal a run would make
// — users deleted or deactivated, groups deleted, direct memberships
// removed, those of deleted users and groups included — against the
// limits of DirectoryConfig.DeletionGuard, per run and over a window.
// When a limit is exceeded the whole removal is held: none of it is
// applied, so held users keep their memberships, while the rest of the
// run (creates, additions, attribute changes) lands. A full run that reads
// no entries where the store holds many (MinEntries), or whose base DN no
// longer exists, is a failure of the directory (ErrSubtreeVanished), not
// a mass deletion. The held change is stored whole (HeldNamespace),
// summarised in the status (Held), and Approve applies exactly it, or
// what a fresh full run still confirms of it.
//
// Sync state and the last run's status are store records in namespace
// "ldap-sync" under "<tenant>/<dir>"; a DN index used by incremental runs
// lives in namespace "ldap-dn".
//
// This package does not import the other protocol packages: cmd/roster
// wires Source.Authenticate into sign-in and RunStatus into metrics.
package ldap

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Record namespaces in the store.
const (
	// StateNamespace holds each directory's sync state and last status
	// under "<tenant>/<dir>".
	StateNamespace = "ldap-sync"
	// DNNamespace maps "<tenant>/<dir>/<normalized DN>" to the kind and
	// external id of the entry ("u:<id>" or "g:<id>").
	DNNamespace = "ldap-dn"
)

// attrDN is the key of User.Attributes / DirGroup.Attributes holding the
// entry's DN.
const attrDN = "ldapDN"

// attrPhone is the user attribute that keeps the directory's phone number
// (AttributeMap.Phone).
const attrPhone = "phone"

// Config configures a Source.
type Config struct {
	// Logger receives progress and problems; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Store keeps the records. Required.
	Store store.Store
	// Tenant owns the records. Required.
	Tenant policy.TenantID
	// Directory is the directory to pull; NewSource validates it.
	Directory DirectoryConfig
	// BatchSize is the number of records per store.Update (default 1000).
	BatchSize int
	// BulkBatchSize is the number of records per store.Update when a full
	// run starts from a store without any of the directory's users (or
	// groups): the first load. Fewer, larger transactions rewrite fewer
	// bbolt pages and sync the file less often (default 10000; never
	// below BatchSize).
	BulkBatchSize int
	// ProgressEvery logs progress every so many entries (default 10000).
	ProgressEvery int
	// HugePageHeap is how many bytes of Go heap a first load asks the
	// system to back with transparent huge pages before it starts
	// (internal/hugeheap): 0 means 320 MiB, about what a first load of
	// 100,000 users grows it to; a negative value none. Only the first
	// first load of a Source asks: the advice stays with the range.
	HugePageHeap int
	// OnRun, when set, is called with the status of every finished run
	// (for metrics).
	OnRun func(RunStatus)
}

// Source synchronises one directory into one tenant and checks passwords
// against it. It is safe for concurrent use; runs are serialised.
type Source struct {
	log      *slog.Logger
	now      func() time.Time
	st       store.Store
	tenant   policy.TenantID
	dir      DirectoryConfig
	source   string
	tls      *tls.Config
	batch    int
	bulk     int
	progress int
	hugeHeap int // Config.HugePageHeap, defaulted
	// heapAdvised: a first load of this Source advised the heap already;
	// the runtime keeps the range (and the advice) for the process.
	heapAdvised atomic.Bool
	onRun       func(RunStatus)

	disabled   disabledCheck
	changeAttr string
	primary    bool         // resolve AD primary group membership (primaryGroupID)
	seed       maphash.Seed // of user fingerprints

	runMu      sync.Mutex
	prog       tracker // the run in progress
	searchPool *pool
	bindPool   *pool
}

// NewSource checks cfg and returns a Source. It does not contact the
// directory.
func NewSource(cfg Config) (*Source, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: ldap: Config.Store is required", ErrConfig)
	}
	if cfg.Tenant == "" {
		return nil, fmt.Errorf("%w: ldap: Config.Tenant is required", ErrConfig)
	}
	dir := cfg.Directory
	if err := dir.Validate(); err != nil {
		return nil, err
	}
	tc, err := dir.tlsConfig()
	if err != nil {
		return nil, err
	}
	s := &Source{
		log:      cfg.Logger,
		now:      cfg.Now,
		st:       cfg.Store,
		tenant:   cfg.Tenant,
		dir:      dir,
		source:   dir.Source(),
		tls:      tc,
		batch:    cfg.BatchSize,
		bulk:     cfg.BulkBatchSize,
		progress: cfg.ProgressEvery,
		hugeHeap: cfg.HugePageHeap,
		onRun:    cfg.OnRun,
		disabled: presets[dir.Flavor].disabled,
		seed:     maphash.MakeSeed(),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("tenant", string(cfg.Tenant), "directory", dir.ID)
	if s.now == nil {
		s.now = time.Now
	}
	if s.batch <= 0 {
		s.batch = 1000
	}
	if s.bulk <= 0 {
		s.bulk = 10000
	}
	s.bulk = max(s.bulk, s.batch)
	if s.progress <= 0 {
		s.progress = 10000
	}
	if s.hugeHeap == 0 {
		s.hugeHeap = 320 << 20
	}
	switch dir.Flavor {
	case FlavorActiveDirectory:
		s.changeAttr = "uSNChanged"
		s.primary = true
	case FlavorFreeIPA, Flavor389DS:
		s.changeAttr = "modifyTimestamp"
	default:
		// entryCSN has microsecond resolution, where modifyTimestamp
		// has seconds: a bulk load does not look changed forever.
		s.changeAttr = "entryCSN"
	}
	s.searchPool = &pool{max: 2, dial: s.dialService}
	s.bindPool = &pool{max: 4, dial: s.dial}
	return s, nil
}

// Directory returns the validated directory configuration (presets and
// defaults applied).
func (s *Source) Directory() DirectoryConfig { return s.dir }

// Close releases pooled connections. Runs in progress are not stopped:
// cancel their context.
func (s *Source) Close() error {
	s.searchPool.shutdown()
	s.bindPool.shutdown()
	return nil
}

// Mode selects the kind of run.
type Mode string

// Run modes.
const (
	// Full reads the whole directory and reconciles, deletions included.
	Full Mode = "full"
	// Incremental reads entries changed since the last run.
	Incremental Mode = "incremental"
	// Approval is the mode of the status of Approve applying a held
	// change; it is not a run mode.
	Approval Mode = "approve"
)

// MembershipCounts are a run's changes to direct memberships (user or
// group in a directory group).
type MembershipCounts struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	// Held counts removals the deletion guard held back.
	Held int `json:"held,omitempty"`
}

// Counts are the per-kind results of a run.
type Counts struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Deleted   int `json:"deleted"`
	Unchanged int `json:"unchanged"`
	// Deactivated counts updates that made an active user inactive
	// (included in Updated).
	Deactivated int `json:"deactivated,omitempty"`
	// Failed counts records the store refused (see RunStatus.Errors).
	Failed int `json:"failed,omitempty"`
	// Held counts deletions and deactivations the guard held back.
	Held int `json:"held,omitempty"`
}

// RunStatus describes the last (or current) run of a Source.
type RunStatus struct {
	Tenant    policy.TenantID `json:"tenant"`
	Directory string          `json:"directory"`
	Mode      Mode            `json:"mode,omitempty"`
	Started   time.Time       `json:"started,omitzero"`
	Finished  time.Time       `json:"finished,omitzero"`
	// Read counts entries read from the directory.
	UsersRead   int              `json:"usersRead"`
	GroupsRead  int              `json:"groupsRead"`
	Users       Counts           `json:"users"`
	Groups      Counts           `json:"groups"`
	Memberships MembershipCounts `json:"memberships"`
	// Error says why the run failed; empty for a run that completed.
	Error string `json:"error,omitempty"`
	// Errors lists problems with single records (at most 100) that did
	// not stop the run.
	Errors []string `json:"errors,omitempty"`
	// Guard says why the deletion guard held changes back.
	Guard string `json:"guard,omitempty"`
	// PendingApproval is true while held-back changes wait for Approve.
	PendingApproval bool `json:"pendingApproval,omitempty"`
	// Held describes the change waiting for Approve.
	Held *Held `json:"held,omitempty"`
	// Progress is set by Status while a run is in progress: its phase and
	// what it has read and written so far.
	Progress *Progress `json:"progress,omitempty"`
}

// OK reports whether the run completed.
func (r RunStatus) OK() bool { return !r.Finished.IsZero() && r.Error == "" }

// syncState is the record kept under StateNamespace.
type syncState struct {
	UsersMark       string `json:"usersMark,omitempty"`
	GroupsMark      string `json:"groupsMark,omitempty"`
	UserCount       int    `json:"userCount"`
	GroupCount      int    `json:"groupCount"`
	MembershipCount int    `json:"membershipCount,omitempty"`
	// UsersCookie and GroupsCookie are the syncrepl cookies (RFC 4533)
	// of the user and group searches; DeletedMark the uSNChanged up to
	// which Active Directory tombstones were read.
	UsersCookie  []byte `json:"usersCookie,omitempty"`
	GroupsCookie []byte `json:"groupsCookie,omitempty"`
	DeletedMark  string `json:"deletedMark,omitempty"`
	// ChangelogMark is the change number of the 389-ds retro changelog
	// up to which deletions were read (freeipa, 389ds).
	ChangelogMark   string    `json:"changelogMark,omitempty"`
	LastFull        time.Time `json:"lastFull,omitzero"`
	LastIncremental time.Time `json:"lastIncremental,omitzero"`
	// Held summarises the change in HeldNamespace.
	Held *Held `json:"held,omitempty"`
	// Window lists what recent runs removed without approval.
	Window []windowEntry `json:"window,omitempty"`
	Last   RunStatus     `json:"last"`
}

func (s *Source) stateKey() string { return string(s.tenant) + "/" + s.dir.ID }
func (s *Source) dnPrefix() string { return string(s.tenant) + "/" + s.dir.ID + "/" }

func (s *Source) loadState(tx store.Tx) (syncState, error) {
	var st syncState
	b, err := tx.GetRecord(StateNamespace, s.stateKey())
	if errors.Is(err, store.ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("ldap[%s]: read sync state: %w", s.dir.ID, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("ldap[%s]: decode sync state: %w", s.dir.ID, err)
	}
	return st, nil
}

// readState reads the sync state in a read transaction of its own.
func (s *Source) readState(ctx context.Context) (syncState, error) {
	var st syncState
	err := s.st.View(ctx, func(tx store.Tx) (err error) {
		st, err = s.loadState(tx)
		return err
	})
	return st, err
}

// readRun reads the sync state and the held removals into r, in one read
// transaction.
func (s *Source) readRun(ctx context.Context, r *run) error {
	return s.st.View(ctx, func(tx store.Tx) (err error) {
		if r.state, err = s.loadState(tx); err != nil {
			return err
		}
		r.pending, err = s.loadHeld(tx)
		return err
	})
}

func (s *Source) putState(tx store.Tx, st syncState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("ldap[%s]: encode sync state: %w", s.dir.ID, err)
	}
	return tx.PutRecord(StateNamespace, s.stateKey(), b)
}

// Status returns the status of the last run, with PendingApproval and
// Guard reflecting the current approval state. Before the first run it
// returns a zero status naming the tenant and directory.
func (s *Source) Status(ctx context.Context) (RunStatus, error) {
	st, err := s.readState(ctx)
	if err != nil {
		return RunStatus{}, err
	}
	rs := st.Last
	rs.Tenant, rs.Directory = s.tenant, s.dir.ID
	rs.Held = st.Held
	rs.PendingApproval = st.Held != nil
	if st.Held != nil {
		rs.Guard = st.Held.Reason
	}
	rs.Progress = s.prog.get()
	return rs, nil
}

// Run synchronises on schedule until ctx is done: a full run first when
// none completed within FullSyncInterval, then an incremental run every
// Interval and a full run every FullSyncInterval. Failed runs are logged
// and retried at the next tick. A directory followed with syncrepl
// (DirectoryConfig.Syncrepl) gets its changes as they happen (Persist)
// instead of incremental runs, and polling resumes if the directory
// refuses it. It returns ctx.Err().
func (s *Source) Run(ctx context.Context) error {
	var persisting atomic.Bool
	// Run returns only once Persist has: whoever waits for Run (a lease
	// handed to another replica, a shutdown closing the store) knows that
	// nothing of this source writes any more.
	var follower sync.WaitGroup
	defer follower.Wait()
	wait := time.Duration(0)
	if s.useSyncrepl() {
		// Persist makes the first full run itself when it needs one.
		wait = s.dir.Interval
		persisting.Store(true)
		follower.Add(1)
		go func() {
			defer follower.Done()
			err := s.Persist(ctx, PersistOptions{})
			persisting.Store(false)
			if ctx.Err() == nil {
				s.log.Warn("ldap sync: not following the directory; polling every interval", "err", err)
			}
		}()
	}
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		wait = s.dir.Interval
		mode := Incremental
		st, err := s.readState(ctx)
		if err != nil {
			s.log.Error("ldap sync: read state", "err", err)
		}
		if st.LastFull.IsZero() || s.now().Sub(st.LastFull) >= s.dir.FullSyncInterval {
			mode = Full
		}
		if persisting.Load() && (mode == Incremental || st.LastFull.IsZero()) {
			continue // Persist applies the changes, and makes the first full run
		}
		if rs, err := s.Sync(ctx, mode); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Error("ldap sync failed", "mode", rs.Mode, "err", err)
		}
	}
}

// Sync performs one run now. An Incremental run before any completed full
// run is performed as Full. The returned status is also stored (see
// Status); the error is non-nil when the run failed, wrapping
// ErrDirectoryUnavailable when the directory went away.
func (s *Source) Sync(ctx context.Context, mode Mode) (RunStatus, error) {
	return s.runWith(ctx, mode, runOptions{})
}

func (s *Source) newRun(mode Mode) *run {
	r := &run{
		s:          s,
		batch:      s.batch,
		oldUsers:   map[string]userRef{},
		oldDN:      map[string]string{},
		oldGroups:  map[string]policy.DirGroup{},
		oldMembers: map[string]membersRef{},
		userID:     map[string]policy.UserID{},
		groupID:    map[string]policy.DirGroupID{},
		curGroups:  map[string]policy.DirGroup{},
		dnKind:     map[string]entryRef{},
		userByName: map[string]string{},
		primary:    map[string][]string{},
		primaryIDs: map[string][]policy.UserID{},
	}
	r.st = RunStatus{Tenant: s.tenant, Directory: s.dir.ID, Mode: mode, Started: s.now()}
	r.t0 = time.Now()
	return r
}

// runOptions vary a run.
type runOptions struct {
	// revalidate makes it a full run approving what it still finds of
	// the held change (Approve).
	revalidate bool
	// dry, when set, makes it a dry run that writes nothing and reports
	// each write it would make to dry (DryRun).
	dry func(Change)
	// changes makes it a Persist run applying what syncrepl reported.
	changes *syncChanges
}

// finishGrace is how long work begun under a context may go on after the
// context ends, so that it ends whole: a run's status and state saved, a
// Persist run begun before its follower was stopped. A store or directory
// that does not answer holds a stop no longer than this.
const finishGrace = 30 * time.Second

// runWith performs one run.
func (s *Source) runWith(ctx context.Context, mode Mode, opts runOptions) (RunStatus, error) {
	revalidate := opts.revalidate
	s.runMu.Lock()
	defer s.runMu.Unlock()
	r := s.newRun(mode)
	r.dry = opts.dry
	r.changes = opts.changes
	err := s.readRun(ctx, r)
	if err == nil && revalidate {
		if r.pending.empty() {
			return r.st, fmt.Errorf("ldap[%s]: %w", s.dir.ID, ErrNothingPending)
		}
		r.approved = r.pending
	}
	if err == nil {
		if mode == Incremental && r.state.LastFull.IsZero() {
			mode = Full
		}
		if mode == Incremental && s.useSyncrepl() && r.state.UsersCookie != nil && r.state.GroupsCookie != nil {
			// The incremental run of a syncrepl directory reads what
			// changed since the stored cookies, deletions included.
			ch, cerr := r.readSyncrepl(ctx)
			switch {
			case errors.Is(cerr, errRefreshRequired):
				s.log.Warn("ldap sync: syncrepl cookie refused; full run instead", "err", cerr)
				mode = Full
			case cerr != nil:
				err = cerr
			default:
				r.changes = ch
			}
		}
		if err == nil && mode == Incremental && s.useRetroCL() && r.changes == nil {
			// 389 Directory Server: deletions since the stored change
			// number, from the retro changelog.
			cerr := r.readRetroChangelog(ctx)
			switch {
			case errors.Is(cerr, errChangelogTrimmed):
				s.log.Warn("ldap sync: retro changelog trimmed past the stored change number; full run instead", "err", cerr)
				mode = Full
			case cerr != nil:
				err = cerr
			}
		}
		r.st.Mode = mode
		s.log.Info("ldap sync started", "mode", mode, "dryRun", r.dry != nil)
		s.prog.start(Progress{Mode: mode, Started: r.st.Started, Phase: PhaseStore, DryRun: r.dry != nil})
		defer s.prog.stop()
		switch {
		case err != nil: // the syncrepl read failed
		case mode == Full:
			err = r.full(ctx)
		default:
			err = r.incremental(ctx)
		}
	}
	r.st.Finished = s.now()
	if err != nil {
		r.st.Error = err.Error()
	}
	if r.dry != nil {
		s.log.Info("ldap sync dry run finished", "mode", r.st.Mode, "took", r.st.Finished.Sub(r.st.Started).String(),
			"users", r.st.Users, "groups", r.st.Groups, "memberships", r.st.Memberships, "guard", r.st.Guard, "err", r.st.Error)
		return r.st, err
	}
	// Save the status even when the run's context is cancelled.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishGrace)
	defer cancel()
	if serr := s.saveRun(store.WithActor(sctx, store.ActorOr(ctx, s.source)), r, err == nil); serr != nil {
		s.log.Error("ldap sync: save state", "err", serr)
		if err == nil {
			err = serr
			r.st.Error = serr.Error()
		}
	}
	lvl := slog.LevelInfo
	if err != nil {
		lvl = slog.LevelError
	}
	s.log.Log(ctx, lvl, "ldap sync finished", "mode", r.st.Mode, "took", r.st.Finished.Sub(r.st.Started).String(),
		"usersRead", r.st.UsersRead, "groupsRead", r.st.GroupsRead,
		"users", r.st.Users, "groups", r.st.Groups, "guard", r.st.Guard, "err", r.st.Error)
	if s.onRun != nil {
		s.onRun(r.st)
	}
	st, first := r.st, r.firstLoad
	if first && err == nil && st.Users.Created+st.Groups.Created >= s.bulk {
		// A large first load leaves hundreds of MiB of the heap free (its
		// batches, bbolt's node copies and commit buffers, the maps of
		// the run, unused from here on), which the runtime would return
		// over minutes: return them now, so that the process does not
		// carry the first load's peak into what follows (a full run
		// after it peaked at 441 MiB of RSS instead of about 360).
		debug.FreeOSMemory()
	}
	return st, err
}

// saveRun stores the status and, for a completed run, the new state; for
// a run that got as far as weighing its removals (even one that then
// failed, like a vanished subtree), the held change.
func (s *Source) saveRun(ctx context.Context, r *run, ok bool) error {
	return s.st.Update(ctx, store.ActorOr(ctx, s.source), func(tx store.Tx) error {
		st, err := s.loadState(tx)
		if err != nil {
			return err
		}
		if ok {
			st.UsersMark = laterMark(st.UsersMark, r.usersMark)
			st.GroupsMark = laterMark(st.GroupsMark, r.groupsMark)
			ms := r.st.Memberships.Added - r.st.Memberships.Removed
			if r.usersCookie != nil && r.groupsCookie != nil {
				st.UsersCookie, st.GroupsCookie = r.usersCookie, r.groupsCookie
			}
			st.DeletedMark = laterMark(st.DeletedMark, r.deletedMark)
			switch {
			case r.st.Mode == Full && s.useRetroCL():
				// A full run starts over from the head it read (a
				// reinstalled server numbers changes anew), or from
				// none when it could not read the changelog.
				st.ChangelogMark = r.changelogMark
			case r.changelogMark != "":
				st.ChangelogMark = laterMark(st.ChangelogMark, r.changelogMark)
			}
			if r.st.Mode == Full {
				st.LastFull = r.st.Finished
				st.UserCount = r.userCount
				st.GroupCount = r.groupCount
				st.MembershipCount = max(r.nMemberships+ms, 0)
			} else {
				st.LastIncremental = r.st.Finished
				st.UserCount += r.st.Users.Created - r.st.Users.Deleted
				st.GroupCount += r.st.Groups.Created - r.st.Groups.Deleted
				if st.MembershipCount > 0 || r.nMemberships > 0 {
					st.MembershipCount = max(max(st.MembershipCount, r.nMemberships)+ms, 0)
				}
			}
			// What this run removed without an approval counts
			// against the window.
			since := r.st.Finished.Add(-max(s.dir.DeletionGuard.Window, s.dir.FullSyncInterval))
			st.Window = slices.DeleteFunc(st.Window, func(e windowEntry) bool { return !e.At.After(since) })
			if u, m := r.st.Users.Deleted+r.st.Users.Deactivated, r.st.Memberships.Removed; r.approved == nil && u+m > 0 {
				st.Window = append(st.Window, windowEntry{At: r.st.Finished, Users: u, Memberships: m})
			}
		}
		if r.decided {
			next := r.held
			if r.st.Mode != Full {
				// An incremental run sees part of the directory:
				// what it holds joins what waits.
				cur, err := s.loadHeld(tx)
				if err != nil {
					return err
				}
				next = union(cur, r.held)
			}
			if st.Held, err = s.putHeld(tx, next); err != nil {
				return err
			}
			if r.approved != nil {
				if err := s.recordApproval(tx, r.approved, true); err != nil {
					return err
				}
			}
		}
		r.st.Held = st.Held
		r.st.PendingApproval = st.Held != nil
		if st.Held != nil && r.st.Guard == "" {
			r.st.Guard = st.Held.Reason
		}
		st.Last = r.st
		return s.putState(tx, st)
	})
}

// run is the working state of one Sync.
type run struct {
	s     *Source
	batch int // records per store.Update
	ramp  int // weight written in this phase of a first load (see apply)
	st    RunStatus
	// firstLoad: a full run into a store without this directory's
	// records, written in bulk.
	firstLoad bool
	// preIDs: a full run that writes (not a dry run) chooses the store
	// ids of the users and groups it creates when it plans them, so that
	// the groups are resolved while the users are still being written
	// (see full). refusedUsers and refusedGroups hold the chosen ids of
	// the creates the store refused (the writer records them; the
	// planner reads them only after waiting for it).
	preIDs        bool
	refusedUsers  map[policy.UserID]string // id → external id
	refusedGroups map[policy.DirGroupID]bool
	errMu         sync.Mutex // recordErr: a full run's writer reports while its reader does
	state         syncState

	oldUsers  map[string]userRef         // this source's users by external id
	oldDN     map[string]string          // their DNs (incremental runs)
	oldGroups map[string]policy.DirGroup // this source's groups by external id
	// oldMembers stands for the member lists of oldGroups in full runs,
	// which keep no list (see full): a group's are then nil.
	oldMembers map[string]membersRef
	userID     map[string]policy.UserID // external id → store id
	groupID    map[string]policy.DirGroupID
	seenUsers  map[string]bool
	seenGroups map[string]bool
	curGroups  map[string]policy.DirGroup // groups after this run's creates and updates
	// finalGroups holds the groups created by this run with all their
	// members; txGroupID the groups created in the transaction being
	// written (see groupIDOf).
	finalGroups map[string]bool
	txGroupID   map[string]policy.DirGroupID
	// dnKind maps normalized DNs of entries read in this run to the user
	// or group each names; userByName maps folded userNames to external
	// ids.
	dnKind     map[string]entryRef
	userByName map[string]string
	index      map[string]entryRef // DN index as stored (full runs)
	// dnGroups holds the normalized DNs of the groups a full run read
	// (set in dnKind by planGroups; see syncIndex); storedIndex the
	// number of entries of the DN index when the run read it.
	dnGroups    []string
	storedIndex int
	// primary maps a group SID to the external ids of the users read in
	// this run whose primary group it is (Active Directory); primaryIDs
	// to those of its stored primary members an incremental run did not
	// read (see keepPrimaryMembers).
	primary    map[string][]string
	primaryIDs map[string][]policy.UserID

	deactivate []policy.User // wanted updates that deactivate a user

	// The deletion guard (guard.go): the change waiting for approval when
	// the run started, the part of it a revalidating approval lets apply,
	// what this run holds, and whether it got as far as deciding.
	pending, approved, held *heldChange
	heldKeys                map[heldKey]bool
	decided                 bool
	conn                    *searchConn // an incremental run's connection
	// vanished says why the directory's answer looks like a vanished
	// subtree (full runs).
	vanished string
	// Records of this source when the run started: the guard's
	// denominators.
	nUsers, nGroups, nMemberships int

	usersMark, groupsMark string
	userCount, groupCount int

	t0  time.Time    // start, for progress logs
	dry func(Change) // a dry run: writes nothing, reports here

	// changes are what syncrepl reported (incremental and Persist runs
	// of a syncrepl directory); deleted the external ids of the entries
	// a non-full run knows are gone (syncrepl, AD tombstones), and
	// deletedIDs their users' store ids.
	changes    *syncChanges
	deleted    map[string]bool
	deletedIDs map[policy.UserID]bool
	// The syncrepl cookies and the tombstone mark to store.
	usersCookie, groupsCookie []byte
	deletedMark               string
	changelogMark             string
}

func (r *run) recordErr(kind *Counts, msg string) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	kind.Failed++
	if len(r.st.Errors) < 100 {
		r.st.Errors = append(r.st.Errors, msg)
	}
	r.s.log.Warn("ldap sync: record refused", "err", msg)
}

// errorString trims an error for status messages.
func errorString(err error) string {
	s := err.Error()
	return strings.TrimSpace(s)
}
