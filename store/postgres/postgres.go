// Package postgres is the PostgreSQL backend of store.Store, on pgx
// (github.com/jackc/pgx/v5), for installations that run several Roster
// replicas on one database. It passes the same conformance suite
// (store/storetest) as store/bolt and keeps the same semantics.
//
// # Schema
//
// The tables are created by embedded, forward-only migrations
// (migrations/NNNN_name.sql), each applied in its own transaction and
// recorded in roster_schema_migrations; see Migrate. Records are the JSON
// of the policy types, kept verbatim; the columns beside them are the
// secondary indexes of store/bolt's bucket tree, kept by PostgreSQL in the
// same transaction as the record:
//
//	tenants      (id) → data
//	users        (id) → tenant, name_fold, external_id, data
//	             unique (tenant, name_fold), unique (tenant, external_id)
//	dirgroups    (id) → tenant, name_fold, external_id, data
//	             unique (tenant, external_id), index (tenant, name_fold, id)
//	dg_members   (tenant, member, group_id)          reverse membership
//	groups       (id) → slug (unique), parent, data
//	roles        (name) → data
//	rules        (id) → tenant, dir_group, group_id, role, data
//	memberships  (group_id, user_id, role) → tenant, data
//	records      (ns, key) → value
//	audit        (seq) → batch, time, actor, tenant, kind, op, id, before, after
//	quarantine   (id) → kind, tenant, key, reason, time, value
//
// Identifiers compare bytewise (COLLATE "C"), so listings and pages come in
// the order bbolt gives. Text in PostgreSQL cannot hold NUL bytes or
// invalid UTF-8: ids, names and keys that do are refused with
// policy.ErrInvalid when written and are simply not found when looked up.
//
// # Transactions
//
// Update runs at SERIALIZABLE isolation, which keeps every invariant that
// spans rows (one userName per tenant, no group cycles, versions) against
// concurrent writers in this and other processes. A transaction that loses
// a serialization conflict is rolled back and fn runs again, up to
// Options.MaxAttempts times: fn must have no effect outside the Tx, or only
// effects that are safe to repeat. View runs at REPEATABLE READ, READ ONLY:
// one snapshot. Both end their transaction, and give its connection back
// to the pool, however fn leaves: a panic (which goes on up to the caller)
// or runtime.Goexit (t.FailNow in a test) too.
//
// The first SQL error of a transaction aborts it in PostgreSQL; the Tx
// remembers it and the Update fails even if fn ignores it. Write methods
// therefore check uniqueness and existence with reads first, as store/bolt
// does, so that the refusals of the Tx interface (ErrExists, ErrNotFound,
// ErrVersion…) leave the transaction usable.
//
// # Change feed
//
// Audit entries are buffered during fn and written at the end of the
// transaction, under a transaction-level advisory lock held until commit, so
// their sequence numbers grow in commit order across all processes. (Audit
// inside an Update therefore does not list that Update's own entries.) Each
// audited commit sends NOTIFY roster_audit. Every Store listens, and feeds
// its subscribers the batches of every process in seq order: its own
// commits before Update returns, other processes' when notified, and what
// it missed while its listening connection was down when it reconnects.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Options configures a Store.
type Options struct {
	// Logger receives operational messages. Nil: discard.
	Logger *slog.Logger
	// Now is the clock of Created, Updated and audit times. Nil:
	// time.Now. Times are kept to the microsecond, PostgreSQL's
	// resolution.
	Now func() time.Time
	// MaxConns bounds the connection pool (0: pgxpool's default, or
	// pool_max_conns of the DSN). The change-feed listener holds one more
	// connection of its own.
	MaxConns int32
	// Migrate applies pending schema migrations when the store opens
	// (store.postgres.migrate: auto). Without it, Open refuses a database
	// whose schema is not the one this build writes.
	Migrate bool
	// MaxAttempts bounds how often Update runs fn when transactions
	// conflict (0: 30).
	MaxAttempts int
	// LeaseEvery is how often Lead tries to take a lease another replica
	// holds, and how often a holder checks it still has it (0: 2s).
	LeaseEvery time.Duration
}

// Store is a store.Store kept in a PostgreSQL database. It is safe for
// concurrent use, also by several processes on one database.
type Store struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	now      func() time.Time
	attempts int

	feed *feed

	connCfg    *pgx.ConnConfig // for connections outside the pool (leases)
	leaseEvery time.Duration

	closed chan struct{}
	stop   context.CancelFunc
	done   chan struct{} // the listener has ended
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string), checks or migrates its schema, and starts listening
// for the changes of other processes. Close releases it.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.Migrate {
		conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
		if err != nil {
			return nil, fmt.Errorf("postgres: connect: %w", err)
		}
		_, err = migrateConn(ctx, conn)
		conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := checkSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, log: opts.Logger, now: opts.Now, attempts: opts.MaxAttempts,
		connCfg: cfg.ConnConfig.Copy(), leaseEvery: opts.LeaseEvery,
		closed: make(chan struct{}), done: make(chan struct{})}
	if s.leaseEvery <= 0 {
		s.leaseEvery = defaultLeaseEvery
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.attempts <= 0 {
		s.attempts = 30
	}
	var last int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM audit`).Scan(&last); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: read audit head: %w", err)
	}
	s.feed = newFeed(s, uint64(last))
	lctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.listen(lctx, cfg.ConnConfig.Copy())
	return s, nil
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// View implements store.Store: fn runs in one REPEATABLE READ, READ ONLY
// transaction.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) (err error) {
	if s.isClosed() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.connErr("begin", err)
	}
	t := &tx{ctx: ctx, s: s, pg: ptx}
	// The transaction ends, and its connection goes back to the pool, on
	// every way out of fn: also a panic (which goes on up) and
	// runtime.Goexit (t.FailNow), or Close would wait for the connection
	// for ever.
	defer func() {
		t.done = true
		rerr := ptx.Rollback(context.WithoutCancel(ctx))
		if err == nil && rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
			err = s.connErr("end read transaction", rerr)
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	return t.err
}

// Update implements store.Store. fn runs in a SERIALIZABLE transaction;
// when it loses a serialization conflict, or a deadlock, the transaction is
// rolled back and fn runs again (see the package doc). The audit entries of
// the committed attempt are delivered to subscribers, after those of every
// earlier commit, before Update returns.
func (s *Store) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		if s.isClosed() {
			return store.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := s.try(ctx, actor, fn)
		if err == nil {
			if len(t.batch) > 0 {
				s.feed.local(t.batch)
			}
			return nil
		}
		if !(t != nil && t.retry) && !isRetryable(err) {
			return err
		}
		if attempt >= s.attempts {
			return fmt.Errorf("postgres: transaction still conflicting after %d attempts: %w", attempt, err)
		}
		// Back off, with jitter, before the next attempt.
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 7)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// try runs one attempt of Update.
func (s *Store) try(ctx context.Context, actor string, fn func(store.Tx) error) (*tx, error) {
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable, AccessMode: pgx.ReadWrite})
	if err != nil {
		return nil, s.connErr("begin", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	t := &tx{ctx: ctx, s: s, pg: ptx, writable: true, now: now, journal: store.NewJournal(actor, now)}
	defer func() {
		t.done = true
		_ = ptx.Rollback(context.WithoutCancel(ctx)) // no-op after Commit
	}()
	err = fn(t)
	if err == nil {
		err = t.flush()
	}
	if err == nil && t.err != nil {
		err = t.err // fn went on after a failed statement
	}
	if err == nil {
		err = ctx.Err() // refuse to commit work whose caller has gone away
	}
	if err == nil {
		err = t.commit()
	}
	if err != nil {
		return t, err
	}
	if err := ptx.Commit(ctx); err != nil {
		if isRetryable(err) {
			return t, err
		}
		return t, s.connErr("commit", err)
	}
	return t, nil
}

// isRetryable reports a serialization failure or a deadlock.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// connErr wraps an error of the database or the connection. Conditions of
// the server's resources (disk full, out of memory, too many connections,
// I/O errors, shutdown) and lost connections are store.ErrStorage: writes
// succeed again once the database recovers.
func (s *Store) connErr(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) == 5 && (pe.Code[:2] == "53" || pe.Code[:2] == "58" || pe.Code[:2] == "08" || pe.Code[:2] == "57"):
			return fmt.Errorf("postgres: %s: %w: %w", what, store.ErrStorage, err)
		case pe.Code == "25006": // read_only_sql_transaction: a standby
			return fmt.Errorf("postgres: %s: %w: %w", what, store.ErrStorage, err)
		}
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnErr(err) {
		return fmt.Errorf("postgres: %s: %w: %w", what, store.ErrStorage, err)
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

func isConnErr(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// Subscribe implements store.Store. Subscribers receive the batches of
// every process that writes to the database, in seq order; every
// subscriber receives the same slice and must not modify it.
func (s *Store) Subscribe(fn func([]policy.Change)) (cancel func()) {
	return s.feed.subscribe(fn)
}

// Close implements store.Store: it stops the listener and closes the pool,
// waiting for connections in use to be returned.
func (s *Store) Close() error {
	select {
	case <-s.closed:
		return nil
	default:
	}
	close(s.closed)
	s.stop()
	<-s.done
	s.pool.Close()
	return nil
}

// Pool returns the connection pool, for tools (store copy, tests) that
// read the tables directly.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
