package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/postgres"
	"github.com/roster-dev/roster/store/postgres/pgtest"
	"github.com/roster-dev/roster/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on a fresh database, migrating it.
func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{Migrate: true, MaxConns: 8, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.DSN(t)) })
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestBatcherKeepsEachActor: operations a store.Batcher groups into one
// PostgreSQL transaction are audited under their own actors (ActorTx).
func TestBatcherKeepsEachActor(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	ctx := context.Background()
	if err := s.Update(ctx, "test", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner})
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok := any(txOf(t, s)).(store.ActorTx); !ok {
		t.Fatal("the postgres Tx does not implement store.ActorTx")
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

// txOf returns the Tx of one write transaction (used after it ends only
// for its type).
func txOf(t *testing.T, s store.Store) store.Tx {
	t.Helper()
	var got store.Tx
	if err := s.Update(context.Background(), "test", func(tx store.Tx) error { got = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}
