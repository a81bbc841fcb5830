package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// testUsersByEmail: a backend whose Tx implements store.EmailTx finds a
// tenant's users by any of their e-mail addresses, case-insensitively,
// within the tenant only, in id order, and keeps the lookup in step with
// every create, update, delete and rollback, inside the writing
// transaction too. Backends without it skip the case.
func testUsersByEmail(t *testing.T, s store.Store) {
	f := setup(t, s)
	skip := false
	view(t, s, func(tx store.Tx) error { _, ok := tx.(store.EmailTx); skip = !ok; return nil })
	if skip {
		t.Skip("the backend's Tx does not implement store.EmailTx")
	}
	withEmails := func(name string, addrs ...string) policy.User {
		u := user(name)
		for i, a := range addrs {
			u.Emails = append(u.Emails, policy.Email{Value: a, Type: []string{"work", "home"}[i%2], Primary: i == 0})
		}
		return u
	}
	var ada, bob, carol policy.User
	update(t, s, func(tx store.Tx) error {
		var err error
		if ada, err = tx.CreateUser(f.acme, withEmails("ada", "Ada@Example.com", "ada.home@example.net")); err != nil {
			return err
		}
		if bob, err = tx.CreateUser(f.acme, withEmails("bob", "bob@example.com")); err != nil {
			return err
		}
		if carol, err = tx.CreateUser(f.acme, withEmails("carol", "carol@example.com", "ADA@example.COM")); err != nil {
			return err
		}
		_, err = tx.CreateUser(f.globex, withEmails("gus", "ada@example.com"))
		return err
	})
	find := func(tenant policy.TenantID, addr string) []policy.UserID {
		t.Helper()
		var ids []policy.UserID
		view(t, s, func(tx store.Tx) error {
			us, err := tx.(store.EmailTx).UsersByEmail(tenant, addr)
			ids = userIDs(us)
			return err
		})
		return ids
	}
	check := func(what string, got []policy.UserID, want ...policy.UserID) {
		t.Helper()
		if want == nil {
			want = []policy.UserID{}
		}
		if got == nil {
			got = []policy.UserID{}
		}
		if !slices.Equal(got, sortedIDs(want...)) {
			t.Errorf("%s: got %v, want %v", what, got, sortedIDs(want...))
		}
	}
	check("shared address, any case", find(f.acme, "ada@EXAMPLE.com"), ada.ID, carol.ID)
	check("second address", find(f.acme, "ADA.HOME@example.net"), ada.ID)
	check("one owner", find(f.acme, "bob@example.com"), bob.ID)
	check("no such address", find(f.acme, "nobody@example.com"))
	check("a prefix is not a match", find(f.acme, "ada@example.co"))
	check("empty address", find(f.acme, ""))
	if got := find(f.globex, "ada@example.com"); len(got) != 1 || got[0] == ada.ID || got[0] == carol.ID {
		t.Errorf("other tenant: got %v, want globex's own user only", got)
	}
	view(t, s, func(tx store.Tx) error {
		_, err := tx.(store.EmailTx).UsersByEmail("nosuch", "ada@example.com")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown tenant: %v, want none or ErrNotFound", err)
		}
		return nil
	})

	// Updates move the entries, visible inside the writing transaction.
	update(t, s, func(tx store.Tx) error {
		u, err := tx.User(f.acme, ada.ID)
		if err != nil {
			return err
		}
		u.Emails = []policy.Email{{Value: "ada@new.example", Type: "work", Primary: true}}
		if ada, err = tx.UpdateUser(f.acme, u); err != nil {
			return err
		}
		us, err := tx.(store.EmailTx).UsersByEmail(f.acme, "ADA@new.example")
		check("inside the writing transaction", userIDs(us), ada.ID)
		return err
	})
	check("old address after update", find(f.acme, "ada@example.com"), carol.ID)
	check("new address after update", find(f.acme, "ada@new.example"), ada.ID)
	check("dropped address after update", find(f.acme, "ada.home@example.net"))

	// A rolled-back write leaves no entry.
	errRollback := errors.New("roll back")
	err := updateErr(t, s, func(tx store.Tx) error {
		u, err := tx.User(f.acme, bob.ID)
		if err != nil {
			return err
		}
		u.Emails = append(u.Emails, policy.Email{Value: "ghost@example.com"})
		if _, err := tx.UpdateUser(f.acme, u); err != nil {
			return err
		}
		if _, err := tx.CreateUser(f.acme, withEmails("dora", "ghost@example.com")); err != nil {
			return err
		}
		return errRollback
	})
	wantErr(t, "rolled-back update", err, errRollback)
	check("after rollback", find(f.acme, "ghost@example.com"))

	// Deletes drop the entries.
	update(t, s, func(tx store.Tx) error { return tx.DeleteUser(f.acme, carol.ID) })
	check("after delete", find(f.acme, "ada@example.com"))
	check("the other user's address after a delete", find(f.acme, "ada@new.example"), ada.ID)
}
