package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/storetest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "roster.db"), Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openTemp(t)
		t.Cleanup(func() {
			// Every test leaves consistent indexes behind.
			if s.closed.Load() {
				return
			}
			if err := s.Verify(context.Background()); err != nil {
				t.Errorf("Verify after test: %v", err)
			}
		})
		return s
	})
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "db")
	path := filepath.Join(dir, "roster.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {path, 0o600}} {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^tt.mode != 0 {
			t.Errorf("%s has mode %v, want at most %v", tt.path, got, tt.mode)
		}
	}
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(tx *bbolt.Tx) error
	}{
		{"other application", func(tx *bbolt.Tx) error {
			_, err := tx.CreateBucket([]byte("something-else"))
			return err
		}},
		{"newer schema", func(tx *bbolt.Tx) error {
			root, _ := tx.CreateBucket(bktRoot)
			meta, _ := root.CreateBucket(bktMeta)
			return meta.Put(keySchema, be8(SchemaVersion+1))
		}},
		{"no schema key", func(tx *bbolt.Tx) error {
			root, _ := tx.CreateBucket(bktRoot)
			_, err := root.CreateBucket(bktMeta)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			db, err := bbolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(tt.setup); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if s, err := Open(path, Options{}); !errors.Is(err, ErrSchema) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open = %v, want ErrSchema", err)
			}
			if err := Restore(path, filepath.Join(t.TempDir(), "target.db")); !errors.Is(err, ErrSchema) {
				t.Fatalf("Restore = %v, want ErrSchema", err)
			}
		})
	}
}

// seed writes a small world and returns a user of tenant acme.
func seed(t testing.TB, s *Store) policy.User {
	t.Helper()
	var u policy.User
	err := s.Update(context.Background(), "test", func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner}); err != nil {
			return err
		}
		var err error
		if u, err = tx.CreateUser("acme", policy.User{UserName: "Ada", ExternalID: "e1"}); err != nil {
			return err
		}
		if _, err := tx.CreateDirGroup("acme", policy.DirGroup{DisplayName: "Eng", ExternalID: "g1", MemberUsers: []policy.UserID{u.ID}}); err != nil {
			return err
		}
		if _, err := tx.PutRole(policy.Role{Name: "member"}); err != nil {
			return err
		}
		g, err := tx.CreateGroup(policy.Group{Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational})
		if err != nil {
			return err
		}
		if _, err := tx.AddMembership(policy.Membership{User: u.ID, Group: g.ID, Role: "member"}); err != nil {
			return err
		}
		return tx.PutRecord("oidc", "key", []byte("secret"))
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestBackupRestore(t *testing.T) {
	s := openTemp(t)
	u := seed(t, s)
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Changes after the backup are not in it.
	if err := s.Update(context.Background(), "test", func(tx store.Tx) error { return tx.DeleteUser("acme", u.ID) }); err != nil {
		t.Fatal(err)
	}

	target := filepath.Join(dir, "restored", "roster.db")
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, []byte("old junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Restore(backup, target); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	r, err := Open(target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Verify(context.Background()); err != nil {
		t.Errorf("Verify of restored store: %v", err)
	}
	err = r.View(context.Background(), func(tx store.Tx) error {
		got, err := tx.UserByUserName("acme", "ada")
		if err != nil || got.ID != u.ID || got.ExternalID != "e1" {
			t.Errorf("restored user = %+v, %v", got, err)
		}
		of, err := tx.DirGroupsOf("acme", string(u.ID))
		if err != nil || len(of) != 1 {
			t.Errorf("restored reverse index = %v, %v", of, err)
		}
		ms, err := tx.MembershipsOfUser(u.ID)
		if err != nil || len(ms) != 1 {
			t.Errorf("restored memberships = %v, %v", ms, err)
		}
		v, err := tx.GetRecord("oidc", "key")
		if err != nil || string(v) != "secret" {
			t.Errorf("restored record = %q, %v", v, err)
		}
		a, err := tx.Audit(0, 0)
		if err != nil || len(a) == 0 {
			t.Errorf("restored audit = %d entries, %v", len(a), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Restoring onto a store that is open (locked) fails and leaves it.
	if err := Restore(backup, s.Path()); err == nil {
		t.Error("Restore over an open store succeeded")
	}
	// Garbage is not a backup.
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("x"), 8192), 0o600)
	if err := Restore(junk, filepath.Join(dir, "t2.db")); err == nil {
		t.Error("Restore of garbage succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "t2.db")); !os.IsNotExist(err) {
		t.Errorf("failed Restore created the target: %v", err)
	}
}

func TestVerifyAndRebuild(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(root *bbolt.Bucket, u policy.User) error
	}{
		{"stale userName entry", func(root *bbolt.Bucket, u policy.User) error {
			return getBucket(root, bktTenantData, []byte("acme"), bktIdx, bktUserName).Put([]byte("ghost"), []byte("nope"))
		}},
		{"missing userName entry", func(root *bbolt.Bucket, u policy.User) error {
			return getBucket(root, bktTenantData, []byte("acme"), bktIdx, bktUserName).Delete([]byte("ada"))
		}},
		{"wrong externalId target", func(root *bbolt.Bucket, u policy.User) error {
			return getBucket(root, bktTenantData, []byte("acme"), bktIdx, bktUserExt).Put([]byte("e1"), []byte("other"))
		}},
		{"missing reverse member", func(root *bbolt.Bucket, u policy.User) error {
			b := getBucket(root, bktTenantData, []byte("acme"), bktIdx, bktDGMember)
			k, _ := b.Cursor().First()
			return b.Delete(bytes.Clone(k))
		}},
		{"missing ms_user", func(root *bbolt.Bucket, u policy.User) error {
			b := getBucket(root, bktIdx, bktMSUser)
			k, _ := b.Cursor().First()
			return b.Delete(bytes.Clone(k))
		}},
		{"dropped slug index", func(root *bbolt.Bucket, u policy.User) error {
			return root.Bucket(bktIdx).DeleteBucket(bktGroupSlug)
		}},
		{"stale user_tenant", func(root *bbolt.Bucket, u policy.User) error {
			return getBucket(root, bktIdx, bktUserTenant).Put([]byte("ghost"), []byte("acme"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t)
			u := seed(t, s)
			if err := s.Verify(context.Background()); err != nil {
				t.Fatalf("Verify of a sound store: %v", err)
			}
			if err := s.db.Update(func(btx *bbolt.Tx) error { return tt.corrupt(rootBucket(btx), u) }); err != nil {
				t.Fatal(err)
			}
			err := s.Verify(context.Background())
			var ie *IndexError
			if !errors.Is(err, ErrInconsistent) || !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("Verify after corruption = %v, want an IndexError", err)
			}
			if err := s.Rebuild(context.Background()); err != nil {
				t.Fatalf("Rebuild: %v", err)
			}
			if err := s.Verify(context.Background()); err != nil {
				t.Fatalf("Verify after Rebuild: %v", err)
			}
			err = s.View(context.Background(), func(tx store.Tx) error {
				_, err := tx.UserByUserName("acme", "ADA")
				return err
			})
			if err != nil {
				t.Errorf("lookup after Rebuild: %v", err)
			}
		})
	}
}

func TestRebuildRefusesDuplicates(t *testing.T) {
	s := openTemp(t)
	seed(t, s)
	// Two users with the same folded userName, written behind the store's back.
	err := s.Update(context.Background(), "test", func(tx store.Tx) error {
		_, err := tx.CreateUser("acme", policy.User{UserName: "bob"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(btx *bbolt.Tx) error {
		users := getBucket(rootBucket(btx), bktTenantData, []byte("acme"), bktUsers)
		return users.Put([]byte("zzz"), []byte(`{"id":"zzz","tenant":"acme","userName":"BOB"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(context.Background()); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("Verify = %v", err)
	}
	if err := s.Rebuild(context.Background()); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("Rebuild = %v, want ErrInconsistent", err)
	}
}

func TestWriteAfterTxEnds(t *testing.T) {
	s := openTemp(t)
	seed(t, s)
	var leaked store.Tx
	if err := s.Update(context.Background(), "test", func(tx store.Tx) error { leaked = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := leaked.Tenants(); err == nil {
		t.Error("read through an ended transaction succeeded")
	}
	if err := leaked.PutRecord("a", "b", nil); err == nil {
		t.Error("write through an ended transaction succeeded")
	}
}

func TestOptionsNow(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	s, err := Open(filepath.Join(t.TempDir(), "r.db"), Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := seed(t, s)
	if !u.Created.Equal(at) || !u.Updated.Equal(at) {
		t.Errorf("Created/Updated = %v/%v, want %v", u.Created, u.Updated, at)
	}
	err = s.View(context.Background(), func(tx store.Tx) error {
		a, err := tx.Audit(0, 0)
		if err != nil {
			return err
		}
		for _, c := range a {
			if !c.Time.Equal(at) || c.Actor != "test" {
				t.Errorf("audit entry %d: time %v actor %q", c.Seq, c.Time, c.Actor)
			}
		}
		got, err := tx.User("acme", u.ID)
		if err != nil || !got.Created.Equal(at) {
			t.Errorf("stored Created = %v, %v", got.Created, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestQuarantineConformance(t *testing.T) {
	var mu sync.Mutex
	paths := map[store.Store]string{} // a closed bbolt DB forgets its path
	pathOf := func(s store.Store) string { mu.Lock(); defer mu.Unlock(); return paths[s] }
	storetest.RunQuarantine(t, storetest.Harness{
		New: func(t *testing.T) store.Store {
			s := openTemp(t)
			mu.Lock()
			paths[s] = s.Path()
			mu.Unlock()
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			path := pathOf(s)
			s.Close()
			ns, err := Open(path, Options{Timeout: time.Second})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			t.Cleanup(func() { ns.Close() })
			mu.Lock()
			paths[ns] = path
			mu.Unlock()
			if err := ns.Verify(context.Background()); err != nil {
				t.Errorf("Verify after quarantine: %v", err)
			}
			return ns
		},
		Plant: func(t *testing.T, s store.Store, kind policy.Kind, tenant policy.TenantID, id string, value []byte) {
			path := pathOf(s)
			s.Close()
			db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			bkt := map[policy.Kind][][]byte{
				policy.KindUser:     {bktTenantData, []byte(tenant), bktUsers},
				policy.KindDirGroup: {bktTenantData, []byte(tenant), bktDirGroups},
				policy.KindGroup:    {bktGroups},
			}[kind]
			err = db.Update(func(tx *bbolt.Tx) error {
				return getBucket(rootBucket(tx), bkt...).Put([]byte(id), value)
			})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestOpenMapsAheadOfTheFile: the file is mapped with room to grow
// (initialMmapSize) but not grown to the mapping: a store with some
// records stays a small file, and reopens with them.
func TestOpenMapsAheadOfTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.Update(ctx, "test", func(tx store.Tx) error {
		for i := 0; i < 1000; i++ {
			if err := tx.PutRecord("ns", fmt.Sprint("k", i), bytes.Repeat([]byte("v"), 500)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() >= initialMmapSize/4 && initialMmapSize > 0 {
		t.Errorf("file of %d bytes after 1,000 records: grown to the mapping (%d)?", fi.Size(), initialMmapSize)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(ctx, func(tx store.Tx) error {
		v, err := tx.GetRecord("ns", "k999")
		if err == nil && len(v) != 500 {
			err = fmt.Errorf("k999 has %d bytes", len(v))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
