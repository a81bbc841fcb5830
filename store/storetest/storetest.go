// Package storetest is the conformance suite of store.Store: every backend
// runs it from its own tests with a constructor of empty stores, as Dex's
// storage/conformance does.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := bolt.Open(filepath.Join(t.TempDir(), "roster.db"), bolt.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite checks behaviour only (never timing). It expects Close to be
// idempotent, since it closes some stores itself before the cleanup does.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Run runs every conformance test against fresh stores made by newStore.
// newStore must return an empty, open store and arrange (t.Cleanup) to
// close it.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"UserCRUD", testUserCRUD},
		{"UserUniqueness", testUserUniqueness},
		{"UserValidation", testUserValidation},
		{"Limits", testLimits},
		{"QuarantineEmpty", testQuarantineEmpty},
		{"UserListing", testUserListing},
		{"UsersByEmail", testUsersByEmail},
		{"BulkCreate", testBulkCreate},
		{"BulkCreateDirGroups", testBulkCreateDirGroups},
		{"BulkRefusedChangesNothing", testBulkRefusedChangesNothing},
		{"BulkEqualsOneByOne", testBulkEqualsOneByOne},
		{"DirGroupCRUD", testDirGroupCRUD},
		{"DirGroupMembers", testDirGroupMembers},
		{"ChangeMembers", testChangeMembers},
		{"WriteRules", testWriteRules},
		{"Groups", testGroups},
		{"GroupCycles", testGroupCycles},
		{"GroupRules", testGroupRules},
		{"Roles", testRoles},
		{"RoleAndMembershipRules", testRoleAndMembershipRules},
		{"NoOpWrites", testNoOpWrites},
		{"Rules", testRules},
		{"Memberships", testMemberships},
		{"CascadeDeleteUser", testCascadeDeleteUser},
		{"CascadeDeleteDirGroup", testCascadeDeleteDirGroup},
		{"CascadeDeleteGroup", testCascadeDeleteGroup},
		{"TenantIsolation", testTenantIsolation},
		{"Rollback", testRollback},
		{"Audit", testAudit},
		{"AuditRules", testAuditRules},
		{"AuditBulk", testAuditBulk},
		{"Subscribe", testSubscribe},
		{"TypedFeed", testTypedFeed},
		{"Records", testRecords},
		{"BatcherKeepsEachActor", testBatcherKeepsEachActor},
		{"ReadOnlyView", testReadOnlyView},
		{"Copies", testCopies},
		{"Context", testContext},
		{"Backup", testBackup},
		{"Close", testClose},
		{"CallbackExits", testCallbackExits},
		{"Concurrency", testConcurrency},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newStore(t))
		})
	}
}

// ---- helpers ----

const actor = "storetest"

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), actor, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// updateErr runs fn in an Update and returns fn's error (the Update's
// error, which must wrap it).
func updateErr(t *testing.T, s store.Store, fn func(store.Tx) error) error {
	t.Helper()
	var inner error
	err := s.Update(context.Background(), actor, func(tx store.Tx) error {
		inner = fn(tx)
		return inner
	})
	if inner != nil && !errors.Is(err, inner) {
		t.Fatalf("Update returned %v, want it to wrap %v", err, inner)
	}
	return err
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// lastSeq returns the Seq of the newest audit entry (0 if none).
func lastSeq(t *testing.T, s store.Store) uint64 {
	t.Helper()
	var all []policy.Change
	view(t, s, func(tx store.Tx) error {
		var err error
		all, err = tx.Audit(0, 0)
		return err
	})
	if len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Seq
}

// auditAfter returns the audit entries after seq.
func auditAfter(t *testing.T, s store.Store, seq uint64) []policy.Change {
	t.Helper()
	var out []policy.Change
	view(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.Audit(seq, 0)
		return err
	})
	return out
}

// summary renders changes as "kind/op/id" lines for comparison.
func summary(cs []policy.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = fmt.Sprintf("%s/%s/%s", c.Kind, c.Op, c.ID)
	}
	return out
}

// fixture is the common starting state: two partner tenants, two roles and
// a three-level user-group hierarchy.
type fixture struct {
	acme, globex   policy.TenantID
	isug, rug, lug policy.Group
}

const (
	roleMember    policy.RoleName = "member"
	roleOrganizer policy.RoleName = "organizer"
)

func setup(t *testing.T, s store.Store) fixture {
	t.Helper()
	f := fixture{acme: "acme", globex: "globex"}
	update(t, s, func(tx store.Tx) error {
		for _, tn := range []policy.Tenant{
			{ID: f.acme, Name: "Acme Corp", Kind: policy.TenantPartner},
			{ID: f.globex, Name: "Globex", Kind: policy.TenantPartner},
		} {
			if err := tx.PutTenant(tn); err != nil {
				return err
			}
		}
		for _, r := range []policy.Role{
			{Name: roleMember, Permissions: []policy.Permission{"events.view"}},
			{Name: roleOrganizer, Permissions: []policy.Permission{policy.PermMembersManage}, Inherit: true},
		} {
			if _, err := tx.PutRole(r); err != nil {
				return err
			}
		}
		var err error
		if f.isug, err = tx.CreateGroup(policy.Group{Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational}); err != nil {
			return err
		}
		if f.rug, err = tx.CreateGroup(policy.Group{Slug: "rug-emea", Name: "RUG EMEA", Kind: policy.GroupRegional, Parent: f.isug.ID}); err != nil {
			return err
		}
		f.lug, err = tx.CreateGroup(policy.Group{Slug: "lug-berlin", Name: "LUG Berlin", Kind: policy.GroupLocal, Parent: f.rug.ID})
		return err
	})
	return f
}

func user(name string) policy.User {
	return policy.User{UserName: name, Active: true, Source: "scim:test"}
}

func createUsers(t *testing.T, s store.Store, tenant policy.TenantID, names ...string) []policy.User {
	t.Helper()
	out := make([]policy.User, len(names))
	update(t, s, func(tx store.Tx) error {
		for i, n := range names {
			u, err := tx.CreateUser(tenant, user(n))
			if err != nil {
				return err
			}
			out[i] = u
		}
		return nil
	})
	return out
}

func createDirGroup(t *testing.T, s store.Store, tenant policy.TenantID, g policy.DirGroup) policy.DirGroup {
	t.Helper()
	update(t, s, func(tx store.Tx) error {
		var err error
		g, err = tx.CreateDirGroup(tenant, g)
		return err
	})
	return g
}

func getUser(t *testing.T, s store.Store, tenant policy.TenantID, id policy.UserID) (policy.User, error) {
	t.Helper()
	var u policy.User
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		u, err = tx.User(tenant, id)
		return err
	})
	return u, err
}

func getDirGroup(t *testing.T, s store.Store, tenant policy.TenantID, id policy.DirGroupID) (policy.DirGroup, error) {
	t.Helper()
	var g policy.DirGroup
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		g, err = tx.DirGroup(tenant, id)
		return err
	})
	return g, err
}

func dirGroupsOf(t *testing.T, s store.Store, tenant policy.TenantID, member string) []policy.DirGroupID {
	t.Helper()
	var ids []policy.DirGroupID
	view(t, s, func(tx store.Tx) error {
		var err error
		ids, err = tx.DirGroupsOf(tenant, member)
		return err
	})
	slices.Sort(ids)
	return ids
}

func sortedIDs[T ~string](ids ...T) []T {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func userIDs(us []policy.User) []policy.UserID {
	out := make([]policy.UserID, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// ---- tenants ----

func testTenants(t *testing.T, s store.Store) {
	ctx := context.Background()
	view(t, s, func(tx store.Tx) error {
		ts, err := tx.Tenants()
		if err != nil || len(ts) != 0 {
			t.Errorf("Tenants of an empty store = %v, %v", ts, err)
		}
		_, err = tx.Tenant("nope")
		wantErr(t, "Tenant(unknown)", err, store.ErrNotFound)
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: "zeta", Name: "Zeta", Kind: policy.TenantPartner}); err != nil {
			return err
		}
		return tx.PutTenant(policy.Tenant{ID: "alpha", Name: "Alpha", Kind: policy.TenantVendor})
	})
	update(t, s, func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: "zeta", Name: "Zeta AG", Kind: policy.TenantPartner})
	})
	if err := s.Update(ctx, actor, func(tx store.Tx) error { return tx.PutTenant(policy.Tenant{}) }); err == nil {
		t.Error("PutTenant without id succeeded")
	}
	view(t, s, func(tx store.Tx) error {
		ts, err := tx.Tenants()
		if err != nil {
			return err
		}
		if len(ts) != 2 || ts[0].ID != "alpha" || ts[1].ID != "zeta" {
			t.Errorf("Tenants = %+v, want alpha, zeta", ts)
		}
		z, err := tx.Tenant("zeta")
		if err != nil {
			return err
		}
		if z.Name != "Zeta AG" {
			t.Errorf("Tenant(zeta).Name = %q after replace", z.Name)
		}
		return nil
	})
	got := summary(auditAfter(t, s, 0))
	want := []string{"tenant/create/zeta", "tenant/create/alpha", "tenant/update/zeta"}
	if !slices.Equal(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
}

// ---- users ----

func testUserCRUD(t *testing.T, s store.Store) {
	f := setup(t, s)
	in := policy.User{
		UserName: "Ada.Lovelace@acme.test", ExternalID: "ext-1", GivenName: "Ada", FamilyName: "Lovelace",
		Emails: []policy.Email{{Value: "ada@acme.test", Type: "work", Primary: true}},
		Active: true, Source: "scim:acme", Attributes: map[string]any{"department": "R&D"},
	}
	var created policy.User
	update(t, s, func(tx store.Tx) error {
		var err error
		created, err = tx.CreateUser(f.acme, in)
		return err
	})
	if created.ID == "" || created.Tenant != f.acme || created.Version != 1 || created.Created.IsZero() || !created.Updated.Equal(created.Created) {
		t.Fatalf("CreateUser returned %+v: want id, tenant, version 1, created = updated", created)
	}
	lookups := []struct {
		name string
		get  func(tx store.Tx) (policy.User, error)
	}{
		{"User", func(tx store.Tx) (policy.User, error) { return tx.User(f.acme, created.ID) }},
		{"UserByUserName exact", func(tx store.Tx) (policy.User, error) { return tx.UserByUserName(f.acme, "Ada.Lovelace@acme.test") }},
		{"UserByUserName folded", func(tx store.Tx) (policy.User, error) { return tx.UserByUserName(f.acme, "ada.lovelace@ACME.test") }},
		{"UserByExternalID", func(tx store.Tx) (policy.User, error) { return tx.UserByExternalID(f.acme, "ext-1") }},
	}
	for _, l := range lookups {
		view(t, s, func(tx store.Tx) error {
			u, err := l.get(tx)
			if err != nil {
				t.Errorf("%s: %v", l.name, err)
				return nil
			}
			if u.ID != created.ID || u.UserName != in.UserName || u.GivenName != "Ada" || u.PrimaryEmail() != "ada@acme.test" ||
				u.Attributes["department"] != "R&D" || u.Version != 1 || !u.Created.Equal(created.Created) {
				t.Errorf("%s = %+v, want %+v", l.name, u, created)
			}
			return nil
		})
	}

	// Update: version increments, Created stays, indexes follow renames.
	upd := created
	upd.UserName = "ada@acme.test"
	upd.ExternalID = "ext-2"
	upd.Active = false
	var updated policy.User
	update(t, s, func(tx store.Tx) error {
		var err error
		updated, err = tx.UpdateUser(f.acme, upd)
		return err
	})
	if updated.Version != 2 || !updated.Created.Equal(created.Created) || updated.Active {
		t.Errorf("UpdateUser returned %+v: want version 2, same Created, inactive", updated)
	}
	view(t, s, func(tx store.Tx) error {
		_, err := tx.UserByUserName(f.acme, "Ada.Lovelace@acme.test")
		wantErr(t, "old userName after rename", err, store.ErrNotFound)
		_, err = tx.UserByExternalID(f.acme, "ext-1")
		wantErr(t, "old externalId after change", err, store.ErrNotFound)
		u, err := tx.UserByUserName(f.acme, "ADA@acme.test")
		if err != nil || u.ID != created.ID || u.Version != 2 {
			t.Errorf("new userName lookup = %+v, %v", u, err)
		}
		u, err = tx.UserByExternalID(f.acme, "ext-2")
		if err != nil || u.ID != created.ID {
			t.Errorf("new externalId lookup = %+v, %v", u, err)
		}
		return nil
	})

	// Optimistic concurrency.
	err := updateErr(t, s, func(tx store.Tx) error { _, err := tx.UpdateUser(f.acme, created); return err })
	wantErr(t, "UpdateUser with stale version", err, store.ErrVersion)

	// Clearing the externalId frees it.
	clr := updated
	clr.ExternalID = ""
	update(t, s, func(tx store.Tx) error { _, err := tx.UpdateUser(f.acme, clr); return err })
	view(t, s, func(tx store.Tx) error {
		_, err := tx.UserByExternalID(f.acme, "ext-2")
		wantErr(t, "cleared externalId", err, store.ErrNotFound)
		return nil
	})

	// Delete.
	update(t, s, func(tx store.Tx) error { return tx.DeleteUser(f.acme, created.ID) })
	_, err = getUser(t, s, f.acme, created.ID)
	wantErr(t, "User after delete", err, store.ErrNotFound)
	err = updateErr(t, s, func(tx store.Tx) error { return tx.DeleteUser(f.acme, created.ID) })
	wantErr(t, "DeleteUser twice", err, store.ErrNotFound)
	err = updateErr(t, s, func(tx store.Tx) error { _, err := tx.UpdateUser(f.acme, updated); return err })
	wantErr(t, "UpdateUser after delete", err, store.ErrNotFound)
	view(t, s, func(tx store.Tx) error {
		_, err := tx.UserByUserName(f.acme, "ada@acme.test")
		wantErr(t, "userName after delete", err, store.ErrNotFound)
		n, err := tx.CountUsers(f.acme)
		if err != nil || n != 0 {
			t.Errorf("CountUsers after delete = %d, %v", n, err)
		}
		return nil
	})
	// The userName is free again.
	createUsers(t, s, f.acme, "ADA@acme.test")
}

func testUserUniqueness(t *testing.T, s store.Store) {
	f := setup(t, s)
	var first policy.User
	update(t, s, func(tx store.Tx) error {
		var err error
		u := user("Bob@Example.test")
		u.ExternalID = "bob-ext"
		first, err = tx.CreateUser(f.acme, u)
		if err != nil {
			return err
		}
		_, err = tx.CreateUser(f.acme, user("carol@example.test"))
		return err
	})
	tests := []struct {
		name   string
		tenant policy.TenantID
		u      policy.User
		want   error // nil: must succeed
	}{
		{"same userName", f.acme, user("Bob@Example.test"), store.ErrExists},
		{"userName differing in case", f.acme, user("bob@example.TEST"), store.ErrExists},
		{"userName with surrounding spaces", f.acme, user(" bob@example.test "), store.ErrExists},
		{"same userName in another tenant", f.globex, user("bob@example.test"), nil},
		{"same externalId", f.acme, policy.User{UserName: "bob2", ExternalID: "bob-ext"}, store.ErrExists},
		{"externalId differing in case is another id", f.acme, policy.User{UserName: "bob3", ExternalID: "BOB-EXT"}, nil},
		{"same externalId in another tenant", f.globex, policy.User{UserName: "bob4", ExternalID: "bob-ext"}, nil},
		{"empty externalIds do not collide", f.acme, user("dave@example.test"), nil},
		{"same id", f.acme, policy.User{ID: first.ID, UserName: "eve"}, store.ErrExists},
		{"same id in another tenant", f.globex, policy.User{ID: first.ID, UserName: "eve"}, store.ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := updateErr(t, s, func(tx store.Tx) error { _, err := tx.CreateUser(tt.tenant, tt.u); return err })
			if tt.want == nil {
				if err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				return
			}
			wantErr(t, "CreateUser", err, tt.want)
		})
	}

	// Renames into a taken name fail; a case-only rename of oneself works.
	var carol policy.User
	view(t, s, func(tx store.Tx) error {
		var err error
		carol, err = tx.UserByUserName(f.acme, "carol@example.test")
		return err
	})
	renames := []struct {
		name     string
		userName string
		ext      string
		want     error
	}{
		{"to a taken userName", "BOB@example.test", "", store.ErrExists},
		{"to a taken externalId", "carol@example.test", "bob-ext", store.ErrExists},
		{"case of own userName", "Carol@Example.test", "", nil},
	}
	for _, tt := range renames {
		t.Run("rename "+tt.name, func(t *testing.T) {
			err := updateErr(t, s, func(tx store.Tx) error {
				cur, err := tx.User(f.acme, carol.ID)
				if err != nil {
					return err
				}
				cur.UserName, cur.ExternalID = tt.userName, tt.ext
				_, err = tx.UpdateUser(f.acme, cur)
				return err
			})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("UpdateUser: %v", err)
				}
				return
			}
			wantErr(t, "UpdateUser", err, tt.want)
		})
	}
	view(t, s, func(tx store.Tx) error {
		u, err := tx.UserByUserName(f.acme, "CAROL@example.test")
		if err != nil || u.UserName != "Carol@Example.test" {
			t.Errorf("after case-only rename: %+v, %v", u, err)
		}
		return nil
	})
}

func testUserValidation(t *testing.T, s store.Store) {
	f := setup(t, s)
	tests := []struct {
		name   string
		tenant policy.TenantID
		u      policy.User
		want   error // nil: any error
	}{
		{"empty userName", f.acme, policy.User{}, policy.ErrInvalid},
		{"blank userName", f.acme, policy.User{UserName: "  "}, policy.ErrInvalid},
		{"unknown tenant", "nope", user("x"), store.ErrNotFound},
		{"empty tenant", "", user("x"), store.ErrNotFound},
		{"record of another tenant", f.acme, policy.User{Tenant: f.globex, UserName: "x"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := lastSeq(t, s)
			err := updateErr(t, s, func(tx store.Tx) error { _, err := tx.CreateUser(tt.tenant, tt.u); return err })
			if err == nil {
				t.Fatal("CreateUser succeeded")
			}
			if tt.want != nil {
				wantErr(t, "CreateUser", err, tt.want)
			}
			if after := lastSeq(t, s); after != before {
				t.Errorf("a failed CreateUser left audit entries (%d → %d)", before, after)
			}
		})
	}
	view(t, s, func(tx store.Tx) error {
		for _, tn := range []policy.TenantID{f.acme, f.globex} {
			if n, err := tx.CountUsers(tn); err != nil || n != 0 {
				t.Errorf("CountUsers(%s) = %d, %v", tn, n, err)
			}
		}
		_, err := tx.CountUsers("nope")
		wantErr(t, "CountUsers(unknown tenant)", err, store.ErrNotFound)
		return nil
	})
}

func testUserListing(t *testing.T, s store.Store) {
	f := setup(t, s)
	names := make([]string, 25)
	for i := range names {
		names[i] = fmt.Sprintf("user%02d", i)
	}
	us := createUsers(t, s, f.acme, names...)
	createUsers(t, s, f.globex, "other")
	want := sortedIDs(userIDs(us)...)

	view(t, s, func(tx store.Tx) error {
		// Pages of 10.
		var got []policy.UserID
		after := ""
		for i := 0; ; i++ {
			page, err := tx.Users(f.acme, store.Page{After: after, Limit: 10})
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			if len(page) > 10 {
				t.Fatalf("page of %d users with Limit 10", len(page))
			}
			got = append(got, userIDs(page)...)
			after = string(page[len(page)-1].ID)
			if i > 5 {
				t.Fatal("paging does not end")
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged Users = %v, want %v", got, want)
		}
		all, err := tx.Users(f.acme, store.Page{})
		if err != nil || !slices.Equal(userIDs(all), want) {
			t.Errorf("Users(all) = %v, %v", userIDs(all), err)
		}
		// After a key that is not an id starts after it.
		mid := string(want[12])
		rest, err := tx.Users(f.acme, store.Page{After: mid[:len(mid)-1]})
		if err != nil || len(rest) == 0 || rest[0].ID > want[12] {
			t.Errorf("Users after a non-id key starts at %v", userIDs(rest))
		}

		var each []policy.UserID
		if err := tx.ForEachUser(f.acme, func(u policy.User) error { each = append(each, u.ID); return nil }); err != nil {
			return err
		}
		if !slices.Equal(each, want) {
			t.Errorf("ForEachUser order = %v, want %v", each, want)
		}
		stop := errors.New("stop")
		n := 0
		err = tx.ForEachUser(f.acme, func(policy.User) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Errorf("ForEachUser stopping at 3: n=%d err=%v", n, err)
		}
		c, err := tx.CountUsers(f.acme)
		if err != nil || c != 25 {
			t.Errorf("CountUsers = %d, %v; want 25", c, err)
		}
		return nil
	})

	// ForEachUser allows writes from fn inside Update.
	update(t, s, func(tx store.Tx) error {
		return tx.ForEachUser(f.acme, func(u policy.User) error {
			u.DisplayName = "renamed " + u.UserName
			_, err := tx.UpdateUser(f.acme, u)
			return err
		})
	})
	view(t, s, func(tx store.Tx) error {
		all, err := tx.Users(f.acme, store.Page{})
		if err != nil {
			return err
		}
		for _, u := range all {
			if u.Version != 2 || !strings.HasPrefix(u.DisplayName, "renamed ") {
				t.Errorf("user %s after ForEachUser update: %+v", u.UserName, u)
			}
		}
		return nil
	})
}

// ---- directory groups ----

func testDirGroupCRUD(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "u1", "u2", "u3")
	g := createDirGroup(t, s, f.acme, policy.DirGroup{
		DisplayName: "Engineering", ExternalID: "cn=eng", Source: "ldap:corp",
		MemberUsers: []policy.UserID{us[0].ID, us[1].ID, us[0].ID},
	})
	if g.ID == "" || g.Version != 1 || g.Tenant != f.acme || g.Created.IsZero() {
		t.Fatalf("CreateDirGroup returned %+v", g)
	}
	if !slices.Equal(g.MemberUsers, []policy.UserID{us[0].ID, us[1].ID}) {
		t.Errorf("repeated members not dropped: %v", g.MemberUsers)
	}
	twin := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "ENGINEERING "})

	view(t, s, func(tx store.Tx) error {
		got, err := tx.DirGroup(f.acme, g.ID)
		if err != nil || got.DisplayName != "Engineering" || len(got.MemberUsers) != 2 {
			t.Errorf("DirGroup = %+v, %v", got, err)
		}
		got, err = tx.DirGroupByExternalID(f.acme, "cn=eng")
		if err != nil || got.ID != g.ID {
			t.Errorf("DirGroupByExternalID = %+v, %v", got, err)
		}
		_, err = tx.DirGroupByExternalID(f.acme, "cn=ENG")
		wantErr(t, "DirGroupByExternalID is exact", err, store.ErrNotFound)
		byName, err := tx.DirGroupsByName(f.acme, "engineering")
		if err != nil {
			return err
		}
		ids := make([]policy.DirGroupID, len(byName))
		for i, x := range byName {
			ids[i] = x.ID
		}
		slices.Sort(ids)
		if !slices.Equal(ids, sortedIDs(g.ID, twin.ID)) {
			t.Errorf("DirGroupsByName = %v, want both groups", ids)
		}
		none, err := tx.DirGroupsByName(f.acme, "engineer")
		if err != nil || len(none) != 0 {
			t.Errorf("DirGroupsByName(prefix) = %v, %v: names match whole", none, err)
		}
		all, err := tx.DirGroups(f.acme, store.Page{})
		if err != nil || len(all) != 2 {
			t.Errorf("DirGroups = %d groups, %v", len(all), err)
		}
		page, err := tx.DirGroups(f.acme, store.Page{Limit: 1})
		if err != nil || len(page) != 1 {
			t.Errorf("DirGroups(limit 1) = %d groups, %v", len(page), err)
		}
		n := 0
		if err := tx.ForEachDirGroup(f.acme, func(policy.DirGroup) error { n++; return nil }); err != nil || n != 2 {
			t.Errorf("ForEachDirGroup visited %d, %v", n, err)
		}
		return nil
	})
	if got := dirGroupsOf(t, s, f.acme, string(us[0].ID)); !slices.Equal(got, []policy.DirGroupID{g.ID}) {
		t.Errorf("DirGroupsOf(u1) = %v", got)
	}

	// Update: swap members, rename, change externalId.
	upd := g
	upd.MemberUsers = []policy.UserID{us[1].ID, us[2].ID}
	upd.DisplayName = "Platform"
	upd.ExternalID = "cn=platform"
	var updated policy.DirGroup
	update(t, s, func(tx store.Tx) error {
		var err error
		updated, err = tx.UpdateDirGroup(f.acme, upd)
		return err
	})
	if updated.Version != 2 || !updated.Created.Equal(g.Created) {
		t.Errorf("UpdateDirGroup returned %+v", updated)
	}
	for i, want := range [][]policy.DirGroupID{nil, {g.ID}, {g.ID}} {
		if got := dirGroupsOf(t, s, f.acme, string(us[i].ID)); !slices.Equal(got, want) {
			t.Errorf("DirGroupsOf(u%d) after update = %v, want %v", i+1, got, want)
		}
	}
	view(t, s, func(tx store.Tx) error {
		_, err := tx.DirGroupByExternalID(f.acme, "cn=eng")
		wantErr(t, "old externalId", err, store.ErrNotFound)
		byName, err := tx.DirGroupsByName(f.acme, "Engineering")
		if err != nil || len(byName) != 1 || byName[0].ID != twin.ID {
			t.Errorf("DirGroupsByName(old name) = %v, %v", byName, err)
		}
		byName, err = tx.DirGroupsByName(f.acme, "platform")
		if err != nil || len(byName) != 1 || byName[0].ID != g.ID {
			t.Errorf("DirGroupsByName(new name) = %v, %v", byName, err)
		}
		return nil
	})

	errs := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"stale version", func(tx store.Tx) error { _, err := tx.UpdateDirGroup(f.acme, g); return err }, store.ErrVersion},
		{"taken externalId", func(tx store.Tx) error {
			x := twin
			x.ExternalID = "cn=platform"
			_, err := tx.UpdateDirGroup(f.acme, x)
			return err
		}, store.ErrExists},
		{"create with taken externalId", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(f.acme, policy.DirGroup{DisplayName: "x", ExternalID: "cn=platform"})
			return err
		}, store.ErrExists},
		{"create with taken id", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(f.acme, policy.DirGroup{ID: g.ID, DisplayName: "x"})
			return err
		}, store.ErrExists},
		{"create with a user's id", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(f.acme, policy.DirGroup{ID: policy.DirGroupID(us[0].ID), DisplayName: "x"})
			return err
		}, store.ErrExists},
		{"no display name", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(f.acme, policy.DirGroup{})
			return err
		}, policy.ErrInvalid},
		{"update unknown", func(tx store.Tx) error {
			_, err := tx.UpdateDirGroup(f.acme, policy.DirGroup{ID: "nope", DisplayName: "x"})
			return err
		}, store.ErrNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, updateErr(t, s, tt.fn), tt.want)
		})
	}

	update(t, s, func(tx store.Tx) error { return tx.DeleteDirGroup(f.acme, g.ID) })
	_, err := getDirGroup(t, s, f.acme, g.ID)
	wantErr(t, "DirGroup after delete", err, store.ErrNotFound)
	if got := dirGroupsOf(t, s, f.acme, string(us[1].ID)); len(got) != 0 {
		t.Errorf("DirGroupsOf after group delete = %v", got)
	}
	wantErr(t, "DeleteDirGroup twice", updateErr(t, s, func(tx store.Tx) error { return tx.DeleteDirGroup(f.acme, g.ID) }), store.ErrNotFound)
	// The externalId is free again.
	createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "again", ExternalID: "cn=platform"})
}

func testDirGroupMembers(t *testing.T, s store.Store) {
	f := setup(t, s)
	acmeUsers := createUsers(t, s, f.acme, "a1", "a2")
	globexUsers := createUsers(t, s, f.globex, "g1")
	globexGroup := createDirGroup(t, s, f.globex, policy.DirGroup{DisplayName: "globex"})
	inner := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "inner", MemberUsers: []policy.UserID{acmeUsers[0].ID}})
	outer := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "outer", MemberGroups: []policy.DirGroupID{inner.ID}})

	if got := dirGroupsOf(t, s, f.acme, string(inner.ID)); !slices.Equal(got, []policy.DirGroupID{outer.ID}) {
		t.Errorf("DirGroupsOf(inner) = %v", got)
	}
	// Cycles between directory groups are allowed (directories have them).
	update(t, s, func(tx store.Tx) error {
		cur, err := tx.DirGroup(f.acme, inner.ID)
		if err != nil {
			return err
		}
		cur.MemberGroups = append(cur.MemberGroups, outer.ID)
		_, err = tx.UpdateDirGroup(f.acme, cur)
		return err
	})
	if got := dirGroupsOf(t, s, f.acme, string(outer.ID)); !slices.Equal(got, []policy.DirGroupID{inner.ID}) {
		t.Errorf("DirGroupsOf(outer) = %v", got)
	}

	bad := []struct {
		name string
		g    policy.DirGroup
		want error
	}{
		{"user of another tenant", policy.DirGroup{DisplayName: "x", MemberUsers: []policy.UserID{globexUsers[0].ID}}, store.ErrNotFound},
		{"group of another tenant", policy.DirGroup{DisplayName: "x", MemberGroups: []policy.DirGroupID{globexGroup.ID}}, store.ErrNotFound},
		{"unknown user", policy.DirGroup{DisplayName: "x", MemberUsers: []policy.UserID{"nope"}}, store.ErrNotFound},
		{"unknown group", policy.DirGroup{DisplayName: "x", MemberGroups: []policy.DirGroupID{"nope"}}, store.ErrNotFound},
		{"itself", policy.DirGroup{ID: "self", DisplayName: "x", MemberGroups: []policy.DirGroupID{"self"}}, policy.ErrInvalid},
	}
	for _, tt := range bad {
		t.Run("create with "+tt.name, func(t *testing.T) {
			err := updateErr(t, s, func(tx store.Tx) error { _, err := tx.CreateDirGroup(f.acme, tt.g); return err })
			wantErr(t, "CreateDirGroup", err, tt.want)
			if tt.want == store.ErrNotFound && !strings.Contains(err.Error(), "member") {
				t.Errorf("error %q does not name the member", err)
			}
		})
		t.Run("update with "+tt.name, func(t *testing.T) {
			err := updateErr(t, s, func(tx store.Tx) error {
				cur, err := tx.DirGroup(f.acme, outer.ID)
				if err != nil {
					return err
				}
				cur.MemberUsers = append(cur.MemberUsers, tt.g.MemberUsers...)
				cur.MemberGroups = append(cur.MemberGroups, tt.g.MemberGroups...)
				if tt.g.ID == "self" {
					cur.MemberGroups = append(cur.MemberGroups, cur.ID)
				}
				_, err = tx.UpdateDirGroup(f.acme, cur)
				return err
			})
			wantErr(t, "UpdateDirGroup", err, tt.want)
		})
	}
	if got := dirGroupsOf(t, s, f.globex, string(globexUsers[0].ID)); len(got) != 0 {
		t.Errorf("globex user joined a group: %v", got)
	}
	g, err := getDirGroup(t, s, f.acme, outer.ID)
	if err != nil || g.Version != 1 || len(g.MemberUsers) != 0 {
		t.Errorf("outer after refused updates = %+v, %v", g, err)
	}

	// Adding many members at once, then removing some.
	many := make([]string, 300)
	for i := range many {
		many[i] = fmt.Sprintf("m%03d", i)
	}
	ms := createUsers(t, s, f.acme, many...)
	update(t, s, func(tx store.Tx) error {
		cur, err := tx.DirGroup(f.acme, outer.ID)
		if err != nil {
			return err
		}
		cur.MemberUsers = userIDs(ms)
		_, err = tx.UpdateDirGroup(f.acme, cur)
		return err
	})
	update(t, s, func(tx store.Tx) error {
		cur, err := tx.DirGroup(f.acme, outer.ID)
		if err != nil {
			return err
		}
		cur.MemberUsers = cur.MemberUsers[100:]
		_, err = tx.UpdateDirGroup(f.acme, cur)
		return err
	})
	for i, u := range ms {
		got := dirGroupsOf(t, s, f.acme, string(u.ID))
		if want := i >= 100; (len(got) == 1) != want {
			t.Fatalf("DirGroupsOf(m%03d) = %v, want member=%v", i, got, want)
		}
	}
	_ = acmeUsers[1]
}

// ---- user groups ----

func testGroups(t *testing.T, s store.Store) {
	f := setup(t, s)
	view(t, s, func(tx store.Tx) error {
		g, err := tx.GroupBySlug("rug-emea")
		if err != nil || g.ID != f.rug.ID || g.Parent != f.isug.ID || g.Version != 1 {
			t.Errorf("GroupBySlug = %+v, %v", g, err)
		}
		g, err = tx.Group(f.lug.ID)
		if err != nil || g.Slug != "lug-berlin" {
			t.Errorf("Group = %+v, %v", g, err)
		}
		all, err := tx.Groups()
		if err != nil || len(all) != 3 {
			t.Errorf("Groups = %d, %v", len(all), err)
		}
		_, err = tx.Group("nope")
		wantErr(t, "Group(unknown)", err, store.ErrNotFound)
		_, err = tx.GroupBySlug("nope")
		wantErr(t, "GroupBySlug(unknown)", err, store.ErrNotFound)
		return nil
	})

	lug := f.lug
	lug.Slug = "lug-berlin-2"
	lug.Meetings = []policy.Meeting{{ID: "m1", Title: "Kick-off", Start: f.lug.Created}}
	var updated policy.Group
	update(t, s, func(tx store.Tx) error {
		var err error
		updated, err = tx.UpdateGroup(lug)
		return err
	})
	if updated.Version != 2 || !updated.Created.Equal(f.lug.Created) || len(updated.Meetings) != 1 {
		t.Errorf("UpdateGroup returned %+v", updated)
	}
	view(t, s, func(tx store.Tx) error {
		_, err := tx.GroupBySlug("lug-berlin")
		wantErr(t, "old slug", err, store.ErrNotFound)
		g, err := tx.GroupBySlug("lug-berlin-2")
		if err != nil || g.ID != f.lug.ID {
			t.Errorf("new slug = %+v, %v", g, err)
		}
		return nil
	})

	errs := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"duplicate slug", func(tx store.Tx) error {
			_, err := tx.CreateGroup(policy.Group{Slug: "isug", Name: "x", Kind: policy.GroupLocal})
			return err
		}, store.ErrExists},
		{"rename to taken slug", func(tx store.Tx) error {
			g := updated
			g.Slug = "rug-emea"
			_, err := tx.UpdateGroup(g)
			return err
		}, store.ErrExists},
		{"bad slug", func(tx store.Tx) error {
			_, err := tx.CreateGroup(policy.Group{Slug: "Not A Slug", Name: "x", Kind: policy.GroupLocal})
			return err
		}, policy.ErrInvalid},
		{"unknown parent", func(tx store.Tx) error {
			_, err := tx.CreateGroup(policy.Group{Slug: "orphan", Name: "x", Kind: policy.GroupLocal, Parent: "nope"})
			return err
		}, policy.ErrInvalid},
		{"stale version", func(tx store.Tx) error { _, err := tx.UpdateGroup(f.lug); return err }, store.ErrVersion},
		{"update unknown", func(tx store.Tx) error {
			_, err := tx.UpdateGroup(policy.Group{ID: "nope", Slug: "nope", Name: "x", Kind: policy.GroupLocal})
			return err
		}, store.ErrNotFound},
		{"delete with children", func(tx store.Tx) error { return tx.DeleteGroup(f.rug.ID) }, store.ErrInUse},
		{"delete unknown", func(tx store.Tx) error { return tx.DeleteGroup("nope") }, store.ErrNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, updateErr(t, s, tt.fn), tt.want)
		})
	}

	// Deleting leaves first works; then the slug is free again.
	update(t, s, func(tx store.Tx) error { return tx.DeleteGroup(f.lug.ID) })
	update(t, s, func(tx store.Tx) error { return tx.DeleteGroup(f.rug.ID) })
	update(t, s, func(tx store.Tx) error {
		_, err := tx.CreateGroup(policy.Group{Slug: "rug-emea", Name: "RUG", Kind: policy.GroupRegional, Parent: f.isug.ID})
		return err
	})
}

func testGroupCycles(t *testing.T, s store.Store) {
	f := setup(t, s)
	sig := policy.Group{Slug: "sig-go", Name: "Go SIG", Kind: policy.GroupSpecialInterest}
	update(t, s, func(tx store.Tx) error {
		var err error
		sig, err = tx.CreateGroup(sig)
		return err
	})
	tests := []struct {
		name   string
		group  policy.Group
		parent policy.GroupID
		want   error // nil: allowed
	}{
		{"own parent", f.isug, f.isug.ID, policy.ErrCycle},
		{"child as parent", f.isug, f.rug.ID, policy.ErrCycle},
		{"grandchild as parent", f.isug, f.lug.ID, policy.ErrCycle},
		{"middle under leaf", f.rug, f.lug.ID, policy.ErrCycle},
		{"unknown parent", sig, "nope", policy.ErrInvalid},
		{"move sig under lug", sig, f.lug.ID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := updateErr(t, s, func(tx store.Tx) error {
				cur, err := tx.Group(tt.group.ID)
				if err != nil {
					return err
				}
				cur.Parent = tt.parent
				_, err = tx.UpdateGroup(cur)
				return err
			})
			if tt.want == nil {
				if err != nil {
					t.Fatalf("UpdateGroup: %v", err)
				}
				return
			}
			wantErr(t, "UpdateGroup", err, tt.want)
		})
	}
	// The moved SIG is a child of the LUG: the LUG cannot be deleted, and
	// the old hierarchy is unchanged.
	wantErr(t, "DeleteGroup(lug)", updateErr(t, s, func(tx store.Tx) error { return tx.DeleteGroup(f.lug.ID) }), store.ErrInUse)
	view(t, s, func(tx store.Tx) error {
		for _, g := range []policy.Group{f.isug, f.rug, f.lug} {
			cur, err := tx.Group(g.ID)
			if err != nil || cur.Parent != g.Parent || cur.Version != 1 {
				t.Errorf("group %s after refused moves: %+v, %v", g.Slug, cur, err)
			}
		}
		return nil
	})
	// Moving the SIG back to the root works.
	update(t, s, func(tx store.Tx) error {
		cur, err := tx.Group(sig.ID)
		if err != nil {
			return err
		}
		cur.Parent = ""
		_, err = tx.UpdateGroup(cur)
		return err
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteGroup(f.lug.ID) })
}

// ---- roles, rules, memberships ----

func testRoles(t *testing.T, s store.Store) {
	f := setup(t, s)
	var r policy.Role
	view(t, s, func(tx store.Tx) error {
		var err error
		r, err = tx.Role(roleMember)
		if err != nil || r.Version != 1 || len(r.Permissions) != 1 {
			t.Errorf("Role = %+v, %v", r, err)
		}
		all, err := tx.Roles()
		if err != nil || len(all) != 2 || all[0].Name != roleMember || all[1].Name != roleOrganizer {
			t.Errorf("Roles = %+v, %v", all, err)
		}
		_, err = tx.Role("nope")
		wantErr(t, "Role(unknown)", err, store.ErrNotFound)
		return nil
	})
	r2 := r
	r2.Permissions = append(r2.Permissions, "events.create")
	update(t, s, func(tx store.Tx) error {
		got, err := tx.PutRole(r2)
		if err == nil && (got.Version != 2 || len(got.Permissions) != 2) {
			t.Errorf("PutRole(update) = %+v", got)
		}
		return err
	})
	us := createUsers(t, s, f.acme, "holder")
	dg := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "dg"})
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.PutRole(policy.Role{Name: "speaker"}); err != nil {
			return err
		}
		if _, err := tx.PutRole(policy.Role{Name: "sponsor"}); err != nil {
			return err
		}
		if _, err := tx.AddMembership(policy.Membership{User: us[0].ID, Group: f.isug.ID, Role: "speaker"}); err != nil {
			return err
		}
		_, err := tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: dg.ID, Group: f.isug.ID, Role: "sponsor"})
		return err
	})
	errs := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"stale version", func(tx store.Tx) error { _, err := tx.PutRole(r); return err }, store.ErrVersion},
		{"bad name", func(tx store.Tx) error { _, err := tx.PutRole(policy.Role{Name: "Bad Name"}); return err }, policy.ErrInvalid},
		{"delete held by a membership", func(tx store.Tx) error { return tx.DeleteRole("speaker") }, store.ErrInUse},
		{"delete used by a rule", func(tx store.Tx) error { return tx.DeleteRole("sponsor") }, store.ErrInUse},
		{"delete unknown", func(tx store.Tx) error { return tx.DeleteRole("nope") }, store.ErrNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, updateErr(t, s, tt.fn), tt.want)
		})
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteRole(roleOrganizer) })
	view(t, s, func(tx store.Tx) error {
		_, err := tx.Role(roleOrganizer)
		wantErr(t, "Role after delete", err, store.ErrNotFound)
		return nil
	})
}

func testRules(t *testing.T, s store.Store) {
	f := setup(t, s)
	dg := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "eng"})
	other := createDirGroup(t, s, f.globex, policy.DirGroup{DisplayName: "eng"})
	var r policy.Rule
	update(t, s, func(tx store.Tx) error {
		var err error
		r, err = tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: dg.ID, Group: f.lug.ID, Role: roleMember})
		return err
	})
	if r.ID == "" || r.Version != 1 || r.Created.IsZero() {
		t.Fatalf("CreateRule returned %+v", r)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.Rule(r.ID)
		if err != nil || got.DirGroup != dg.ID || got.Group != f.lug.ID || got.Role != roleMember || got.Tenant != f.acme {
			t.Errorf("Rule = %+v, %v", got, err)
		}
		all, err := tx.Rules()
		if err != nil || len(all) != 1 {
			t.Errorf("Rules = %+v, %v", all, err)
		}
		return nil
	})
	base := policy.Rule{Tenant: f.acme, DirGroup: dg.ID, Group: f.lug.ID, Role: roleOrganizer}
	with := func(mod func(*policy.Rule)) policy.Rule { x := base; mod(&x); return x }
	errs := []struct {
		name string
		r    policy.Rule
		want error
	}{
		{"unknown tenant", with(func(x *policy.Rule) { x.Tenant = "nope" }), store.ErrNotFound},
		{"unknown dirgroup", with(func(x *policy.Rule) { x.DirGroup = "nope" }), store.ErrNotFound},
		{"dirgroup of another tenant", with(func(x *policy.Rule) { x.DirGroup = other.ID }), store.ErrNotFound},
		{"unknown group", with(func(x *policy.Rule) { x.Group = "nope" }), store.ErrNotFound},
		{"unknown role", with(func(x *policy.Rule) { x.Role = "nope" }), store.ErrNotFound},
		{"same binding twice", with(func(x *policy.Rule) { x.Role = roleMember }), store.ErrExists},
		{"same id", with(func(x *policy.Rule) { x.ID = r.ID }), store.ErrExists},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, updateErr(t, s, func(tx store.Tx) error { _, err := tx.CreateRule(tt.r); return err }), tt.want)
		})
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteRule(r.ID) })
	wantErr(t, "DeleteRule twice", updateErr(t, s, func(tx store.Tx) error { return tx.DeleteRule(r.ID) }), store.ErrNotFound)
	view(t, s, func(tx store.Tx) error {
		_, err := tx.Rule(r.ID)
		wantErr(t, "Rule after delete", err, store.ErrNotFound)
		return nil
	})
}

func testMemberships(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "m1", "m2")
	gus := createUsers(t, s, f.globex, "g1")
	var m policy.Membership
	update(t, s, func(tx store.Tx) error {
		var err error
		m, err = tx.AddMembership(policy.Membership{User: us[0].ID, Group: f.lug.ID, Role: roleMember})
		if err != nil {
			return err
		}
		for _, x := range []policy.Membership{
			{User: us[0].ID, Group: f.lug.ID, Role: roleOrganizer},
			{User: us[1].ID, Group: f.lug.ID, Role: roleMember},
			{User: us[0].ID, Group: f.isug.ID, Role: roleMember},
			{User: gus[0].ID, Group: f.isug.ID, Role: roleMember, Origin: policy.OriginManual},
		} {
			if _, err := tx.AddMembership(x); err != nil {
				return err
			}
		}
		return nil
	})
	if m.Origin != policy.OriginManual || m.Created.IsZero() {
		t.Errorf("AddMembership returned %+v", m)
	}
	// Idempotent: no new audit entry, same Created.
	before := lastSeq(t, s)
	update(t, s, func(tx store.Tx) error {
		again, err := tx.AddMembership(policy.Membership{User: us[0].ID, Group: f.lug.ID, Role: roleMember})
		if err == nil && !again.Created.Equal(m.Created) {
			t.Errorf("AddMembership again: Created %v, want %v", again.Created, m.Created)
		}
		return err
	})
	if after := lastSeq(t, s); after != before {
		t.Errorf("repeated AddMembership wrote audit entries")
	}
	key := func(m policy.Membership) string { return policy.MembershipKey(m.Group, m.User, m.Role) }
	keys := func(ms []policy.Membership) []string {
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = key(m)
		}
		slices.Sort(out)
		return out
	}
	view(t, s, func(tx store.Tx) error {
		ofGroup, err := tx.MembershipsOfGroup(f.lug.ID)
		if err != nil {
			return err
		}
		want := sortedIDs(
			policy.MembershipKey(f.lug.ID, us[0].ID, roleMember),
			policy.MembershipKey(f.lug.ID, us[0].ID, roleOrganizer),
			policy.MembershipKey(f.lug.ID, us[1].ID, roleMember))
		if got := keys(ofGroup); !slices.Equal(got, want) {
			t.Errorf("MembershipsOfGroup(lug) = %v, want %v", got, want)
		}
		ofUser, err := tx.MembershipsOfUser(us[0].ID)
		if err != nil {
			return err
		}
		want = sortedIDs(
			policy.MembershipKey(f.lug.ID, us[0].ID, roleMember),
			policy.MembershipKey(f.lug.ID, us[0].ID, roleOrganizer),
			policy.MembershipKey(f.isug.ID, us[0].ID, roleMember))
		if got := keys(ofUser); !slices.Equal(got, want) {
			t.Errorf("MembershipsOfUser(m1) = %v, want %v", got, want)
		}
		all, err := tx.Memberships()
		if err != nil || len(all) != 5 {
			t.Errorf("Memberships = %d, %v", len(all), err)
		}
		none, err := tx.MembershipsOfUser("nope")
		if err != nil || len(none) != 0 {
			t.Errorf("MembershipsOfUser(unknown) = %v, %v", none, err)
		}
		return nil
	})
	errs := []struct {
		name string
		fn   func(tx store.Tx) error
		want error
	}{
		{"unknown user", func(tx store.Tx) error {
			_, err := tx.AddMembership(policy.Membership{User: "nope", Group: f.lug.ID, Role: roleMember})
			return err
		}, store.ErrNotFound},
		{"unknown group", func(tx store.Tx) error {
			_, err := tx.AddMembership(policy.Membership{User: us[0].ID, Group: "nope", Role: roleMember})
			return err
		}, store.ErrNotFound},
		{"unknown role", func(tx store.Tx) error {
			_, err := tx.AddMembership(policy.Membership{User: us[0].ID, Group: f.lug.ID, Role: "nope"})
			return err
		}, store.ErrNotFound},
		{"rule origin", func(tx store.Tx) error {
			_, err := tx.AddMembership(policy.Membership{User: us[1].ID, Group: f.isug.ID, Role: roleMember, Origin: policy.RuleOrigin("r")})
			return err
		}, policy.ErrInvalid},
		{"remove absent", func(tx store.Tx) error { return tx.RemoveMembership(f.isug.ID, us[1].ID, roleMember) }, store.ErrNotFound},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, updateErr(t, s, tt.fn), tt.want)
		})
	}
	seq := lastSeq(t, s)
	update(t, s, func(tx store.Tx) error { return tx.RemoveMembership(f.lug.ID, us[0].ID, roleOrganizer) })
	cs := auditAfter(t, s, seq)
	if len(cs) != 1 || cs[0].Kind != policy.KindMembership || cs[0].Op != policy.OpDelete ||
		cs[0].ID != policy.MembershipKey(f.lug.ID, us[0].ID, roleOrganizer) || cs[0].Before == nil || cs[0].After != nil {
		t.Errorf("audit of RemoveMembership = %+v", cs)
	}
	view(t, s, func(tx store.Tx) error {
		ofUser, err := tx.MembershipsOfUser(us[0].ID)
		if err != nil || len(ofUser) != 2 {
			t.Errorf("MembershipsOfUser after remove = %v, %v", keys(ofUser), err)
		}
		return nil
	})
}

// ---- cascades ----

func testCascadeDeleteUser(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "leaver", "stayer")
	leaver, stayer := us[0], us[1]
	g1 := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "g1", MemberUsers: []policy.UserID{leaver.ID, stayer.ID}})
	g2 := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "g2", MemberUsers: []policy.UserID{leaver.ID}})
	update(t, s, func(tx store.Tx) error {
		for _, m := range []policy.Membership{
			{User: leaver.ID, Group: f.lug.ID, Role: roleMember},
			{User: leaver.ID, Group: f.isug.ID, Role: roleOrganizer},
			{User: stayer.ID, Group: f.lug.ID, Role: roleMember},
		} {
			if _, err := tx.AddMembership(m); err != nil {
				return err
			}
		}
		return nil
	})
	seq := lastSeq(t, s)
	update(t, s, func(tx store.Tx) error { return tx.DeleteUser(f.acme, leaver.ID) })

	got := summary(auditAfter(t, s, seq))
	slices.Sort(got)
	want := []string{
		"dirgroup/update/" + string(g1.ID),
		"dirgroup/update/" + string(g2.ID),
		"membership/delete/" + policy.MembershipKey(f.isug.ID, leaver.ID, roleOrganizer),
		"membership/delete/" + policy.MembershipKey(f.lug.ID, leaver.ID, roleMember),
		"user/delete/" + string(leaver.ID),
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("audit of DeleteUser =\n%v\nwant\n%v", got, want)
	}
	for _, tt := range []struct {
		g       policy.DirGroup
		members []policy.UserID
	}{{g1, []policy.UserID{stayer.ID}}, {g2, nil}} {
		g, err := getDirGroup(t, s, f.acme, tt.g.ID)
		if err != nil || g.Version != 2 || !slices.Equal(g.MemberUsers, tt.members) {
			t.Errorf("%s after DeleteUser = %+v, %v; want version 2, members %v", tt.g.DisplayName, g, err, tt.members)
		}
	}
	if got := dirGroupsOf(t, s, f.acme, string(leaver.ID)); len(got) != 0 {
		t.Errorf("DirGroupsOf(deleted user) = %v", got)
	}
	view(t, s, func(tx store.Tx) error {
		ms, err := tx.MembershipsOfUser(leaver.ID)
		if err != nil || len(ms) != 0 {
			t.Errorf("MembershipsOfUser(deleted) = %v, %v", ms, err)
		}
		ms, err = tx.MembershipsOfGroup(f.lug.ID)
		if err != nil || len(ms) != 1 || ms[0].User != stayer.ID {
			t.Errorf("MembershipsOfGroup(lug) = %v, %v", ms, err)
		}
		return nil
	})

	// Deleting many members of one group in one transaction.
	names := make([]string, 200)
	for i := range names {
		names[i] = fmt.Sprintf("bulk%03d", i)
	}
	bulk := createUsers(t, s, f.acme, names...)
	big := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "big", MemberUsers: append(userIDs(bulk), stayer.ID)})
	update(t, s, func(tx store.Tx) error {
		for _, u := range bulk[:150] {
			if err := tx.DeleteUser(f.acme, u.ID); err != nil {
				return err
			}
		}
		// Reads inside the same transaction see the cascade.
		g, err := tx.DirGroup(f.acme, big.ID)
		if err != nil {
			return err
		}
		if len(g.MemberUsers) != 51 {
			t.Errorf("in-transaction read after cascades: %d members, want 51", len(g.MemberUsers))
		}
		return nil
	})
	g, err := getDirGroup(t, s, f.acme, big.ID)
	if err != nil || len(g.MemberUsers) != 51 || g.MemberUsers[50] != stayer.ID {
		t.Errorf("big after bulk delete: %d members, %v", len(g.MemberUsers), err)
	}
}

func testCascadeDeleteDirGroup(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "u")
	child := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "child", ExternalID: "cn=child", MemberUsers: []policy.UserID{us[0].ID}})
	parent := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "parent", MemberGroups: []policy.DirGroupID{child.ID}})
	var r1, r2, keep policy.Rule
	update(t, s, func(tx store.Tx) error {
		var err error
		if r1, err = tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: child.ID, Group: f.lug.ID, Role: roleMember}); err != nil {
			return err
		}
		if r2, err = tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: child.ID, Group: f.isug.ID, Role: roleOrganizer}); err != nil {
			return err
		}
		keep, err = tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: parent.ID, Group: f.lug.ID, Role: roleMember})
		return err
	})
	seq := lastSeq(t, s)
	update(t, s, func(tx store.Tx) error { return tx.DeleteDirGroup(f.acme, child.ID) })
	got := summary(auditAfter(t, s, seq))
	slices.Sort(got)
	want := sortedIDs(
		"rule/delete/"+string(r1.ID),
		"rule/delete/"+string(r2.ID),
		"dirgroup/update/"+string(parent.ID),
		"dirgroup/delete/"+string(child.ID))
	if !slices.Equal(got, want) {
		t.Errorf("audit of DeleteDirGroup = %v, want %v", got, want)
	}
	p, err := getDirGroup(t, s, f.acme, parent.ID)
	if err != nil || len(p.MemberGroups) != 0 || p.Version != 2 {
		t.Errorf("parent after child delete = %+v, %v", p, err)
	}
	if got := dirGroupsOf(t, s, f.acme, string(us[0].ID)); len(got) != 0 {
		t.Errorf("DirGroupsOf(member of deleted group) = %v", got)
	}
	view(t, s, func(tx store.Tx) error {
		rs, err := tx.Rules()
		if err != nil || len(rs) != 1 || rs[0].ID != keep.ID {
			t.Errorf("Rules after DeleteDirGroup = %+v, %v", rs, err)
		}
		_, err = tx.DirGroupByExternalID(f.acme, "cn=child")
		wantErr(t, "externalId of deleted group", err, store.ErrNotFound)
		byName, err := tx.DirGroupsByName(f.acme, "child")
		if err != nil || len(byName) != 0 {
			t.Errorf("DirGroupsByName(deleted) = %v, %v", byName, err)
		}
		return nil
	})
	// The user survives.
	if _, err := getUser(t, s, f.acme, us[0].ID); err != nil {
		t.Errorf("member user after group delete: %v", err)
	}
}

func testCascadeDeleteGroup(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "u1", "u2")
	dg := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "dg"})
	var r, keep policy.Rule
	update(t, s, func(tx store.Tx) error {
		for _, m := range []policy.Membership{
			{User: us[0].ID, Group: f.lug.ID, Role: roleMember},
			{User: us[1].ID, Group: f.lug.ID, Role: roleOrganizer},
			{User: us[0].ID, Group: f.rug.ID, Role: roleMember},
		} {
			if _, err := tx.AddMembership(m); err != nil {
				return err
			}
		}
		var err error
		if r, err = tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: dg.ID, Group: f.lug.ID, Role: roleMember}); err != nil {
			return err
		}
		keep, err = tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: dg.ID, Group: f.rug.ID, Role: roleMember})
		return err
	})
	seq := lastSeq(t, s)
	update(t, s, func(tx store.Tx) error { return tx.DeleteGroup(f.lug.ID) })
	got := summary(auditAfter(t, s, seq))
	slices.Sort(got)
	want := sortedIDs(
		"membership/delete/"+policy.MembershipKey(f.lug.ID, us[0].ID, roleMember),
		"membership/delete/"+policy.MembershipKey(f.lug.ID, us[1].ID, roleOrganizer),
		"rule/delete/"+string(r.ID),
		"group/delete/"+string(f.lug.ID))
	if !slices.Equal(got, want) {
		t.Errorf("audit of DeleteGroup = %v, want %v", got, want)
	}
	view(t, s, func(tx store.Tx) error {
		ms, err := tx.Memberships()
		if err != nil || len(ms) != 1 || ms[0].Group != f.rug.ID {
			t.Errorf("Memberships after DeleteGroup = %+v, %v", ms, err)
		}
		ms, err = tx.MembershipsOfUser(us[1].ID)
		if err != nil || len(ms) != 0 {
			t.Errorf("MembershipsOfUser(u2) = %+v, %v", ms, err)
		}
		rs, err := tx.Rules()
		if err != nil || len(rs) != 1 || rs[0].ID != keep.ID {
			t.Errorf("Rules after DeleteGroup = %+v, %v", rs, err)
		}
		_, err = tx.GroupBySlug("lug-berlin")
		wantErr(t, "slug of deleted group", err, store.ErrNotFound)
		return nil
	})
	// The RUG has no child any more.
	update(t, s, func(tx store.Tx) error {
		if err := tx.RemoveMembership(f.rug.ID, us[0].ID, roleMember); err != nil {
			return err
		}
		return tx.DeleteGroup(f.rug.ID)
	})
}

// ---- tenant isolation ----

func testTenantIsolation(t *testing.T, s store.Store) {
	f := setup(t, s)
	// B = globex owns these; every call goes through A = acme.
	bu := policy.User{UserName: "secret@globex.test", ExternalID: "gx-1", Active: true}
	var bg policy.DirGroup
	update(t, s, func(tx store.Tx) error {
		var err error
		if bu, err = tx.CreateUser(f.globex, bu); err != nil {
			return err
		}
		bg, err = tx.CreateDirGroup(f.globex, policy.DirGroup{DisplayName: "Globex Staff", ExternalID: "gx-g", MemberUsers: []policy.UserID{bu.ID}})
		return err
	})
	au := createUsers(t, s, f.acme, "alice")[0]
	ag := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "Acme Staff", MemberUsers: []policy.UserID{au.ID}})
	A := f.acme
	cleared := func(u policy.User) policy.User { u.Tenant = ""; return u }
	clearedG := func(g policy.DirGroup) policy.DirGroup { g.Tenant = ""; return g }

	tests := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"User", func(tx store.Tx) error { _, err := tx.User(A, bu.ID); return err }},
		{"UserByUserName", func(tx store.Tx) error { _, err := tx.UserByUserName(A, bu.UserName); return err }},
		{"UserByExternalID", func(tx store.Tx) error { _, err := tx.UserByExternalID(A, bu.ExternalID); return err }},
		{"UpdateUser", func(tx store.Tx) error { _, err := tx.UpdateUser(A, bu); return err }},
		{"UpdateUser without tenant", func(tx store.Tx) error { _, err := tx.UpdateUser(A, cleared(bu)); return err }},
		{"DeleteUser", func(tx store.Tx) error { return tx.DeleteUser(A, bu.ID) }},
		{"DirGroup", func(tx store.Tx) error { _, err := tx.DirGroup(A, bg.ID); return err }},
		{"DirGroupByExternalID", func(tx store.Tx) error { _, err := tx.DirGroupByExternalID(A, bg.ExternalID); return err }},
		{"UpdateDirGroup", func(tx store.Tx) error { _, err := tx.UpdateDirGroup(A, bg); return err }},
		{"UpdateDirGroup without tenant", func(tx store.Tx) error { _, err := tx.UpdateDirGroup(A, clearedG(bg)); return err }},
		{"DeleteDirGroup", func(tx store.Tx) error { return tx.DeleteDirGroup(A, bg.ID) }},
		{"CreateDirGroup with B's user", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(A, policy.DirGroup{DisplayName: "x", MemberUsers: []policy.UserID{bu.ID}})
			return err
		}},
		{"CreateDirGroup with B's group", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(A, policy.DirGroup{DisplayName: "x", MemberGroups: []policy.DirGroupID{bg.ID}})
			return err
		}},
		{"UpdateDirGroup adding B's user", func(tx store.Tx) error {
			g := ag
			g.MemberUsers = append(slices.Clone(g.MemberUsers), bu.ID)
			_, err := tx.UpdateDirGroup(A, g)
			return err
		}},
		{"CreateRule on B's group", func(tx store.Tx) error {
			_, err := tx.CreateRule(policy.Rule{Tenant: A, DirGroup: bg.ID, Group: f.lug.ID, Role: roleMember})
			return err
		}},
		{"unknown tenant: User", func(tx store.Tx) error { _, err := tx.User("nope", bu.ID); return err }},
		{"unknown tenant: Users", func(tx store.Tx) error { _, err := tx.Users("nope", store.Page{}); return err }},
		{"unknown tenant: ForEachUser", func(tx store.Tx) error {
			return tx.ForEachUser("nope", func(policy.User) error { return nil })
		}},
		{"unknown tenant: DirGroups", func(tx store.Tx) error { _, err := tx.DirGroups("nope", store.Page{}); return err }},
		{"unknown tenant: ForEachDirGroup", func(tx store.Tx) error {
			return tx.ForEachDirGroup("nope", func(policy.DirGroup) error { return nil })
		}},
		{"unknown tenant: DirGroupsByName", func(tx store.Tx) error { _, err := tx.DirGroupsByName("nope", "x"); return err }},
		{"unknown tenant: DirGroupsOf", func(tx store.Tx) error { _, err := tx.DirGroupsOf("nope", string(bu.ID)); return err }},
		{"unknown tenant: CreateDirGroup", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup("nope", policy.DirGroup{DisplayName: "x"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq := lastSeq(t, s)
			wantErr(t, tt.name, updateErr(t, s, tt.fn), store.ErrNotFound)
			if got := lastSeq(t, s); got != seq {
				t.Errorf("audit moved from %d to %d", seq, got)
			}
		})
	}

	// Writing a record of B through A is refused too.
	writes := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"CreateUser with B's tenant", func(tx store.Tx) error {
			_, err := tx.CreateUser(A, policy.User{Tenant: f.globex, UserName: "sneaky"})
			return err
		}},
		{"CreateDirGroup with B's tenant", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(A, policy.DirGroup{Tenant: f.globex, DisplayName: "sneaky"})
			return err
		}},
		{"UpdateUser moving A's user to B", func(tx store.Tx) error {
			u := au
			u.Tenant = f.globex
			_, err := tx.UpdateUser(A, u)
			return err
		}},
		{"UpdateDirGroup moving A's group to B", func(tx store.Tx) error {
			g := ag
			g.Tenant = f.globex
			_, err := tx.UpdateDirGroup(A, g)
			return err
		}},
	}
	for _, tt := range writes {
		t.Run(tt.name, func(t *testing.T) {
			seq := lastSeq(t, s)
			if err := updateErr(t, s, tt.fn); err == nil {
				t.Fatal("succeeded")
			}
			if got := lastSeq(t, s); got != seq {
				t.Errorf("audit moved from %d to %d", seq, got)
			}
		})
	}

	// Listings through A show only A.
	view(t, s, func(tx store.Tx) error {
		us, err := tx.Users(A, store.Page{})
		if err != nil || len(us) != 1 || us[0].ID != au.ID {
			t.Errorf("Users(A) = %v, %v", userIDs(us), err)
		}
		dgs, err := tx.DirGroups(A, store.Page{})
		if err != nil || len(dgs) != 1 || dgs[0].ID != ag.ID {
			t.Errorf("DirGroups(A) = %d, %v", len(dgs), err)
		}
		byName, err := tx.DirGroupsByName(A, "Globex Staff")
		if err != nil || len(byName) != 0 {
			t.Errorf("DirGroupsByName(A, B's name) = %v, %v", byName, err)
		}
		of, err := tx.DirGroupsOf(A, string(bu.ID))
		if err != nil || len(of) != 0 {
			t.Errorf("DirGroupsOf(A, B's user) = %v, %v", of, err)
		}
		// B is untouched.
		u, err := tx.User(f.globex, bu.ID)
		if err != nil || u.Version != 1 || u.UserName != bu.UserName {
			t.Errorf("B's user = %+v, %v", u, err)
		}
		g, err := tx.DirGroup(f.globex, bg.ID)
		if err != nil || g.Version != 1 || !slices.Equal(g.MemberUsers, []policy.UserID{bu.ID}) {
			t.Errorf("B's group = %+v, %v", g, err)
		}
		g, err = tx.DirGroup(A, ag.ID)
		if err != nil || g.Version != 1 || !slices.Equal(g.MemberUsers, []policy.UserID{au.ID}) {
			t.Errorf("A's group = %+v, %v", g, err)
		}
		return nil
	})
}

// ---- transactions ----

func testRollback(t *testing.T, s store.Store) {
	f := setup(t, s)
	existing := createUsers(t, s, f.acme, "existing")[0]
	dg := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "dg", MemberUsers: []policy.UserID{existing.ID}})
	update(t, s, func(tx store.Tx) error { return tx.PutRecord("ns", "keep", []byte("v1")) })
	seq := lastSeq(t, s)
	delivered := 0
	cancel := s.Subscribe(func([]policy.Change) { delivered++ })
	defer cancel()

	boom := errors.New("boom")
	err := s.Update(context.Background(), actor, func(tx store.Tx) error {
		u, err := tx.CreateUser(f.acme, policy.User{UserName: "ghost", ExternalID: "ghost-ext"})
		if err != nil {
			return err
		}
		g, err := tx.DirGroup(f.acme, dg.ID)
		if err != nil {
			return err
		}
		g.MemberUsers = append(g.MemberUsers, u.ID)
		g.DisplayName = "renamed"
		if _, err := tx.UpdateDirGroup(f.acme, g); err != nil {
			return err
		}
		if _, err := tx.CreateDirGroup(f.acme, policy.DirGroup{DisplayName: "ghosts", ExternalID: "gh"}); err != nil {
			return err
		}
		if _, err := tx.AddMembership(policy.Membership{User: u.ID, Group: f.lug.ID, Role: roleMember}); err != nil {
			return err
		}
		if _, err := tx.CreateGroup(policy.Group{Slug: "ghost-group", Name: "x", Kind: policy.GroupLocal}); err != nil {
			return err
		}
		if err := tx.DeleteUser(f.acme, existing.ID); err != nil {
			return err
		}
		if err := tx.PutRecord("ns", "keep", []byte("v2")); err != nil {
			return err
		}
		if err := tx.PutRecord("ns", "new", []byte("x")); err != nil {
			return err
		}
		if err := tx.Record(f.acme, policy.OpCreate, "evt", map[string]string{"a": "b"}); err != nil {
			return err
		}
		return fmt.Errorf("failing on purpose: %w", boom)
	})
	wantErr(t, "failing Update", err, boom)
	if delivered != 0 {
		t.Errorf("a rolled-back Update delivered %d batches", delivered)
	}
	if got := lastSeq(t, s); got != seq {
		t.Errorf("audit moved from %d to %d after rollback", seq, got)
	}
	view(t, s, func(tx store.Tx) error {
		_, err := tx.UserByUserName(f.acme, "ghost")
		wantErr(t, "rolled-back user", err, store.ErrNotFound)
		_, err = tx.UserByExternalID(f.acme, "ghost-ext")
		wantErr(t, "rolled-back externalId", err, store.ErrNotFound)
		if _, err := tx.User(f.acme, existing.ID); err != nil {
			t.Errorf("rolled-back delete: %v", err)
		}
		g, err := tx.DirGroup(f.acme, dg.ID)
		if err != nil || g.Version != 1 || g.DisplayName != "dg" || len(g.MemberUsers) != 1 {
			t.Errorf("rolled-back group update = %+v, %v", g, err)
		}
		byName, err := tx.DirGroupsByName(f.acme, "renamed")
		if err != nil || len(byName) != 0 {
			t.Errorf("rolled-back name index = %v, %v", byName, err)
		}
		of, err := tx.DirGroupsOf(f.acme, string(existing.ID))
		if err != nil || len(of) != 1 {
			t.Errorf("rolled-back reverse index = %v, %v", of, err)
		}
		_, err = tx.DirGroupByExternalID(f.acme, "gh")
		wantErr(t, "rolled-back group externalId", err, store.ErrNotFound)
		_, err = tx.GroupBySlug("ghost-group")
		wantErr(t, "rolled-back slug", err, store.ErrNotFound)
		ms, err := tx.Memberships()
		if err != nil || len(ms) != 0 {
			t.Errorf("rolled-back memberships = %v, %v", ms, err)
		}
		v, err := tx.GetRecord("ns", "keep")
		if err != nil || string(v) != "v1" {
			t.Errorf("rolled-back record = %q, %v", v, err)
		}
		_, err = tx.GetRecord("ns", "new")
		wantErr(t, "rolled-back new record", err, store.ErrNotFound)
		n, err := tx.CountUsers(f.acme)
		if err != nil || n != 1 {
			t.Errorf("CountUsers after rollback = %d, %v", n, err)
		}
		return nil
	})
	// The unique keys the failed transaction used are free.
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.CreateUser(f.acme, policy.User{UserName: "GHOST", ExternalID: "ghost-ext"}); err != nil {
			return err
		}
		_, err := tx.CreateGroup(policy.Group{Slug: "ghost-group", Name: "x", Kind: policy.GroupLocal})
		return err
	})
	// A panic-free error from a Tx method inside fn, ignored by fn, does
	// not poison the transaction.
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.CreateUser(f.acme, user("ghost")); !errors.Is(err, store.ErrExists) {
			t.Errorf("duplicate inside Update: %v", err)
		}
		_, err := tx.CreateUser(f.acme, user("after-error"))
		return err
	})
	view(t, s, func(tx store.Tx) error {
		_, err := tx.UserByUserName(f.acme, "after-error")
		return err
	})
}

func testAudit(t *testing.T, s store.Store) {
	f := setup(t, s)
	seq := lastSeq(t, s)
	var u policy.User
	err := s.Update(context.Background(), "scim:acme", func(tx store.Tx) error {
		var err error
		u, err = tx.CreateUser(f.acme, user("audited"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	u2 := u
	u2.DisplayName = "Audited User"
	update(t, s, func(tx store.Tx) error { _, err := tx.UpdateUser(f.acme, u2); return err })
	update(t, s, func(tx store.Tx) error {
		return tx.Record(f.acme, policy.OpCreate, "scim-token-1", map[string]any{"what": "scim token created"})
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteUser(f.acme, u.ID) })

	cs := auditAfter(t, s, seq)
	if len(cs) != 4 {
		t.Fatalf("got %d audit entries, want 4: %v", len(cs), summary(cs))
	}
	type rec struct {
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
		Version     uint64 `json:"version"`
	}
	dec := func(raw json.RawMessage) rec {
		var r rec
		if raw != nil {
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Errorf("audit JSON %s: %v", raw, err)
			}
		}
		return r
	}
	tests := []struct {
		kind          policy.Kind
		op            policy.Op
		actor         string
		before, after *rec
	}{
		{policy.KindUser, policy.OpCreate, "scim:acme", nil, &rec{"audited", "", 1}},
		{policy.KindUser, policy.OpUpdate, actor, &rec{"audited", "", 1}, &rec{"audited", "Audited User", 2}},
		{policy.KindEvent, policy.OpCreate, actor, nil, nil},
		{policy.KindUser, policy.OpDelete, actor, &rec{"audited", "Audited User", 2}, nil},
	}
	for i, tt := range tests {
		c := cs[i]
		if c.Kind != tt.kind || c.Op != tt.op || c.Actor != tt.actor || c.Tenant != f.acme || c.Time.IsZero() {
			t.Errorf("entry %d = %+v, want %s/%s by %s in %s", i, c, tt.kind, tt.op, tt.actor, f.acme)
		}
		if i > 0 && c.Seq <= cs[i-1].Seq {
			t.Errorf("Seq not increasing: %d after %d", c.Seq, cs[i-1].Seq)
		}
		if (c.Before == nil) != (tt.before == nil) {
			t.Errorf("entry %d Before = %s", i, c.Before)
		} else if tt.before != nil && dec(c.Before) != *tt.before {
			t.Errorf("entry %d Before = %s, want %+v", i, c.Before, *tt.before)
		}
		if tt.kind == policy.KindEvent {
			if !bytes.Contains(c.After, []byte("scim token created")) || c.ID != "scim-token-1" {
				t.Errorf("event entry = %+v", c)
			}
			continue
		}
		if c.ID != string(u.ID) {
			t.Errorf("entry %d ID = %q, want %q", i, c.ID, u.ID)
		}
		if (c.After == nil) != (tt.after == nil) {
			t.Errorf("entry %d After = %s", i, c.After)
		} else if tt.after != nil && dec(c.After) != *tt.after {
			t.Errorf("entry %d After = %s, want %+v", i, c.After, *tt.after)
		}
	}

	// Paging.
	view(t, s, func(tx store.Tx) error {
		all, err := tx.Audit(0, 0)
		if err != nil {
			return err
		}
		for i := 1; i < len(all); i++ {
			if all[i].Seq <= all[i-1].Seq {
				t.Fatalf("Audit not ordered at %d", i)
			}
		}
		var paged []policy.Change
		after := uint64(0)
		for {
			page, err := tx.Audit(after, 3)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			if len(page) > 3 {
				t.Fatalf("Audit page of %d with limit 3", len(page))
			}
			paged = append(paged, page...)
			after = page[len(page)-1].Seq
		}
		if !slices.Equal(summary(paged), summary(all)) {
			t.Errorf("paged audit differs from full audit")
		}
		tail, err := tx.Audit(all[len(all)-1].Seq, 0)
		if err != nil || len(tail) != 0 {
			t.Errorf("Audit(after last) = %v, %v", tail, err)
		}
		two, err := tx.Audit(all[len(all)-3].Seq, 0)
		if err != nil || len(two) != 2 || two[0].Seq != all[len(all)-2].Seq {
			t.Errorf("Audit(after third-last) = %v, %v", summary(two), err)
		}
		return nil
	})
}

func testSubscribe(t *testing.T, s store.Store) {
	f := setup(t, s)
	var mu sync.Mutex
	var batches [][]policy.Change
	cancel := s.Subscribe(func(cs []policy.Change) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, slices.Clone(cs))
	})
	var second [][]policy.Change
	cancel2 := s.Subscribe(func(cs []policy.Change) { second = append(second, cs) })
	seq := lastSeq(t, s)

	update(t, s, func(tx store.Tx) error {
		_, err := tx.CreateUser(f.acme, user("s1"))
		if err != nil {
			return err
		}
		_, err = tx.CreateUser(f.acme, user("s2"))
		return err
	})
	// Delivered before Update returned.
	mu.Lock()
	n := len(batches)
	mu.Unlock()
	if n != 1 || len(batches[0]) != 2 {
		t.Fatalf("after one Update: %d batches (%v)", n, batches)
	}
	// A read-only or empty Update delivers nothing.
	update(t, s, func(tx store.Tx) error { _, err := tx.Tenants(); return err })
	update(t, s, func(tx store.Tx) error { return tx.PutRecord("ns", "k", []byte("v")) })
	_ = s.Update(context.Background(), actor, func(tx store.Tx) error {
		if _, err := tx.CreateUser(f.acme, user("rolled-back")); err != nil {
			return err
		}
		return errors.New("no")
	})
	update(t, s, func(tx store.Tx) error { _, err := tx.CreateUser(f.acme, user("s3")); return err })
	cancel2()
	update(t, s, func(tx store.Tx) error { _, err := tx.CreateUser(f.acme, user("s4")); return err })
	cancel()
	update(t, s, func(tx store.Tx) error { _, err := tx.CreateUser(f.acme, user("s5")); return err })

	if len(batches) != 3 || len(second) != 2 {
		t.Fatalf("got %d and %d batches, want 3 and 2", len(batches), len(second))
	}
	var flat []policy.Change
	for _, b := range batches {
		flat = append(flat, b...)
	}
	// The feed equals the audit log (minus the last, unsubscribed, batch).
	want := auditAfter(t, s, seq)
	want = want[:len(want)-1]
	if !slices.Equal(summary(flat), summary(want)) {
		t.Errorf("delivered %v, audit has %v", summary(flat), summary(want))
	}
	for i := range flat {
		if flat[i].Seq != want[i].Seq || !bytes.Equal(flat[i].After, want[i].After) {
			t.Errorf("delivered entry %d = seq %d, audit seq %d", i, flat[i].Seq, want[i].Seq)
		}
	}
}

func testRecords(t *testing.T, s store.Store) {
	seq := lastSeq(t, s)
	update(t, s, func(tx store.Tx) error {
		for _, kv := range []struct{ ns, k, v string }{
			{"oidc.keys", "k2", "two"},
			{"oidc.keys", "k1", "one"},
			{"oidc.keys", "x1", "other"},
			{"oidc.codes", "k1", "code"},
			{"empty", "e", ""},
		} {
			if err := tx.PutRecord(kv.ns, kv.k, []byte(kv.v)); err != nil {
				return err
			}
		}
		return tx.PutRecord("oidc.keys", "k2", []byte("TWO"))
	})
	if got := lastSeq(t, s); got != seq {
		t.Errorf("records were audited (%d → %d)", seq, got)
	}
	view(t, s, func(tx store.Tx) error {
		tests := []struct {
			ns, k, want string
			err         error
		}{
			{"oidc.keys", "k1", "one", nil},
			{"oidc.keys", "k2", "TWO", nil},
			{"oidc.codes", "k1", "code", nil},
			{"empty", "e", "", nil},
			{"oidc.codes", "k2", "", store.ErrNotFound},
			{"nope", "k1", "", store.ErrNotFound},
		}
		for _, tt := range tests {
			v, err := tx.GetRecord(tt.ns, tt.k)
			if tt.err != nil {
				wantErr(t, "GetRecord "+tt.ns+"/"+tt.k, err, tt.err)
				continue
			}
			if err != nil || string(v) != tt.want {
				t.Errorf("GetRecord(%s, %s) = %q, %v; want %q", tt.ns, tt.k, v, err, tt.want)
			}
		}
		var keys []string
		err := tx.ScanRecords("oidc.keys", "k", func(k string, v []byte) error {
			keys = append(keys, k+"="+string(v))
			return nil
		})
		if err != nil || !slices.Equal(keys, []string{"k1=one", "k2=TWO"}) {
			t.Errorf("ScanRecords(prefix k) = %v, %v", keys, err)
		}
		keys = nil
		_ = tx.ScanRecords("oidc.keys", "", func(k string, _ []byte) error { keys = append(keys, k); return nil })
		if !slices.Equal(keys, []string{"k1", "k2", "x1"}) {
			t.Errorf("ScanRecords(all) = %v", keys)
		}
		stop := errors.New("stop")
		n := 0
		err = tx.ScanRecords("oidc.keys", "", func(string, []byte) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("ScanRecords stop: n=%d err=%v", n, err)
		}
		if err := tx.ScanRecords("nope", "", func(string, []byte) error { t.Error("called"); return nil }); err != nil {
			t.Errorf("ScanRecords(unknown ns) = %v", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteRecord("oidc.keys", "k1") })
	wantErr(t, "DeleteRecord twice", updateErr(t, s, func(tx store.Tx) error { return tx.DeleteRecord("oidc.keys", "k1") }), store.ErrNotFound)
	view(t, s, func(tx store.Tx) error {
		_, err := tx.GetRecord("oidc.keys", "k1")
		wantErr(t, "GetRecord after delete", err, store.ErrNotFound)
		v, err := tx.GetRecord("oidc.codes", "k1")
		if err != nil || string(v) != "code" {
			t.Errorf("other namespace touched: %q, %v", v, err)
		}
		return nil
	})
}

func testReadOnlyView(t *testing.T, s store.Store) {
	f := setup(t, s)
	u := createUsers(t, s, f.acme, "ro")[0]
	seq := lastSeq(t, s)
	writes := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"PutTenant", func(tx store.Tx) error { return tx.PutTenant(policy.Tenant{ID: "x"}) }},
		{"CreateUser", func(tx store.Tx) error { _, err := tx.CreateUser(f.acme, user("x")); return err }},
		{"UpdateUser", func(tx store.Tx) error { _, err := tx.UpdateUser(f.acme, u); return err }},
		{"DeleteUser", func(tx store.Tx) error { return tx.DeleteUser(f.acme, u.ID) }},
		{"CreateDirGroup", func(tx store.Tx) error {
			_, err := tx.CreateDirGroup(f.acme, policy.DirGroup{DisplayName: "x"})
			return err
		}},
		{"CreateGroup", func(tx store.Tx) error {
			_, err := tx.CreateGroup(policy.Group{Slug: "x", Name: "x", Kind: policy.GroupLocal})
			return err
		}},
		{"UpdateGroup", func(tx store.Tx) error { _, err := tx.UpdateGroup(f.isug); return err }},
		{"DeleteGroup", func(tx store.Tx) error { return tx.DeleteGroup(f.lug.ID) }},
		{"PutRole", func(tx store.Tx) error { _, err := tx.PutRole(policy.Role{Name: "x"}); return err }},
		{"DeleteRole", func(tx store.Tx) error { return tx.DeleteRole(roleMember) }},
		{"AddMembership", func(tx store.Tx) error {
			_, err := tx.AddMembership(policy.Membership{User: u.ID, Group: f.lug.ID, Role: roleMember})
			return err
		}},
		{"PutRecord", func(tx store.Tx) error { return tx.PutRecord("ns", "k", nil) }},
		{"Record", func(tx store.Tx) error { return tx.Record("", policy.OpCreate, "x", nil) }},
	}
	for _, tt := range writes {
		t.Run(tt.name, func(t *testing.T) {
			var inner error
			_ = s.View(context.Background(), func(tx store.Tx) error { inner = tt.fn(tx); return nil })
			if inner == nil {
				t.Errorf("%s inside View succeeded", tt.name)
			}
		})
	}
	if got := lastSeq(t, s); got != seq {
		t.Errorf("writes inside View reached the audit log")
	}
	if _, err := getUser(t, s, f.acme, u.ID); err != nil {
		t.Errorf("user after View writes: %v", err)
	}
}

func testCopies(t *testing.T, s store.Store) {
	f := setup(t, s)
	u := createUsers(t, s, f.acme, "copy")[0]
	update(t, s, func(tx store.Tx) error { return tx.PutRecord("ns", "k", []byte("first")) })
	var rec []byte
	var got policy.User
	var scanned []byte
	view(t, s, func(tx store.Tx) error {
		var err error
		if rec, err = tx.GetRecord("ns", "k"); err != nil {
			return err
		}
		if err := tx.ScanRecords("ns", "", func(_ string, v []byte) error { scanned = v; return nil }); err != nil {
			return err
		}
		got, err = tx.User(f.acme, u.ID)
		return err
	})
	// Write a lot so that pages move, then check the old values.
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutRecord("ns", "k", []byte("second")); err != nil {
			return err
		}
		for i := 0; i < 200; i++ {
			if err := tx.PutRecord("ns", fmt.Sprintf("fill%03d", i), bytes.Repeat([]byte{'x'}, 200)); err != nil {
				return err
			}
		}
		return nil
	})
	if string(rec) != "first" || string(scanned) != "first" || got.UserName != "copy" {
		t.Errorf("values changed after their transaction: %q %q %q", rec, scanned, got.UserName)
	}
}

func testContext(t *testing.T, s store.Store) {
	f := setup(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := s.Update(ctx, actor, func(tx store.Tx) error {
		called = true
		_, err := tx.CreateUser(f.acme, user("late"))
		return err
	})
	if err == nil {
		t.Fatal("Update with a cancelled context succeeded")
	}
	_ = called // a backend may refuse before or inside fn
	if err := s.View(ctx, func(store.Tx) error { return nil }); err == nil {
		t.Error("View with a cancelled context succeeded")
	}
	view(t, s, func(tx store.Tx) error {
		_, err := tx.UserByUserName(f.acme, "late")
		wantErr(t, "user written under a cancelled context", err, store.ErrNotFound)
		return nil
	})
	// Cancelled during fn: nothing is kept.
	ctx2, cancel2 := context.WithCancel(context.Background())
	err = s.Update(ctx2, actor, func(tx store.Tx) error {
		if _, err := tx.CreateUser(f.acme, user("mid")); err != nil {
			return err
		}
		cancel2()
		return nil
	})
	if err == nil {
		t.Error("Update whose context was cancelled during fn committed")
	}
	view(t, s, func(tx store.Tx) error {
		_, err := tx.UserByUserName(f.acme, "mid")
		wantErr(t, "user of a cancelled Update", err, store.ErrNotFound)
		return nil
	})
}

func testBackup(t *testing.T, s store.Store) {
	f := setup(t, s)
	createUsers(t, s, f.acme, "b1", "b2")
	var buf bytes.Buffer
	n, err := s.Backup(context.Background(), &buf)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if n <= 0 || n != int64(buf.Len()) {
		t.Errorf("Backup reported %d bytes, wrote %d", n, buf.Len())
	}
	// The store stays usable.
	createUsers(t, s, f.acme, "b3")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Backup(ctx, &bytes.Buffer{}); err == nil {
		t.Error("Backup with a cancelled context succeeded")
	}
}

func testClose(t *testing.T, s store.Store) {
	setup(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	wantErr(t, "View after Close", s.View(context.Background(), func(store.Tx) error { return nil }), store.ErrClosed)
	wantErr(t, "Update after Close", s.Update(context.Background(), actor, func(store.Tx) error { return nil }), store.ErrClosed)
	_, err := s.Backup(context.Background(), &bytes.Buffer{})
	wantErr(t, "Backup after Close", err, store.ErrClosed)
}

func testConcurrency(t *testing.T, s store.Store) {
	f := setup(t, s)
	shared := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "shared"})
	const workers, perWorker = 6, 15

	var mu sync.Mutex
	var seqs []uint64
	cancel := s.Subscribe(func(cs []policy.Change) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			seqs = append(seqs, c.Seq)
		}
	})
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*2)
	for w := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				err := s.Update(context.Background(), fmt.Sprintf("worker%d", w), func(tx store.Tx) error {
					u, err := tx.CreateUser(f.acme, user(fmt.Sprintf("w%d-u%d", w, i)))
					if err != nil {
						return err
					}
					g, err := tx.DirGroup(f.acme, shared.ID)
					if err != nil {
						return err
					}
					g.MemberUsers = append(g.MemberUsers, u.ID)
					_, err = tx.UpdateDirGroup(f.acme, g)
					return err
				})
				if err != nil {
					errs <- err
				}
			}
		}()
		go func() { // a reader alongside
			defer wg.Done()
			for range perWorker {
				err := s.View(context.Background(), func(tx store.Tx) error {
					g, err := tx.DirGroup(f.acme, shared.ID)
					if err != nil {
						return err
					}
					n, err := tx.CountUsers(f.acme)
					if err != nil {
						return err
					}
					// Every committed user joined the group in its transaction.
					if n != len(g.MemberUsers) {
						return fmt.Errorf("snapshot has %d users but %d members", n, len(g.MemberUsers))
					}
					return nil
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	g, err := getDirGroup(t, s, f.acme, shared.ID)
	if err != nil || len(g.MemberUsers) != workers*perWorker || g.Version != 1+workers*perWorker {
		t.Errorf("shared group: %d members, version %d, %v", len(g.MemberUsers), g.Version, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seqs) != 2*workers*perWorker {
		t.Errorf("delivered %d changes, want %d", len(seqs), 2*workers*perWorker)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("delivery out of order: seq %d after %d", seqs[i], seqs[i-1])
		}
	}
}
