package ldap_test

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/store"
)

func changeStrings(cs []ldap.Change) []string {
	var out []string
	for _, c := range cs {
		c.ExternalID = ""
		out = append(out, c.String())
	}
	slices.Sort(out)
	return out
}

func TestDryRun(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	s := e.source(t, nil)

	// Into an empty store: everything would be created, nothing is.
	rs, changes, err := s.DryRun(t.Context(), ldap.Full)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Users.Created != 5 || rs.Groups.Created != 4 {
		t.Errorf("dry first run: users %+v groups %+v", rs.Users, rs.Groups)
	}
	want := []string{
		"create group admins: 1 users, 0 groups", "create group all: 1 users, 2 groups",
		"create group backend: 1 users, 0 groups", "create group engineers: 2 users, 1 groups",
		"create user alice", "create user bob", "create user carol", "create user dave", "create user erin",
	}
	if got := changeStrings(changes); !slices.Equal(got, want) {
		t.Errorf("dry first run changes:\n%q\nwant\n%q", got, want)
	}
	if sn := e.snap(t); len(sn.users)+len(sn.groups) != 0 {
		t.Fatalf("dry run wrote %d users, %d groups", len(sn.users), len(sn.groups))
	}
	if st, err := s.Status(t.Context()); err != nil || !st.Started.IsZero() {
		t.Fatalf("dry run stored a status: %+v, %v", st, err)
	}

	mustSync(t, s, ldap.Full)
	e.srv.MustModify(t, `dn: uid=alice,ou=people,dc=example,dc=com
changetype: modify
replace: sn
sn: Hargreaves

dn: uid=erin,ou=people,dc=example,dc=com
changetype: delete

dn: cn=admins,ou=groups,dc=example,dc=com
changetype: modify
add: member
member: uid=bob,ou=people,dc=example,dc=com
`)
	before := e.snap(t)
	audit := func() int {
		n := 0
		if err := e.st.View(t.Context(), func(tx store.Tx) error {
			cs, err := tx.Audit(0, 0)
			n = len(cs)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	nAudit := audit()
	rs, changes, err = s.DryRun(t.Context(), ldap.Full)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"delete user erin",
		"update group admins: +1 users",
		"update group all: -1 users", // erin's membership goes with her
		"update user alice",
	}
	if got := changeStrings(changes); !slices.Equal(got, want) {
		t.Errorf("dry run changes:\n%q\nwant\n%q", got, want)
	}
	if rs.Users.Deleted != 1 || rs.Users.Updated != 1 || rs.Memberships.Added != 1 || rs.Memberships.Removed != 1 {
		t.Errorf("dry run counts: users %+v memberships %+v", rs.Users, rs.Memberships)
	}
	if after := e.snap(t); !reflect.DeepEqual(before, after) || audit() != nAudit {
		t.Fatal("the dry run changed the store")
	}

	// With the guard in force, the dry run says what it would hold and
	// lists no removal.
	e.dir.DeletionGuard = ldap.DeletionGuard{Users: ldap.GuardLimit{Count: 0, Share: 0.01}}
	g := e.source(t, nil)
	rs, changes, err = g.DryRun(t.Context(), ldap.Full)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Guard == "" || rs.Users.Held != 1 || slices.ContainsFunc(changes, func(c ldap.Change) bool { return c.Action == "delete" }) {
		t.Errorf("guarded dry run: guard %q users %+v changes %v", rs.Guard, rs.Users, changes)
	}
	if st, err := g.Status(t.Context()); err != nil || st.PendingApproval {
		t.Errorf("guarded dry run stored a held change: %+v, %v", st, err)
	}

	// The real run then does what the dry run said.
	rs = mustSync(t, s, ldap.Full)
	if rs.Users.Deleted != 1 || rs.Users.Updated != 1 || rs.Memberships.Added != 1 || rs.Memberships.Removed != 1 {
		t.Errorf("run after the dry run: users %+v memberships %+v", rs.Users, rs.Memberships)
	}
}

// blockingStore holds the first store.Update of a run until released,
// so that the test can look at the run in progress.
type blockingStore struct {
	store.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	b.once.Do(func() {
		close(b.entered)
		<-b.release
	})
	return b.Store.Update(ctx, actor, fn)
}

func TestProgressInStatus(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	bs := &blockingStore{Store: e.st, entered: make(chan struct{}), release: make(chan struct{})}
	s := e.source(t, func(c *ldap.Config) { c.Store = bs })
	done := make(chan error, 1)
	go func() {
		_, err := s.Sync(context.Background(), ldap.Full)
		done <- err
	}()
	<-bs.entered
	st, err := s.Status(t.Context())
	close(bs.release)
	if err != nil {
		t.Fatal(err)
	}
	p := st.Progress
	if p == nil {
		t.Fatal("no progress while a run is in progress")
	}
	// The first write of a first load: the users' creates, while the
	// directory is read.
	if p.Mode != ldap.Full || p.Phase != ldap.PhaseDirectory || p.UsersRead != 5 || p.Written != 0 || p.Started.IsZero() {
		t.Errorf("progress = %+v", *p)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err = s.Status(t.Context())
	if err != nil || st.Progress != nil || !st.OK() {
		t.Errorf("after the run: progress %+v, status %+v, %v", st.Progress, st, err)
	}
}
