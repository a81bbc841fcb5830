package store

import (
	"context"

	"github.com/roster-dev/roster/policy"
)

// Snapshot reads every fact of st in one read transaction, in the form
// policy.Engine.Load takes. It does not read opaque records or the audit
// log.
func Snapshot(ctx context.Context, st Store) (policy.World, error) {
	var w policy.World
	err := st.View(ctx, func(tx Tx) error {
		var err error
		if w.Tenants, err = tx.Tenants(); err != nil {
			return err
		}
		for _, t := range w.Tenants {
			if err := tx.ForEachUser(t.ID, func(u policy.User) error { w.Users = append(w.Users, u); return nil }); err != nil {
				return err
			}
			if err := tx.ForEachDirGroup(t.ID, func(d policy.DirGroup) error { w.DirGroups = append(w.DirGroups, d); return nil }); err != nil {
				return err
			}
		}
		if w.Groups, err = tx.Groups(); err != nil {
			return err
		}
		if w.Roles, err = tx.Roles(); err != nil {
			return err
		}
		if w.Rules, err = tx.Rules(); err != nil {
			return err
		}
		w.Memberships, err = tx.Memberships()
		return err
	})
	return w, err
}
