package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// testBulkCreate: store.CreateUsers (a backend's store.BulkTx, or the
// fallback of one CreateUser each) writes what as many CreateUser calls
// would — records, indexes, one audit entry per user in order (or one
// naming them, policy.OpCreateBatch, from a store.BulkTx), every user in
// the change feed — and a
// refused user stops the batch after the users before it, with a
// *store.BulkError naming it and wrapping CreateUser's error.
func testBulkCreate(t *testing.T, s store.Store) {
	f := setup(t, s)
	withMail := func(name, ext string) policy.User {
		u := user(name)
		u.ExternalID = ext
		u.Emails = []policy.Email{{Value: name + "@example.com", Type: "work", Primary: true}}
		u.Attributes = map[string]any{"ldapDN": "uid=" + name + ",dc=example"}
		return u
	}
	seq := lastSeq(t, s)
	var made []policy.User
	var fed []policy.Change
	cancel := s.Subscribe(func(cs []policy.Change) { fed = append(fed, cs...) })
	update(t, s, func(tx store.Tx) error {
		var err error
		made, err = store.CreateUsers(tx, f.acme, []policy.User{withMail("zoe", "e-3"), withMail("adam", "e-1"), withMail("mia", "e-2")})
		return err
	})
	cancel()
	if len(made) != 3 {
		t.Fatalf("CreateUsers returned %d users, want 3", len(made))
	}
	for i, name := range []string{"zoe", "adam", "mia"} {
		u := made[i]
		if u.UserName != name || u.ID == "" || u.Version != 1 || u.Tenant != f.acme || u.Created.IsZero() {
			t.Fatalf("user %d as returned: %+v", i, u)
		}
	}
	view(t, s, func(tx store.Tx) error {
		for _, want := range made {
			for what, get := range map[string]func() (policy.User, error){
				"User":             func() (policy.User, error) { return tx.User(f.acme, want.ID) },
				"UserByUserName":   func() (policy.User, error) { return tx.UserByUserName(f.acme, want.UserName) },
				"UserByExternalID": func() (policy.User, error) { return tx.UserByExternalID(f.acme, want.ExternalID) },
			} {
				got, err := get()
				if err != nil {
					t.Fatalf("%s(%s): %v", what, want.UserName, err)
				}
				if got.ID != want.ID || got.Attributes["ldapDN"] != want.Attributes["ldapDN"] || len(got.Emails) != 1 {
					t.Fatalf("%s(%s) = %+v, want %+v", what, want.UserName, got, want)
				}
			}
			if et, ok := tx.(store.EmailTx); ok {
				got, err := et.UsersByEmail(f.acme, want.UserName+"@EXAMPLE.com")
				if err != nil || len(got) != 1 || got[0].ID != want.ID {
					t.Fatalf("UsersByEmail(%s) = %v, %v", want.UserName, userIDs(got), err)
				}
			}
		}
		if _, err := tx.User(f.globex, made[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another tenant's user: %v, want ErrNotFound", err)
		}
		return nil
	})
	ids := make([]string, len(made))
	for i, u := range made {
		ids[i] = string(u.ID)
	}
	checkUser := func(what string, i int, c policy.Change) {
		var after policy.User
		if err := json.Unmarshal(c.After, &after); err != nil {
			t.Fatalf("%s %d: %v", what, i, err)
		}
		if c.Kind != policy.KindUser || c.Op != policy.OpCreate || c.ID != string(made[i].ID) || after.UserName != made[i].UserName {
			t.Fatalf("%s %d = %s %s %s (%s), want the create of %s", what, i, c.Kind, c.Op, c.ID, after.UserName, made[i].UserName)
		}
	}
	checkCreated(t, s, auditAfter(t, s, seq), policy.KindUser, ids, func(i int, c policy.Change) { checkUser("audit entry", i, c) })
	// The change feed carries every record, whatever the log keeps.
	if len(fed) != len(made) {
		t.Fatalf("change feed: %v, want one create per user", summary(fed))
	}
	for i, c := range fed {
		checkUser("change", i, c)
	}

	// Ids the caller chose (an LDAP first load chooses them before it
	// writes) are kept, in any order.
	given := []policy.User{withMail("given1", "g-10"), withMail("given2", "g-11"), withMail("given3", "g-12")}
	for i, id := range []string{uuid.NewString(), uuid.NewString(), uuid.NewString()} {
		given[len(given)-1-i].ID = policy.UserID(id)
	}
	update(t, s, func(tx store.Tx) error {
		out, err := store.CreateUsers(tx, f.acme, given)
		if err != nil {
			return err
		}
		for i, u := range out {
			if got, err := tx.UserByUserName(f.acme, given[i].UserName); u.ID != given[i].ID || err != nil || got.ID != given[i].ID {
				t.Fatalf("user %d: created %s, stored %s (%v); want the id given, %s", i, u.ID, got.ID, err, given[i].ID)
			}
		}
		for _, u := range out {
			if err := tx.DeleteUser(f.acme, u.ID); err != nil {
				return err
			}
		}
		return nil
	})

	// Refusals: the batch stops at the refused user, the users before it
	// are written when the caller commits.
	taken := withMail("newbie", "e-9")
	taken.ID = made[0].ID
	twice := []policy.User{withMail("ok1", "x-1"), withMail("ok2", "x-2")}
	twice[0].ID, twice[1].ID = policy.UserID(uuid.NewString()), policy.UserID(uuid.NewString())
	twice = append(twice, twice[0])
	twice[2].UserName, twice[2].ExternalID = "ok3", "x-3"
	var dgID policy.UserID
	update(t, s, func(tx store.Tx) error {
		g, err := tx.CreateDirGroup(f.acme, policy.DirGroup{DisplayName: "Holder", Source: "ldap:corp"})
		dgID = policy.UserID(g.ID)
		return err
	})
	dgTaken := withMail("newbie", "e-9")
	dgTaken.ID = dgID
	badTenant := withMail("other", "e-8")
	badTenant.Tenant = f.globex
	for _, tt := range []struct {
		name  string
		batch []policy.User
		index int
		want  error
	}{
		{"userName taken in the store", []policy.User{withMail("ok1", "x-1"), withMail("ADAM", "x-2")}, 1, store.ErrExists},
		{"userName twice in the batch", []policy.User{withMail("ok1", "x-1"), withMail("ok2", "x-2"), withMail("Ok1", "x-3")}, 2, store.ErrExists},
		{"externalId taken", []policy.User{withMail("ok1", "e-2")}, 0, store.ErrExists},
		{"externalId twice in the batch", []policy.User{withMail("ok1", "x-1"), withMail("ok2", "x-1")}, 1, store.ErrExists},
		{"id taken", []policy.User{withMail("ok1", "x-1"), taken}, 1, store.ErrExists},
		{"id of a directory group", []policy.User{withMail("ok1", "x-1"), dgTaken}, 1, store.ErrExists},
		{"id twice in the batch", twice, 2, store.ErrExists},
		{"invalid", []policy.User{withMail("ok1", "x-1"), withMail("ok2", "x-2"), {Active: true, Source: "scim:test"}}, 2, policy.ErrInvalid},
		{"another tenant's", []policy.User{withMail("ok1", "x-1"), badTenant, withMail("ok2", "x-2")}, 1, policy.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := createRefused(t, s, tt.index, tt.want, func(tx store.Tx) ([]policy.User, error) {
				return store.CreateUsers(tx, f.acme, tt.batch)
			})
			view(t, s, func(tx store.Tx) error {
				for i, u := range tt.batch {
					got, err := tx.UserByUserName(f.acme, u.UserName)
					switch {
					case i < tt.index && (err != nil || got.ID != out[i].ID):
						t.Errorf("user %d (%s) before the refused one: %v", i, u.UserName, err)
					case i > tt.index && err == nil:
						t.Errorf("user %d (%s) after the refused one was written", i, u.UserName)
					}
				}
				return nil
			})
			// Clean up for the next case.
			update(t, s, func(tx store.Tx) error {
				for _, u := range out {
					if err := tx.DeleteUser(f.acme, u.ID); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}

	// Rolled back with the transaction like any write.
	err := s.Update(t.Context(), actor, func(tx store.Tx) error {
		if _, err := store.CreateUsers(tx, f.acme, []policy.User{withMail("gone1", "g-1"), withMail("gone2", "g-2")}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update: %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.UserByUserName(f.acme, "gone1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("user of a rolled-back bulk write: %v", err)
		}
		return nil
	})
}

var errRollback = errors.New("storetest: roll back")

// testBulkCreateDirGroups: store.CreateDirGroups writes what as many
// CreateDirGroup calls would — records, member lists in order, the reverse
// index, one audit entry per group (or one naming them) — lets a group list a group created
// before it in the same call, and stops at a refused group with a
// *store.BulkError.
func testBulkCreateDirGroups(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "ann", "ben", "cat")
	other := createUsers(t, s, f.globex, "gus")
	ann, ben, cat := us[0].ID, us[1].ID, us[2].ID
	id := func() policy.DirGroupID { return policy.DirGroupID(uuid.NewString()) }
	g1, g2 := id(), id()
	seq := lastSeq(t, s)
	var made []policy.DirGroup
	update(t, s, func(tx store.Tx) error {
		var err error
		made, err = store.CreateDirGroups(tx, f.acme, []policy.DirGroup{
			{ID: g1, DisplayName: "Ops", ExternalID: "x-1", Source: "ldap:corp", MemberUsers: []policy.UserID{cat, ann, cat}},
			{ID: g2, DisplayName: "All", ExternalID: "x-2", Source: "ldap:corp", MemberUsers: []policy.UserID{ben}, MemberGroups: []policy.DirGroupID{g1}},
			{DisplayName: "Empty", Source: "ldap:corp"},
		})
		return err
	})
	if len(made) != 3 || made[0].ID != g1 || made[2].ID == "" || made[2].Version != 1 || made[1].Tenant != f.acme {
		t.Fatalf("CreateDirGroups returned %+v", made)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.DirGroup(f.acme, g1)
		if err != nil || !slices.Equal(got.MemberUsers, []policy.UserID{cat, ann}) {
			t.Fatalf("Ops = %+v, %v; want members cat, ann in that order", got, err)
		}
		got, err = tx.DirGroupByExternalID(f.acme, "x-2")
		if err != nil || got.ID != g2 || !slices.Equal(got.MemberUsers, []policy.UserID{ben}) || !slices.Equal(got.MemberGroups, []policy.DirGroupID{g1}) {
			t.Fatalf("All = %+v, %v", got, err)
		}
		if byName, err := tx.DirGroupsByName(f.acme, "empty"); err != nil || len(byName) != 1 || byName[0].ID != made[2].ID {
			t.Fatalf("DirGroupsByName(empty) = %+v, %v", byName, err)
		}
		for member, want := range map[string][]policy.DirGroupID{string(ann): {g1}, string(ben): {g2}, string(g1): {g2}, string(g2): nil} {
			got, err := tx.DirGroupsOf(f.acme, member)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("DirGroupsOf(%s) = %v, %v; want %v", member, got, err, want)
			}
		}
		return nil
	})
	ids := make([]string, len(made))
	for i, g := range made {
		ids[i] = string(g.ID)
	}
	checkCreated(t, s, auditAfter(t, s, seq), policy.KindDirGroup, ids, func(i int, c policy.Change) {
		var after policy.DirGroup
		if err := json.Unmarshal(c.After, &after); err != nil {
			t.Fatalf("audit entry %d: %v", i, err)
		}
		if c.Kind != policy.KindDirGroup || c.Op != policy.OpCreate || c.ID != string(made[i].ID) ||
			after.DisplayName != made[i].DisplayName || len(after.MemberUsers) != len(made[i].MemberUsers) {
			t.Fatalf("audit entry %d = %s %s %s %+v, want the create of %s", i, c.Kind, c.Op, c.ID, after, made[i].DisplayName)
		}
	})

	later := id()
	for _, tt := range []struct {
		name  string
		batch []policy.DirGroup
		index int
		want  error
	}{
		{"externalId taken in the store", []policy.DirGroup{{DisplayName: "a", ExternalID: "y-1"}, {DisplayName: "b", ExternalID: "x-1"}}, 1, store.ErrExists},
		{"externalId twice in the batch", []policy.DirGroup{{DisplayName: "a", ExternalID: "y-1"}, {DisplayName: "b", ExternalID: "y-1"}}, 1, store.ErrExists},
		{"id taken", []policy.DirGroup{{DisplayName: "a"}, {ID: g1, DisplayName: "b"}}, 1, store.ErrExists},
		{"id of a user", []policy.DirGroup{{ID: policy.DirGroupID(ann), DisplayName: "a"}}, 0, store.ErrExists},
		{"unknown member user", []policy.DirGroup{{DisplayName: "a", MemberUsers: []policy.UserID{ann}}, {DisplayName: "b", MemberUsers: []policy.UserID{ben, "nobody"}}}, 1, store.ErrNotFound},
		{"member user of another tenant", []policy.DirGroup{{DisplayName: "a", MemberUsers: []policy.UserID{other[0].ID}}}, 0, store.ErrNotFound},
		{"member group created later", []policy.DirGroup{{DisplayName: "a", MemberGroups: []policy.DirGroupID{later}}, {ID: later, DisplayName: "b"}}, 0, store.ErrNotFound},
		{"invalid", []policy.DirGroup{{DisplayName: "a"}, {DisplayName: " "}}, 1, policy.ErrInvalid},
		{"contains itself", []policy.DirGroup{{ID: later, DisplayName: "a", MemberGroups: []policy.DirGroupID{later}}}, 0, policy.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := createRefused(t, s, tt.index, tt.want, func(tx store.Tx) ([]policy.DirGroup, error) {
				return store.CreateDirGroups(tx, f.acme, tt.batch)
			})
			update(t, s, func(tx store.Tx) error {
				for _, g := range tt.batch[tt.index+1:] {
					if n, err := tx.DirGroupsByName(f.acme, g.DisplayName); err != nil || len(n) > 0 {
						t.Errorf("group %q after the refused one: %+v, %v", g.DisplayName, n, err)
					}
				}
				for _, g := range out {
					if err := tx.DeleteDirGroup(f.acme, g.ID); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// createRefused runs a batch holding one refused record through create,
// committing what it wrote, and checks the outcome: a BulkError at index
// wrapping want, the records before it returned and audited, nothing
// more. It returns the records written.
func createRefused[T any](t *testing.T, s store.Store, index int, want error, create func(store.Tx) ([]T, error)) []T {
	t.Helper()
	seq := lastSeq(t, s)
	var out []T
	var bulkErr error
	update(t, s, func(tx store.Tx) error {
		out, bulkErr = create(tx)
		return nil // commit what was written
	})
	be, ok := store.AsBulkError(bulkErr)
	if !ok || be.Index != index || !errors.Is(bulkErr, want) {
		t.Fatalf("error %v, want a BulkError at %d wrapping %v", bulkErr, index, want)
	}
	if len(out) != index {
		t.Fatalf("returned %d records, want the %d before the refused one", len(out), index)
	}
	if cs := auditAfter(t, s, seq); len(cs) != index && (!bulk(t, s) || len(cs) != min(index, 1) || len(cs) == 1 && len(cs[0].BatchIDs()) != index) {
		t.Fatalf("%d audit entries, want %d (or one naming them, from a store.BulkTx): %v", len(cs), index, summary(cs))
	}
	return out
}

// bulk reports whether the transactions of s implement store.BulkTx.
func bulk(t *testing.T, s store.Store) bool {
	t.Helper()
	var ok bool
	view(t, s, func(tx store.Tx) error {
		_, ok = tx.(store.BulkTx)
		return nil
	})
	return ok
}

// checkCreated checks that the audit entries cs record the creation of
// the records ids of kind, in order: one policy.OpCreate entry each,
// which check inspects, or, from a backend with store.BulkTx, one
// policy.OpCreateBatch entry naming them.
func checkCreated(t *testing.T, s store.Store, cs []policy.Change, kind policy.Kind, ids []string, check func(i int, c policy.Change)) {
	t.Helper()
	if bulk(t, s) {
		if len(cs) != 1 || cs[0].Kind != kind || cs[0].Op != policy.OpCreateBatch || cs[0].ID != "" || !slices.Equal(cs[0].BatchIDs(), ids) {
			t.Fatalf("audit entries %v, want one %s entry naming %v", summary(cs), policy.OpCreateBatch, ids)
		}
		return
	}
	if len(cs) != len(ids) {
		t.Fatalf("got %d audit entries, want one per record: %v", len(cs), summary(cs))
	}
	for i, c := range cs {
		check(i, c)
	}
}

// testBulkRefusedChangesNothing: a bulk write whose transaction ends with
// the *store.BulkError (what a caller does that does not keep the records
// before the refused one) changes nothing: no record, no index entry (the
// names and externalIds are free again), no audit entry, no delivery.
func testBulkRefusedChangesNothing(t *testing.T, s store.Store) {
	f := setup(t, s)
	us := createUsers(t, s, f.acme, "held")
	feed := subscribe(t, s)
	seq := lastSeq(t, s)
	batch := []policy.User{user("r-one"), user("r-two"), user("HELD")}
	batch[0].ExternalID, batch[1].ExternalID = "rx-1", "rx-2"
	err := s.Update(t.Context(), actor, func(tx store.Tx) error {
		_, err := store.CreateUsers(tx, f.acme, batch)
		return err
	})
	if be, ok := store.AsBulkError(err); !ok || be.Index != 2 || !errors.Is(err, store.ErrExists) {
		t.Fatalf("Update = %v, want the BulkError of user 2 (userName taken)", err)
	}
	g1 := policy.DirGroupID(uuid.NewString())
	groups := []policy.DirGroup{
		{ID: g1, DisplayName: "r-g1", ExternalID: "rg-1", MemberUsers: []policy.UserID{us[0].ID}},
		{DisplayName: "r-g2", ExternalID: "rg-2", MemberGroups: []policy.DirGroupID{g1}},
		{DisplayName: "r-g3", MemberUsers: []policy.UserID{"nobody"}},
	}
	err = s.Update(t.Context(), actor, func(tx store.Tx) error {
		_, err := store.CreateDirGroups(tx, f.acme, groups)
		return err
	})
	if be, ok := store.AsBulkError(err); !ok || be.Index != 2 || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update = %v, want the BulkError of group 2 (unknown member)", err)
	}
	if cs := auditAfter(t, s, seq); len(cs) != 0 {
		t.Errorf("refused batches audited %v", summary(cs))
	}
	if b := feed.take(); len(b) != 0 {
		t.Errorf("refused batches delivered %v", b)
	}
	view(t, s, func(tx store.Tx) error {
		if n, err := tx.CountUsers(f.acme); err != nil || n != 1 {
			t.Errorf("CountUsers = %d, %v; want 1", n, err)
		}
		if _, err := tx.DirGroup(f.acme, g1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("group of a refused batch: %v", err)
		}
		if got := mustDirGroupsOf(t, tx, f.acme, string(us[0].ID)); len(got) != 0 {
			t.Errorf("DirGroupsOf(held) = %v, want none", got)
		}
		return nil
	})
	// Every key is free: the same records, one by one, are accepted.
	update(t, s, func(tx store.Tx) error {
		for _, u := range batch[:2] {
			if _, err := tx.CreateUser(f.acme, u); err != nil {
				return err
			}
		}
		for _, g := range groups[:2] {
			if _, err := tx.CreateDirGroup(f.acme, g); err != nil {
				return err
			}
		}
		return nil
	})
}

func mustDirGroupsOf(t *testing.T, tx store.Tx, tenant policy.TenantID, member string) []policy.DirGroupID {
	t.Helper()
	got, err := tx.DirGroupsOf(tenant, member)
	if err != nil {
		t.Fatalf("DirGroupsOf(%s): %v", member, err)
	}
	return got
}

// testBulkEqualsOneByOne: a bulk write stores what the same records
// created one by one store — the records (but for their ids, tenant and
// times), every lookup, the reverse index — and feeds one create per
// record holding it as stored. The same records go in bulk into one
// tenant and one at a time into another.
func testBulkEqualsOneByOne(t *testing.T, s store.Store) {
	f := setup(t, s)
	mk := func(i int) policy.User {
		u := user(fmt.Sprintf("eq-%02d", i))
		u.ExternalID = fmt.Sprintf("uid=eq-%02d", i)
		u.DisplayName = fmt.Sprintf("Equal %d", i)
		u.Emails = []policy.Email{{Value: fmt.Sprintf("eq-%02d@example.com", i), Type: "work", Primary: true}}
		u.Attributes = map[string]any{"n": float64(i), "dn": fmt.Sprintf("uid=eq-%02d,dc=example", i)}
		return u
	}
	var batch []policy.User
	for i := range 40 {
		batch = append(batch, mk(i))
	}
	type side struct {
		tenant policy.TenantID
		users  []policy.User
		groups []policy.DirGroup
		fed    []policy.Change
	}
	bulkSide, oneSide := &side{tenant: f.acme}, &side{tenant: f.globex}
	// Groups: the first lists every third user and the second group, made
	// before it in the same call; the second lists a few users, repeated.
	groupsFor := func(us []policy.User, g2 policy.DirGroupID) []policy.DirGroup {
		var every []policy.UserID
		for i := 0; i < len(us); i += 3 {
			every = append(every, us[i].ID)
		}
		return []policy.DirGroup{
			{ID: g2, DisplayName: "Eq Two", ExternalID: "cn=two", Source: "ldap:corp", MemberUsers: []policy.UserID{us[5].ID, us[1].ID, us[5].ID}},
			{DisplayName: "Eq One", ExternalID: "cn=one", Source: "ldap:corp", MemberUsers: every, MemberGroups: []policy.DirGroupID{g2}},
			{DisplayName: "Eq Empty", Source: "ldap:corp"},
		}
	}
	for _, sd := range []*side{bulkSide, oneSide} {
		feed := subscribe(t, s)
		update(t, s, func(tx store.Tx) (err error) {
			if sd == bulkSide {
				sd.users, err = store.CreateUsers(tx, sd.tenant, batch)
				return err
			}
			sd.users = nil
			for _, u := range batch {
				c, err := tx.CreateUser(sd.tenant, u)
				if err != nil {
					return err
				}
				sd.users = append(sd.users, c)
			}
			return nil
		})
		gs := groupsFor(sd.users, policy.DirGroupID(uuid.NewString()))
		update(t, s, func(tx store.Tx) (err error) {
			if sd == bulkSide {
				sd.groups, err = store.CreateDirGroups(tx, sd.tenant, gs)
				return err
			}
			sd.groups = nil
			for _, g := range gs {
				c, err := tx.CreateDirGroup(sd.tenant, g)
				if err != nil {
					return err
				}
				sd.groups = append(sd.groups, c)
			}
			return nil
		})
		for _, b := range feed.take() {
			sd.fed = append(sd.fed, b...)
		}
	}
	// The two sides' ids, mapped onto each other by position.
	ids := map[string]string{string(f.acme): string(f.globex)}
	for i := range batch {
		ids[string(bulkSide.users[i].ID)] = string(oneSide.users[i].ID)
	}
	for i := range bulkSide.groups {
		ids[string(bulkSide.groups[i].ID)] = string(oneSide.groups[i].ID)
	}
	// norm renders a record with the other side's ids and no times.
	norm := func(v any, mapIDs bool) string {
		var x map[string]any
		if err := json.Unmarshal(encoded(t, v), &x); err != nil {
			t.Fatal(err)
		}
		delete(x, "created")
		delete(x, "updated")
		var walk func(any) any
		walk = func(v any) any {
			switch v := v.(type) {
			case string:
				if o, ok := ids[v]; ok && mapIDs {
					return o
				}
			case []any:
				for i := range v {
					v[i] = walk(v[i])
				}
			case map[string]any:
				for k := range v {
					v[k] = walk(v[k])
				}
			}
			return v
		}
		return normJSON(walk(x))
	}
	if len(bulkSide.users) != len(batch) || len(oneSide.users) != len(batch) || len(bulkSide.groups) != 3 || len(oneSide.groups) != 3 {
		t.Fatalf("made %d/%d users, %d/%d groups", len(bulkSide.users), len(oneSide.users), len(bulkSide.groups), len(oneSide.groups))
	}
	var stored [2][]string
	for k, sd := range []*side{bulkSide, oneSide} {
		view(t, s, func(tx store.Tx) error {
			for i, u := range sd.users {
				for what, get := range map[string]func() (policy.User, error){
					"User":             func() (policy.User, error) { return tx.User(sd.tenant, u.ID) },
					"UserByUserName":   func() (policy.User, error) { return tx.UserByUserName(sd.tenant, strings.ToUpper(u.UserName)) },
					"UserByExternalID": func() (policy.User, error) { return tx.UserByExternalID(sd.tenant, u.ExternalID) },
				} {
					got, err := get()
					if err != nil || got.ID != u.ID || norm(got, false) != norm(u, false) {
						t.Errorf("%s of user %d = %+v, %v; want %+v as returned", what, i, got, err, u)
					}
				}
				if et, ok := tx.(store.EmailTx); ok {
					got, err := et.UsersByEmail(sd.tenant, u.Emails[0].Value)
					if err != nil || len(got) != 1 || got[0].ID != u.ID {
						t.Errorf("UsersByEmail(%s) = %v, %v", u.Emails[0].Value, userIDs(got), err)
					}
				}
				stored[k] = append(stored[k], norm(u, k == 0))
				var of []string
				for _, g := range mustDirGroupsOf(t, tx, sd.tenant, string(u.ID)) {
					if o, ok := ids[string(g)]; ok && k == 0 {
						g = policy.DirGroupID(o)
					}
					of = append(of, string(g))
				}
				slices.Sort(of)
				stored[k] = append(stored[k], fmt.Sprint(of))
			}
			for _, g := range sd.groups {
				got, err := tx.DirGroup(sd.tenant, g.ID)
				if err != nil || norm(got, false) != norm(g, false) {
					t.Errorf("DirGroup(%s) = %+v, %v; want %+v as returned", g.DisplayName, got, err, g)
				}
				byExt, err := tx.DirGroupsByName(sd.tenant, g.DisplayName)
				if err != nil || len(byExt) != 1 || byExt[0].ID != g.ID {
					t.Errorf("DirGroupsByName(%s) = %v, %v", g.DisplayName, byExt, err)
				}
				stored[k] = append(stored[k], norm(got, k == 0), fmt.Sprint(len(mustDirGroupsOf(t, tx, sd.tenant, string(g.ID)))))
			}
			return nil
		})
	}
	for i := range max(len(stored[0]), len(stored[1])) {
		if i >= len(stored[0]) || i >= len(stored[1]) || stored[0][i] != stored[1][i] {
			t.Fatalf("bulk and one-by-one stored differently at %d:\nbulk %v\none  %v", i, stored[0][min(i, len(stored[0])-1)], stored[1][min(i, len(stored[1])-1)])
		}
	}
	// The feed: one create per record, in order, holding it as stored.
	for k, sd := range []*side{bulkSide, oneSide} {
		var want []string
		for _, u := range sd.users {
			want = append(want, "user/create/"+string(u.ID))
		}
		for _, g := range sd.groups {
			want = append(want, "dirgroup/create/"+string(g.ID))
		}
		if got := summary(sd.fed); !slices.Equal(got, want) {
			t.Fatalf("side %d fed %v, want %v", k, got, want)
		}
		for i, c := range sd.fed {
			var rec any = sd.users[min(i, len(sd.users)-1)]
			if i >= len(sd.users) {
				rec = sd.groups[i-len(sd.users)]
			}
			if !sameJSON(t, c.After, encoded(t, rec)) || c.Tenant != sd.tenant || len(c.Before) != 0 {
				t.Errorf("side %d feed entry %d = %s in %q, want the record as stored", k, i, c.After, c.Tenant)
			}
		}
	}
}
