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

// TestBatcherKeepsEachActor: operations grouped into one transaction are
// audited under their own actors, also when a store cannot switch actors
// inside a transaction.
func TestBatcherKeepsEachActor(t *testing.T) {
	for _, tt := range []struct {
		name string
		wrap func(store.Store) store.Store
	}{
		{"actor switch in the transaction", func(s store.Store) store.Store { return s }},
		{"one transaction per actor", func(s store.Store) store.Store { return noActorTx{s} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bs, err := bolt.Open(filepath.Join(t.TempDir(), "roster.db"), bolt.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer bs.Close()
			st := tt.wrap(bs)
			ctx := context.Background()
			if err := st.Update(ctx, "test", func(tx store.Tx) error {
				return tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner})
			}); err != nil {
				t.Fatal(err)
			}
			b := store.NewBatcher(st, "batcher")
			const n = 48
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					actor := fmt.Sprintf("user:acme/u%d", i)
					if i%3 == 0 {
						actor = "" // the Batcher's own
					}
					if err := b.DoAs(ctx, actor, func(tx store.Tx) error {
						return tx.Record("acme", policy.OpCreate, fmt.Sprintf("op-%d", i), nil)
					}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			var cs []policy.Change
			if err := st.View(ctx, func(tx store.Tx) (err error) { cs, err = tx.Audit(0, 0); return }); err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, c := range cs {
				var i int
				if _, err := fmt.Sscanf(c.ID, "op-%d", &i); err != nil {
					continue
				}
				seen++
				want := fmt.Sprintf("user:acme/u%d", i)
				if i%3 == 0 {
					want = "batcher"
				}
				if c.Actor != want {
					t.Errorf("%s: actor %q, want %q", c.ID, c.Actor, want)
				}
			}
			if seen != n {
				t.Errorf("%d operations audited, want %d", seen, n)
			}
		})
	}
}

// noActorTx hides the backend's ActorTx.
type noActorTx struct{ store.Store }

func (s noActorTx) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, actor, func(tx store.Tx) error { return fn(struct{ store.Tx }{tx}) })
}
