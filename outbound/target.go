package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roster-dev/roster/store"
)

// cursor is a target's persistent position in the audit log: every entry
// with Seq ≤ After is delivered, and so are the first Skip fact events of
// the entries read after it (a chunk delivered in part).
type cursor struct {
	After    uint64    `json:"after"`
	Skip     int       `json:"skip,omitempty"`
	Paused   string    `json:"paused,omitempty"` // why, when paused
	PausedAt time.Time `json:"pausedAt,omitzero"`
	// Resync asks a SCIM target's next run to send everything again.
	Resync bool `json:"resync,omitempty"`
	// Approved lets the next SCIM run pass the deletion guard.
	Approved bool      `json:"approved,omitempty"`
	LastFull time.Time `json:"lastFull,omitzero"`
}

// Held describes deactivations the deletion guard holds back.
type Held struct {
	Users  int       `json:"users"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// Status is what a target reports in the admin API and the CLI.
type Status struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // scim | webhook
	// Source is where the target is defined: "config" (the file) or
	// "api" (created through the admin API).
	Source string `json:"source"`
	URL    string `json:"url"`
	// Cursor is the last audit seq fully delivered; Head the newest the
	// Service has seen.
	Cursor uint64 `json:"cursor"`
	Head   uint64 `json:"head"`
	// LagEvents is Head − Cursor (audit entries, relevant or not);
	// LagSeconds the age of the oldest entry not yet delivered.
	LagEvents  uint64  `json:"lagEvents"`
	LagSeconds float64 `json:"lagSeconds"`
	Paused     bool    `json:"paused"`
	// PausedReason says why the target was paused.
	PausedReason string    `json:"pausedReason,omitempty"`
	PausedAt     time.Time `json:"pausedAt,omitzero"`
	// Failures counts consecutive failed attempts; FailuresTotal all of
	// them since start; Delivered the acknowledged deliveries (events
	// or SCIM requests) since start.
	Failures      int       `json:"failures"`
	FailuresTotal uint64    `json:"failuresTotal"`
	Delivered     uint64    `json:"delivered"`
	LastError     string    `json:"lastError,omitempty"`
	LastErrorAt   time.Time `json:"lastErrorAt,omitzero"`
	LastDelivery  time.Time `json:"lastDelivery,omitzero"`
	// Held is set while the deletion guard holds deactivations.
	Held *Held `json:"held,omitempty"`
	// Uncommitted says acknowledgements are not yet in the store (a
	// crash now would send them again).
	Uncommitted bool `json:"uncommitted,omitempty"`
}

// target is one configured target and its worker.
type target struct {
	svc    *Service
	cfg    TargetConfig
	source string // SourceConfig or SourceAPI

	stop    context.CancelFunc // stops the worker (nil: not started)
	exited  chan struct{}      // closed when the worker returned
	removed atomic.Bool        // deleted: commit nothing more
	http    *http.Client
	key     []byte // webhook signing key
	scim    *scimClient

	wake   chan struct{} // poked by the feed and by controls
	commit chan struct{} // poked on each acknowledgement

	mu       sync.Mutex
	cur      cursor
	gen      uint64            // bumped by controls that move the cursor
	pending  map[string][]byte // record writes acknowledged, not yet committed (nil: delete)
	inflight map[string][]byte // writes being committed
	dirty    bool
	oldest   time.Time // time of the oldest entry being delivered (zero: idle)
	failures int
	failTot  uint64
	done     uint64
	lastErr  string
	lastErrT time.Time
	lastOK   time.Time
	held     *Held
}

func newTarget(s *Service, c TargetConfig, source string) *target {
	t := &target{svc: s, cfg: c, source: source, http: newHTTPClient(c),
		wake: make(chan struct{}, 1), commit: make(chan struct{}, 1), pending: map[string][]byte{}}
	if c.Webhook != nil {
		t.key, _ = signingKey(c.Webhook.Secret) // checked by Validate
	}
	if c.SCIM != nil {
		t.scim = &scimClient{base: trimSlash(c.SCIM.URL), token: c.SCIM.Token, http: t.http}
	}
	return t
}

func (t *target) poke() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func cursorKey(id string) string { return "cursor/" + id }

// load reads the target's cursor. A target without one starts at the
// current end of the audit log: it is sent what happens from now on (a
// SCIM target is reconciled in full on its first run anyway).
func (t *target) load(ctx context.Context) error {
	var c cursor
	var found bool
	err := t.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		found, err = getJSON(tx, cursorKey(t.cfg.ID), &c)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbound: %s: read cursor: %w", t.cfg.ID, err)
	}
	if !found {
		c = cursor{After: t.svc.startSeq(t.cfg.ID), Resync: t.cfg.SCIM != nil}
	}
	t.mu.Lock()
	t.cur = c
	t.dirty = !found
	t.mu.Unlock()
	return nil
}

// run is the target's worker; it returns when ctx is done, after
// committing what was acknowledged.
func (t *target) run(ctx context.Context) {
	// The committer outlives the worker, so the last acknowledgements
	// are committed too.
	cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { t.committer(cctx) })
	if t.cfg.SCIM != nil {
		t.runSCIM(ctx)
	} else {
		t.runWebhook(ctx)
	}
	stop()
	wg.Wait()
}

// committer writes the cursor and the acknowledged records, coalescing
// acknowledgements that arrive while a commit is in flight.
func (t *target) committer(ctx context.Context) {
	t.signalCommit()
	for {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := t.flush(cctx); err != nil {
				t.svc.log.Error("outbound: final cursor commit failed", "target", t.cfg.ID, "err", err)
			}
			cancel()
			return
		case <-t.commit:
		}
		if err := t.flush(ctx); err != nil && ctx.Err() == nil {
			t.svc.log.Error("outbound: cursor commit failed", "target", t.cfg.ID, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
				t.signalCommit()
			}
		}
	}
}

func (t *target) signalCommit() {
	select {
	case t.commit <- struct{}{}:
	default:
	}
}

// flush commits the cursor and pending records in one transaction.
func (t *target) flush(ctx context.Context) error {
	t.mu.Lock()
	if !t.dirty || t.removed.Load() {
		t.mu.Unlock()
		return nil
	}
	c, writes := t.cur, t.pending
	t.pending, t.dirty, t.inflight = map[string][]byte{}, false, writes
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.inflight = nil
		t.mu.Unlock()
	}()
	cb, err := json.Marshal(c)
	if err != nil {
		return err
	}
	err = t.svc.cfg.Store.Update(ctx, "outbound", func(tx store.Tx) error {
		for k, v := range writes {
			var err error
			if v == nil {
				err = tx.DeleteRecord(Namespace, k)
				if errors.Is(err, store.ErrNotFound) {
					err = nil
				}
			} else {
				err = tx.PutRecord(Namespace, k, v)
			}
			if err != nil {
				return err
			}
		}
		return tx.PutRecord(Namespace, cursorKey(t.cfg.ID), cb)
	})
	if err != nil {
		t.mu.Lock()
		for k, v := range writes { // newer writes win
			if _, ok := t.pending[k]; !ok {
				t.pending[k] = v
			}
		}
		t.dirty = true
		t.mu.Unlock()
	}
	return err
}

// record reads a record as the target sees it: its pending write, or the
// store's.
func (t *target) record(ctx context.Context, key string) ([]byte, error) {
	t.mu.Lock()
	v, ok := t.pending[key]
	if !ok {
		v, ok = t.inflight[key]
	}
	t.mu.Unlock()
	if ok {
		return v, nil
	}
	err := t.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		b, err := tx.GetRecord(Namespace, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		v = b
		return err
	})
	return v, err
}

// setRecord queues a record write for the next commit (nil: delete).
func (t *target) setRecord(key string, v []byte) {
	t.mu.Lock()
	t.pending[key] = v
	t.dirty = true
	t.mu.Unlock()
	t.signalCommit()
}

// advance records an acknowledgement made under generation gen; it is
// dropped if a control moved the cursor since.
func (t *target) advance(gen uint64, fn func(c *cursor), writes map[string][]byte) bool {
	t.mu.Lock()
	if t.gen != gen {
		t.mu.Unlock()
		return false
	}
	fn(&t.cur)
	for k, v := range writes {
		t.pending[k] = v
	}
	t.dirty = true
	t.mu.Unlock()
	t.signalCommit()
	return true
}

// control changes the cursor on behalf of an operator, commits it at once,
// and wakes the worker. moved says the position changed, so deliveries in
// flight are abandoned.
func (t *target) control(ctx context.Context, fn func(c *cursor), moved bool) error {
	t.mu.Lock()
	fn(&t.cur)
	if t.cur.Paused == "" {
		t.cur.PausedAt = time.Time{}
		t.failures = 0
	}
	if moved {
		t.gen++
	}
	t.dirty = true
	t.mu.Unlock()
	err := t.flush(ctx)
	t.poke()
	return err
}

func (t *target) snapshot() (cursor, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur, t.gen
}

// waitRunnable waits until the target is not paused and want says there
// is work; it returns false when ctx is done.
func (t *target) waitRunnable(ctx context.Context, want func(c cursor) (bool, time.Duration)) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		c, _ := t.snapshot()
		wait := time.Duration(-1)
		if c.Paused == "" {
			ok, d := want(c)
			if ok {
				return true
			}
			wait = d
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-t.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

// attempt runs send until it succeeds, backing off between failures. It
// returns errPaused when the target is paused, errReset when the cursor
// was moved, or ctx's error.
func (t *target) attempt(ctx context.Context, gen uint64, what string, send func(ctx context.Context) error) error {
	for {
		// A request in flight at shutdown is let finish (within the
		// target's timeout), so its answer is known and committed.
		err := send(context.WithoutCancel(ctx))
		if err == nil {
			t.mu.Lock()
			t.failures = 0
			t.lastOK = t.svc.cfg.Now()
			t.done++
			t.mu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.mu.Lock()
		t.failures++
		t.failTot++
		n := t.failures
		t.lastErr, t.lastErrT = err.Error(), t.svc.cfg.Now()
		pause := t.cfg.Retry.PauseAfter > 0 && n >= t.cfg.Retry.PauseAfter
		if pause {
			t.cur.Paused = fmt.Sprintf("%d consecutive failures, the last: %v", n, err)
			t.cur.PausedAt = t.svc.cfg.Now()
			t.dirty = true
		}
		t.mu.Unlock()
		if pause {
			t.svc.log.Error("outbound: target paused after repeated failures; resume with `roster outbound resume`",
				"target", t.cfg.ID, "failures", n, "err", err)
			t.signalCommit()
			return errPaused
		}
		wait := backoff(t.cfg.Retry, n)
		t.svc.log.Warn("outbound: delivery failed; will retry", "target", t.cfg.ID, "what", what, "attempt", n, "retryIn", wait.Round(time.Millisecond), "err", err)
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		case <-tm.C:
		case <-t.wake:
			tm.Stop()
		}
		_, g := t.snapshot()
		if g != gen {
			return errReset
		}
		if c, _ := t.snapshot(); c.Paused != "" {
			return errPaused
		}
	}
}

func (t *target) setOldest(ts time.Time) {
	t.mu.Lock()
	t.oldest = ts
	t.mu.Unlock()
}

func (t *target) status(ctx context.Context) Status {
	t.mu.Lock()
	c := t.cur
	st := Status{
		ID: t.cfg.ID, Kind: t.cfg.Kind(), Source: t.source, URL: t.cfg.URL(),
		Cursor: c.After, Paused: c.Paused != "", PausedReason: c.Paused, PausedAt: c.PausedAt,
		Failures: t.failures, FailuresTotal: t.failTot, Delivered: t.done,
		LastError: t.lastErr, LastErrorAt: t.lastErrT, LastDelivery: t.lastOK, Held: t.held,
	}
	oldest := t.oldest
	st.Uncommitted = t.dirty || t.inflight != nil
	t.mu.Unlock()
	st.Head = t.svc.applied.Load()
	if st.Head > st.Cursor {
		st.LagEvents = st.Head - st.Cursor
		if oldest.IsZero() { // not being delivered yet: read its time
			_ = t.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
				es, err := tx.Audit(st.Cursor, 1)
				if err == nil && len(es) == 1 {
					oldest = es[0].Time
				}
				return err
			})
		}
		if !oldest.IsZero() {
			st.LagSeconds = max(0, t.svc.cfg.Now().Sub(oldest).Seconds())
		}
	}
	return st
}
