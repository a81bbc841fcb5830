package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// TestDoctorReportsHierarchyBreaches: groups written before the placement
// rules (here straight into the store, as an old version could) are
// reported by roster doctor, which exits non-zero; a clean store is ok.
func TestDoctorReportsHierarchyBreaches(t *testing.T) {
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "roster.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(context.Background(), "test", func(tx store.Tx) error {
		isug, err := tx.CreateGroup(policy.Group{Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational})
		if err != nil {
			return err
		}
		lug, err := tx.CreateGroup(policy.Group{Slug: "lug-london", Name: "LUG London", Kind: policy.GroupLocal, Parent: isug.ID})
		if err != nil {
			return err
		}
		_, err = tx.CreateGroup(policy.Group{Slug: "lug-london-2", Name: "LUG London", Kind: policy.GroupLocal, Parent: lug.ID})
		return err
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "doctor", "--data", dir).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "hierarchy: 1 groups break a placement rule") || !strings.Contains(string(out), "lug-london-2: a local group may not sit under a local group") {
		t.Fatalf("doctor on a breach: %v\n%s", err, out)
	}
}
