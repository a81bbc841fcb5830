package postgres

import (
	"context"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/postgres/pgtest"
)

// TestCatchUpOwesLateSubscriber: a catch-up that starts with nobody
// subscribed must not pass over a batch committed after a subscriber
// arrived. The listener's first catch-up (when it connects, possibly well
// after Open under load) used to find nobody subscribed, then read the
// head of the log: a subscriber and a commit landing in between were
// skipped (f.last moved past the commit, so the commit's own delivery was
// dropped as already done), and storetest's BulkCreate saw an empty change
// feed about one run in seven. Here the head read is where the subscriber
// and the commit land, deterministically.
func TestCatchUpOwesLateSubscriber(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(t), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	put := func(id policy.TenantID) {
		t.Helper()
		if err := s.Update(ctx, "test", func(tx store.Tx) error { return tx.PutTenant(policy.Tenant{ID: id, Name: string(id)}) }); err != nil {
			t.Fatal(err)
		}
	}
	put("before")
	// A feed of its own, driven by this test alone (the store's listener
	// drives s.feed).
	f := newFeed(s, 0)
	if err := f.catchUp(ctx, 0); err != nil { // nobody subscribed: moves to the head
		t.Fatal(err)
	}
	var got []policy.Change
	f.head = func(ctx context.Context) (uint64, error) {
		// While the catch-up looks for the head, a subscriber arrives and
		// then a write commits.
		f.subscribe(func(cs []policy.Change) { got = append(got, cs...) })
		put("after")
		return s.auditHead(ctx)
	}
	if err := f.catchUp(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Kind != policy.KindTenant || got[0].ID != "after" {
		t.Fatalf("the subscriber received %+v, want the one commit after it subscribed (tenant after)", got)
	}
}
