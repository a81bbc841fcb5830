package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/roster-dev/roster/policy"
)

// Engine is what a Follower keeps current: *policy.Engine satisfies it.
type Engine interface {
	// Load replaces every fact with those of w.
	Load(w policy.World)
	// Apply applies a batch of committed changes in order.
	Apply(changes []policy.Change) error
}

// FollowConfig tunes a Follower. The zero value is ready to use.
type FollowConfig struct {
	// Logger receives a line per load and per failed apply; nil discards.
	Logger *slog.Logger
	// OnApplyError, when set, is called with every error Apply returns
	// (a metric counter, a test's t.Errorf), before the Follower reloads
	// the engine from a snapshot. It must not call back into the Store.
	OnApplyError func(error)
	// Now is the clock used to time loads; nil means time.Now.
	Now func() time.Time
}

// Follower keeps an Engine in step with a Store's change feed: it loads the
// engine from a snapshot, buffers the changes committed while the load
// runs and applies them after it (resuming where the snapshot stopped),
// then applies each committed batch as it is delivered. When Apply fails
// the engine is behind the store, so the Follower reloads it the same way.
//
// Replaying a buffered change the snapshot already holds is harmless: a
// create or update carries the whole record, the last change of each
// record wins, and a members change (OpMembers) adds and removes set
// members.
//
// The server and every test fixture that needs an engine over a store use
// a Follower (the tests through storetest.Engine), so there is one way to
// follow the store.
type Follower struct {
	st     Store
	eng    Engine
	cfg    FollowConfig
	cancel func()

	mu      sync.Mutex
	loading bool
	closed  bool
	pending []policy.Change
	applied uint64 // sequence of the last change applied
	reloads sync.WaitGroup
}

// Follow subscribes eng to st's change feed and loads it from a snapshot
// of st. The engine is current when Follow returns. Close stops following.
func Follow(ctx context.Context, st Store, eng Engine, cfg FollowConfig) (*Follower, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Follower{st: st, eng: eng, cfg: cfg, loading: true}
	f.cancel = st.Subscribe(f.deliver)
	if err := f.load(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Loading reports whether a (re)load is under way: the engine is then
// behind the store.
func (f *Follower) Loading() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loading
}

// Applied returns the sequence number of the last change applied to the
// engine (0 before the first).
func (f *Follower) Applied() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// Reload loads the engine again from a snapshot, buffering the changes
// committed meanwhile. After Close it returns ErrClosed.
func (f *Follower) Reload(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	f.loading = true
	f.mu.Unlock()
	return f.load(ctx)
}

// Close unsubscribes from the feed and waits for a reload in flight.
func (f *Follower) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.reloads.Wait()
}

// deliver is the feed's subscriber.
func (f *Follower) deliver(cs []policy.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	if f.loading {
		f.pending = append(f.pending, cs...)
		return
	}
	if err := f.apply(cs); err != nil {
		f.failed(err)
		f.cfg.Logger.Error("policy engine could not apply changes; reloading", "err", err)
		f.loading = true
		f.reloads.Add(1)
		go func() {
			defer f.reloads.Done()
			if err := f.load(context.Background()); err != nil {
				f.cfg.Logger.Error("policy engine reload failed", "err", err)
			}
		}()
	}
}

// apply applies cs and records the last sequence; f.mu is held.
func (f *Follower) apply(cs []policy.Change) error {
	if err := f.eng.Apply(cs); err != nil {
		return err
	}
	if n := len(cs); n > 0 && cs[n-1].Seq > f.applied {
		f.applied = cs[n-1].Seq
	}
	return nil
}

func (f *Follower) failed(err error) {
	if f.cfg.OnApplyError != nil {
		f.cfg.OnApplyError(err)
	}
}

// load loads the engine from a snapshot while deliver buffers, then
// replays the buffer. f.loading is set by the caller.
func (f *Follower) load(ctx context.Context) error {
	w, err := Snapshot(ctx, f.st)
	if err != nil {
		f.mu.Lock()
		f.loading = false
		f.mu.Unlock()
		return fmt.Errorf("store: follow: snapshot: %w", err)
	}
	start := f.cfg.Now()
	f.eng.Load(w)
	f.mu.Lock()
	defer f.mu.Unlock()
	pending := f.pending
	f.pending, f.loading = nil, false
	if err := f.apply(pending); err != nil {
		f.failed(err)
		return fmt.Errorf("store: follow: replay %d changes after load: %w", len(pending), err)
	}
	f.cfg.Logger.Info("policy engine loaded", "users", len(w.Users), "dirgroups", len(w.DirGroups), "groups", len(w.Groups),
		"rules", len(w.Rules), "replayed", len(pending), "took", f.cfg.Now().Sub(start).Round(time.Millisecond))
	return nil
}
