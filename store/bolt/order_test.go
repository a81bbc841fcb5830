package bolt

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestUserIDsByUserName: the userName index walks in folded order both
// ways, follows renames and deletions, stops when fn says so, and an
// unknown tenant is ErrNotFound.
func TestUserIDsByUserName(t *testing.T) {
	s := openTemp(t)
	seed(t, s) // "Ada"
	ctx := context.Background()
	ids := map[string]policy.UserID{}
	err := s.Update(ctx, "test", func(tx store.Tx) error {
		for _, n := range []string{"carol", "Bob", "dave", "ÆLFRED", "zed"} {
			u, err := tx.CreateUser("acme", policy.User{UserName: n})
			if err != nil {
				return err
			}
			ids[n] = u.ID
		}
		u, err := tx.UserByUserName("acme", "ada")
		ids["Ada"] = u.ID
		if err != nil {
			return err
		}
		z, _ := tx.User("acme", ids["zed"])
		z.UserName = "Aaron"
		if _, err := tx.UpdateUser("acme", z); err != nil {
			return err
		}
		return tx.DeleteUser("acme", ids["dave"])
	})
	if err != nil {
		t.Fatal(err)
	}
	walk := func(tenant policy.TenantID, desc bool, limit int) ([]policy.UserID, error) {
		var out []policy.UserID
		stop := errors.New("stop")
		err := s.View(ctx, func(tx store.Tx) error {
			return tx.(store.UserNameOrderTx).UserIDsByUserName(tenant, desc, func(id policy.UserID) error {
				if limit > 0 && len(out) == limit {
					return stop
				}
				out = append(out, id)
				return nil
			})
		})
		if errors.Is(err, stop) {
			err = nil
		}
		return out, err
	}
	asc := []policy.UserID{ids["zed"] /* Aaron */, ids["Ada"], ids["Bob"], ids["carol"], ids["ÆLFRED"]}
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	tests := []struct {
		name  string
		desc  bool
		limit int
		want  []policy.UserID
	}{
		{"ascending", false, 0, asc},
		{"descending", true, 0, desc},
		{"stopped after two", false, 2, asc[:2]},
	}
	for _, tt := range tests {
		got, err := walk("acme", tt.desc, tt.limit)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if _, err := walk("nosuch", false, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown tenant: %v", err)
	}
}
