package admin

import (
	"context"
	"errors"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestDeleteGroupDropsRecords: deleting a group deletes its membership
// requests and RSVPs, and only its own.
func TestDeleteGroupDropsRecords(t *testing.T) {
	f := newFixture(t)
	st, m := f.call(t, adminToken, "POST", "/api/v1/groups", `{"slug":"sig-gone","name":"Gone","kind":"special-interest","join":"request"}`)
	if st != 201 {
		t.Fatalf("create: %d %v", st, m)
	}
	gone := policy.GroupID(m["id"].(string))
	if st, m := f.call(t, "carol-token", "POST", "/api/v1/groups/sig-gone/join-requests", `{"message":"hi"}`); st/100 != 2 {
		t.Fatalf("ask: %d %v", st, m)
	}
	lug := policy.GroupID(f.ids["lug"])
	carol, bob := policy.UserID(f.ids["carol"]), policy.UserID(f.ids["bob"])
	keep := [][2]string{{nsJoinRequests, policy.JoinRequestKey(lug, bob)}, {nsRSVPs, policy.RSVPKey(lug, "m1", bob)}}
	gonekeys := [][2]string{{nsJoinRequests, policy.JoinRequestKey(gone, carol)}, {nsRSVPs, policy.RSVPKey(gone, "m1", carol)}, {nsRSVPs, policy.RSVPKey(gone, "m2", bob)}}
	err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		for _, k := range append(keep, gonekeys[1:]...) {
			if err := tx.PutRecord(k[0], k[1], []byte(`{}`)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, m := f.call(t, adminToken, "DELETE", "/api/v1/groups/sig-gone", ""); st != 204 {
		t.Fatalf("delete: %d %v", st, m)
	}
	err = f.st.View(context.Background(), func(tx store.Tx) error {
		for _, k := range gonekeys {
			if _, err := tx.GetRecord(k[0], k[1]); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s %s after deleting its group: %v, want not found", k[0], k[1], err)
			}
		}
		for _, k := range keep {
			if _, err := tx.GetRecord(k[0], k[1]); err != nil {
				t.Errorf("%s %s of another group: %v", k[0], k[1], err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
