package admin

// This file holds the directory-group handlers (/api/v1/tenants/{tenant}/dirgroups).

import (
	"errors"
	"net/http"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) listDirGroups(w http.ResponseWriter, r *http.Request, p principal) {
	readPage(s, w, r, func(tx store.Tx, pg store.Page) ([]policy.DirGroup, error) {
		return tx.DirGroups(policy.TenantID(r.PathValue("tenant")), pg)
	}, func(g policy.DirGroup) string { return string(g.ID) })
}

func (s *Server) getDirGroup(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (policy.DirGroup, error) {
		return tx.DirGroup(policy.TenantID(r.PathValue("tenant")), policy.DirGroupID(r.PathValue("id")))
	})
}

// lookupDirGroup finds a directory group by id, externalId or unique name.
func lookupDirGroup(tx store.Tx, t policy.TenantID, ref string) (policy.DirGroup, error) {
	if d, err := tx.DirGroup(t, policy.DirGroupID(ref)); err == nil || !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	if d, err := tx.DirGroupByExternalID(t, ref); err == nil || !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	ds, err := tx.DirGroupsByName(t, ref)
	switch {
	case err != nil:
		return policy.DirGroup{}, err
	case len(ds) == 0:
		return policy.DirGroup{}, store.ErrNotFound
	case len(ds) > 1:
		return policy.DirGroup{}, badRequest("%d directory groups are named %q; use the id", len(ds), ref)
	}
	return ds[0], nil
}
