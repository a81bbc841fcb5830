package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// gatedEngine is a policy engine whose Load waits on a channel, so a test
// can commit while a load runs, and whose Apply fails while failNext is
// set.
type gatedEngine struct {
	*policy.Engine
	loadStarted chan struct{}
	release     chan struct{}

	mu       sync.Mutex
	failNext bool
	loads    int
}

func (g *gatedEngine) Load(w policy.World) {
	g.mu.Lock()
	g.loads++
	g.mu.Unlock()
	if g.loadStarted != nil {
		g.loadStarted <- struct{}{}
		<-g.release
	}
	g.Engine.Load(w)
}

func (g *gatedEngine) Apply(cs []policy.Change) error {
	g.mu.Lock()
	fail := g.failNext
	g.failNext = false
	g.mu.Unlock()
	if fail {
		return errors.New("injected")
	}
	return g.Engine.Apply(cs)
}

func openFollowStore(t *testing.T) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "roster.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Update(t.Context(), "test", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner})
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// createGroup commits a new SIG named name and returns its id.
func createGroup(t *testing.T, st store.Store, name string) policy.GroupID {
	t.Helper()
	var id policy.GroupID
	if err := st.Update(context.Background(), "test", func(tx store.Tx) error {
		g, err := tx.CreateGroup(policy.Group{Slug: name, Name: name, Kind: policy.GroupSpecialInterest})
		id = g.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func known(eng *policy.Engine, id policy.GroupID) bool {
	_, ok := eng.Group(id)
	return ok
}

// TestFollowerLoadsThenFollows: what the store held before Follow is in the
// engine when Follow returns, and every later commit reaches it.
func TestFollowerLoadsThenFollows(t *testing.T) {
	st := openFollowStore(t)
	before := createGroup(t, st, "alice")
	eng := policy.NewEngine(policy.EngineConfig{})
	f, err := store.Follow(t.Context(), st, eng, store.FollowConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !known(eng, before) {
		t.Fatal("a group committed before Follow is missing from the engine")
	}
	after := createGroup(t, st, "bob")
	if !known(eng, after) {
		t.Fatal("a group committed after Follow is missing from the engine")
	}
	if f.Applied() == 0 || f.Loading() {
		t.Fatalf("applied %d, loading %v", f.Applied(), f.Loading())
	}
	f.Close()
	late := createGroup(t, st, "carol")
	if known(eng, late) {
		t.Fatal("a group committed after Close reached the engine")
	}
	if err := f.Reload(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Reload after Close: %v, want ErrClosed", err)
	}
}

// TestFollowerBuffersDuringLoad: a commit made while the engine loads is
// buffered and applied after the load, and readiness says loading till then.
func TestFollowerBuffersDuringLoad(t *testing.T) {
	st := openFollowStore(t)
	g := &gatedEngine{Engine: policy.NewEngine(policy.EngineConfig{}), loadStarted: make(chan struct{}), release: make(chan struct{})}
	var f *store.Follower
	done := make(chan error, 1)
	go func() {
		var err error
		f, err = store.Follow(context.Background(), st, g, store.FollowConfig{})
		done <- err
	}()
	<-g.loadStarted
	during := createGroup(t, st, "dave") // committed after the snapshot, before Load ends
	close(g.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !known(g.Engine, during) {
		t.Fatal("the change committed during the load was lost")
	}
}

// TestFollowerReloadsAfterApplyError: when the engine refuses a batch the
// follower reports it and reloads, and the engine ends up current.
func TestFollowerReloadsAfterApplyError(t *testing.T) {
	st := openFollowStore(t)
	g := &gatedEngine{Engine: policy.NewEngine(policy.EngineConfig{})}
	var mu sync.Mutex
	var reported []error
	f, err := store.Follow(t.Context(), st, g, store.FollowConfig{OnApplyError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.failNext = true
	g.mu.Unlock()
	id := createGroup(t, st, "erin")
	f.Close() // waits for the reload in flight
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 {
		t.Fatalf("OnApplyError called %d times, want 1", len(reported))
	}
	g.mu.Lock()
	loads := g.loads
	g.mu.Unlock()
	if loads != 2 {
		t.Fatalf("engine loaded %d times, want 2 (start, reload)", loads)
	}
	if !known(g.Engine, id) {
		t.Fatal("the refused change is missing after the reload")
	}
}
