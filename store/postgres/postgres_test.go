package postgres_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/postgres"
	"github.com/roster-dev/roster/store/postgres/pgtest"
	"github.com/roster-dev/roster/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on a fresh database, migrating it.
func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{Migrate: true, MaxConns: 8, Logger: slog.New(slog.NewTextHandler(newTestWriter(t), nil))})
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
// testWriter passes a store's log lines to t.Log until the test and its
// cleanups are over; a background goroutine that logs later (a lease loop
// a failed test left running) is dropped instead of panicking the binary.
type testWriter struct {
	t    *testing.T
	mu   sync.Mutex
	over bool
}

// newTestWriter must be called before the store it serves is opened, so
// its cleanup runs after the store's Close.
func newTestWriter(t *testing.T) *testWriter {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.over = true; w.mu.Unlock() })
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.over {
		w.t.Log(string(p))
	}
	return len(p), nil
}

// TestTxIsActorTx: the postgres Tx switches actors inside a transaction,
// so a Batcher's group commit keeps each operation's actor in one
// transaction (the conformance case BatcherKeepsEachActor checks the audit).
func TestTxIsActorTx(t *testing.T) {
	s := open(t, pgtest.DSN(t))
	if _, ok := any(txOf(t, s)).(store.ActorTx); !ok {
		t.Fatal("the postgres Tx does not implement store.ActorTx")
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
