package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// ErrSchema is returned (wrapped) when a file is not a Roster store or has
// a schema version this package cannot read.
var ErrSchema = errors.New("bolt: incompatible schema")

// errReadOnly is returned by write methods of a Tx inside View.
var errReadOnly = errors.New("bolt: write in a read-only transaction")

// initialMmapSize is the address space mapped for the file when it is
// opened (bbolt.Options.InitialMmapSize): 1 GiB on 64-bit platforms, where
// address space is plentiful (only the pages read count towards the RSS,
// and the file still grows in bbolt's 16 MiB steps; on Windows bbolt would
// grow the file to the mapping). A store that grows within it is never
// remapped. Each remap copies every key and value of the open write
// transaction from the map into the heap first (bbolt dereferences its
// nodes) and waits for every read transaction to end: a first LDAP load of
// 100,000 users remapped five times (32 MiB to 256 MiB), copying 92 MB.
// Larger files are remapped as before, in 1 GiB steps.
const initialMmapSize = (1 << 30) * (strconv.IntSize / 64)

// Options configures a Store.
type Options struct {
	// Logger receives operational messages. Nil: discard.
	Logger *slog.Logger
	// Now is the clock used for Created, Updated and audit times. Nil:
	// time.Now.
	Now func() time.Time
	// Timeout bounds the wait for the file lock held by another process.
	// Zero waits forever.
	Timeout time.Duration
}

// Store is a store.Store kept in one bbolt file. It is safe for concurrent
// use by several goroutines of one process; the file is locked against
// other processes.
type Store struct {
	db     *bbolt.DB
	log    *slog.Logger
	now    func() time.Time
	closed atomic.Bool

	// wmu serialises Update from the start of the transaction to the end
	// of delivery, so batches reach subscribers in commit (seq) order.
	wmu sync.Mutex

	subMu  sync.Mutex
	subs   map[int]func([]policy.Change)
	nextID int
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path. The parent
// directory is created with mode 0700 and the file with mode 0600. It does
// not migrate: a file written by a newer schema is refused with ErrSchema.
// A record that does not decode is quarantined rather than refused (see
// the package doc), so one bad record never keeps the store from opening.
func Open(path string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: create directory: %w", err)
	}
	s, err := open(path, opts, false)
	if err != nil {
		return nil, err
	}
	if _, err := s.quarantineUnreadable(context.Background()); err != nil {
		s.Close()
		return nil, err
	}
	s.log.Debug("bolt: store opened", "path", path)
	return s, nil
}

func open(path string, opts Options, readOnly bool) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:         opts.Timeout,
		FreelistType:    bbolt.FreelistMapType,
		ReadOnly:        readOnly,
		InitialMmapSize: initialMmapSize,
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	s := &Store{db: db, log: opts.Logger, now: opts.Now, subs: map[int]func([]policy.Change){}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if readOnly {
		err = db.View(checkSchema)
	} else {
		err = db.Update(initSchema)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkSchema verifies that tx holds a Roster store of a readable version.
func checkSchema(tx *bbolt.Tx) error {
	meta := getBucket(rootBucket(tx), bktMeta)
	if meta == nil {
		return fmt.Errorf("%w: no %s/%s bucket", ErrSchema, bktRoot, bktMeta)
	}
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return fmt.Errorf("%w: no schema version", ErrSchema)
	}
	if n := binary.BigEndian.Uint64(v); n == 0 || n > SchemaVersion {
		return fmt.Errorf("%w: schema version %d, this build reads up to %d", ErrSchema, n, SchemaVersion)
	}
	for _, p := range staticPaths {
		if getBucket(rootBucket(tx), p...) == nil {
			return fmt.Errorf("%w: missing bucket %q", ErrSchema, bytes.Join(p, []byte("/")))
		}
	}
	return nil
}

// initSchema creates the bucket tree of a new file, or checks an existing
// one.
func initSchema(tx *bbolt.Tx) error {
	if rootBucket(tx) == nil {
		// A file with foreign top-level buckets is not ours.
		if k, _ := tx.Cursor().First(); k != nil {
			return fmt.Errorf("%w: file has bucket %q but no %q", ErrSchema, k, bktRoot)
		}
		root, err := tx.CreateBucket(bktRoot)
		if err != nil {
			return fmt.Errorf("bolt: create root: %w", err)
		}
		for _, p := range staticPaths {
			if _, err := createBucket(root, p...); err != nil {
				return err
			}
		}
		return root.Bucket(bktMeta).Put(keySchema, be8(SchemaVersion))
	}
	if err := checkSchema(tx); err != nil {
		return err
	}
	if err := addEmailIndexes(rootBucket(tx)); err != nil {
		return err
	}
	return migrate(rootBucket(tx))
}

// migrate brings a file of an older schema to SchemaVersion, in the
// transaction that opens it.
func migrate(root *bbolt.Bucket) error {
	meta := root.Bucket(bktMeta)
	if binary.BigEndian.Uint64(meta.Get(keySchema)) >= 2 {
		return nil
	}
	if _, err := migrateMembers(root); err != nil {
		return fmt.Errorf("bolt: migrate to schema 2: %w", err)
	}
	return meta.Put(keySchema, be8(SchemaVersion))
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(btx *bbolt.Tx) error {
		t := &tx{ctx: ctx, s: s, btx: btx, root: rootBucket(btx)}
		defer func() { t.done = true }()
		return fn(t)
	})
}

// Update implements store.Store. The whole transaction, including delivery
// to subscribers, is serialised with other Updates.
func (s *Store) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now().UTC()
	t := &tx{ctx: ctx, s: s, now: now, journal: store.NewJournal(actor, now)}
	// bbolt rolls back on every way out of its Update, a panic (which goes
	// on up) or runtime.Goexit (t.FailNow) too; the Tx ends with it.
	err := s.db.Update(func(btx *bbolt.Tx) error {
		defer func() { t.done = true }()
		t.btx, t.root = btx, rootBucket(btx)
		if err := fn(t); err != nil {
			return err
		}
		if err := t.flush(); err != nil {
			return err
		}
		// Refuse to commit work whose caller has gone away.
		if err := ctx.Err(); err != nil {
			return err
		}
		return t.commit()
	})
	if err != nil {
		return store.StorageError(err)
	}
	if len(t.batch) > 0 {
		s.deliver(t.batch)
	}
	return nil
}

func (s *Store) deliver(batch []policy.Change) {
	s.subMu.Lock()
	fns := make([]func([]policy.Change), 0, len(s.subs))
	ids := make([]int, 0, len(s.subs))
	for id := range s.subs {
		ids = append(ids, id)
	}
	// Deliver in subscription order, for determinism.
	slices.Sort(ids)
	for _, id := range ids {
		fns = append(fns, s.subs[id])
	}
	s.subMu.Unlock()
	for _, fn := range fns {
		fn(batch)
	}
}

// Subscribe implements store.Store. Every subscriber receives the same
// slice; it must not modify it.
func (s *Store) Subscribe(fn func([]policy.Change)) (cancel func()) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	id := s.nextID
	s.nextID++
	s.subs[id] = fn
	return func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		delete(s.subs, id)
	}
}

// Backup implements store.Store: it writes a consistent copy of the file,
// from a read transaction, while writers go on.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.View(func(btx *bbolt.Tx) error {
		var err error
		n, err = btx.WriteTo(ctxWriter{ctx, w})
		return err
	})
	if err != nil {
		return n, fmt.Errorf("bolt: backup: %w", err)
	}
	return n, nil
}

// ctxWriter stops a long copy when its context is done.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// Close implements store.Store. It waits for open transactions.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// Path returns the file name of the store.
func (s *Store) Path() string { return s.db.Path() }
