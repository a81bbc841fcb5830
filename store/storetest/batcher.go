package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// BatcherKeepsEachActor is the conformance case of the same name, for a
// store built outside Run (a wrapper over a backend, in the store
// package's own tests).
func BatcherKeepsEachActor(t *testing.T, s store.Store) { testBatcherKeepsEachActor(t, s) }

// testBatcherKeepsEachActor: operations a store.Batcher groups into one
// transaction are audited under their own actors. A backend whose Tx
// implements store.ActorTx keeps them in one transaction; any other gets
// one transaction per operation with another actor — either way the audit
// names the right actor.
func testBatcherKeepsEachActor(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Update(ctx, "test", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner})
	}); err != nil {
		t.Fatal(err)
	}
	b := store.NewBatcher(s, "batcher")
	const n = 40
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
	if err := s.View(ctx, func(tx store.Tx) (err error) { cs, err = tx.Audit(0, 0); return }); err != nil {
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
}
