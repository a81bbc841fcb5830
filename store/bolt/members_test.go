package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestMigrateSchema1 writes a file as schema 1 kept it (members inside the
// directory-group records, no dg_members bucket) and opens it: the members
// move to keys, in their order, the indexes verify, and a delta write works.
func TestMigrateSchema1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s, err := Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var g policy.DirGroup
	var us []policy.UserID
	err = s.Update(ctx, "test", func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme"}); err != nil {
			return err
		}
		for _, n := range []string{"c", "a", "b"} {
			u, err := tx.CreateUser("acme", policy.User{UserName: n, Active: true})
			if err != nil {
				return err
			}
			us = append(us, u.ID)
		}
		g, err = tx.CreateDirGroup("acme", policy.DirGroup{DisplayName: "team", MemberUsers: us})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Turn the file back into schema 1.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(btx *bbolt.Tx) error {
		root := rootBucket(btx)
		tb := getBucket(root, bktTenantData, []byte("acme"))
		if err := tb.DeleteBucket(bktDGMembers); err != nil {
			return err
		}
		v1 := g
		v1.MemberUsers = append(slices.Clone(us), us[0]) // a repeat, as schema 1 could not hold but a file might
		b, _ := json.Marshal(v1)
		if err := tb.Bucket(bktDirGroups).Put([]byte(g.ID), b); err != nil {
			return err
		}
		var one [8]byte
		binary.BigEndian.PutUint64(one[:], 1)
		return root.Bucket(bktMeta).Put(keySchema, one[:])
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify after migration: %v", err)
	}
	err = s.Update(ctx, "test", func(tx store.Tx) error {
		got, err := tx.DirGroup("acme", g.ID)
		if err != nil {
			return err
		}
		if !slices.Equal(got.MemberUsers, us) {
			t.Errorf("members after migration %v, want %v", got.MemberUsers, us)
		}
		_, err = store.ChangeMembers(tx, "acme", g.ID, store.MemberUpdate{Remove: []policy.MemberRef{policy.UserMember(us[1])}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		got, err := tx.DirGroup("acme", g.ID)
		if want := []policy.UserID{us[0], us[2]}; err == nil && !slices.Equal(got.MemberUsers, want) {
			t.Errorf("members after removal %v, want %v", got.MemberUsers, want)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.View(func(btx *bbolt.Tx) error {
		v := getBucket(rootBucket(btx), bktTenantData, []byte("acme"), bktDirGroups).Get([]byte(g.ID))
		var rec policy.DirGroup
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		if len(rec.MemberUsers) != 0 {
			t.Errorf("record still lists members: %s", v)
		}
		if n := binary.BigEndian.Uint64(rootBucket(btx).Bucket(bktMeta).Get(keySchema)); n != SchemaVersion {
			t.Errorf("schema %d after open, want %d", n, SchemaVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify after delta: %v", err)
	}
}
