package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func usersByEmail(t *testing.T, s *Store, addr string) []policy.User {
	t.Helper()
	var us []policy.User
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		us, err = tx.(store.EmailTx).UsersByEmail("acme", addr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return us
}

func seedEmail(t *testing.T, s *Store) policy.User {
	t.Helper()
	u := seed(t, s)
	err := s.Update(context.Background(), "test", func(tx store.Tx) error {
		u.Emails = []policy.Email{{Value: "Ada@Acme.example", Type: "work"}}
		var err error
		u, err = tx.UpdateUser("acme", u)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestEmailIndexVerifyRebuild: Verify sees a missing, stale or wrong
// e-mail entry, and Rebuild restores the lookup.
func TestEmailIndexVerifyRebuild(t *testing.T) {
	emailBucket := func(root *bbolt.Bucket) *bbolt.Bucket {
		return getBucket(root, bktTenantData, []byte("acme"), bktIdx, bktUserEmail)
	}
	for _, tt := range []struct {
		name    string
		corrupt func(root *bbolt.Bucket, u policy.User) error
	}{
		{"missing entry", func(root *bbolt.Bucket, u policy.User) error {
			return emailBucket(root).Delete(key("ada@acme.example", string(u.ID)))
		}},
		{"stale entry", func(root *bbolt.Bucket, u policy.User) error {
			return emailBucket(root).Put(key("ghost@acme.example", string(u.ID)), []byte(u.ID))
		}},
		{"wrong target", func(root *bbolt.Bucket, u policy.User) error {
			return emailBucket(root).Put(key("ada@acme.example", string(u.ID)), []byte("other"))
		}},
		{"dropped bucket", func(root *bbolt.Bucket, u policy.User) error {
			return getBucket(root, bktTenantData, []byte("acme"), bktIdx).DeleteBucket(bktUserEmail)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			u := seedEmail(t, s)
			if err := s.db.Update(func(btx *bbolt.Tx) error { return tt.corrupt(rootBucket(btx), u) }); err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(context.Background()); !errors.Is(err, ErrInconsistent) {
				t.Fatalf("Verify after corruption = %v, want ErrInconsistent", err)
			}
			if err := s.Rebuild(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := s.Verify(context.Background()); err != nil {
				t.Fatalf("Verify after Rebuild: %v", err)
			}
			if us := usersByEmail(t, s, "ADA@acme.example"); len(us) != 1 || us[0].ID != u.ID {
				t.Errorf("lookup after Rebuild: %v", us)
			}
		})
	}
}

// TestEmailIndexAddedOnOpen: a file written before the e-mail index
// existed gets it, filled, when opened for writing.
func TestEmailIndexAddedOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s, err := Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	u := seedEmail(t, s)
	if err := s.db.Update(func(btx *bbolt.Tx) error {
		return getBucket(rootBucket(btx), bktTenantData, []byte("acme"), bktIdx).DeleteBucket(bktUserEmail)
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path, Options{Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Verify(context.Background()); err != nil {
		t.Fatalf("Verify after reopening: %v", err)
	}
	if us := usersByEmail(t, s, "ada@acme.example"); len(us) != 1 || us[0].ID != u.ID {
		t.Errorf("lookup after reopening: %v", us)
	}
}
