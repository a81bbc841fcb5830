package ldap_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
)

// Sizes of the generated directory of the guard tests.
const (
	guardUsers  = 300
	guardGroups = 30
)

// guardEnv starts slapd with a generated directory (and an empty OU,
// ou=empty), syncs it once with the default guard and returns the env.
func guardEnv(t *testing.T) *env {
	t.Helper()
	var gen bytes.Buffer
	if err := ldaptest.Generate(&gen, ldaptest.GenOptions{Users: guardUsers, Groups: guardGroups, Seed: 16}); err != nil {
		t.Fatal(err)
	}
	gen.WriteString("dn: ou=empty,dc=example,dc=com\nobjectClass: organizationalUnit\nou: empty\nmodifyTimestamp: 20250101000000Z\ncreateTimestamp: 20250101000000Z\n\n")
	e := newEnv(t, ldaptest.Options{LDIF: []string{gen.String()}})
	e.dir.Users.BaseDN = "ou=people," + e.srv.Suffix
	e.dir.DeletionGuard = ldap.DeletionGuard{} // the defaults: 10%, minEntries 10
	rs := mustSync(t, e.source(t, nil), ldap.Full)
	if rs.Users.Created != guardUsers || rs.Groups.Created != guardGroups {
		t.Fatalf("first load: %+v %+v", rs.Users, rs.Groups)
	}
	return e
}

// world is what the store holds from the directory: users (by name, with
// their active flag) and every group's direct members ("u:name",
// "g:name"), sorted.
type world struct {
	users   map[string]bool
	members map[string][]string
}

func (e *env) world(t *testing.T) world {
	t.Helper()
	sn := e.snap(t)
	w := world{users: map[string]bool{}, members: map[string][]string{}}
	for n, u := range sn.users {
		w.users[n] = u.Active
	}
	for n := range sn.groups {
		us, gs := sn.members(t, n)
		m := []string{}
		for _, u := range us {
			m = append(m, "u:"+u)
		}
		for _, g := range gs {
			m = append(m, "g:"+g)
		}
		w.members[n] = m
	}
	return w
}

func (w world) memberships() int {
	n := 0
	for _, m := range w.members {
		n += len(m)
	}
	return n
}

// sameWorld fails the test when got differs from want.
func sameWorld(t *testing.T, what string, got, want world) {
	t.Helper()
	if !maps.Equal(got.users, want.users) {
		t.Fatalf("%s: users differ: %d now, %d expected", what, len(got.users), len(want.users))
	}
	if !maps.EqualFunc(got.members, want.members, slices.Equal) {
		for g, m := range want.members {
			if !slices.Equal(got.members[g], m) {
				t.Fatalf("%s: members of %s = %v, want %v", what, g, got.members[g], m)
			}
		}
		t.Fatalf("%s: groups differ: %d now, %d expected", what, len(got.members), len(want.members))
	}
}

// without returns w without the users gone (and their memberships).
func (w world) without(gone map[string]bool) world {
	out := world{users: map[string]bool{}, members: map[string][]string{}}
	for u, a := range w.users {
		if !gone[u] {
			out.users[u] = a
		}
	}
	for g, ms := range w.members {
		out.members[g] = slices.DeleteFunc(slices.Clone(ms), func(m string) bool { return gone[strings.TrimPrefix(m, "u:")] })
	}
	return out
}

// held checks the stored status of a held change and returns it.
func held(t *testing.T, s *ldap.Source) ldap.Held {
	t.Helper()
	st, err := s.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !st.PendingApproval || st.Held == nil || st.Guard == "" || len(st.Held.Sample) == 0 {
		t.Fatalf("status does not show a held change: %+v", st)
	}
	return *st.Held
}

func TestGuardHoldsVanishedUsersBaseDN(t *testing.T) {
	e := guardEnv(t)
	before := e.world(t)
	userMemberships := 0
	for _, ms := range before.members {
		for _, m := range ms {
			if strings.HasPrefix(m, "u:") {
				userMemberships++
			}
		}
	}
	// A typo, a reorganised tree: the users' base DN now names an
	// empty OU.
	e.dir.Users.BaseDN = "ou=empty," + e.srv.Suffix
	s := e.source(t, nil)
	for i := 0; i < 2; i++ {
		rs, err := s.Sync(t.Context(), ldap.Full)
		if !errors.Is(err, ldap.ErrSubtreeVanished) || !errors.Is(err, ldap.ErrDirectoryUnavailable) {
			t.Fatalf("run %d: err = %v, want a vanished subtree", i, err)
		}
		if rs.Users.Deleted != 0 || rs.Memberships.Removed != 0 || rs.Users.Held != guardUsers || rs.Memberships.Held != userMemberships {
			t.Fatalf("run %d: users %+v memberships %+v", i, rs.Users, rs.Memberships)
		}
		sameWorld(t, fmt.Sprintf("after run %d", i), e.world(t), before)
	}
	h := held(t, s)
	if !h.Vanished || h.Users != guardUsers || h.Memberships != userMemberships || h.Groups != 0 ||
		!strings.Contains(h.Reason, `users base DN "ou=empty,dc=example,dc=com" answered no entries`) {
		t.Fatalf("held = %+v", h)
	}
	// An incremental run does not apply it either.
	if _, err := s.Sync(t.Context(), ldap.Incremental); err != nil {
		t.Fatal(err)
	}
	sameWorld(t, "after an incremental run", e.world(t), before)

	rs, err := s.Approve(t.Context(), ldap.ApproveOptions{})
	if err != nil || rs.Users.Deleted != h.Users || rs.Memberships.Removed != h.Memberships || len(rs.Errors) > 0 {
		t.Fatalf("approve: %v users %+v memberships %+v errors %v", err, rs.Users, rs.Memberships, rs.Errors)
	}
	all := map[string]bool{}
	for u := range before.users {
		all[u] = true
	}
	sameWorld(t, "after approval", e.world(t), before.without(all))
	// The directory (still empty there) and the store agree now.
	rs = mustSync(t, s, ldap.Full)
	if rs.PendingApproval || rs.Users.Deleted+rs.Memberships.Removed+rs.Memberships.Added != 0 {
		t.Fatalf("run after approval: %+v", rs)
	}
}

func TestGuardHoldsVanishedGroupsBaseDN(t *testing.T) {
	e := guardEnv(t)
	before := e.world(t)
	e.dir.Groups.BaseDN = "ou=empty," + e.srv.Suffix
	s := e.source(t, nil)
	rs, err := s.Sync(t.Context(), ldap.Full)
	if !errors.Is(err, ldap.ErrSubtreeVanished) {
		t.Fatalf("err = %v, want a vanished subtree", err)
	}
	if rs.Groups.Deleted != 0 || rs.Groups.Held != guardGroups || rs.Memberships.Held != before.memberships() {
		t.Fatalf("groups %+v memberships %+v", rs.Groups, rs.Memberships)
	}
	sameWorld(t, "after the run", e.world(t), before)
	h := held(t, s)
	if !h.Vanished || h.Groups != guardGroups || h.Users != 0 || h.Memberships != before.memberships() {
		t.Fatalf("held = %+v", h)
	}

	rs, err = s.Approve(t.Context(), ldap.ApproveOptions{})
	if err != nil || rs.Groups.Deleted != guardGroups || rs.Memberships.Removed != h.Memberships || rs.Users.Deleted != 0 {
		t.Fatalf("approve: %v groups %+v memberships %+v", err, rs.Groups, rs.Memberships)
	}
	after := e.world(t)
	if len(after.members) != 0 || !maps.Equal(after.users, before.users) {
		t.Fatalf("after approval: %d groups, %d users", len(after.members), len(after.users))
	}
}

func TestGuardRevalidateAppliesOnlyWhatTheDirectoryConfirms(t *testing.T) {
	e := guardEnv(t)
	before := e.world(t)
	good := e.dir
	e.dir.Groups.BaseDN = "ou=empty," + e.srv.Suffix
	if _, err := e.source(t, nil).Sync(t.Context(), ldap.Full); !errors.Is(err, ldap.ErrSubtreeVanished) {
		t.Fatalf("err = %v", err)
	}
	// The base DN is fixed; approval re-reads the directory, which
	// confirms none of the held change.
	e.dir = good
	s := e.source(t, nil)
	held(t, s)
	rs, err := s.Approve(t.Context(), ldap.ApproveOptions{Revalidate: true})
	if err != nil || rs.Mode != ldap.Full || rs.PendingApproval || rs.Groups.Deleted+rs.Memberships.Removed != 0 {
		t.Fatalf("revalidating approval: %v %+v", err, rs)
	}
	sameWorld(t, "after revalidation", e.world(t), before)
	if _, err := s.Approve(t.Context(), ldap.ApproveOptions{}); !errors.Is(err, ldap.ErrNothingPending) {
		t.Fatalf("second approval: %v", err)
	}
}

func TestGuardHoldsMembershipsOfDeletedUsers(t *testing.T) {
	e := guardEnv(t)
	before := e.world(t)
	// 30% of the users leave (refint takes them out of their groups),
	// and in the same change one user is renamed and one joins a group:
	// those land at once.
	gone := map[string]bool{}
	var mods strings.Builder
	for i := 0; i < guardUsers*3/10; i++ {
		gone[ldaptest.UserName(i)] = true
		mods.WriteString("dn: " + ldaptest.UserDN(i) + "\nchangetype: delete\n\n")
	}
	last := ldaptest.UserName(guardUsers - 1)
	mods.WriteString("dn: " + ldaptest.UserDN(guardUsers-1) + "\nchangetype: modify\nreplace: cn\ncn: Renamed\n\n")
	mods.WriteString("dn: " + ldaptest.GroupDN(0) + "\nchangetype: modify\nadd: member\nmember: " + ldaptest.UserDN(guardUsers-2) + "\n")
	joined := ldaptest.UserName(guardUsers - 2)
	if slices.Contains(before.members["group00000"], "u:"+joined) {
		t.Fatalf("fixture: %s already in group00000", joined)
	}
	e.srv.MustModify(t, mods.String())
	want := before
	want.members = maps.Clone(before.members)
	want.members["group00000"] = append(slices.Clone(want.members["group00000"]), "u:"+joined)
	// world lists users, then groups, each sorted.
	slices.SortFunc(want.members["group00000"], func(a, b string) int {
		if a[0] != b[0] {
			return -strings.Compare(a[:1], b[:1])
		}
		return strings.Compare(a, b)
	})
	heldMemberships := before.memberships() - before.without(gone).memberships()

	s := e.source(t, nil)
	// An incremental run sees groups change (as refint gets to them), not
	// the deletions: it leaves the leavers' memberships to the full run.
	rs := mustSync(t, s, ldap.Incremental)
	if rs.Memberships.Removed != 0 || rs.Memberships.Added != 1 || rs.Users.Updated != 1 {
		t.Fatalf("incremental: users %+v memberships %+v", rs.Users, rs.Memberships)
	}
	sameWorld(t, "after the incremental run", e.world(t), want)
	if got := e.snap(t).users[last].DisplayName; got != "Renamed" {
		t.Fatalf("rename did not land: %q", got)
	}
	// The full run sees the users gone: users and memberships held.
	rs = mustSync(t, s, ldap.Full)
	if rs.Users.Deleted != 0 || rs.Users.Held != len(gone) || rs.Memberships.Removed != 0 || rs.Memberships.Held != heldMemberships {
		t.Fatalf("full: users %+v memberships %+v", rs.Users, rs.Memberships)
	}
	sameWorld(t, "after the full run", e.world(t), want)
	h := held(t, s)
	if h.Vanished || h.Users != len(gone) || h.Memberships != heldMemberships || !strings.Contains(h.Reason, fmt.Sprintf("%d of %d users", len(gone), guardUsers)) {
		t.Fatalf("held = %+v", h)
	}

	rs, err := s.Approve(t.Context(), ldap.ApproveOptions{})
	if err != nil || rs.Users.Deleted != len(gone) || rs.Memberships.Removed != heldMemberships || len(rs.Errors) > 0 {
		t.Fatalf("approve: %v users %+v memberships %+v %v", err, rs.Users, rs.Memberships, rs.Errors)
	}
	sameWorld(t, "after approval", e.world(t), want.without(gone))
	// Exactly the held change: the directory has nothing more to say.
	rs = mustSync(t, s, ldap.Full)
	if rs.PendingApproval || rs.Users.Deleted+rs.Memberships.Removed+rs.Memberships.Added+rs.Groups.Updated != 0 {
		t.Fatalf("run after approval: users %+v groups %+v memberships %+v", rs.Users, rs.Groups, rs.Memberships)
	}
}

func TestGuardHoldsMembershipRemovalsAlone(t *testing.T) {
	e := guardEnv(t)
	before := e.world(t)
	// No user leaves, but the largest groups are emptied: more than 10%
	// of the memberships.
	names := slices.Collect(maps.Keys(before.members))
	slices.SortFunc(names, func(a, b string) int { return len(before.members[b]) - len(before.members[a]) })
	var mods strings.Builder
	removed := 0
	for _, g := range names {
		if removed*10 > before.memberships() {
			break
		}
		removed += len(before.members[g])
		mods.WriteString("dn: cn=" + g + ",ou=groups,dc=example,dc=com\nchangetype: modify\nreplace: member\nmember: " + ldaptest.Placeholder + "\n\n")
	}
	e.srv.MustModify(t, mods.String())
	s := e.source(t, nil)
	rs := mustSync(t, s, ldap.Full)
	if rs.Memberships.Removed != 0 || rs.Memberships.Held != removed || rs.Users.Held != 0 || !strings.Contains(rs.Guard, "memberships") {
		t.Fatalf("full: memberships %+v guard %q", rs.Memberships, rs.Guard)
	}
	sameWorld(t, "after the run", e.world(t), before)
	rs, err := s.Approve(t.Context(), ldap.ApproveOptions{Revalidate: true})
	if err != nil || rs.Memberships.Removed != removed || rs.PendingApproval {
		t.Fatalf("revalidating approval: %v %+v", err, rs)
	}
	if e.world(t).memberships() != before.memberships()-removed {
		t.Fatal("memberships not removed by the approval")
	}
}

func TestGuardLetsOrdinaryRunsThrough(t *testing.T) {
	e := guardEnv(t)
	before := e.world(t)
	gone := map[string]bool{ldaptest.UserName(7): true, ldaptest.UserName(8): true}
	e.srv.MustModify(t, "dn: "+ldaptest.UserDN(7)+"\nchangetype: delete\n\ndn: "+ldaptest.UserDN(8)+"\nchangetype: delete\n")
	s := e.source(t, nil)
	rs := mustSync(t, s, ldap.Full)
	if rs.Users.Deleted != 2 || rs.Users.Held+rs.Memberships.Held != 0 || rs.PendingApproval || rs.Guard != "" {
		t.Fatalf("ordinary run: %+v", rs)
	}
	if rs.Memberships.Removed != before.memberships()-before.without(gone).memberships() {
		t.Fatalf("memberships %+v", rs.Memberships)
	}
	sameWorld(t, "after the run", e.world(t), before.without(gone))
	if _, err := s.Approve(t.Context(), ldap.ApproveOptions{}); !errors.Is(err, ldap.ErrNothingPending) {
		t.Fatalf("approve: %v", err)
	}
}

func TestGuardWindow(t *testing.T) {
	e := guardEnv(t)
	// 2% per run passes the per-run limit; the window allows 3% a day.
	e.dir.DeletionGuard.WindowUsers = ldap.GuardLimit{Share: 0.03}
	s := e.source(t, nil)
	del := func(from, to int) {
		var b strings.Builder
		for i := from; i < to; i++ {
			b.WriteString("dn: " + ldaptest.UserDN(i) + "\nchangetype: delete\n\n")
		}
		e.srv.MustModify(t, b.String())
	}
	del(0, 6)
	if rs := mustSync(t, s, ldap.Full); rs.Users.Deleted != 6 || rs.PendingApproval {
		t.Fatalf("first run: %+v", rs)
	}
	del(6, 12)
	rs := mustSync(t, s, ldap.Full)
	if rs.Users.Deleted != 0 || rs.Users.Held != 6 || !strings.Contains(rs.Guard, "within 24h0m0s") {
		t.Fatalf("second run: %+v", rs)
	}
}

func TestGuardMissingBaseDN(t *testing.T) {
	e := guardEnv(t)
	before := e.world(t)
	e.dir.Users.BaseDN = "ou=gone," + e.srv.Suffix
	s := e.source(t, nil)
	if _, err := s.Sync(t.Context(), ldap.Full); !errors.Is(err, ldap.ErrSubtreeVanished) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("err = %v", err)
	}
	sameWorld(t, "after the run", e.world(t), before)
}
