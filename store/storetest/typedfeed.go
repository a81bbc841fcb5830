package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// testTypedFeed checks that every change the feed delivers about a record
// carries its typed records (policy.Change.Typed), equal to the JSON the
// change carries, and that this JSON is what the audit log persisted: for
// every kind of record and every write, the bulk ones included.
func testTypedFeed(t *testing.T, s store.Store) {
	f := setup(t, s)
	rec := subscribe(t, s)
	seq := lastSeq(t, s)
	var u policy.User
	var g, inner policy.DirGroup
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: f.acme, Name: "Acme", Kind: policy.TenantPartner, Domains: []string{"acme.test"}}); err != nil {
			return err
		}
		var err error
		nu := user("typed")
		nu.Emails = []policy.Email{{Value: "typed@acme.test", Primary: true}}
		nu.Attributes = map[string]any{"department": "R&D", "tags": []any{"a", "b"}}
		nu.Location = &policy.Location{City: "Berlin", Country: "DE", Coordinates: &policy.Coordinates{Lat: 52.5, Lon: 13.4}}
		if u, err = tx.CreateUser(f.acme, nu); err != nil {
			return err
		}
		u.DisplayName = "Typed User"
		if u, err = tx.UpdateUser(f.acme, u); err != nil {
			return err
		}
		if inner, err = tx.CreateDirGroup(f.acme, policy.DirGroup{DisplayName: "inner", Source: "scim:test"}); err != nil {
			return err
		}
		g, err = tx.CreateDirGroup(f.acme, policy.DirGroup{DisplayName: "team", Source: "scim:test",
			MemberUsers: []policy.UserID{u.ID}, Attributes: map[string]any{"mail": "team@acme.test"}})
		return err
	})
	update(t, s, func(tx store.Tx) error {
		_, err := store.ChangeMembers(tx, f.acme, g.ID, store.MemberUpdate{Add: []policy.MemberRef{policy.GroupMember(inner.ID)}})
		return err
	})
	update(t, s, func(tx store.Tx) error {
		bulk, err := store.CreateUsers(tx, f.acme, []policy.User{user("bulk1"), user("bulk2")})
		if err != nil {
			return err
		}
		_, err = store.CreateDirGroups(tx, f.acme, []policy.DirGroup{{DisplayName: "bulk", Source: "scim:test", MemberUsers: []policy.UserID{bulk[0].ID, bulk[1].ID}}})
		return err
	})
	update(t, s, func(tx store.Tx) error {
		lug := f.lug
		lug.Topics = []string{"kernel"}
		lug.Location = &policy.Location{City: "Berlin"}
		lug.Meetings = []policy.Meeting{{ID: "m1", Title: "Meetup", Start: f.lug.Created.AddDate(0, 1, 0)}}
		if _, err := tx.UpdateGroup(lug); err != nil {
			return err
		}
		if _, err := tx.PutRole(policy.Role{Name: "speaker", Permissions: []policy.Permission{"events.view"}, Products: []string{"core"}}); err != nil {
			return err
		}
		r, err := tx.CreateRule(policy.Rule{Tenant: f.acme, DirGroup: g.ID, Group: f.lug.ID, Role: roleMember})
		if err != nil {
			return err
		}
		if _, err := tx.AddMembership(policy.Membership{User: u.ID, Group: f.rug.ID, Role: roleOrganizer}); err != nil {
			return err
		}
		if err := tx.RemoveMembership(f.rug.ID, u.ID, roleOrganizer); err != nil {
			return err
		}
		return tx.DeleteRule(r.ID)
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.DeleteUser(f.acme, u.ID); err != nil { // and its cascade: team loses it
			return err
		}
		if err := tx.DeleteDirGroup(f.acme, inner.ID); err != nil {
			return err
		}
		if err := tx.DeleteRole("speaker"); err != nil {
			return err
		}
		return tx.DeleteGroup(f.lug.ID)
	})

	audit := map[string]policy.Change{} // seq/kind/op/id → entry
	for _, e := range auditAfter(t, s, seq) {
		audit[feedKey(e)] = e
	}
	ops := map[string]bool{}
	for _, batch := range rec.take() {
		for _, c := range batch {
			if c.Kind == policy.KindEvent {
				continue
			}
			ops[string(c.Kind)+"/"+string(c.Op)] = true
			if !c.Typed() {
				t.Errorf("feed change %d %s %s %s carries no typed records", c.Seq, c.Op, c.Kind, c.ID)
				continue
			}
			before, after, err := typedJSON(c)
			if err != nil {
				t.Errorf("feed change %d %s %s %s: %v", c.Seq, c.Op, c.Kind, c.ID, err)
				continue
			}
			if !sameJSON(t, before, c.Before) || !sameJSON(t, after, c.After) {
				t.Errorf("feed change %d %s %s %s: typed records\n%s\n%s\nthe JSON\n%s\n%s", c.Seq, c.Op, c.Kind, c.ID, before, after, c.Before, c.After)
			}
			// The JSON is the audit entry's, except for a bulk create's
			// records, which the entry names without copying them.
			if e, ok := audit[feedKey(c)]; ok {
				if !sameJSON(t, e.Before, c.Before) || !sameJSON(t, e.After, c.After) {
					t.Errorf("feed change %d %s %s %s differs from its audit entry", c.Seq, c.Op, c.Kind, c.ID)
				}
			} else if c.Op != policy.OpCreate {
				t.Errorf("feed change %d %s %s %s has no audit entry", c.Seq, c.Op, c.Kind, c.ID)
			}
		}
	}
	// The writes above reach every kind of record.
	for _, want := range []string{"tenant/update", "user/create", "user/update", "user/delete", "dirgroup/create", "dirgroup/update",
		"dirgroup/delete", "group/update", "group/delete", "role/create", "role/delete", "rule/create", "rule/delete",
		"membership/create", "membership/delete"} {
		if !ops[want] {
			t.Errorf("the feed carried no %s change", want)
		}
	}
}

func feedKey(c policy.Change) string {
	return fmt.Sprint(c.Seq) + "/" + string(c.Kind) + "/" + string(c.Op) + "/" + c.ID
}

// typedJSON encodes the records c carries (the typed ones, when
// c.Typed()): each side's JSON, nil for a side without a record.
func typedJSON(c policy.Change) (before, after []byte, err error) {
	switch c.Kind {
	case policy.KindTenant:
		return recordsJSON[policy.Tenant](c)
	case policy.KindUser:
		return recordsJSON[policy.User](c)
	case policy.KindDirGroup:
		if c.Op == policy.OpMembers {
			d, err := c.MembersDelta()
			if err != nil {
				return nil, nil, err
			}
			after, err = json.Marshal(d)
			return nil, after, err
		}
		return recordsJSON[policy.DirGroup](c)
	case policy.KindGroup:
		return recordsJSON[policy.Group](c)
	case policy.KindRole:
		return recordsJSON[policy.Role](c)
	case policy.KindRule:
		return recordsJSON[policy.Rule](c)
	default:
		return recordsJSON[policy.Membership](c)
	}
}

func recordsJSON[T policy.Record](c policy.Change) (before, after []byte, err error) {
	b, a, err := policy.Records[T](c)
	if err != nil {
		return nil, nil, err
	}
	if b != nil {
		if before, err = json.Marshal(b); err != nil {
			return nil, nil, err
		}
	}
	if a != nil {
		after, err = json.Marshal(a)
	}
	return before, after, err
}
