package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// deepValue returns a value nested depth levels deep (counting itself).
func deepValue(depth int) any {
	var v any = "x"
	for i := 1; i < depth; i++ {
		v = []any{v}
	}
	return v
}

// testLimits: a record beyond policy's limits, or one whose encoding would
// not read back, is refused with an error wrapping policy.ErrInvalid, on
// create and on update, for users and directory groups; nothing is kept,
// and the store still lists and reads. A record at the limits is kept and
// reads back equal.
func testLimits(t *testing.T, s store.Store) {
	f := setup(t, s)
	long := strings.Repeat("n", 40000)
	tests := []struct {
		name  string
		attrs map[string]any
		u     func(*policy.User)
	}{
		{"attributes 9998 deep", map[string]any{"x": deepValue(9998)}, nil},
		{"attributes one level too deep", map[string]any{"x": deepValue(policy.MaxAttrDepth)}, nil},
		{"number out of range", map[string]any{"x": json.Number("1e400")}, nil},
		{"not a number", map[string]any{"x": json.Number("12abc")}, nil},
		{"NaN", map[string]any{"x": math.NaN()}, nil},
		{"too many values", map[string]any{"x": make([]any, policy.MaxAttrValues)}, nil},
		{"key too long", map[string]any{strings.Repeat("k", policy.MaxAttrKeyBytes+1): 1}, nil},
		{"string too long", map[string]any{"x": strings.Repeat("s", policy.MaxAttrStringBytes+1)}, nil},
		{"no JSON form", map[string]any{"x": make(chan int)}, nil},
		{"userName 40000 long", nil, func(u *policy.User) { u.UserName = long }},
		{"externalId 40000 long", nil, func(u *policy.User) { u.ExternalID = long }},
		{"too many emails", nil, func(u *policy.User) { u.Emails = make([]policy.Email, policy.MaxEmails+1) }},
	}
	existing := createUsers(t, s, f.acme, "existing")[0]
	existingG := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "existing"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := lastSeq(t, s)
			u := user("limit")
			u.Attributes = tt.attrs
			if tt.u != nil {
				tt.u(&u)
			}
			err := updateErr(t, s, func(tx store.Tx) error { _, err := tx.CreateUser(f.acme, u); return err })
			wantErr(t, "CreateUser", err, policy.ErrInvalid)
			up := existing
			up.Attributes = tt.attrs
			if tt.u != nil {
				tt.u(&up)
			}
			err = updateErr(t, s, func(tx store.Tx) error { _, err := tx.UpdateUser(f.acme, up); return err })
			wantErr(t, "UpdateUser", err, policy.ErrInvalid)
			if tt.attrs != nil {
				err = updateErr(t, s, func(tx store.Tx) error {
					_, err := tx.CreateDirGroup(f.acme, policy.DirGroup{DisplayName: "limit", Attributes: tt.attrs})
					return err
				})
				wantErr(t, "CreateDirGroup", err, policy.ErrInvalid)
				g := existingG
				g.Attributes = tt.attrs
				err = updateErr(t, s, func(tx store.Tx) error { _, err := tx.UpdateDirGroup(f.acme, g); return err })
				wantErr(t, "UpdateDirGroup", err, policy.ErrInvalid)
			}
			if after := lastSeq(t, s); after != before {
				t.Errorf("a refused write left audit entries (%d → %d)", before, after)
			}
		})
	}
	var le *policy.LimitError
	u := user("deep")
	u.Attributes = map[string]any{"x": deepValue(9998)}
	if err := updateErr(t, s, func(tx store.Tx) error { _, err := tx.CreateUser(f.acme, u); return err }); !errors.As(err, &le) || le.Limit != policy.LimitDepth {
		t.Errorf("a deep attribute: %v, want a *policy.LimitError of depth", err)
	}

	// At the limits, records are kept and read back equal.
	edge := user(strings.Repeat("e", policy.MaxNameBytes))
	edge.Attributes = map[string]any{
		"deep": deepValue(policy.MaxAttrDepth - 1),
		"big":  json.Number("1e308"),
		strings.Repeat("k", policy.MaxAttrKeyBytes): strings.Repeat("s", policy.MaxAttrStringBytes),
	}
	var created policy.User
	update(t, s, func(tx store.Tx) (err error) { created, err = tx.CreateUser(f.acme, edge); return })
	got, err := getUser(t, s, f.acme, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, have := normJSON(created.Attributes), normJSON(got.Attributes)
	if string(want) != string(have) {
		t.Errorf("attributes at the limits read back differently")
	}
	view(t, s, func(tx store.Tx) error {
		if n, err := tx.CountUsers(f.acme); err != nil || n != 2 {
			t.Errorf("CountUsers = %d, %v; want 2", n, err)
		}
		if _, err := tx.Users(f.acme, store.Page{}); err != nil {
			t.Errorf("Users: %v", err)
		}
		if _, err := tx.Audit(0, 0); err != nil {
			t.Errorf("Audit: %v", err)
		}
		return nil
	})
	if _, err := store.Snapshot(context.Background(), s); err != nil {
		t.Errorf("Snapshot: %v", err)
	}

	// User groups and roles are bounded too (the admin API writes them).
	for _, g := range []policy.Group{
		{Slug: "long-name", Name: long, Kind: policy.GroupLocal},
		{Slug: "long-desc", Name: "x", Kind: policy.GroupLocal, Description: strings.Repeat("d", policy.MaxTextBytes+1)},
		{Slug: strings.Repeat("s", 200), Name: "x", Kind: policy.GroupLocal},
		{Slug: "meetings", Name: "x", Kind: policy.GroupLocal, Meetings: make([]policy.Meeting, policy.MaxMeetings+1)},
	} {
		err := updateErr(t, s, func(tx store.Tx) error { _, err := tx.CreateGroup(g); return err })
		wantErr(t, "CreateGroup", err, policy.ErrInvalid)
	}
	err = updateErr(t, s, func(tx store.Tx) error {
		_, err := tx.PutRole(policy.Role{Name: "r", Description: strings.Repeat("d", policy.MaxTextBytes+1)})
		return err
	})
	wantErr(t, "PutRole", err, policy.ErrInvalid)
}

// testQuarantineEmpty: a store that never held an unreadable record has
// an empty quarantine, and its ids are unknown.
func testQuarantineEmpty(t *testing.T, s store.Store) {
	view(t, s, func(tx store.Tx) error {
		q, err := tx.Quarantine()
		if err != nil || len(q) != 0 {
			t.Errorf("Quarantine = %v, %v", q, err)
		}
		_, err = tx.QuarantinedRecord("1")
		wantErr(t, "QuarantinedRecord", err, store.ErrNotFound)
		return nil
	})
	err := updateErr(t, s, func(tx store.Tx) error { return tx.DeleteQuarantined("1") })
	wantErr(t, "DeleteQuarantined", err, store.ErrNotFound)
	err = updateErr(t, s, func(tx store.Tx) error { return tx.RepairQuarantined("1", []byte(`{}`)) })
	wantErr(t, "RepairQuarantined", err, store.ErrNotFound)
	view(t, s, func(tx store.Tx) error {
		err := tx.DeleteQuarantined("1")
		if err == nil {
			t.Error("DeleteQuarantined succeeded in View")
		}
		return nil
	})
}

// Harness gives RunQuarantine what it needs of a backend besides empty
// stores: Reopen closes s and opens the same storage again, as a restart
// does; Plant writes value as the stored form of a record (kind, tenant,
// id) bypassing every check, as an older version or damage could have,
// on a closed store.
type Harness struct {
	New    func(t *testing.T) store.Store
	Reopen func(t *testing.T, s store.Store) store.Store
	Plant  func(t *testing.T, s store.Store, kind policy.Kind, tenant policy.TenantID, id string, value []byte)
}

// unreadableUser is a stored user that does not decode: 10,001 levels deep
// once inside the record.
func unreadableUser(tenant policy.TenantID, id, userName string) []byte {
	return []byte(`{"id":"` + id + `","tenant":"` + string(tenant) + `","userName":"` + userName +
		`","active":true,"source":"scim:test","attributes":{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `},"version":1}`)
}

// RunQuarantine runs the conformance tests of the quarantine: a store with
// an unreadable record opens, serves every other record, lists the bad one
// (without its value) and lets it be repaired or deleted.
func RunQuarantine(t *testing.T, h Harness) {
	t.Run("OpensAndServesTheRest", func(t *testing.T) {
		s := h.New(t)
		f := setup(t, s)
		us := createUsers(t, s, f.acme, "alice", "bob")
		g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "team", MemberUsers: []policy.UserID{us[0].ID, us[1].ID}})
		h.Plant(t, s, policy.KindUser, f.acme, string(us[1].ID), unreadableUser(f.acme, string(us[1].ID), "bob"))
		s = h.Reopen(t, s)

		if _, err := store.Snapshot(context.Background(), s); err != nil {
			t.Fatalf("Snapshot after quarantine: %v", err)
		}
		var q []store.Quarantined
		view(t, s, func(tx store.Tx) error {
			if n, err := tx.CountUsers(f.acme); err != nil || n != 1 {
				t.Errorf("CountUsers = %d, %v; want 1", n, err)
			}
			_, err := tx.User(f.acme, us[1].ID)
			wantErr(t, "User(quarantined)", err, store.ErrNotFound)
			_, err = tx.UserByUserName(f.acme, "bob")
			wantErr(t, "UserByUserName(quarantined)", err, store.ErrNotFound)
			if _, err := tx.Audit(0, 0); err != nil {
				t.Errorf("Audit: %v", err)
			}
			if q, err = tx.Quarantine(); err != nil || len(q) != 1 {
				t.Fatalf("Quarantine = %v, %v", q, err)
			}
			if q[0].Kind != policy.KindUser || q[0].Tenant != f.acme || q[0].Key != string(us[1].ID) || q[0].Value != nil || q[0].Reason == "" {
				t.Errorf("Quarantine lists %+v", q[0])
			}
			full, err := tx.QuarantinedRecord(q[0].ID)
			if err != nil || len(full.Value) != full.Size || full.Size == 0 {
				t.Errorf("QuarantinedRecord = %d bytes of %d, %v", len(full.Value), full.Size, err)
			}
			return nil
		})
		// The name is free while the record is away, so a repair that
		// would take it back fails once it is taken again.
		createUsers(t, s, f.acme, "bob")
		repaired := us[1]
		repaired.Attributes = map[string]any{"x": "fixed"}
		v, _ := json.Marshal(repaired)
		err := updateErr(t, s, func(tx store.Tx) error { return tx.RepairQuarantined(q[0].ID, v) })
		wantErr(t, "RepairQuarantined(name taken)", err, store.ErrExists)
		err = updateErr(t, s, func(tx store.Tx) error {
			return tx.RepairQuarantined(q[0].ID, unreadableUser(f.acme, string(us[1].ID), "bobby"))
		})
		wantErr(t, "RepairQuarantined(still unreadable)", err, policy.ErrInvalid)
		other := repaired
		other.ID = "someone-else"
		ov, _ := json.Marshal(other)
		err = updateErr(t, s, func(tx store.Tx) error { return tx.RepairQuarantined(q[0].ID, ov) })
		wantErr(t, "RepairQuarantined(other id)", err, policy.ErrInvalid)

		repaired.UserName = "bobby"
		v, _ = json.Marshal(repaired)
		seq := lastSeq(t, s)
		update(t, s, func(tx store.Tx) error { return tx.RepairQuarantined(q[0].ID, v) })
		got, err := getUser(t, s, f.acme, us[1].ID)
		if err != nil || got.UserName != "bobby" || got.Attributes["x"] != "fixed" {
			t.Errorf("repaired user reads %+v, %v", got, err)
		}
		if cs := auditAfter(t, s, seq); len(cs) != 1 || cs[0].Kind != policy.KindUser || cs[0].Op != policy.OpCreate || cs[0].ID != string(us[1].ID) {
			t.Errorf("repair audit: %v", summary(cs))
		}
		if got := dirGroupsOf(t, s, f.acme, string(us[1].ID)); len(got) != 1 || got[0] != g.ID {
			t.Errorf("repaired user is in directory groups %v, want [%s]", got, g.ID)
		}
		view(t, s, func(tx store.Tx) error {
			if q, err := tx.Quarantine(); err != nil || len(q) != 0 {
				t.Errorf("Quarantine after repair = %v, %v", q, err)
			}
			return nil
		})
	})
	t.Run("Delete", func(t *testing.T) {
		s := h.New(t)
		f := setup(t, s)
		us := createUsers(t, s, f.acme, "alice", "bob")
		g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "team", MemberUsers: []policy.UserID{us[0].ID, us[1].ID}})
		update(t, s, func(tx store.Tx) error {
			_, err := tx.AddMembership(policy.Membership{User: us[1].ID, Group: f.lug.ID, Role: roleMember})
			return err
		})
		h.Plant(t, s, policy.KindUser, f.acme, string(us[1].ID), unreadableUser(f.acme, string(us[1].ID), "bob"))
		s = h.Reopen(t, s)
		var q []store.Quarantined
		view(t, s, func(tx store.Tx) (err error) { q, err = tx.Quarantine(); return })
		if len(q) != 1 {
			t.Fatalf("Quarantine = %v", q)
		}
		update(t, s, func(tx store.Tx) error { return tx.DeleteQuarantined(q[0].ID) })
		view(t, s, func(tx store.Tx) error {
			if q, err := tx.Quarantine(); err != nil || len(q) != 0 {
				t.Errorf("Quarantine after delete = %v, %v", q, err)
			}
			if ms, err := tx.MembershipsOfUser(us[1].ID); err != nil || len(ms) != 0 {
				t.Errorf("memberships of the deleted user: %v, %v", ms, err)
			}
			return nil
		})
		got, err := getDirGroup(t, s, f.acme, g.ID)
		if err != nil || len(got.MemberUsers) != 1 || got.MemberUsers[0] != us[0].ID {
			t.Errorf("directory group after delete: %v, %v", got.MemberUsers, err)
		}
	})
	t.Run("CascadeIntoQuarantinedGroup", func(t *testing.T) {
		// Deleting a member of a group that is set aside rewrites
		// nothing: the group is not stored, so no cascade reaches it.
		s := h.New(t)
		f := setup(t, s)
		us := createUsers(t, s, f.acme, "alice")
		g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "team", MemberUsers: []policy.UserID{us[0].ID}})
		h.Plant(t, s, policy.KindDirGroup, f.acme, string(g.ID), []byte(`{"id":"`+string(g.ID)+`","tenant":"`+string(f.acme)+
			`","displayName":"team","attributes":{"x":`+strings.Repeat("[", 9999)+strings.Repeat("]", 9999)+`},"version":1}`))
		s = h.Reopen(t, s)
		feed := subscribe(t, s)
		seq := lastSeq(t, s)
		update(t, s, func(tx store.Tx) error { return tx.DeleteUser(f.acme, us[0].ID) })
		cs := auditAfter(t, s, seq)
		if want := []string{"user/delete/" + string(us[0].ID)}; !slices.Equal(summary(cs), want) {
			t.Errorf("audit of the delete = %v, want %v", summary(cs), want)
		}
		checkFeed(t, feed.take(), [][]policy.Change{cs})
		view(t, s, func(tx store.Tx) error {
			q, err := tx.Quarantine()
			if err != nil || len(q) != 1 || q[0].Kind != policy.KindDirGroup || q[0].Key != string(g.ID) {
				t.Errorf("Quarantine = %+v, %v; want the group still set aside", q, err)
			}
			return nil
		})
	})
}

// normJSON is the JSON of v as it reads back (numbers as float64).
func normJSON(v any) string {
	b, _ := json.Marshal(v)
	var x any
	_ = json.Unmarshal(b, &x)
	b, _ = json.Marshal(x)
	return string(b)
}
