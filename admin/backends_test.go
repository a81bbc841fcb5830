package admin

import (
	"context"
	"log/slog"
	"os"
	"testing"

	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/postgres"
	"github.com/roster-dev/roster/store/postgres/pgtest"
)

// TestMain stops the private PostgreSQL server (pgtest) the backend
// tests may have started.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// onBackends runs fn as one subtest per store backend: bbolt, and
// PostgreSQL on a fresh database of pgtest's private server (skipped
// without PostgreSQL on a laptop, failing under CI).
func onBackends(t *testing.T, fn func(t *testing.T, open func(t *testing.T) store.Store)) {
	t.Run("bolt", func(t *testing.T) { fn(t, openBolt) })
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) store.Store {
			t.Helper()
			st, err := postgres.Open(context.Background(), pgtest.DSN(t), postgres.Options{Migrate: true, MaxConns: 4, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
}
