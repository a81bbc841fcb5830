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
				j.Created(policy.KindUser, "acme", "u1", u1)
				j.Updated(policy.KindUser, "acme", "u1", u1, u2)
				j.Deleted(policy.KindUser, "acme", "u1", u2)
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
				j.Put(policy.KindRole, "", "admin", nil, u1)
				j.Put(policy.KindRole, "", "admin", u1, u2)
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
				j.MembershipDeleted("acme", "g", "u1", "member", u1)
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
				j.Created(policy.KindTenant, "acme", "acme", []byte(`{"id":"acme"}`))
				if err := j.CreatedBatch(policy.KindUser, "acme", []string{"u1", "u2"}, [][]byte{u1, u2, []byte(`{"refused":true}`)}); err != nil {
					return err
				}
				return j.CreatedBatch(policy.KindUser, "acme", nil, nil) // nothing created: no entry
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
					j.Cascaded(rw, []byte(`{"v":1}`), []byte(`{"v":2}`))
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
	j.Created(policy.KindUser, "acme", "u1", []byte(`{}`))
	boom := errors.New("disk full")
	batch, err := j.Commit(&memLog{err: boom})
	if !errors.Is(err, boom) || batch != nil {
		t.Fatalf("Commit = %v, %v; want nil, %v", batch, err, boom)
	}
}
