package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
)

// eventually waits until cond holds; it fails the test after a minute,
// a bound on a broken test rather than a measure of speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// modes records the modes of the runs of a source.
type modes struct {
	mu sync.Mutex
	m  []ldap.Mode
}

func (m *modes) onRun(rs ldap.RunStatus) {
	m.mu.Lock()
	m.m = append(m.m, rs.Mode)
	m.mu.Unlock()
}

func (m *modes) count(mode ldap.Mode) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, x := range m.m {
		if x == mode {
			n++
		}
	}
	return n
}

// persist runs s.Persist until the returned func is called.
func persist(t *testing.T, s *ldap.Source) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- s.Persist(ctx, ldap.PersistOptions{Settle: 10 * time.Millisecond, Retry: 20 * time.Millisecond})
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestSyncreplPersist(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	var runs modes
	s := e.source(t, func(c *ldap.Config) { c.OnRun = runs.onRun })
	stop := persist(t, s)
	hasUser := func(name string) func() bool {
		return func() bool { _, ok := e.snap(t).users[name]; return ok }
	}
	gone := func(name string) func() bool {
		return func() bool { _, ok := e.snap(t).users[name]; return !ok }
	}
	eventually(t, "the first full run", hasUser("erin"))

	// Adds, modifies, renames and deletes arrive as they happen.
	e.srv.MustModify(t, `dn: uid=frank,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: frank
cn: Frank Zappa
sn: Zappa

dn: cn=admins,ou=groups,dc=example,dc=com
changetype: modify
add: member
member: uid=frank,ou=people,dc=example,dc=com

dn: uid=carol,ou=people,dc=example,dc=com
changetype: modify
replace: mail
mail: carol@new.example.com

dn: uid=bob,ou=people,dc=example,dc=com
changetype: modrdn
newrdn: uid=robert
deleteoldrdn: 1

dn: uid=erin,ou=people,dc=example,dc=com
changetype: delete
`)
	eventually(t, "the changes", func() bool {
		sn := e.snap(t)
		_, bob := sn.users["bob"]
		_, erin := sn.users["erin"]
		u, _ := sn.members(t, "admins")
		return !bob && !erin && sn.users["robert"].ID != "" && sn.users["carol"].PrimaryEmail() == "carol@new.example.com" &&
			slices.Equal(u, []string{"dave", "frank"})
	})
	sn := e.snap(t)
	if u, _ := sn.members(t, "all"); len(u) != 0 {
		t.Errorf("all still lists %v after erin's deletion", u)
	}
	if u, _ := sn.members(t, "engineers"); !slices.Equal(u, []string{"alice", "robert"}) {
		t.Errorf("engineers after the rename: %v", u)
	}

	// How long a deletion takes to reach the store, over a few.
	var lat []time.Duration
	for i := range 20 {
		dn := fmt.Sprintf("uid=tmp%02d,ou=people,dc=example,dc=com", i)
		e.srv.MustModify(t, fmt.Sprintf("dn: %s\nchangetype: add\nobjectClass: inetOrgPerson\nuid: tmp%02d\ncn: t\nsn: t\n", dn, i))
		eventually(t, "an added user", hasUser(fmt.Sprintf("tmp%02d", i)))
		t0 := time.Now()
		e.srv.MustModify(t, "dn: "+dn+"\nchangetype: delete\n")
		eventually(t, "a deleted user", gone(fmt.Sprintf("tmp%02d", i)))
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	t.Logf("syncrepl: directory deletion to store, 20 deletions (10 ms settle): p50 %s, max %s (ldapmodify included)",
		lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))

	// Changes made while Roster does not follow are read from the
	// stored cookie when it follows again.
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Persist stopped with %v", err)
	}
	e.srv.MustModify(t, `dn: uid=dave,ou=people,dc=example,dc=com
changetype: delete

dn: uid=gina,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: gina
cn: Gina
sn: Davis
`)
	stop = persist(t, s)
	eventually(t, "changes made while not following", func() bool { return gone("dave")() && hasUser("gina")() })

	// A dropped connection (slapd killed and restarted, its session log
	// lost) resumes from the cookie too.
	e.srv.Kill()
	if err := e.srv.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.srv.MustModify(t, "dn: uid=carol,ou=people,dc=example,dc=com\nchangetype: delete\n")
	eventually(t, "a deletion after the reconnection", gone("carol"))
	_ = stop()
	if n := runs.count(ldap.Full); n != 1 {
		t.Errorf("%d full runs, want only the first one (runs: %v)", n, runs.m)
	}
	st, err := s.Status(t.Context())
	if err != nil || st.Mode != ldap.Persist || !st.OK() {
		t.Errorf("status = %+v, %v", st, err)
	}
}

// TestSyncreplStopFinishesRun: a follower stopped while it applies a batch
// finishes that run — the batch applied whole, the cookies stored, the
// status the run's own — instead of stopping between its transactions and
// recording the cancellation as the directory's status (what
// TestSyncreplPersist met now and then when it stopped the follower just
// after seeing a deletion). The clock stops the follower at the start of
// the run, so the stop lands inside it every time.
func TestSyncreplStopFinishesRun(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var armed atomic.Bool
	var created atomic.Int64 // users created by the runs finished
	s := e.source(t, func(c *ldap.Config) {
		c.Now = func() time.Time {
			if armed.Load() {
				cancel() // a run starts: stop the follower
			}
			return time.Now()
		}
		c.OnRun = func(rs ldap.RunStatus) { created.Add(int64(rs.Users.Created)) }
	})
	done := make(chan error, 1)
	go func() {
		done <- s.Persist(ctx, ldap.PersistOptions{Settle: 10 * time.Millisecond, Retry: 20 * time.Millisecond})
	}()
	eventually(t, "the first full run", func() bool { return created.Load() > 0 })
	// A user in no group: its deletion is one event of one search (no
	// group rewritten by refint), so it is the whole batch of the next
	// run. Its addition's run must be over (OnRun comes after the run's
	// last reading of the clock) before the clock is armed.
	before := created.Load()
	e.srv.MustModify(t, "dn: uid=zed,ou=people,dc=example,dc=com\nchangetype: add\nobjectClass: inetOrgPerson\nuid: zed\ncn: Zed\nsn: Zed\n")
	eventually(t, "the run that adds the new user", func() bool { return created.Load() > before })

	armed.Store(true)
	e.srv.MustModify(t, "dn: uid=zed,ou=people,dc=example,dc=com\nchangetype: delete\n")
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Persist stopped with %v, want context.Canceled", err)
	}
	armed.Store(false)
	if u, ok := e.snap(t).users["zed"]; ok {
		t.Errorf("zed, deleted in the directory, is still in the store (%s) after the run that was stopped", u.ID)
	}
	st, err := s.Status(t.Context())
	if err != nil || st.Mode != ldap.Persist || !st.OK() || st.Users.Deleted != 1 {
		t.Errorf("status = %+v, %v; want the stopped run's own: persist, one user deleted, no error", st, err)
	}
}

func TestSyncreplRefusedFallsBackToPolling(t *testing.T) {
	e := newEnv(t, ldaptest.Options{NoSyncprov: true})
	e.dir.Interval = 20 * time.Millisecond
	var runs modes
	s := e.source(t, func(c *ldap.Config) { c.OnRun = runs.onRun })
	if err := s.Persist(t.Context(), ldap.PersistOptions{}); !errors.Is(err, ldap.ErrSyncreplRefused) {
		t.Fatalf("Persist = %v, want ErrSyncreplRefused", err)
	}
	// Run polls instead: incremental runs follow the full one.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	eventually(t, "an incremental run", func() bool { return runs.count(ldap.Incremental) > 0 })
	cancel()
	<-done
	st, err := s.Status(t.Context())
	if err != nil || st.Error != "" {
		t.Errorf("status %+v, %v", st, err)
	}

	// Only OpenLDAP directories with entryUUID ids are followed.
	ad := e.dir
	ad.Flavor, ad.Attributes = ldap.FlavorActiveDirectory, ldap.AttributeMap{}
	e.dir = ad
	if err := e.source(t, nil).Persist(t.Context(), ldap.PersistOptions{}); !errors.Is(err, ldap.ErrSyncreplRefused) {
		t.Errorf("Persist of an AD source = %v, want ErrSyncreplRefused", err)
	}
}

// TestGuardTrickle deletes 200 of 1,000 users, 50 before each
// incremental run: each run alone stays under the 10% limit, but the
// guard weighs the runs of the last fullSyncInterval together, so the
// deletions are held once they pass 100.
func TestGuardTrickle(t *testing.T) {
	var ldif strings.Builder
	if err := ldaptest.Generate(&ldif, ldaptest.GenOptions{Users: 1000, Groups: 40, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, ldaptest.Options{LDIF: []string{ldif.String()}})
	e.dir.DeletionGuard = ldap.DeletionGuard{Users: ldap.GuardLimit{Share: 0.10}, Memberships: ldap.GuardLimit{Share: 1}}
	s := e.source(t, nil)
	if rs := mustSync(t, s, ldap.Full); rs.Users.Created != 1000 {
		t.Fatalf("full: %+v", rs.Users)
	}
	tests := []struct {
		deleted, held, pending int
	}{
		{50, 0, 0},
		{50, 0, 0},   // 100 of 1,000 within the hour: at the limit
		{0, 50, 50},  // 150: held
		{0, 50, 100}, // and what follows joins what is held
	}
	for k, tt := range tests {
		var b strings.Builder
		for i := 50 * k; i < 50*(k+1); i++ {
			fmt.Fprintf(&b, "dn: %s\nchangetype: delete\n\n", ldaptest.UserDN(i))
		}
		e.srv.MustModify(t, b.String())
		rs := mustSync(t, s, ldap.Incremental)
		if rs.Users.Deleted != tt.deleted || rs.Users.Held != tt.held {
			t.Fatalf("run %d: users %+v (guard %q), want %d deleted, %d held", k+1, rs.Users, rs.Guard, tt.deleted, tt.held)
		}
		if tt.held > 0 && (!rs.PendingApproval || rs.Held.Users != tt.pending ||
			!strings.Contains(rs.Guard, "runs within 1h0m0s would delete or deactivate 150 of 1000 users")) {
			t.Errorf("run %d: pending %v, held %+v, guard %q", k+1, rs.PendingApproval, rs.Held, rs.Guard)
		}
	}
	sn := e.snap(t)
	if len(sn.users) != 900 {
		t.Fatalf("%d users in the store, want 900 (100 held)", len(sn.users))
	}
	// Held users keep their memberships.
	if u := sn.users[ldaptest.UserName(150)]; u.ID == "" {
		t.Fatal("held user gone")
	}
	st, err := s.Status(t.Context())
	if err != nil || st.Held == nil || st.Held.Users != 100 {
		t.Fatalf("status held %+v, %v", st.Held, err)
	}
	rs, err := s.Approve(t.Context(), ldap.ApproveOptions{})
	if err != nil || rs.Users.Deleted != 100 {
		t.Fatalf("approve: %+v, %v", rs.Users, err)
	}
	if n := len(e.snap(t).users); n != 800 {
		t.Errorf("%d users after the approval, want 800", n)
	}
}
