package admin

// This file holds the manual membership handlers (/api/v1/groups/{group}/memberships).

import (
	"errors"
	"net/http"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) listMemberships(w http.ResponseWriter, r *http.Request, p principal) {
	if g, ok := s.withGroup(w, r, p, policy.PermGroupRead); ok {
		read(s, w, r, func(tx store.Tx) (list[policy.Membership], error) {
			ms, err := tx.MembershipsOfGroup(g.ID)
			return list[policy.Membership]{Items: nonNil(ms)}, err
		})
	}
}

func (s *Server) addMembership(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		User   string `json:"user"`
		Tenant string `json:"tenant"`
		Role   string `json:"role"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.User == "" || in.Role == "" {
		writeErr(w, badRequest("user and role are required"))
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermGroupRead)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (policy.Membership, error) {
		role, err := tx.Role(policy.RoleName(in.Role))
		if err != nil {
			return policy.Membership{}, err
		}
		if !s.canGrant(p, role, g.ID) {
			return policy.Membership{}, errForbidden
		}
		uid := policy.UserID(in.User)
		if in.Tenant != "" {
			u, err := lookupUser(tx, policy.TenantID(in.Tenant), in.User)
			if errors.Is(err, store.ErrNotFound) {
				// One text for a missing tenant and a missing user.
				return policy.Membership{}, badRequest("no user %q in tenant %q", in.User, in.Tenant)
			}
			if err != nil {
				return policy.Membership{}, err
			}
			uid = u.ID
		}
		return tx.AddMembership(policy.Membership{User: uid, Group: g.ID, Role: role.Name, Origin: policy.OriginManual})
	})
}

func (s *Server) removeMembership(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermGroupRead)
	if !ok {
		return
	}
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		role, err := tx.Role(policy.RoleName(r.PathValue("role")))
		if err != nil {
			return none{}, err
		}
		if !s.canGrant(p, role, g.ID) {
			return none{}, errForbidden
		}
		return none{}, tx.RemoveMembership(g.ID, policy.UserID(r.PathValue("user")), role.Name)
	})
}
