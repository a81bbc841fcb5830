package storetest

import (
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Engine returns a policy engine with config cfg kept current by a
// store.Follower over st: loaded from what st holds now, then fed every
// committed change. A change the engine refuses fails the test. The
// follower stops when the test ends (before st closes, if st was opened
// earlier in the test).
func Engine(t testing.TB, st store.Store, cfg policy.EngineConfig) *policy.Engine {
	t.Helper()
	eng := policy.NewEngine(cfg)
	Follow(t, st, eng)
	return eng
}

// Follow keeps eng current with st for the rest of the test, as Engine
// does for an engine the test built itself.
func Follow(t testing.TB, st store.Store, eng store.Engine) *store.Follower {
	t.Helper()
	f, err := store.Follow(t.Context(), st, eng, store.FollowConfig{
		OnApplyError: func(err error) { t.Errorf("policy engine: apply: %v", err) },
	})
	if err != nil {
		t.Fatalf("follow the store: %v", err)
	}
	t.Cleanup(f.Close)
	return f
}
