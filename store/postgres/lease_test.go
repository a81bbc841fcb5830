package postgres_test

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/store/postgres"
	"github.com/roster-dev/roster/store/postgres/pgtest"
)

// leader runs Lead on s in the background and reports when its fn runs
// and when that run ends.
type leader struct {
	running, stopped chan struct{}
	runs             atomic.Int32
	cancel           context.CancelFunc
	done             chan error
}

func lead(s *postgres.Store, name string) *leader {
	ctx, cancel := context.WithCancel(context.Background())
	l := &leader{running: make(chan struct{}, 4), stopped: make(chan struct{}, 4), cancel: cancel, done: make(chan error, 1)}
	go func() {
		l.done <- s.Lead(ctx, name, func(ctx context.Context) {
			l.runs.Add(1)
			l.running <- struct{}{}
			<-ctx.Done()
			l.stopped <- struct{}{}
		})
	}()
	return l
}

func wait(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(60 * time.Second): // only keeps a broken lease from hanging the test
		t.Fatalf("timed out waiting: %s", what)
	}
}

func openLease(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{Migrate: true, MaxConns: 4,
		LeaseEvery: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(newTestWriter(t), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLeaseOneHolder: of two stores on one database one runs the leased
// work; the other takes over when the holder lets go, and again when the
// database drops the holder's session (what a killed process amounts to);
// a lease of another name is independent.
func TestLeaseOneHolder(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openLease(t, dsn), openLease(t, dsn)
	la := lead(a, "sync:vendor/corp")
	wait(t, la.running, "A takes the free lease")
	lb := lead(b, "sync:vendor/corp")
	other := lead(b, "oidc")
	wait(t, other.running, "B takes a lease of another name")
	// B must not run while A holds the lease: A lets go only below.
	select {
	case <-lb.running:
		t.Fatal("B runs the leased work while A holds the lease")
	case <-time.After(300 * time.Millisecond):
	}

	// The database ends A's session, as when A's process is killed.
	killHolder(t, a, la)
	wait(t, la.stopped, "A stops its work when its session is gone")
	wait(t, lb.running, "B takes the lease A lost")

	// B lets go (shutdown): A, waiting again, takes it.
	lb.cancel()
	wait(t, lb.stopped, "B stops")
	if err := <-lb.done; err != context.Canceled {
		t.Errorf("Lead after cancel: %v", err)
	}
	wait(t, la.running, "A takes the lease B released")
	if got := la.runs.Load(); got != 2 {
		t.Errorf("A ran %d times, want 2", got)
	}
	la.cancel()
	other.cancel()
	<-la.done
	<-other.done
}

// killHolder terminates, from another session, the session through which
// a holds its lease.
func killHolder(t *testing.T, s *postgres.Store, l *leader) {
	t.Helper()
	var n int
	err := s.Pool().QueryRow(context.Background(), `SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l
		JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.granted AND a.datname = current_database()
		AND l.objid = $2`, int64(0x726f7374), leaseObjID("sync:vendor/corp")).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d sessions hold the lease, want 1", n)
	}
}

// leaseObjID is the second key of the lease's advisory lock, as pg_locks
// shows it (an oid: unsigned).
func leaseObjID(name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int64(h.Sum32())
}
