package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// notifyChannel is the channel of NOTIFY sent by every audited commit; the
// payload is the commit's last seq.
const notifyChannel = "roster_audit"

// feed delivers committed batches to subscribers in seq order. mu is held
// while a batch is delivered, so deliveries never interleave; last is the
// highest seq delivered (or passed over while nobody subscribed).
type feed struct {
	s *Store
	// head reads the seq of the newest audit entry (s.auditHead; a test
	// seam).
	head func(context.Context) (uint64, error)

	mu   sync.Mutex
	last uint64

	subMu  sync.Mutex
	subs   map[int]func([]policy.Change)
	nextID int
}

func newFeed(s *Store, last uint64) *feed {
	return &feed{s: s, head: s.auditHead, last: last, subs: map[int]func([]policy.Change){}}
}

func (f *feed) subscribe(fn func([]policy.Change)) func() {
	f.subMu.Lock()
	defer f.subMu.Unlock()
	id := f.nextID
	f.nextID++
	f.subs[id] = fn
	return func() {
		f.subMu.Lock()
		defer f.subMu.Unlock()
		delete(f.subs, id)
	}
}

// fns returns the subscribers in subscription order.
func (f *feed) fns() []func([]policy.Change) {
	f.subMu.Lock()
	defer f.subMu.Unlock()
	ids := make([]int, 0, len(f.subs))
	for id := range f.subs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]func([]policy.Change), len(ids))
	for i, id := range ids {
		out[i] = f.subs[id]
	}
	return out
}

// deliverLocked hands one batch to every subscriber. f.mu is held.
func (f *feed) deliverLocked(batch []policy.Change) {
	for _, fn := range f.fns() {
		fn(batch)
	}
	f.last = batch[len(batch)-1].Seq
}

// local delivers the batch of a commit of this process, after whatever
// other processes committed before it.
func (f *feed) local(batch []policy.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	first, last := batch[0].Seq, batch[len(batch)-1].Seq
	if last <= f.last {
		return // the listener delivered it already
	}
	if first > f.last+1 && len(f.fns()) > 0 {
		// Seqs below ours are committed (they were taken under the lock
		// our commit waited for): deliver them first.
		if err := f.catchUpLocked(context.Background(), first-1); err != nil {
			f.s.log.Error("postgres: change feed: reading other processes' changes failed; they are skipped",
				"after", f.last, "before", first, "err", err)
		}
	}
	f.deliverLocked(batch)
}

// catchUp delivers every committed batch after the last delivered one, up
// to upTo at least (0: the head of the log).
//
// With nobody subscribed it only moves f.last on, to upTo, which must be a
// seq committed before catchUp looks at the subscribers: a subscriber that
// is there by then may be owed every commit after it subscribed. (The
// head is therefore read first: read after finding nobody, it could name a
// batch that a subscriber arriving meanwhile is owed, and whose own
// delivery, finding f.last past it, would then be dropped.)
func (f *feed) catchUp(ctx context.Context, upTo uint64) error {
	if upTo == 0 {
		head, err := f.head(ctx)
		if err != nil {
			return err
		}
		upTo = head
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if upTo <= f.last {
		return nil
	}
	if len(f.fns()) == 0 {
		// Nobody to tell: move on.
		f.last = upTo
		return nil
	}
	return f.catchUpLocked(ctx, 0)
}

// auditHead reads the seq of the newest audit entry (0: none).
func (s *Store) auditHead(ctx context.Context) (uint64, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM audit`).Scan(&head); err != nil {
		return 0, err
	}
	return uint64(head), nil
}

// catchUpLocked reads the audit entries after f.last (up to upTo, 0: all)
// and delivers them batch by batch. f.mu is held.
func (f *feed) catchUpLocked(ctx context.Context, upTo uint64) error {
	const page = 1000
	for {
		cs, batches, err := f.s.readAudit(ctx, f.last, upTo, page)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return nil
		}
		// Deliver whole batches only: a batch cut by the page limit is
		// read again on the next round.
		n := len(cs)
		if len(cs) == page {
			n = slices.Index(batches, batches[len(batches)-1])
			if n == 0 { // one batch larger than a page
				cs, batches, err = f.s.readAuditBatch(ctx, batches[0])
				if err != nil {
					return err
				}
				n = len(cs)
			}
		}
		start := 0
		for i := 1; i <= n; i++ {
			if i == n || batches[i] != batches[start] {
				batch, err := f.s.expandBatches(ctx, cs[start:i:i])
				if err != nil {
					return err
				}
				if len(batch) == 0 { // its records were deleted since
					f.last = cs[i-1].Seq
				} else {
					f.deliverLocked(decoded(batch))
				}
				start = i
			}
		}
		if len(cs) < page {
			return nil
		}
	}
}

// decoded gives each change of a batch read back from the audit table its
// typed records (policy.Change.Decoded), decoded here once for every
// subscriber. A change that does not decode is left as it is: its readers
// meet the error.
func decoded(batch []policy.Change) []policy.Change {
	for i, c := range batch {
		if d, err := c.Decoded(); err == nil {
			batch[i] = d
		}
	}
	return batch
}

const auditColumns = `seq, batch, time, actor, tenant, kind, op, id, before, after`

func scanChange(rows pgx.Rows) (policy.Change, int64, error) {
	var (
		c                policy.Change
		seq, batch       int64
		tenant, kind, op string
		before, after    []byte
	)
	if err := rows.Scan(&seq, &batch, &c.Time, &c.Actor, &tenant, &kind, &op, &c.ID, &before, &after); err != nil {
		return c, 0, err
	}
	c.Seq, c.Tenant, c.Kind, c.Op = uint64(seq), policy.TenantID(tenant), policy.Kind(kind), policy.Op(op)
	c.Time = c.Time.UTC()
	if before != nil {
		c.Before = json.RawMessage(before)
	}
	if after != nil {
		c.After = json.RawMessage(after)
	}
	return c, batch, nil
}

// readAudit reads at most limit entries after seq (up to upTo when not 0).
func (s *Store) readAudit(ctx context.Context, after, upTo uint64, limit int) ([]policy.Change, []int64, error) {
	if upTo == 0 {
		upTo = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
		int64(after), int64(upTo), limit)
	if err != nil {
		return nil, nil, err
	}
	return collectChanges(rows)
}

// readAuditBatch reads one whole batch.
func (s *Store) readAuditBatch(ctx context.Context, batch int64) ([]policy.Change, []int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit WHERE batch = $1 ORDER BY seq`, batch)
	if err != nil {
		return nil, nil, err
	}
	return collectChanges(rows)
}

func collectChanges(rows pgx.Rows) ([]policy.Change, []int64, error) {
	defer rows.Close()
	var cs []policy.Change
	var bs []int64
	for rows.Next() {
		c, b, err := scanChange(rows)
		if err != nil {
			return nil, nil, err
		}
		cs = append(cs, c)
		bs = append(bs, b)
	}
	return cs, bs, rows.Err()
}

// listen follows the commits of other processes: LISTEN wakes it, the
// audit log says what changed. After a lost connection it reconnects (with
// backoff) and catches up, so nothing committed meanwhile is missed.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	defer close(s.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, cfg, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("postgres: change feed: listener lost its connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	connected()
	// Whatever was committed while nobody listened.
	if err := s.feed.catchUp(ctx, 0); err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		seq, _ := strconv.ParseUint(n.Payload, 10, 64)
		if err := s.feed.catchUp(ctx, seq); err != nil {
			return fmt.Errorf("catch up: %w", err)
		}
	}
}

// Sync delivers to subscribers every change committed, by any process,
// before it was called, and returns when they have received it. A replica
// calls it before it reports ready, and a subscriber that must not miss
// what other processes wrote just before it subscribed calls it after
// loading its snapshot.
func (s *Store) Sync(ctx context.Context) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	head, err := s.auditHead(ctx)
	if err != nil {
		return s.connErr("read audit head", err)
	}
	if head == 0 {
		return nil
	}
	return s.feed.catchUp(ctx, head)
}

// expandBatches returns cs with each policy.OpCreateBatch entry replaced by
// what the change feed carries for it: one policy.OpCreate per record it
// names, in order, under the entry's Seq. The entry does not copy the
// records (see policy.OpCreateBatch), so each holds the record as the
// store holds it now, and a record deleted since has none; the changes
// after the entry carry the rest. (A commit of this process delivers its
// journal's batch, with the records as written, instead.)
func (s *Store) expandBatches(ctx context.Context, cs []policy.Change) ([]policy.Change, error) {
	if !slices.ContainsFunc(cs, func(c policy.Change) bool { return c.Op == policy.OpCreateBatch }) {
		return cs, nil
	}
	out := make([]policy.Change, 0, len(cs))
	for _, c := range cs {
		table := map[policy.Kind]string{policy.KindUser: "users", policy.KindDirGroup: "dirgroups"}[c.Kind]
		ids := c.BatchIDs()
		if c.Op != policy.OpCreateBatch || table == "" || ids == nil {
			out = append(out, c)
			continue
		}
		rows, err := s.pool.Query(ctx, `SELECT id, data FROM `+table+` WHERE id = ANY($1)`, ids)
		if err != nil {
			return nil, s.connErr("read a batch's records", err)
		}
		data := make(map[string][]byte, len(ids))
		var id string
		var v []byte
		_, err = pgx.ForEachRow(rows, []any{&id, &v}, func() error {
			data[id] = slices.Clone(v)
			return nil
		})
		if err != nil {
			return nil, s.connErr("read a batch's records", err)
		}
		for _, id := range ids {
			if v, ok := data[id]; ok {
				out = append(out, policy.Change{Seq: c.Seq, Time: c.Time, Actor: c.Actor, Tenant: c.Tenant,
					Kind: c.Kind, Op: policy.OpCreate, ID: id, After: json.RawMessage(v)})
			}
		}
	}
	return out, nil
}
