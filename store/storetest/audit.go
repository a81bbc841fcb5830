package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// This file pins the audit rules that store.Journal keeps above the
// backends: which entry each write makes, what it holds, and what the change
// feed gets.

// recorder collects the batches a store delivers to its subscribers.
type recorder struct {
	mu      sync.Mutex
	batches [][]policy.Change
}

func subscribe(t *testing.T, s store.Store) *recorder {
	r := &recorder{}
	t.Cleanup(s.Subscribe(func(cs []policy.Change) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.batches = append(r.batches, slices.Clone(cs))
	}))
	return r
}

// take returns the batches delivered since the last take.
func (r *recorder) take() [][]policy.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.batches
	r.batches = nil
	return b
}

// sameJSON reports whether a and b encode the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Errorf("entry holds invalid JSON: %v", err)
		return false
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Errorf("entry holds invalid JSON: %v", err)
		return false
	}
	return normJSON(x) == normJSON(y)
}

// encoded returns the JSON of v (a record as read back).
func encoded(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testAuditRules pins the entry each write makes: a create holds the
// record as stored and no Before, an update holds the stored record before
// and after, a delete the record before and no After, a put (tenants,
// roles) is a create the first time and an update after; each entry names
// the transaction's actor (ActorTx: the actor current at the write) and
// time; a write that changes nothing makes no entry; the feed delivers
// exactly the entries of the transaction, in order, under their Seq.
func testAuditRules(t *testing.T, s store.Store) {
	f := setup(t, s)
	feed := subscribe(t, s)
	seq := lastSeq(t, s)

	tn := policy.Tenant{ID: "initech", Name: "Initech", Kind: policy.TenantPartner}
	var u1, u2 policy.User
	var role1, role2 policy.Role
	err := s.Update(context.Background(), "admin:ops", func(tx store.Tx) error {
		if err := tx.PutTenant(tn); err != nil {
			return err
		}
		tn2 := tn
		tn2.Name = "Initech Ltd"
		if err := tx.PutTenant(tn2); err != nil {
			return err
		}
		var err error
		if role1, err = tx.PutRole(policy.Role{Name: "auditor", Permissions: []policy.Permission{"events.view"}}); err != nil {
			return err
		}
		r := role1
		r.Permissions = append(r.Permissions, policy.PermGroupRead)
		if role2, err = tx.PutRole(r); err != nil {
			return err
		}
		if at, ok := tx.(store.ActorTx); ok {
			at.SetActor("scim:acme")
		}
		if u1, err = tx.CreateUser(f.acme, user("audit-rules")); err != nil {
			return err
		}
		u := u1
		u.DisplayName = "Audit Rules"
		u2, err = tx.UpdateUser(f.acme, u)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tn2 := tn
	tn2.Name = "Initech Ltd"
	userActor := "admin:ops"
	view(t, s, func(tx store.Tx) error {
		if _, ok := tx.(store.ActorTx); ok {
			userActor = "scim:acme"
		}
		return nil
	})
	want := []struct {
		kind          policy.Kind
		op            policy.Op
		tenant        policy.TenantID
		id, actor     string
		before, after any
	}{
		{policy.KindTenant, policy.OpCreate, "initech", "initech", "admin:ops", nil, tn},
		{policy.KindTenant, policy.OpUpdate, "initech", "initech", "admin:ops", tn, tn2},
		{policy.KindRole, policy.OpCreate, "", "auditor", "admin:ops", nil, role1},
		{policy.KindRole, policy.OpUpdate, "", "auditor", "admin:ops", role1, role2},
		{policy.KindUser, policy.OpCreate, f.acme, string(u1.ID), userActor, nil, u1},
		{policy.KindUser, policy.OpUpdate, f.acme, string(u1.ID), userActor, u1, u2},
	}
	cs := auditAfter(t, s, seq)
	if len(cs) != len(want) {
		t.Fatalf("audit = %v, want %d entries", summary(cs), len(want))
	}
	for i, w := range want {
		c := cs[i]
		if c.Kind != w.kind || c.Op != w.op || c.Tenant != w.tenant || c.ID != w.id || c.Actor != w.actor {
			t.Errorf("entry %d = %s/%s/%s in %q by %q, want %s/%s/%s in %q by %q",
				i, c.Kind, c.Op, c.ID, c.Tenant, c.Actor, w.kind, w.op, w.id, w.tenant, w.actor)
		}
		if !c.Time.Equal(cs[0].Time) || c.Time.IsZero() {
			t.Errorf("entry %d at %v, entry 0 at %v: want the one time of the transaction", i, c.Time, cs[0].Time)
		}
		if i > 0 && c.Seq != cs[i-1].Seq+1 {
			t.Errorf("entry %d has Seq %d after %d, want consecutive numbers", i, c.Seq, cs[i-1].Seq)
		}
		for _, side := range []struct {
			name string
			got  []byte
			want any
		}{{"Before", c.Before, w.before}, {"After", c.After, w.after}} {
			if side.want == nil {
				if len(side.got) != 0 {
					t.Errorf("entry %d %s = %s, want none", i, side.name, side.got)
				}
				continue
			}
			if !sameJSON(t, side.got, encoded(t, side.want)) {
				t.Errorf("entry %d %s = %s, want the record as stored %s", i, side.name, side.got, encoded(t, side.want))
			}
		}
	}
	// What was stored is what the last entry says.
	if got, err := getUser(t, s, f.acme, u1.ID); err != nil || !sameJSON(t, cs[len(cs)-1].After, encoded(t, got)) {
		t.Errorf("stored user %+v (%v), last entry's After %s", got, err, cs[len(cs)-1].After)
	}
	checkFeed(t, feed.take(), [][]policy.Change{cs})

	// A delete holds the record before it, and no After.
	seq = lastSeq(t, s)
	update(t, s, func(tx store.Tx) error { return tx.DeleteRole("auditor") })
	cs = auditAfter(t, s, seq)
	if len(cs) != 1 || cs[0].Kind != policy.KindRole || cs[0].Op != policy.OpDelete || cs[0].ID != "auditor" ||
		!sameJSON(t, cs[0].Before, encoded(t, role2)) || len(cs[0].After) != 0 || cs[0].Actor != actor {
		t.Errorf("delete entry = %v %+v, want role/delete/auditor with the role as stored before", summary(cs), cs)
	}
	checkFeed(t, feed.take(), [][]policy.Change{cs})

	// Writes that change nothing make no entry and deliver nothing.
	g := createDirGroup(t, s, f.acme, policy.DirGroup{DisplayName: "audit-noop", MemberUsers: []policy.UserID{u1.ID}})
	m := policy.Membership{Group: f.lug.ID, User: u1.ID, Role: roleMember}
	update(t, s, func(tx store.Tx) error { _, err := tx.AddMembership(m); return err })
	feed.take()
	seq = lastSeq(t, s)
	for _, w := range []struct {
		name  string
		write func(tx store.Tx) error
	}{
		{"adding a member", func(tx store.Tx) error {
			_, err := store.ChangeMembers(tx, f.acme, g.ID, store.MemberUpdate{Add: []policy.MemberRef{{Kind: policy.MemberUser, ID: string(u1.ID)}}})
			return err
		}},
		{"removing a non-member", func(tx store.Tx) error {
			_, err := store.ChangeMembers(tx, f.acme, g.ID, store.MemberUpdate{Remove: []policy.MemberRef{{Kind: policy.MemberGroup, ID: "no-such-group"}}})
			return err
		}},
		{"adding a manual membership again", func(tx store.Tx) error { _, err := tx.AddMembership(m); return err }},
	} {
		update(t, s, w.write)
		if cs := auditAfter(t, s, seq); len(cs) != 0 {
			t.Errorf("%s (a no-op) audited %v", w.name, summary(cs))
		}
		if b := feed.take(); len(b) != 0 {
			t.Errorf("%s (a no-op) delivered %v", w.name, b)
		}
	}
}

// testAuditBulk pins the entries of a bulk create (store.CreateUsers):
// from a store.BulkTx one policy.OpCreateBatch entry naming the records in
// order, while the feed gets one policy.OpCreate per record, holding the
// record as stored, under that entry's Seq; from any other backend one
// OpCreate entry per record, delivered as they are.
func testAuditBulk(t *testing.T, s store.Store) {
	f := setup(t, s)
	feed := subscribe(t, s)
	seq := lastSeq(t, s)
	var made []policy.User
	update(t, s, func(tx store.Tx) (err error) {
		made, err = store.CreateUsers(tx, f.acme, []policy.User{user("bulk-a"), user("bulk-b"), user("bulk-c")})
		return err
	})
	cs := auditAfter(t, s, seq)
	batches := feed.take()
	if len(batches) != 1 {
		t.Fatalf("%d batches delivered, want 1", len(batches))
	}
	got := batches[0]
	if len(got) != len(made) {
		t.Fatalf("feed = %v, want one create per user", summary(got))
	}
	for i, c := range got {
		if c.Kind != policy.KindUser || c.Op != policy.OpCreate || c.ID != string(made[i].ID) || c.Tenant != f.acme || c.Actor != actor || len(c.Before) != 0 {
			t.Errorf("feed entry %d = %s/%s/%s in %q by %q, want user/create/%s", i, c.Kind, c.Op, c.ID, c.Tenant, c.Actor, made[i].ID)
		}
		if !sameJSON(t, c.After, encoded(t, made[i])) {
			t.Errorf("feed entry %d After = %s, want the user as stored", i, c.After)
		}
	}
	if !bulk(t, s) {
		checkFeed(t, batches, [][]policy.Change{cs})
		return
	}
	ids := make([]string, len(made))
	for i, u := range made {
		ids[i] = string(u.ID)
	}
	if len(cs) != 1 || cs[0].Op != policy.OpCreateBatch || cs[0].Kind != policy.KindUser || cs[0].ID != "" ||
		cs[0].Tenant != f.acme || cs[0].Actor != actor || len(cs[0].Before) != 0 || !slices.Equal(cs[0].BatchIDs(), ids) {
		t.Fatalf("audit = %v %+v, want one %s entry naming %v", summary(cs), cs, policy.OpCreateBatch, ids)
	}
	for i, c := range got {
		if c.Seq != cs[0].Seq || !c.Time.Equal(cs[0].Time) {
			t.Errorf("feed entry %d has Seq %d at %v, want the batch entry's %d at %v", i, c.Seq, c.Time, cs[0].Seq, cs[0].Time)
		}
	}
}

// checkFeed checks that the delivered batches are want: the same entries
// (kind, op, id, tenant, actor, Seq, time, before and after), in order.
func checkFeed(t *testing.T, got, want [][]policy.Change) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d batches delivered, want %d", len(got), len(want))
		return
	}
	for b := range got {
		if len(got[b]) != len(want[b]) {
			t.Errorf("batch %d = %v, want %v", b, summary(got[b]), summary(want[b]))
			continue
		}
		for i, c := range got[b] {
			w := want[b][i]
			if c.Seq != w.Seq || c.Kind != w.Kind || c.Op != w.Op || c.ID != w.ID || c.Tenant != w.Tenant || c.Actor != w.Actor ||
				!c.Time.Equal(w.Time) || !sameJSON(t, c.Before, w.Before) || !sameJSON(t, c.After, w.After) {
				t.Errorf("batch %d entry %d = %d %s/%s/%s by %q before %s after %s; the audit log has %d %s/%s/%s by %q before %s after %s",
					b, i, c.Seq, c.Kind, c.Op, c.ID, c.Actor, c.Before, c.After, w.Seq, w.Kind, w.Op, w.ID, w.Actor, w.Before, w.After)
			}
		}
	}
}
