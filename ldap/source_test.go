package ldap_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/teststore"
	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/storetest"
)

const tenant policy.TenantID = "acme"

type env struct {
	srv *ldaptest.Server
	st  *bolt.Store
	dir ldap.DirectoryConfig
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newEnv starts slapd with testdata/base.ldif (or ldif) and opens a
// fresh store with the tenant.
func newEnv(t *testing.T, opts ldaptest.Options) *env {
	t.Helper()
	if len(opts.LDIF) == 0 {
		opts.LDIF = []string{fixture(t, "base.ldif")}
	}
	srv := ldaptest.New(t, opts)
	return &env{srv: srv, st: openStore(t), dir: ldap.DirectoryConfig{
		ID:            "corp",
		URL:           srv.URL,
		BindDN:        srv.AdminDN,
		BindPassword:  srv.AdminPassword,
		Users:         ldap.SearchConfig{BaseDN: srv.Suffix},
		Groups:        ldap.SearchConfig{BaseDN: "ou=groups," + srv.Suffix},
		DeletionGuard: ldap.GuardShare(1),
	}}
}

// openStore opens a fresh store holding the tenant.
func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	return teststore.Bolt(t, policy.Tenant{ID: tenant, Name: "Acme", Kind: policy.TenantPartner})
}

func (e *env) source(t *testing.T, mod func(*ldap.Config)) *ldap.Source {
	t.Helper()
	cfg := ldap.Config{Logger: testLogger(t), Store: e.st, Tenant: tenant, Directory: e.dir}
	if mod != nil {
		mod(&cfg)
	}
	s, err := ldap.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func mustSync(t *testing.T, s *ldap.Source, mode ldap.Mode) ldap.RunStatus {
	t.Helper()
	rs, err := s.Sync(t.Context(), mode)
	if err != nil {
		t.Fatalf("sync %s: %v (status %+v)", mode, err, rs)
	}
	if len(rs.Errors) > 0 {
		t.Fatalf("sync %s: record errors %v", mode, rs.Errors)
	}
	return rs
}

// snapshot is what the store holds from the source, by userName and
// group name.
type snapshot struct {
	users  map[string]policy.User
	groups map[string]policy.DirGroup
	names  map[string]string // user or group id → name
}

func (e *env) snap(t *testing.T) snapshot {
	t.Helper()
	sn := snapshot{users: map[string]policy.User{}, groups: map[string]policy.DirGroup{}, names: map[string]string{}}
	err := e.st.View(t.Context(), func(tx store.Tx) error {
		if err := tx.ForEachUser(tenant, func(u policy.User) error {
			sn.users[u.UserName] = u
			sn.names[string(u.ID)] = u.UserName
			return nil
		}); err != nil {
			return err
		}
		return tx.ForEachDirGroup(tenant, func(g policy.DirGroup) error {
			sn.groups[g.DisplayName] = g
			sn.names[string(g.ID)] = g.DisplayName
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

// members returns the sorted names of a group's user and group members.
func (sn snapshot) members(t *testing.T, group string) (users, groups []string) {
	t.Helper()
	g, ok := sn.groups[group]
	if !ok {
		t.Fatalf("no group %q", group)
	}
	for _, id := range g.MemberUsers {
		users = append(users, sn.names[string(id)])
	}
	for _, id := range g.MemberGroups {
		groups = append(groups, sn.names[string(id)])
	}
	slices.Sort(users)
	slices.Sort(groups)
	return users, groups
}

func userNames(sn snapshot) []string {
	var out []string
	for n := range sn.users {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func TestFullSyncInitialLoadAndNesting(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	s := e.source(t, nil)
	rs := mustSync(t, s, ldap.Full)
	if rs.Users.Created != 5 || rs.Groups.Created != 4 || rs.Users.Deleted != 0 {
		t.Fatalf("first run counts: users %+v groups %+v", rs.Users, rs.Groups)
	}
	sn := e.snap(t)
	if got := userNames(sn); !slices.Equal(got, []string{"alice", "bob", "carol", "dave", "erin"}) {
		t.Fatalf("users = %v", got)
	}
	a := sn.users["alice"]
	if a.Source != "ldap:corp" || a.ExternalID == "" || a.GivenName != "Alice" || a.FamilyName != "Liddell" ||
		a.DisplayName != "Alice Liddell" || a.PrimaryEmail() != "alice@example.com" || !a.Active {
		t.Fatalf("alice = %+v", a)
	}
	tests := []struct {
		group          string
		users, members []string
	}{
		{"engineers", []string{"alice", "bob"}, []string{"backend"}},
		{"backend", []string{"carol"}, []string{"engineers"}}, // a cycle
		{"admins", []string{"dave"}, nil},
		{"all", []string{"erin"}, []string{"admins", "engineers"}},
	}
	for _, tt := range tests {
		u, g := sn.members(t, tt.group)
		if !slices.Equal(u, tt.users) || !slices.Equal(g, tt.members) {
			t.Errorf("%s: users %v groups %v, want %v %v", tt.group, u, g, tt.users, tt.members)
		}
	}

	// Groups are created after the groups they contain: only the cycle
	// needs a second write.
	var writes []string
	if err := e.st.View(t.Context(), func(tx store.Tx) error {
		changes, err := tx.Audit(0, 0)
		for _, c := range changes {
			if c.Kind != policy.KindDirGroup {
				continue
			}
			// A first load's creates are audited together
			// (store.BulkTx), in order.
			for range c.BatchIDs() {
				writes = append(writes, string(policy.OpCreate))
			}
			if c.Op != policy.OpCreateBatch {
				writes = append(writes, string(c.Op))
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(writes, []string{"create", "create", "create", "create", "update"}) {
		t.Errorf("directory-group writes of the first run = %v, want 4 creates and the cycle's update", writes)
	}

	// A second run finds nothing to do.
	rs = mustSync(t, s, ldap.Full)
	if rs.Users != (ldap.Counts{Unchanged: 5}) || rs.Groups != (ldap.Counts{Unchanged: 4}) {
		t.Fatalf("second run counts: users %+v groups %+v", rs.Users, rs.Groups)
	}
	st, err := s.Status(t.Context())
	if err != nil || !st.OK() || st.Mode != ldap.Full || st.Users.Unchanged != 5 || st.Directory != "corp" {
		t.Fatalf("status = %+v, %v", st, err)
	}
}

func TestChangesReflected(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	s := e.source(t, nil)
	mustSync(t, s, ldap.Full)
	before := e.snap(t)

	e.srv.MustModify(t, `dn: uid=alice,ou=people,dc=example,dc=com
changetype: modify
replace: mail
mail: alice.liddell@example.com
-
replace: cn
cn: Alice L.

dn: uid=bob,ou=people,dc=example,dc=com
changetype: modrdn
newrdn: uid=robert
deleteoldrdn: 1

dn: uid=carol,ou=people,dc=example,dc=com
changetype: modrdn
newrdn: uid=carol
deleteoldrdn: 1
newsuperior: ou=staff,dc=example,dc=com

dn: uid=frank,ou=people,dc=example,dc=com
changetype: add
objectClass: inetOrgPerson
uid: frank
cn: Frank Poole
sn: Poole
mail: frank@example.com

dn: cn=ops,ou=groups,dc=example,dc=com
changetype: add
objectClass: groupOfNames
cn: ops
member: uid=frank,ou=people,dc=example,dc=com
member: cn=all,ou=groups,dc=example,dc=com

dn: cn=admins,ou=groups,dc=example,dc=com
changetype: modify
add: member
member: uid=frank,ou=people,dc=example,dc=com
`)
	rs := mustSync(t, s, ldap.Incremental)
	if rs.Mode != ldap.Incremental || rs.Users.Created != 1 || rs.Users.Updated != 3 || rs.Groups.Created != 1 {
		t.Fatalf("incremental: users %+v groups %+v (read %d/%d)", rs.Users, rs.Groups, rs.UsersRead, rs.GroupsRead)
	}
	sn := e.snap(t)
	if got := userNames(sn); !slices.Equal(got, []string{"alice", "carol", "dave", "erin", "frank", "robert"}) {
		t.Fatalf("users after incremental = %v", got)
	}
	for _, c := range []struct{ was, now string }{{"alice", "alice"}, {"bob", "robert"}, {"carol", "carol"}} {
		if sn.users[c.now].ID != before.users[c.was].ID {
			t.Errorf("%s → %s: id changed (rename/move must be an update)", c.was, c.now)
		}
	}
	if a := sn.users["alice"]; a.PrimaryEmail() != "alice.liddell@example.com" || a.DisplayName != "Alice L." {
		t.Errorf("alice = %+v", a)
	}
	if dn := sn.users["carol"].Attributes["ldapDN"]; dn != "uid=carol,ou=staff,dc=example,dc=com" {
		t.Errorf("carol dn = %v", dn)
	}
	if u, g := sn.members(t, "engineers"); !slices.Equal(u, []string{"alice", "robert"}) || !slices.Equal(g, []string{"backend"}) {
		t.Errorf("engineers after rename: %v %v", u, g)
	}
	if u, _ := sn.members(t, "backend"); !slices.Equal(u, []string{"carol"}) {
		t.Errorf("backend after move: %v", u)
	}
	if u, g := sn.members(t, "ops"); !slices.Equal(u, []string{"frank"}) || !slices.Equal(g, []string{"all"}) {
		t.Errorf("ops: %v %v", u, g)
	}
	if u, _ := sn.members(t, "admins"); !slices.Equal(u, []string{"dave", "frank"}) {
		t.Errorf("admins: %v", u)
	}

	// Deletions: syncrepl (syncprov in the test slapd) shows them to
	// the incremental run; the full run then finds nothing to delete.
	e.srv.MustModify(t, `dn: uid=erin,ou=people,dc=example,dc=com
changetype: delete

dn: cn=backend,ou=groups,dc=example,dc=com
changetype: delete
`)
	rs = mustSync(t, s, ldap.Incremental)
	if rs.Users.Deleted != 1 || rs.Groups.Deleted != 1 {
		t.Fatalf("incremental after deletes: users %+v groups %+v", rs.Users, rs.Groups)
	}
	rs = mustSync(t, s, ldap.Full)
	if rs.Users.Deleted+rs.Groups.Deleted+rs.Users.Created+rs.Groups.Created != 0 {
		t.Fatalf("full after deletes: users %+v groups %+v", rs.Users, rs.Groups)
	}
	sn = e.snap(t)
	if _, ok := sn.users["erin"]; ok {
		t.Error("erin still there")
	}
	if _, ok := sn.groups["backend"]; ok {
		t.Error("backend still there")
	}
	if u, g := sn.members(t, "engineers"); !slices.Equal(u, []string{"alice", "robert"}) || len(g) != 0 {
		t.Errorf("engineers after deletes: %v %v", u, g)
	}
	if u, _ := sn.members(t, "all"); len(u) != 0 {
		t.Errorf("all after erin left: %v", u)
	}
	// And nothing more to do.
	rs = mustSync(t, s, ldap.Full)
	if rs.Users.Created+rs.Users.Updated+rs.Users.Deleted+rs.Groups.Created+rs.Groups.Updated+rs.Groups.Deleted != 0 {
		t.Fatalf("steady state: %+v %+v", rs.Users, rs.Groups)
	}

	// A membership change found by a full run, which compares member
	// lists by fingerprint.
	e.srv.MustModify(t, `dn: cn=admins,ou=groups,dc=example,dc=com
changetype: modify
add: member
member: uid=robert,ou=people,dc=example,dc=com
`)
	rs = mustSync(t, s, ldap.Full)
	if rs.Groups.Updated != 1 || rs.Groups.Unchanged == 0 {
		t.Fatalf("full after a member was added: groups %+v", rs.Groups)
	}
	if u, _ := e.snap(t).members(t, "admins"); !slices.Equal(u, []string{"dave", "frank", "robert"}) {
		t.Errorf("admins after full: %v", u)
	}
	rs = mustSync(t, s, ldap.Full)
	if rs.Groups.Updated != 0 {
		t.Fatalf("second full after a member was added: groups %+v", rs.Groups)
	}
}

func TestBindingRuleThroughEngine(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	eng := storetest.Engine(t, e.st, policy.EngineConfig{})
	s := e.source(t, nil)
	mustSync(t, s, ldap.Full)
	sn := e.snap(t)

	var lug policy.Group
	err := e.st.Update(t.Context(), "admin", func(tx store.Tx) error {
		if _, err := tx.PutRole(policy.Role{Name: "member"}); err != nil {
			return err
		}
		var err error
		lug, err = tx.CreateGroup(policy.Group{Slug: "lug-berlin", Name: "LUG Berlin", Kind: policy.GroupLocal})
		if err != nil {
			return err
		}
		_, err = tx.CreateRule(policy.Rule{Tenant: tenant, DirGroup: sn.groups["all"].ID, Group: lug.ID, Role: "member"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	inLUG := func(user string) bool {
		id := e.snap(t).users[user].ID
		for _, m := range eng.EffectiveGroups(id) {
			if m.Group == lug.ID && m.Role == "member" {
				return true
			}
		}
		return false
	}
	// all ⊃ engineers ⊃ backend ∋ carol: nested twice, through a cycle.
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
		if !inLUG(u) {
			t.Errorf("%s should be a member of the LUG through the rule", u)
		}
	}
	e.srv.MustModify(t, `dn: cn=backend,ou=groups,dc=example,dc=com
changetype: modify
delete: member
member: uid=carol,ou=people,dc=example,dc=com
`)
	mustSync(t, s, ldap.Incremental)
	if inLUG("carol") {
		t.Error("carol left backend but is still a LUG member")
	}
	if !inLUG("alice") {
		t.Error("alice lost her membership")
	}
}

func TestDeletionGuard(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	e.dir.DeletionGuard = ldap.DeletionGuard{} // defaults: 10%
	s := e.source(t, nil)
	mustSync(t, s, ldap.Full)
	if _, err := s.Approve(t.Context(), ldap.ApproveOptions{}); !errors.Is(err, ldap.ErrNothingPending) {
		t.Fatalf("approve with nothing pending: %v", err)
	}
	// One user of five: 20%.
	e.srv.MustModify(t, "dn: uid=dave,ou=people,dc=example,dc=com\nchangetype: delete\n")
	for i := 0; i < 2; i++ {
		rs := mustSync(t, s, ldap.Full)
		if rs.Users.Deleted != 0 || rs.Users.Held != 1 || !rs.PendingApproval || !strings.Contains(rs.Guard, "1 of 5 users") {
			t.Fatalf("guarded run %d: %+v", i, rs)
		}
		sn := e.snap(t)
		if _, ok := sn.users["dave"]; !ok {
			t.Fatal("dave deleted despite the guard")
		}
		if u, _ := sn.members(t, "admins"); !slices.Equal(u, []string{"dave"}) {
			t.Fatalf("admins lost held dave: %v", u)
		}
	}
	st, err := s.Status(t.Context())
	if err != nil || !st.PendingApproval || st.Guard == "" || st.Held == nil || st.Held.Users != 1 || st.Held.Memberships != 1 ||
		!slices.ContainsFunc(st.Held.Sample, func(x string) bool { return strings.HasPrefix(x, "delete user dave") }) {
		t.Fatalf("status while held: %+v %v", st, err)
	}
	rs, err := s.Approve(t.Context(), ldap.ApproveOptions{})
	if err != nil || rs.Mode != ldap.Approval || rs.Users.Deleted != 1 || rs.Memberships.Removed != 1 || rs.PendingApproval {
		t.Fatalf("approval: %+v %v", rs, err)
	}
	if _, ok := e.snap(t).users["dave"]; ok {
		t.Fatal("dave still there after approval")
	}
	st, _ = s.Status(t.Context())
	if st.PendingApproval || st.Held != nil {
		t.Fatalf("status after approval: %+v", st)
	}
	rs = mustSync(t, s, ldap.Full)
	if rs.Users.Deleted != 0 || rs.Groups.Updated != 0 || rs.PendingApproval || rs.Guard != "" {
		t.Fatalf("run after approval: %+v", rs)
	}
	// The approval was audited.
	var found bool
	_ = e.st.View(t.Context(), func(tx store.Tx) error {
		all, err := tx.Audit(0, 0)
		for _, c := range all {
			if c.Kind == policy.KindEvent && strings.Contains(c.ID, "ldap-sync/corp") {
				found = true
			}
		}
		return err
	})
	if !found {
		t.Error("approval not in the audit log")
	}
}

func TestTLS(t *testing.T) {
	e := newEnv(t, ldaptest.Options{TLS: true})
	bad, err := ldaptest.UntrustedCA()
	if err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(badFile, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		url      string
		startTLS bool
		ca       string
		wantErr  bool
	}{
		{"ldaps", e.srv.LDAPSURL, false, e.srv.CAFile, false},
		{"starttls", e.srv.URL, true, e.srv.CAFile, false},
		{"ldaps untrusted CA", e.srv.LDAPSURL, false, badFile, true},
		{"starttls untrusted CA", e.srv.URL, true, badFile, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e2 := *e
			e2.dir.URL, e2.dir.StartTLS, e2.dir.CAFile = tt.url, tt.startTLS, tt.ca
			s := e2.source(t, nil)
			rs, err := s.Sync(t.Context(), ldap.Full)
			if tt.wantErr {
				if !errors.Is(err, ldap.ErrDirectoryUnavailable) || !strings.Contains(err.Error(), "certificate") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || rs.UsersRead != 5 {
				t.Fatalf("sync: %v %+v", err, rs)
			}
			if _, err := s.Authenticate(t.Context(), "alice", "pw-alice"); err != nil {
				t.Fatalf("authenticate over TLS: %v", err)
			}
		})
	}
}

func TestBadServiceBind(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	e.dir.BindPassword = "wrong"
	s := e.source(t, nil)
	rs, err := s.Sync(t.Context(), ldap.Full)
	if !errors.Is(err, ldap.ErrServiceBind) || !strings.Contains(err.Error(), "cn=admin,dc=example,dc=com") {
		t.Fatalf("err = %v", err)
	}
	st, _ := s.Status(t.Context())
	if st.Error == "" || st.Error != rs.Error {
		t.Fatalf("status = %+v", st)
	}
	if len(e.snap(t).users) != 0 {
		t.Fatal("users written")
	}
}

// killOnProgress is a slog handler that kills slapd the first time the
// sync logs progress.
type killOnProgress struct {
	slog.Handler
	once *sync.Once
	kill func()
}

func (h killOnProgress) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "ldap sync progress" {
		h.once.Do(h.kill)
	}
	return h.Handler.Handle(ctx, r)
}

func (h killOnProgress) WithAttrs(a []slog.Attr) slog.Handler {
	return killOnProgress{h.Handler.WithAttrs(a), h.once, h.kill}
}

func TestDirectoryDiesMidSync(t *testing.T) {
	var gen bytes.Buffer
	if err := ldaptest.Generate(&gen, ldaptest.GenOptions{Users: 3000, Groups: 60, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, ldaptest.Options{LDIF: []string{gen.String()}})
	e.dir.Users.BaseDN = "ou=people," + e.srv.Suffix
	e.dir.PageSize = 100
	s := e.source(t, func(c *ldap.Config) { c.BatchSize = 200 })
	first := mustSync(t, s, ldap.Full)
	if first.Users.Created != 3000 || first.Groups.Created != 60 {
		t.Fatalf("initial: %+v %+v", first.Users, first.Groups)
	}
	// Ten users leave and one changes; then slapd dies while the next
	// run reads.
	var mods strings.Builder
	for i := 0; i < 10; i++ {
		mods.WriteString("dn: " + ldaptest.UserDN(i) + "\nchangetype: delete\n\n")
	}
	mods.WriteString("dn: " + ldaptest.UserDN(2999) + "\nchangetype: modify\nreplace: sn\nsn: Changed\n")
	e.srv.MustModify(t, mods.String())

	once := new(sync.Once)
	killing := e.source(t, func(c *ldap.Config) {
		c.BatchSize = 200
		c.ProgressEvery = 500
		c.Logger = slog.New(killOnProgress{testLogger(t).Handler(), once, e.srv.Kill})
	})
	rs, err := killing.Sync(t.Context(), ldap.Full)
	if !errors.Is(err, ldap.ErrDirectoryUnavailable) {
		t.Fatalf("run with dead directory: err = %v, status %+v", err, rs)
	}
	if rs.Error == "" || rs.OK() || rs.UsersRead >= 3000 {
		t.Fatalf("status = %+v", rs)
	}
	sn := e.snap(t)
	if len(sn.users) != 3000 || len(sn.groups) != 60 || rs.Users.Deleted != 0 {
		t.Fatalf("store changed by a failed run: %d users, %d groups", len(sn.users), len(sn.groups))
	}
	if st, _ := s.Status(t.Context()); st.Error == "" {
		t.Fatalf("stored status does not show the failure: %+v", st)
	}
	if err := e.srv.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	rs = mustSync(t, s, ldap.Full)
	if rs.Users.Deleted != 10 || rs.Users.Updated != 1 || rs.Users.Created != 0 {
		t.Fatalf("run after restart: %+v", rs.Users)
	}
	sn = e.snap(t)
	if len(sn.users) != 2990 || sn.users[ldaptest.UserName(2999)].FamilyName != "Changed" {
		t.Fatalf("after restart: %d users", len(sn.users))
	}
	// Group members refer to existing users only.
	for name, g := range sn.groups {
		for _, id := range g.MemberUsers {
			if _, ok := sn.names[string(id)]; !ok {
				t.Fatalf("group %s lists missing user %s", name, id)
			}
		}
	}
}

func TestRunSchedule(t *testing.T) {
	e := newEnv(t, ldaptest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	var runs []ldap.RunStatus
	s := e.source(t, func(c *ldap.Config) {
		c.Directory.Interval = time.Millisecond
		c.Directory.FullSyncInterval = time.Hour
		c.Directory.Syncrepl = ldap.SyncreplOff // polling (see TestSyncreplRefusedFallsBackToPolling)
		c.OnRun = func(rs ldap.RunStatus) {
			runs = append(runs, rs)
			if len(runs) == 2 {
				cancel()
			}
		}
	})
	if err := s.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if len(runs) != 2 || runs[0].Mode != ldap.Full || runs[1].Mode != ldap.Incremental || !runs[0].OK() || !runs[1].OK() {
		t.Fatalf("runs = %+v", runs)
	}
}

// TestFirstLoadRefusedUser: a first load writes its users together
// (store.CreateUsers); a user the store refuses (here a userName that
// differs from another only in case) is reported, and the users before
// and after it in the same batch are written.
func TestFirstLoadRefusedUser(t *testing.T) {
	e := newEnv(t, ldaptest.Options{LDIF: []string{fixture(t, "base.ldif"), `dn: uid=ALICE,ou=staff,dc=example,dc=com
objectClass: inetOrgPerson
uid: ALICE
cn: Alice Again
sn: Again

dn: uid=zed,ou=staff,dc=example,dc=com
objectClass: inetOrgPerson
uid: zed
cn: Zed Last
sn: Last
`}})
	s := e.source(t, nil)
	rs, err := s.Sync(t.Context(), ldap.Full)
	if err != nil {
		t.Fatal(err)
	}
	if rs.Users.Created != 6 || rs.Users.Failed != 1 || len(rs.Errors) != 1 || !strings.Contains(rs.Errors[0], "ALICE") {
		t.Fatalf("users %+v, errors %v; want 6 created and ALICE refused", rs.Users, rs.Errors)
	}
	sn := e.snap(t)
	if got := userNames(sn); !slices.Equal(got, []string{"alice", "bob", "carol", "dave", "erin", "zed"}) {
		t.Fatalf("users = %v", got)
	}
	if a := sn.users["alice"]; a.FamilyName != "Liddell" {
		t.Fatalf("alice = %+v, want the first one read", a)
	}
	if u, _ := sn.members(t, "engineers"); !slices.Equal(u, []string{"alice", "bob"}) {
		t.Fatalf("engineers' users = %v", u)
	}
}

// TestFirstLoadRefusedMember: a full run chooses the ids of the users it
// creates when it reads them and resolves the new groups while the last
// users are written; a user the store then refuses (a userName that
// differs from another only in case) is left out of the groups that list
// it, which are created with their other members, and the next full run
// finds nothing else to change.
func TestFirstLoadRefusedMember(t *testing.T) {
	e := newEnv(t, ldaptest.Options{LDIF: []string{fixture(t, "base.ldif"), `dn: uid=ALICE,ou=staff,dc=example,dc=com
objectClass: inetOrgPerson
uid: ALICE
cn: Alice Again
sn: Again

dn: cn=mixed,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: mixed
member: uid=ALICE,ou=staff,dc=example,dc=com
member: uid=bob,ou=people,dc=example,dc=com
member: cn=engineers,ou=groups,dc=example,dc=com
`}})
	s := e.source(t, nil)
	for run := 1; run <= 2; run++ {
		rs, err := s.Sync(t.Context(), ldap.Full)
		if err != nil {
			t.Fatal(err)
		}
		if rs.Users.Failed != 1 || rs.Groups.Failed != 0 || len(rs.Errors) != 1 || !strings.Contains(rs.Errors[0], "ALICE") {
			t.Fatalf("run %d: users %+v, groups %+v, errors %v; want ALICE refused, no group", run, rs.Users, rs.Groups, rs.Errors)
		}
		if run == 1 && (rs.Users.Created != 5 || rs.Groups.Created != 5) {
			t.Fatalf("run 1: users %+v, groups %+v; want 5 and 5 created", rs.Users, rs.Groups)
		}
		if run == 2 && (rs.Users.Created != 0 || rs.Groups.Created != 0 || rs.Groups.Updated != 0 || rs.Groups.Unchanged != 5) {
			t.Fatalf("run 2: users %+v, groups %+v; want nothing changed", rs.Users, rs.Groups)
		}
		sn := e.snap(t)
		if u, g := sn.members(t, "mixed"); !slices.Equal(u, []string{"bob"}) || !slices.Equal(g, []string{"engineers"}) {
			t.Fatalf("run %d: mixed's members = %v %v, want [bob] [engineers]", run, u, g)
		}
		if u, _ := sn.members(t, "engineers"); !slices.Equal(u, []string{"alice", "bob"}) {
			t.Fatalf("run %d: engineers' users = %v", run, u)
		}
	}
}

// TestFirstLoadInManyBatches: a first load written in many batches (each
// written while the next is read and diffed) stores what a load in one
// batch stores, and a user the store refuses in a middle batch is
// reported while the rest of its batch and the later ones are written.
func TestFirstLoadInManyBatches(t *testing.T) {
	var gen bytes.Buffer
	if err := ldaptest.Generate(&gen, ldaptest.GenOptions{Users: 3000, Groups: 60, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	// An entry read before the generated users that takes the userName
	// of user 2500: the store refuses that user when it comes, in the
	// ninth of ten batches.
	taken := ldaptest.UserName(2500)
	first := "dn: " + ldaptest.UserDN(0) + "\n"
	ldif := gen.String()
	at := strings.Index(ldif, first)
	if at < 0 {
		t.Fatal("generated LDIF without user 0")
	}
	ldif = ldif[:at] + "dn: cn=early bird,ou=people," + ldaptest.DefaultSuffix +
		"\nobjectClass: inetOrgPerson\ncn: early bird\nsn: Bird\nuid: " + taken + "\n\n" + ldif[at:]
	e := newEnv(t, ldaptest.Options{LDIF: []string{ldif}})
	e.dir.Users.BaseDN = "ou=people," + e.srv.Suffix
	e.dir.PageSize = 100

	rs, err := e.source(t, func(c *ldap.Config) { c.BatchSize, c.BulkBatchSize = 100, 300 }).Sync(t.Context(), ldap.Full)
	if err != nil {
		t.Fatalf("sync: %v (status %+v)", err, rs)
	}
	if rs.Users.Created != 3000 || rs.Users.Failed != 1 || rs.Groups.Created != 60 {
		t.Fatalf("users %+v, groups %+v", rs.Users, rs.Groups)
	}
	if len(rs.Errors) != 1 || !strings.Contains(rs.Errors[0], taken) {
		t.Fatalf("errors = %q, want one naming %s", rs.Errors, taken)
	}

	// The same directory in one batch, into another store.
	one := &env{srv: e.srv, st: openStore(t), dir: e.dir}
	if rs, err := one.source(t, nil).Sync(t.Context(), ldap.Full); err != nil || rs.Users.Created != 3000 {
		t.Fatalf("one batch: %v, users %+v", err, rs.Users)
	}
	got, want := e.snap(t), one.snap(t)
	if !slices.Equal(userNames(got), userNames(want)) {
		t.Fatalf("users differ: %d stored in batches, %d in one", len(got.users), len(want.users))
	}
	if got.users[taken].FamilyName != "Bird" {
		t.Fatalf("%s = %+v, want the early bird", taken, got.users[taken])
	}
	if len(got.groups) != len(want.groups) {
		t.Fatalf("%d groups stored in batches, %d in one", len(got.groups), len(want.groups))
	}
	for name := range want.groups {
		gu, gg := got.members(t, name)
		wu, wg := want.members(t, name)
		if !slices.Equal(gu, wu) || !slices.Equal(gg, wg) {
			t.Fatalf("group %s: members %v %v in batches, %v %v in one", name, gu, gg, wu, wg)
		}
	}
}
