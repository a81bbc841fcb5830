package admin

// This file holds the role handlers (/api/v1/roles).

import (
	"net/http"
	"slices"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[policy.Role], error) {
		rs, err := tx.Roles()
		return list[policy.Role]{Items: nonNil(rs)}, err
	})
}

func (s *Server) putRole(w http.ResponseWriter, r *http.Request, p principal) {
	var in policy.Role
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	name := policy.RoleName(r.PathValue("name"))
	if in.Name != "" && in.Name != name {
		writeErr(w, badRequest("name in body %q differs from the path %q", in.Name, name))
		return
	}
	in.Name = name
	if len(in.Permissions) == 0 {
		writeErr(w, badRequest("at least one permission is required"))
		return
	}
	in.Products = policy.NormalizeTags(in.Products)
	for _, pr := range in.Products {
		if !slices.Contains(s.cfg.Products, pr) {
			writeErr(w, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "products", Message: badRequest("product %q is not one of the configured products %v (policy.products)", pr, s.cfg.Products).Message})
			return
		}
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (policy.Role, error) {
		in := in // fn may run more than once: the version read is this run's
		if in.Version == 0 {
			if cur, err := tx.Role(name); err == nil {
				in.Version = cur.Version
			}
		}
		return tx.PutRole(in)
	})
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, p principal) {
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		return none{}, tx.DeleteRole(policy.RoleName(r.PathValue("name")))
	})
}
