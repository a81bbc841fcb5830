package oidc

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/roster-dev/roster/policy"
)

// TestLocalUnknownUserCost checks that a password check for an unknown
// account costs a bcrypt comparison at the same cost as for a known one,
// so that timing does not tell unknown user names from wrong passwords.
func TestLocalUnknownUserCost(t *testing.T) {
	st, _ := openStore(t)
	for _, cost := range []int{0, bcrypt.MinCost, bcrypt.DefaultCost + 1} {
		la := LocalAccounts{Store: st, Cost: cost}
		want := cost
		if want == 0 {
			want = bcrypt.DefaultCost
		}
		if got, err := bcrypt.Cost(la.dummyHash()); err != nil || got != want {
			t.Errorf("Cost %d: dummy hash cost %d (%v), want %d", cost, got, err, want)
		}
		_, err := la.CheckPassword(context.Background(), policy.TenantID("acme"), "nobody", "whatever-pw")
		if !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Cost %d: unknown user: %v", cost, err)
		}
	}
}
