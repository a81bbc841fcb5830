package teststore

import (
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func TestBoltHoldsTheTenants(t *testing.T) {
	st := Bolt(t, Partners("acme", "globex")...)
	err := st.View(t.Context(), func(tx store.Tx) error {
		for _, id := range []policy.TenantID{"acme", "globex"} {
			tn, err := tx.Tenant(id)
			if err != nil {
				return err
			}
			if tn.Name != string(id) || tn.Kind != policy.TenantPartner {
				t.Errorf("tenant %s = %+v", id, tn)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
