package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// errExit is the value the panicking callbacks of testCallbackExits panic
// with.
var errExit = errors.New("storetest: the callback panics")

// testCallbackExits: a callback the store calls inside a transaction (fn
// of View and Update, Export's fn, Backup's writer) may leave without
// returning, by runtime.Goexit (what t.FailNow and t.Fatal do) or by a
// panic. The transaction ends all the same: a panic reaches the caller
// unchanged, an Update's writes before the exit are not kept, and the
// store stays usable — an Update and a View succeed and Close returns —
// however many such exits there were (more than a connection pool holds).
func testCallbackExits(t *testing.T, s store.Store) {
	f := setup(t, s)
	ctx := context.Background()
	exits := []struct {
		name string
		exit func()
	}{
		{"Goexit", runtime.Goexit},
		{"panic", func() { panic(errExit) }},
	}
	calls := []struct {
		name string
		call func(exit func()) // calls the store with a callback that exits
	}{
		{"View", func(exit func()) {
			_ = s.View(ctx, func(tx store.Tx) error {
				if _, err := tx.Tenant(f.acme); err != nil {
					return err
				}
				exit()
				return nil
			})
		}},
		{"Update", func(exit func()) {
			_ = s.Update(ctx, actor, func(tx store.Tx) error {
				if _, err := tx.CreateUser(f.acme, user("gone")); err != nil {
					return err
				}
				exit()
				return nil
			})
		}},
		{"Backup", func(exit func()) {
			_, _ = s.Backup(ctx, exitWriter{exit})
		}},
	}
	if c, ok := s.(store.Copier); ok {
		calls = append(calls, struct {
			name string
			call func(exit func())
		}{"Export", func(exit func()) {
			_ = c.Export(ctx, func(store.Item) error { exit(); return nil })
		}})
	}
	// More exits of each kind than any connection pool of the tests has
	// connections: one transaction left held each time would exhaust it.
	const rounds = 20
	exitAll := func() error {
		for _, c := range calls {
			for _, e := range exits {
				for range rounds {
					// In a goroutine of its own, as t.FailNow ends a test's.
					got := make(chan any)
					go func() {
						defer func() { got <- recover() }()
						c.call(e.exit)
					}()
					r := <-got
					if err, _ := r.(error); e.name == "panic" && !errors.Is(err, errExit) {
						return fmt.Errorf("%s: a callback panicked with %v; the panic that came up is %v", c.name, errExit, r)
					}
					if e.name == "Goexit" && r != nil {
						return fmt.Errorf("%s: a callback called runtime.Goexit; the call panicked with %v", c.name, r)
					}
				}
			}
		}
		return nil
	}
	// What must still work after them.
	after := func() error {
		var id policy.UserID
		if err := s.Update(ctx, actor, func(tx store.Tx) error {
			u, err := tx.CreateUser(f.acme, user("kept"))
			id = u.ID
			return err
		}); err != nil {
			return fmt.Errorf("Update after the exits: %w", err)
		}
		if err := s.View(ctx, func(tx store.Tx) error {
			if _, err := tx.User(f.acme, id); err != nil {
				return fmt.Errorf("the user written after the exits: %w", err)
			}
			if _, err := tx.UserByUserName(f.acme, "gone"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("the user of the Updates whose callback exited: %v, want ErrNotFound (not committed)", err)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("View after the exits: %w", err)
		}
		if _, err := s.Backup(ctx, io.Discard); err != nil {
			return fmt.Errorf("Backup after the exits: %w", err)
		}
		if err := s.Close(); err != nil {
			return fmt.Errorf("Close after the exits: %w", err)
		}
		return nil
	}

	// A store that holds on to a transaction or a connection hangs (a
	// call waits for a free connection, Close for the held ones, and so
	// would the cleanup that closes the store after a t.Fatal or a panic
	// of the test): the watchdog ends the test binary with a panic that
	// says why, with the stacks, rather than let it hang until its
	// timeout. (It panics on a goroutine of its own, so that no cleanup
	// runs first.)
	done := make(chan error, 1)
	go func() {
		if err := exitAll(); err != nil {
			done <- err
			return
		}
		done <- after()
	}()
	const watchdog = 2 * time.Minute // a hang guard, not a speed requirement
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(watchdog):
		buf := make([]byte, 1<<20)
		msg := fmt.Sprintf("storetest: %s: the store did not get through callbacks that exit, then an Update, a View, a Backup and Close, in %v: a transaction or connection is still held\n%s",
			t.Name(), watchdog, buf[:runtime.Stack(buf, true)])
		go func() { panic(msg) }()
		select {}
	}
}

// exitWriter is a writer that exits (panics or runtime.Goexit) when
// written to.
type exitWriter struct{ exit func() }

func (w exitWriter) Write(p []byte) (int, error) {
	w.exit()
	return len(p), nil
}
