package outbound

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/internal/teststore"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/scim"
	"github.com/roster-dev/roster/store"
)

const downstreamToken = "downstream-scim-token-0123456789"

// downstream is a second Roster's SCIM provider, the push target, which
// can be taken down (503) and brought back.
type downstream struct {
	st   store.Store
	url  string
	down atomic.Bool
	reqs atomic.Int64
}

func newDownstream(t *testing.T) *downstream {
	t.Helper()
	st := teststore.Bolt(t, policy.Tenant{ID: "upstream", Name: "Upstream Roster", Kind: policy.TenantPartner})
	srv, err := scim.New(scim.Config{Logger: testLogger(t), Store: st, BaseURL: "http://downstream.test",
		Tenants: map[policy.TenantID]scim.TenantConfig{"upstream": {Tokens: []string{downstreamToken}}}})
	if err != nil {
		t.Fatal(err)
	}
	d := &downstream{st: st}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		d.reqs.Add(1)
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	d.url = ts.URL + "/scim/v2/upstream"
	return d
}

// state is what the target holds: user name → active, group name →
// sorted member user names.
type state struct {
	users  map[string]bool
	groups map[string][]string
	count  int // users, duplicates included
}

func (d *downstream) state(t *testing.T) state {
	s := state{users: map[string]bool{}, groups: map[string][]string{}}
	err := d.st.View(context.Background(), func(tx store.Tx) error {
		names := map[policy.UserID]string{}
		err := tx.ForEachUser("upstream", func(u policy.User) error {
			s.users[u.UserName] = u.Active
			names[u.ID] = u.UserName
			s.count++
			return nil
		})
		if err != nil {
			return err
		}
		return tx.ForEachDirGroup("upstream", func(g policy.DirGroup) error {
			ms := []string{}
			for _, m := range g.MemberUsers {
				ms = append(ms, names[m])
			}
			sort.Strings(ms)
			s.groups[g.DisplayName] = ms
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s state) String() string {
	var b strings.Builder
	for _, k := range sortedKeys(s.users) {
		b.WriteString(k)
		if !s.users[k] {
			b.WriteString("(inactive)")
		}
		b.WriteString(" ")
	}
	for _, k := range sortedKeys(s.groups) {
		b.WriteString(k + "=" + strings.Join(s.groups[k], ",") + " ")
	}
	return b.String()
}

func scimTarget(url string) TargetConfig {
	return TargetConfig{
		ID: "wiki", SCIM: &SCIMTarget{URL: url, Token: downstreamToken}, Groups: GroupSelection{Root: "rug"},
		Timeout: 2 * time.Second,
		Retry:   RetryConfig{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond, PauseAfter: 10000},
	}
}

// waitState waits until the target holds want (as state.String).
func waitState(t *testing.T, d *downstream, want string) state {
	t.Helper()
	var s state
	deadline := time.Now().Add(30 * time.Second)
	for {
		s = d.state(t)
		if s.String() == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("target holds\n  %s\nwant\n  %s", s, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSCIMPushToRoster pushes to a second Roster's SCIM provider: the
// initial push, a membership change reaching the target's group, a user
// deactivated upstream deactivated downstream, a user who leaves the
// selected groups deactivated, and a target down for a while that catches
// up with nothing lost or duplicated.
func TestSCIMPushToRoster(t *testing.T) {
	d := newDownstream(t)
	e := newEnv(t)
	rug := e.createGroup("rug", "")
	lug := e.createGroup("lug", rug.ID)
	other := e.createGroup("other", "")
	alice := e.createUser("acme", "alice")
	bob := e.createUser("acme", "bob")
	carol := e.createUser("globex", "carol")
	dave := e.createUser("globex", "dave")
	e.join(rug.ID, alice.ID, demo.RoleMember)
	e.join(lug.ID, bob.ID, demo.RoleMember)
	e.join(other.ID, carol.ID, demo.RoleMember)
	e.join(lug.ID, dave.ID, demo.RoleOrganizer)
	e.start(scimTarget(d.url))

	// Initial push: the subtree of rug and its members; carol is not in it.
	waitState(t, d, "alice bob dave lug=bob,dave rug=alice ")

	// A rule membership (through a directory group) reaches the target.
	e.bindDirGroup("globex", "eng", lug.ID, demo.RoleMember, carol.ID)
	waitState(t, d, "alice bob carol dave lug=bob,carol,dave rug=alice ")

	// Deactivated upstream, deactivated downstream and out of its group.
	e.setActive(bob, false)
	waitState(t, d, "alice bob(inactive) carol dave lug=carol,dave rug=alice ")

	// The target goes down; changes pile up; it comes back.
	d.down.Store(true)
	eve := e.createUser("acme", "eve")
	e.join(rug.ID, eve.ID, demo.RoleMember)
	e.leave(lug.ID, dave.ID, demo.RoleOrganizer)
	e.update(func(tx store.Tx) error {
		g, err := tx.Group(lug.ID)
		if err != nil {
			return err
		}
		g.Parent = other.ID // lug leaves the subtree: its group goes
		_, err = tx.UpdateGroup(g)
		return err
	})
	waitFor(t, "failed attempts", func() bool {
		st, _ := e.svc.TargetStatus(context.Background(), "wiki")
		return st.FailuresTotal >= 2 && st.LagEvents > 0
	})
	e.stop() // and Roster restarts while the target is down
	e.start(scimTarget(d.url))
	d.down.Store(false)
	s := waitState(t, d, "alice bob(inactive) carol(inactive) dave(inactive) eve rug=alice,eve ")
	if s.count != len(s.users) {
		t.Errorf("target holds %d users for %d names", s.count, len(s.users))
	}
	waitFor(t, "caught up", func() bool {
		st, _ := e.svc.TargetStatus(context.Background(), "wiki")
		return st.LagEvents == 0 && st.Failures == 0
	})

	// Nothing changed: a change elsewhere sends nothing.
	before := d.reqs.Load()
	e.createGroup("unrelated", "")
	e.createUser("acme", "zed")
	waitFor(t, "caught up", func() bool {
		st, _ := e.svc.TargetStatus(context.Background(), "wiki")
		return st.LagEvents == 0
	})
	if n := d.reqs.Load() - before; n > 2 { // at most a discovery
		t.Errorf("%d requests for changes outside the selection", n)
	}

	// A resync sends everything again and changes nothing.
	if err := e.svc.Resync(context.Background(), "wiki"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resync", func() bool {
		c, _ := e.svc.byID["wiki"].snapshot()
		return !c.Resync
	})
	if n := d.reqs.Load() - before; n < 4 { // discovery, alice, eve, rug
		t.Errorf("resync sent %d requests", n)
	}
	if s := d.state(t); s.String() != "alice bob(inactive) carol(inactive) dave(inactive) eve rug=alice,eve " || s.count != 5 {
		t.Errorf("after resync: %s (%d users)", s, s.count)
	}
}

// TestSCIMDeletionGuard: a run that would deactivate more users than the
// target's threshold holds them until approved.
func TestSCIMDeletionGuard(t *testing.T) {
	d := newDownstream(t)
	e := newEnv(t)
	rug := e.createGroup("rug", "")
	var users []policy.User
	for _, n := range []string{"a", "b", "c", "d"} {
		u := e.createUser("acme", n)
		e.join(rug.ID, u.ID, demo.RoleMember)
		users = append(users, u)
	}
	tc := scimTarget(d.url)
	tc.DeletionGuard = GuardConfig{Count: 1}
	e.start(tc)
	waitState(t, d, "a b c d rug=a,b,c,d ")
	e.leave(rug.ID, users[0].ID, demo.RoleMember)
	waitState(t, d, "a(inactive) b c d rug=b,c,d ")
	e.update(func(tx store.Tx) error { // one change that takes two
		if err := tx.RemoveMembership(rug.ID, users[1].ID, demo.RoleMember); err != nil {
			return err
		}
		return tx.RemoveMembership(rug.ID, users[2].ID, demo.RoleMember)
	})
	var st Status
	waitFor(t, "the guard", func() bool {
		st, _ = e.svc.TargetStatus(context.Background(), "wiki")
		return st.Held != nil && st.LagEvents == 0
	})
	if st.Held.Users != 2 || !strings.Contains(st.Held.Reason, "deletionGuard") {
		t.Errorf("held = %+v", st.Held)
	}
	// The groups follow; the deactivations wait.
	waitState(t, d, "a(inactive) b c d rug=d ")
	if err := e.svc.Approve(context.Background(), "wiki"); err != nil {
		t.Fatal(err)
	}
	waitState(t, d, "a(inactive) b(inactive) c(inactive) d rug=d ")
	waitFor(t, "the guard released", func() bool {
		st, _ = e.svc.TargetStatus(context.Background(), "wiki")
		return st.Held == nil
	})
	if slices.Contains(e.svc.Targets(), "nope") {
		t.Fatal("unexpected target")
	}
}
