package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/postgres"
	"github.com/roster-dev/roster/store/postgres/pgtest"
)

// recorder collects what a subscriber receives.
type recorder struct {
	mu      sync.Mutex
	batches [][]policy.Change
	changed chan struct{}
}

func record(s store.Store) *recorder {
	r := &recorder{changed: make(chan struct{}, 1)}
	s.Subscribe(func(cs []policy.Change) {
		r.mu.Lock()
		r.batches = append(r.batches, slices.Clone(cs))
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	})
	return r
}

// seqs returns the delivered seqs, flattened.
func (r *recorder) seqs() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []uint64
	for _, b := range r.batches {
		for _, c := range b {
			out = append(out, c.Seq)
		}
	}
	return out
}

// waitFor waits until cond holds. The bound only keeps a broken feed from
// hanging the test; nothing is asserted about how fast delivery is.
func (r *recorder) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for !cond() {
		select {
		case <-r.changed:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("never delivered: %s (got seqs %v)", what, r.seqs())
		}
	}
}

func auditSeqs(t *testing.T, s store.Store) []uint64 {
	t.Helper()
	var out []uint64
	err := s.View(context.Background(), func(tx store.Tx) error {
		cs, err := tx.Audit(0, 0)
		for _, c := range cs {
			out = append(out, c.Seq)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func createUser(t *testing.T, s store.Store, name string) policy.User {
	t.Helper()
	var u policy.User
	err := s.Update(context.Background(), "test", func(tx store.Tx) error {
		var err error
		u, err = tx.CreateUser("acme", policy.User{UserName: name, Active: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func twoStores(t *testing.T) (a, b *postgres.Store) {
	dsn := pgtest.DSN(t)
	a, b = open(t, dsn), open(t, dsn)
	if err := a.Update(context.Background(), "test", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner})
	}); err != nil {
		t.Fatal(err)
	}
	// Both have passed the tenant: their subscribers start after it.
	for _, s := range []*postgres.Store{a, b} {
		if err := s.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

// TestReplicasSeeEachOther: a write through one Store reaches the
// subscribers of another Store on the same database, in seq order, and
// each subscriber sees the same feed as the audit log.
func TestReplicasSeeEachOther(t *testing.T) {
	a, b := twoStores(t)
	ra, rb := record(a), record(b)
	u := createUser(t, a, "alice@acme.test")
	rb.waitFor(t, "a's write at b", func() bool { return len(rb.seqs()) >= 1 })
	rb.mu.Lock()
	got := rb.batches[0]
	rb.mu.Unlock()
	if len(got) != 1 || got[0].Kind != policy.KindUser || got[0].ID != string(u.ID) || got[0].Actor != "test" {
		t.Fatalf("b received %+v", got)
	}

	// Writers on both sides, concurrently: both feeds equal the audit log.
	var wg sync.WaitGroup
	for i, s := range []store.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				createUser(t, s, fmt.Sprintf("u%d-%d", i, j))
			}
		}()
	}
	wg.Wait()
	want := auditSeqs(t, a)[1:] // after the tenant
	for name, r := range map[string]*recorder{"a": ra, "b": rb} {
		r.waitFor(t, "every write at "+name, func() bool { return len(r.seqs()) >= len(want) })
		if got := r.seqs(); !slices.Equal(got, want) {
			t.Errorf("%s's feed = %v, audit log = %v", name, got, want)
		}
	}
}

// TestReplicaReconnects: when the listening connection of a Store is cut,
// it reconnects and delivers what was committed meanwhile.
func TestReplicaReconnects(t *testing.T) {
	a, b := twoStores(t)
	rb := record(b)
	createUser(t, a, "before@acme.test")
	rb.waitFor(t, "first write", func() bool { return len(rb.seqs()) >= 1 })

	// Cut every other connection to the database: b's listener among them.
	conn, err := pgx.Connect(context.Background(), a.Pool().Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	// Writes go on (the pools reconnect), and reach b.
	var err2 error
	for range 5 { // a pooled connection may be one that was cut
		if err2 = a.Update(context.Background(), "test", func(tx store.Tx) error {
			_, err := tx.CreateUser("acme", policy.User{UserName: "after@acme.test", Active: true})
			return err
		}); err2 == nil || !errors.Is(err2, store.ErrStorage) {
			break
		}
	}
	if err2 != nil {
		t.Fatal(err2)
	}
	want := auditSeqs(t, a)[1:]
	rb.waitFor(t, "the write after the cut", func() bool { return len(rb.seqs()) >= len(want) })
	if got := rb.seqs(); !slices.Equal(got, want) {
		t.Errorf("b's feed = %v, audit log = %v", got, want)
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	if _, err := postgres.Open(ctx, dsn, postgres.Options{}); !errors.Is(err, postgres.ErrSchema) {
		t.Fatalf("Open of an empty database without Migrate = %v, want ErrSchema", err)
	}
	applied, err := postgres.Migrate(ctx, dsn)
	if err != nil || len(applied) != postgres.SchemaVersion() || applied[0] != 1 {
		t.Fatalf("Migrate = %v, %v; want versions 1…%d", applied, err, postgres.SchemaVersion())
	}
	again, err := postgres.Migrate(ctx, dsn)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing to do", again, err)
	}
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("Open after Migrate: %v", err)
	}
	s.Close()

	// A database migrated by a newer build is refused, not touched.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO roster_schema_migrations (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"Open": func() error { s, err := postgres.Open(ctx, dsn, postgres.Options{}); closeIf(s); return err },
		"Open with Migrate": func() error {
			s, err := postgres.Open(ctx, dsn, postgres.Options{Migrate: true})
			closeIf(s)
			return err
		},
		"Migrate": func() error { _, err := postgres.Migrate(ctx, dsn); return err },
	} {
		if err := f(); !errors.Is(err, postgres.ErrSchema) {
			t.Errorf("%s of a newer schema = %v, want ErrSchema", name, err)
		}
	}
}

func closeIf(s *postgres.Store) {
	if s != nil {
		s.Close()
	}
}

// TestReplicaSeesBulkCreates: a bulk write (store.BulkTx) through one
// Store is one policy.OpCreateBatch entry in the log, naming the records;
// another Store's subscribers get what the writer's get, one
// policy.OpCreate per record with the record as stored, under the entry's
// Seq, in order.
func TestReplicaSeesBulkCreates(t *testing.T) {
	a, b := twoStores(t)
	ra, rb := record(a), record(b)
	var made []policy.User
	err := a.Update(context.Background(), "test", func(tx store.Tx) (err error) {
		made, err = store.CreateUsers(tx, "acme", []policy.User{
			{UserName: "bulk-1", Active: true}, {UserName: "bulk-2", Active: true}, {UserName: "bulk-3", Active: true}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rb.waitFor(t, "a's bulk write at b", func() bool { return len(rb.seqs()) >= 3 })
	for name, r := range map[string]*recorder{"a": ra, "b": rb} {
		r.mu.Lock()
		got := slices.Concat(r.batches...)
		r.mu.Unlock()
		if len(got) != 3 {
			t.Fatalf("%s received %d changes, want 3: %+v", name, len(got), got)
		}
		for i, c := range got {
			var u policy.User
			if err := json.Unmarshal(c.After, &u); err != nil || c.Op != policy.OpCreate || c.Kind != policy.KindUser ||
				c.ID != string(made[i].ID) || u.UserName != made[i].UserName || u.Version != 1 || c.Seq != got[0].Seq || c.Actor != "test" {
				t.Errorf("%s change %d = %s %s %s seq %d %s (%v), want the create of %s", name, i, c.Kind, c.Op, c.ID, c.Seq, c.After, err, made[i].UserName)
			}
		}
	}

}
