package outbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Namespace is the store record namespace of the package.
const Namespace = "outbound"

// ErrUnknownTarget: no target has that id.
var ErrUnknownTarget = errors.New("outbound: unknown target")

// errReset: the cursor was moved (replay, resync) while a delivery was in
// flight; the worker starts over from the new cursor.
var errReset = errors.New("outbound: cursor moved")

// errPaused: the target failed too often and is paused.
var errPaused = errors.New("outbound: target paused")

// Config configures a Service.
type Config struct {
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Store is read for the change feed and keeps the cursors.
	Store store.Store
	// Engine computes effective memberships; it must be fed by the
	// same store's change feed, subscribed before the Service starts.
	Engine *policy.Engine
	// Targets are validated by New. Targets created through the admin
	// API (Create) are store records, read by Run.
	Targets []TargetConfig
	// SecretKey is the AES-256 key (ParseSecretKey) that encrypts the
	// secrets of targets created through the API; without it Create
	// refuses.
	SecretKey []byte
	// ChunkSize is how many audit entries a worker reads at once
	// (default 256).
	ChunkSize int
}

// Service delivers the change feed to the configured targets.
type Service struct {
	cfg Config
	log *slog.Logger

	mu      sync.RWMutex
	targets []*target // configured first, then those of the API by id
	byID    map[string]*target
	runCtx  context.Context // set by Run: workers start under it
	workers sync.WaitGroup

	reloadMu sync.Mutex    // serializes reload
	reloadCh chan struct{} // poked by the feed when a target was created or deleted
	bornMu   sync.Mutex
	born     map[string]uint64 // audit seq of the creation of API targets, seen in the feed

	// applied is the highest audit seq the engine has applied (seen by
	// the Service's own subscription, made after the engine's).
	applied atomic.Uint64
	started atomic.Bool
	ready   chan struct{}
}

// New validates the targets and returns a Service; Run starts it.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Engine == nil {
		return nil, errors.New("outbound: Store and Engine are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 256
	}
	s := &Service{cfg: cfg, log: cfg.Logger, byID: map[string]*target{}, ready: make(chan struct{}), reloadCh: make(chan struct{}, 1)}
	for i := range cfg.Targets {
		tc := cfg.Targets[i]
		if err := tc.Validate(); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return nil, &FieldError{fmt.Sprintf("[%d].%s", i, fe.Field), fe.Msg}
			}
			return nil, err
		}
		if s.byID[tc.ID] != nil {
			return nil, &FieldError{fmt.Sprintf("[%d].id", i), "duplicate target " + tc.ID}
		}
		t := newTarget(s, tc, SourceConfig)
		s.targets = append(s.targets, t)
		s.byID[tc.ID] = t
	}
	return s, nil
}

// Targets lists the ids of the targets: those of the configuration in
// its order, then those created through the API by id.
func (s *Service) Targets() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, len(s.targets))
	for i, t := range s.targets {
		ids[i] = t.cfg.ID
	}
	return ids
}

// Run delivers until ctx is done. It subscribes to the store's change feed
// and records an audit entry marking the start, so that every entry up to
// it is known to be applied by the engine.
func (s *Service) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("outbound: Run called twice")
	}
	cancel := s.cfg.Store.Subscribe(s.observe)
	defer cancel()
	ids := s.Targets()
	err := s.cfg.Store.Update(ctx, "outbound", func(tx store.Tx) error {
		return tx.Record("", policy.OpUpdate, "outbound/start", map[string]any{"targets": ids})
	})
	if err != nil {
		return fmt.Errorf("outbound: start: %w", err)
	}
	s.mu.Lock()
	s.runCtx = ctx
	for _, t := range s.targets {
		if err := s.startLocked(ctx, t); err != nil {
			s.mu.Unlock()
			s.stopAll()
			return err
		}
	}
	s.mu.Unlock()
	if err := s.reload(ctx); err != nil {
		s.stopAll()
		return err
	}
	close(s.ready)
	for {
		select {
		case <-ctx.Done():
			s.stopAll()
			return nil
		case <-s.reloadCh:
			if err := s.reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("outbound: reading the targets failed", "err", err)
			}
		}
	}
}

// startLocked loads t's cursor and starts its worker under ctx.
func (s *Service) startLocked(ctx context.Context, t *target) error {
	if err := t.load(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	t.stop, t.exited = cancel, make(chan struct{})
	s.workers.Go(func() {
		defer close(t.exited)
		t.run(wctx)
	})
	return nil
}

func (s *Service) stopAll() {
	s.mu.Lock()
	for _, t := range s.targets {
		if t.stop != nil {
			t.stop()
		}
	}
	s.mu.Unlock()
	s.workers.Wait()
}

// reload brings the targets created through the API in line with the
// store: it starts the workers of new ones and stops those deleted,
// purging their state. It runs after Create and Delete, and when the
// change feed shows a target created or deleted elsewhere (another
// replica's admin API).
func (s *Service) reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	want, err := s.storedTargets(ctx)
	if err != nil {
		return fmt.Errorf("outbound: read targets: %w", err)
	}
	s.mu.Lock()
	running := s.runCtx != nil && s.runCtx.Err() == nil
	var gone []*target
	keep := s.targets[:0:0]
	for _, t := range s.targets {
		if _, ok := want[t.cfg.ID]; t.source == SourceAPI && !ok {
			gone = append(gone, t)
			delete(s.byID, t.cfg.ID)
			continue
		}
		keep = append(keep, t)
	}
	s.targets = keep
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var startErr error
	for _, id := range ids {
		if s.byID[id] != nil {
			continue // running, or a configured target of that id (which wins)
		}
		t := newTarget(s, want[id], SourceAPI)
		if running {
			if err := s.startLocked(s.runCtx, t); err != nil {
				startErr = errors.Join(startErr, err)
				continue
			}
		}
		s.targets = append(s.targets, t)
		s.byID[id] = t
	}
	s.mu.Unlock()
	for _, t := range gone {
		t.removed.Store(true) // its final commit must not write the cursor back
		if t.stop != nil {
			t.stop()
			<-t.exited
		}
		err := s.cfg.Store.Update(context.WithoutCancel(ctx), "outbound", func(tx store.Tx) error {
			return purgeState(tx, t.cfg.ID)
		})
		if err != nil {
			startErr = errors.Join(startErr, fmt.Errorf("outbound: %s: purge state: %w", t.cfg.ID, err))
		}
	}
	return startErr
}

// Ready is closed once Run has read the cursors and started delivering.
// A target without a cursor yet starts with the changes made after it.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// startSeq is where a target without a cursor starts: after its creation
// entry when the feed showed it (a target created through the API is sent
// everything after its creation, however late its worker starts), else at
// the newest entry seen.
func (s *Service) startSeq(id string) uint64 {
	s.bornMu.Lock()
	seq, ok := s.born[id]
	s.bornMu.Unlock()
	if ok {
		return seq
	}
	return s.applied.Load()
}

// observe is the Service's change-feed subscriber: it notes the newest seq
// (the engine, subscribed first, has applied it) and wakes the workers.
func (s *Service) observe(cs []policy.Change) {
	if len(cs) == 0 {
		return
	}
	last := cs[len(cs)-1].Seq
	reload := false
	for _, c := range cs {
		if c.Kind == policy.KindEvent && strings.HasPrefix(c.ID, "outbound/target/") {
			reload = true
			if c.Op == policy.OpCreate {
				s.bornMu.Lock()
				if s.born == nil {
					s.born = map[string]uint64{}
				}
				s.born[strings.TrimPrefix(c.ID, "outbound/target/")] = c.Seq
				s.bornMu.Unlock()
			}
		}
	}
	if reload {
		select {
		case s.reloadCh <- struct{}{}:
		default:
		}
	}
	for {
		cur := s.applied.Load()
		if last <= cur || s.applied.CompareAndSwap(cur, last) {
			break
		}
	}
	s.mu.RLock()
	for _, t := range s.targets {
		t.poke()
	}
	s.mu.RUnlock()
}

func (s *Service) target(id string) (*target, error) {
	s.mu.RLock()
	t := s.byID[id]
	s.mu.RUnlock()
	if t == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownTarget, id)
	}
	return t, nil
}

// Status reports every target.
func (s *Service) Status(ctx context.Context) []Status {
	s.mu.RLock()
	ts := slices.Clone(s.targets)
	s.mu.RUnlock()
	out := make([]Status, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.status(ctx))
	}
	return out
}

// TargetStatus reports one target.
func (s *Service) TargetStatus(ctx context.Context, id string) (Status, error) {
	t, err := s.target(id)
	if err != nil {
		return Status{}, err
	}
	return t.status(ctx), nil
}

// Resume unpauses a paused target; its worker retries at once.
func (s *Service) Resume(ctx context.Context, id string) error {
	t, err := s.target(id)
	if err != nil {
		return err
	}
	return t.control(ctx, func(c *cursor) { c.Paused, c.PausedAt = "", time.Time{} }, false)
}

// Resync reconciles a SCIM target in full on its next run (every pushed
// user and group is sent again, and recreated if the target lost it). For
// a webhook target it is Replay from the start of the audit log.
func (s *Service) Resync(ctx context.Context, id string) error {
	t, err := s.target(id)
	if err != nil {
		return err
	}
	if t.cfg.SCIM == nil {
		return s.Replay(ctx, id, 1)
	}
	return t.control(ctx, func(c *cursor) { c.Resync, c.Paused = true, "" }, true)
}

// Replay moves a target's cursor back so delivery starts again at the
// audit entry seq (inclusive). Webhook receivers get the fact events of
// those entries again; effective-membership events are sent only where
// they differ from what the receiver was last told. For a SCIM target it
// is Resync.
func (s *Service) Replay(ctx context.Context, id string, from uint64) error {
	t, err := s.target(id)
	if err != nil {
		return err
	}
	if from == 0 {
		from = 1
	}
	return t.control(ctx, func(c *cursor) {
		c.After, c.Skip, c.Paused = from-1, 0, ""
		if t.cfg.SCIM != nil {
			c.Resync = true
		}
	}, true)
}

// Approve lets the next run of a SCIM target deactivate the users its
// deletion guard held back.
func (s *Service) Approve(ctx context.Context, id string) error {
	t, err := s.target(id)
	if err != nil {
		return err
	}
	if t.cfg.SCIM == nil {
		return fmt.Errorf("outbound: %s is not a SCIM target", id)
	}
	return t.control(ctx, func(c *cursor) { c.Approved, c.Paused = true, "" }, true)
}

// backoff returns the wait before the next attempt after n consecutive
// failures: full jitter over min(max, initial·2^(n-1)).
func backoff(r RetryConfig, n int) time.Duration {
	d := r.Initial
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1) // at least half: no hot loop against a down target
}

// getJSON reads a record as JSON; ok is false when there is none.
func getJSON(tx store.Tx, key string, v any) (bool, error) {
	b, err := tx.GetRecord(Namespace, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}
