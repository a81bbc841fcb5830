package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// memLog is a store.AuditLog that numbers entries from next and keeps them.
type memLog struct {
	next  uint64
	saved []policy.Change
	err   error
}

func (l *memLog) Append(entries []policy.Change) error {
	if l.err != nil {
		return l.err
	}
	for i := range entries {
		entries[i].Seq = l.next
		l.next++
		l.saved = append(l.saved, entries[i])
	}
	return nil
}

// entry is what a test expects of one audit or feed entry.
type entry struct {
	seq           uint64
	actor         string
	tenant        policy.TenantID
	kind          policy.Kind
	op            policy.Op
	id            string
	before, after string
}

func summarize(cs []policy.Change) []entry {
	out := make([]entry, len(cs))
	for i, c := range cs {
		out[i] = entry{c.Seq, c.Actor, c.Tenant, c.Kind, c.Op, c.ID, string(c.Before), string(c.After)}
	}
	return out
}

func TestJournal(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	u1, u2 := []byte(`{"id":"u1"}`), []byte(`{"id":"u2"}`)
	tests := []struct {
		name     string
		write    func(j *store.Journal) error
		entries  []entry
		feed     []entry // nil: the same as entries
		noAppend bool
	}{
		{
			name:     "nothing written",
			write:    func(*store.Journal) error { return nil },
			noAppend: true,
		},
		{
			name: "create, update, delete",
			write: func(j *store.Journal) error {
				j.Created(policy.KindUser, "acme", "u1", u1, nil)
				j.Updated(policy.KindUser, "acme", "u1", u1, u2, nil, nil)
				j.Deleted(policy.KindUser, "acme", "u1", u2, nil)
				return nil
			},
			entries: []entry{
				{10, "scim:acme", "acme", policy.KindUser, policy.OpCreate, "u1", "", string(u1)},
				{11, "scim:acme", "acme", policy.KindUser, policy.OpUpdate, "u1", string(u1), string(u2)},
				{12, "scim:acme", "acme", policy.KindUser, policy.OpDelete, "u1", string(u2), ""},
			},
		},
		{
			name: "put is a create without a record before, an update with one",
			write: func(j *store.Journal) error {
				j.Put(policy.KindRole, "", "admin", nil, u1, nil, nil)
				j.Put(policy.KindRole, "", "admin", u1, u2, nil, nil)
				return nil
			},
			entries: []entry{
				{10, "scim:acme", "", policy.KindRole, policy.OpCreate, "admin", "", string(u1)},
				{11, "scim:acme", "", policy.KindRole, policy.OpUpdate, "admin", string(u1), string(u2)},
			},
		},
		{
			name: "each entry names the actor current when it was made",
			write: func(j *store.Journal) error {
				j.SetActor("admin:ops")
				j.Event("acme", "token-created", "t1", []byte(`{"name":"ci"}`))
				j.SetActor("user:acme/alice")
				j.MembershipCreated("acme", policy.Membership{Group: "g", User: "u1", Role: "member"}, u1)
				j.MembershipDeleted("acme", "g", "u1", "member", u1, nil)
				return nil
			},
			entries: []entry{
				{10, "admin:ops", "acme", policy.KindEvent, "token-created", "t1", "", `{"name":"ci"}`},
				{11, "user:acme/alice", "acme", policy.KindMembership, policy.OpCreate, policy.MembershipKey("g", "u1", "member"), "", string(u1)},
				{12, "user:acme/alice", "acme", policy.KindMembership, policy.OpDelete, policy.MembershipKey("g", "u1", "member"), string(u1), ""},
			},
		},
		{
			name: "a membership change that changes nothing records nothing",
			write: func(j *store.Journal) error {
				return j.MembersChanged("acme", "g1", policy.MembersChange{})
			},
			noAppend: true,
		},
		{
			name: "a membership change is one members entry with the net change",
			write: func(j *store.Journal) error {
				return j.MembersChanged("acme", "g1", policy.MembersChange{
					Add:    []policy.MemberRef{{Kind: policy.MemberUser, ID: "u2"}},
					Remove: []policy.MemberRef{{Kind: policy.MemberGroup, ID: "g2"}},
				})
			},
			entries: []entry{
				{10, "scim:acme", "acme", policy.KindDirGroup, policy.OpMembers, "g1", "",
					`{"add":[{"kind":"user","id":"u2"}],"remove":[{"kind":"group","id":"g2"}]}`},
			},
		},
		{
			name: "a bulk create is one batch entry, and one create per record in the feed",
			write: func(j *store.Journal) error {
				j.Created(policy.KindTenant, "acme", "acme", []byte(`{"id":"acme"}`), nil)
				if err := j.CreatedBatch(policy.KindUser, "acme", []string{"u1", "u2"}, [][]byte{u1, u2, []byte(`{"refused":true}`)}, nil); err != nil {
					return err
				}
				return j.CreatedBatch(policy.KindUser, "acme", nil, nil, nil) // nothing created: no entry
			},
			entries: []entry{
				{10, "scim:acme", "acme", policy.KindTenant, policy.OpCreate, "acme", "", `{"id":"acme"}`},
				{11, "scim:acme", "acme", policy.KindUser, policy.OpCreateBatch, "", "", `{"ids":["u1","u2"]}`},
			},
			feed: []entry{
				{10, "scim:acme", "acme", policy.KindTenant, policy.OpCreate, "acme", "", `{"id":"acme"}`},
				{11, "scim:acme", "acme", policy.KindUser, policy.OpCreate, "u1", "", string(u1)},
				{11, "scim:acme", "acme", policy.KindUser, policy.OpCreate, "u2", "", string(u2)},
			},
		},
		{
			name: "a cascade's rewrite is an update of the group",
			write: func(j *store.Journal) error {
				var c store.Cascade
				c.DropUser("acme", "g1", "u1")
				for _, rw := range c.Take() {
					j.Cascaded(rw, []byte(`{"v":1}`), []byte(`{"v":2}`), policy.DirGroup{}, policy.DirGroup{})
				}
				return nil
			},
			entries: []entry{
				{10, "scim:acme", "acme", policy.KindDirGroup, policy.OpUpdate, "g1", `{"v":1}`, `{"v":2}`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := store.NewJournal("scim:acme", now)
			if err := tt.write(j); err != nil {
				t.Fatal(err)
			}
			log := &memLog{next: 10}
			if tt.noAppend {
				log.err = errors.New("Append called")
			}
			batch, err := j.Commit(log)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range append(append([]policy.Change{}, log.saved...), batch...) {
				if !c.Time.Equal(now) {
					t.Errorf("entry %d at %v, want the transaction's time %v", c.Seq, c.Time, now)
				}
				for _, raw := range [][]byte{c.Before, c.After} {
					if len(raw) > 0 && !json.Valid(raw) {
						t.Errorf("entry %d holds invalid JSON %s", c.Seq, raw)
					}
				}
			}
			checkEntries(t, "audit entries", summarize(log.saved), tt.entries)
			want := tt.feed
			if want == nil {
				want = tt.entries
			}
			checkEntries(t, "feed", summarize(batch), want)
		})
	}
}

func checkEntries(t *testing.T, what string, got, want []entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s[%d] = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

// TestJournalAppendError checks that a failed Append fails the commit and
// delivers nothing.
func TestJournalAppendError(t *testing.T) {
	j := store.NewJournal("a", time.Now())
	j.Created(policy.KindUser, "acme", "u1", []byte(`{}`), nil)
	boom := errors.New("disk full")
	batch, err := j.Commit(&memLog{err: boom})
	if !errors.Is(err, boom) || batch != nil {
		t.Fatalf("Commit = %v, %v; want nil, %v", batch, err, boom)
	}
}

// TestJournalTypedFeed checks that the feed's entries carry the typed
// records a backend hands over (copied), with a side given only as JSON
// decoded, while the audit entries carry only the JSON.
func TestJournalTypedFeed(t *testing.T) {
	u := policy.User{ID: "u1", Tenant: "acme", UserName: "ann", Emails: []policy.Email{{Value: "ann@acme.test"}}}
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	old := u
	old.UserName = "anne"
	j := store.NewJournal("scim:acme", time.Now())
	j.Created(policy.KindUser, "acme", "u1", enc(u), u)
	j.Updated(policy.KindUser, "acme", "u1", enc(old), enc(u), nil, u) // the old record only as JSON
	j.Deleted(policy.KindUser, "acme", "u1", enc(u), u)
	if err := j.CreatedBatch(policy.KindUser, "acme", []string{"u1"}, [][]byte{enc(u)}, func(int) any { return u }); err != nil {
		t.Fatal(err)
	}
	if err := j.MembersChanged("acme", "g1", policy.MembersChange{Add: []policy.MemberRef{policy.UserMember("u1")}}); err != nil {
		t.Fatal(err)
	}
	j.Event("acme", "token-created", "t1", []byte(`{"name":"ci"}`))
	u.Emails[0].Value = "changed@acme.test" // the backend's value is copied
	log := &memLog{next: 1}
	batch, err := j.Commit(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range log.saved {
		if c.Typed() {
			t.Errorf("audit entry %d (%s %s) carries typed records", c.Seq, c.Op, c.Kind)
		}
	}
	for _, c := range batch {
		if c.Kind == policy.KindEvent {
			continue
		}
		if !c.Typed() {
			t.Errorf("feed entry %d (%s %s) carries no typed records", c.Seq, c.Op, c.Kind)
		}
	}
	if len(batch) != 6 {
		t.Fatalf("feed of %d entries, want 6", len(batch))
	}
	before, after, err := policy.Records[policy.User](batch[1])
	if err != nil || before == nil || before.UserName != "anne" || after == nil || after.Emails[0].Value != "ann@acme.test" {
		t.Errorf("update read as %+v, %+v, %v", before, after, err)
	}
	if d, err := batch[4].MembersDelta(); err != nil || len(d.Add) != 1 || d.Add[0].ID != "u1" {
		t.Errorf("members change read as %+v, %v", d, err)
	}
}
