package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/storetest"
)

// TestBatcher runs many concurrent operations through a Batcher: every
// successful one commits, a failing one fails alone, and the change feed
// sees every commit.
func TestBatcher(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "roster.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Update(ctx, "test", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner})
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	created := 0
	st.Subscribe(func(cs []policy.Change) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			if c.Kind == policy.KindUser && c.Op == policy.OpCreate {
				created++
			}
		}
	})
	b := store.NewBatcher(st, "test")
	errBad := errors.New("bad operation")
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Do(ctx, func(tx store.Tx) error {
				if i == 13 {
					return errBad
				}
				_, err := tx.CreateUser("acme", policy.User{UserName: fmt.Sprintf("user%d", i), Active: true, Source: "test"})
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 13 && !errors.Is(err, errBad) {
			t.Errorf("op 13: %v, want errBad", err)
		}
		if i != 13 && err != nil {
			t.Errorf("op %d: %v", i, err)
		}
	}
	var count int
	if err := st.View(ctx, func(tx store.Tx) (err error) { count, err = tx.CountUsers("acme"); return }); err != nil {
		t.Fatal(err)
	}
	if count != n-1 || created != n-1 {
		t.Errorf("users stored %d, created in feed %d; want %d", count, created, n-1)
	}
	if got := b.Ops.Load(); got < n {
		t.Errorf("Ops = %d, want at least %d", got, n)
	}
}

// TestBatcherWithoutActorTx: with a backend whose Tx cannot switch actors,
// a Batcher still audits each operation under its own actor (it runs such
// operations one per transaction). Backends that can are checked by the
// conformance case BatcherKeepsEachActor.
func TestBatcherWithoutActorTx(t *testing.T) {
	bs, err := bolt.Open(filepath.Join(t.TempDir(), "roster.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	storetest.BatcherKeepsEachActor(t, noActorTx{bs})
}

// noActorTx hides the backend's ActorTx.
type noActorTx struct{ store.Store }

func (s noActorTx) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, actor, func(tx store.Tx) error { return fn(struct{ store.Tx }{tx}) })
}
