package bolt

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
)

// TestInTenantSorted: the one-cursor walk answers as one Get per id would,
// for ids present, absent, of another tenant, repeated, empty, before the
// first key and after the last.
func TestInTenantSorted(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	id := func(i int) policy.UserID { return policy.UserID(fmt.Sprintf("id%05d", i)) }
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("ut"))
		if err != nil {
			return err
		}
		for i := 0; i < 5000; i++ {
			if rng.IntN(3) == 0 {
				continue // absent
			}
			tn := "acme"
			if rng.IntN(5) == 0 {
				tn = "globex"
			}
			if err := b.Put([]byte(id(i)), []byte(tn)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 50; round++ {
		var ids []policy.UserID
		for n := rng.IntN(400); n > 0; n-- {
			switch rng.IntN(20) {
			case 0:
				ids = append(ids, "")
			case 1:
				ids = append(ids, "a-before", "z-after")
			default:
				ids = append(ids, id(rng.IntN(5100)))
			}
		}
		db.View(func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte("ut"))
			got := inTenantSorted(b, ids, "acme")
			for _, x := range ids {
				want := x != "" && string(b.Get([]byte(x))) == "acme"
				if got[x] != want {
					t.Fatalf("round %d: %q in tenant: %v, want %v", round, x, got[x], want)
				}
			}
			for x := range got {
				if string(b.Get([]byte(x))) != "acme" {
					t.Fatalf("round %d: %q reported in tenant", round, x)
				}
			}
			return nil
		})
	}
}

// TestPutJoined: entries whose keys are joined when put land as the keys
// key() joins, in any input order, including parts that are prefixes of
// one another and two- and three-part keys; values are kept.
func TestPutJoined(t *testing.T) {
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "t.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	parts := []string{"a", "ab", "abc", "b", "ba", "u", "g", "0193-x", "0193-xy"}
	pick := func() string { return parts[rng.IntN(len(parts))] }
	for _, arity := range []int{2, 3} {
		var es []joinedKV
		want := map[string]string{}
		for i := 0; i < 300; i++ {
			var e joinedKV
			ps := []string{pick(), pick(), pick()}[:arity]
			copy(e.parts[:], ps)
			k := string(key(ps...))
			if _, dup := want[k]; dup {
				continue
			}
			e.v = []byte(fmt.Sprint(i))
			want[k] = string(e.v)
			es = append(es, e)
		}
		rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
		// compareJoined orders as the joined keys do.
		for i := range es {
			for j := range es {
				a, b := es[i].appendKey(nil), es[j].appendKey(nil)
				if got, want := compareJoined(es[i], es[j]), bytes.Compare(a, b); got != want {
					t.Fatalf("compareJoined(%q, %q) = %d, want %d", a, b, got, want)
				}
			}
		}
		name := []byte(fmt.Sprint("b", arity))
		err := db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucket(name)
			if err != nil {
				return err
			}
			return putAll([]bucketKVs{{b: b, joined: es}})
		})
		if err != nil {
			t.Fatal(err)
		}
		db.View(func(tx *bbolt.Tx) error {
			got := map[string]string{}
			tx.Bucket(name).ForEach(func(k, v []byte) error {
				got[string(k)] = string(v)
				return nil
			})
			if len(got) != len(want) {
				t.Errorf("arity %d: %d keys, want %d", arity, len(got), len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("arity %d: key %q = %q, want %q", arity, k, got[k], v)
				}
			}
			return nil
		})
	}
}
