package bolt

import (
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
