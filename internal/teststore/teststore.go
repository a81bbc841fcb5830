// Package teststore opens the bbolt store that the tests of the packages
// above the store run on: a fresh file in the test's temporary folder,
// closed when the test ends, holding the tenants the test names. It is
// for tests only.
package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// Bolt opens a bbolt store in t.TempDir(), closed in t.Cleanup, and puts
// tenants into it. It fails t when it cannot.
func Bolt(t testing.TB, tenants ...policy.Tenant) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "roster.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if len(tenants) == 0 {
		return st
	}
	err = st.Update(context.Background(), "test", func(tx store.Tx) error {
		for _, tn := range tenants {
			if err := tx.PutTenant(tn); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Partners are partner tenants named by their ids.
func Partners(ids ...policy.TenantID) []policy.Tenant {
	out := make([]policy.Tenant, len(ids))
	for i, id := range ids {
		out[i] = policy.Tenant{ID: id, Name: string(id), Kind: policy.TenantPartner}
	}
	return out
}
