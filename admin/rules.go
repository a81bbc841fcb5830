package admin

// This file holds the binding-rule handlers (/api/v1/rules).

import (
	"net/http"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) listRules(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[policy.Rule], error) {
		rs, err := tx.Rules()
		return list[policy.Rule]{Items: nonNil(rs)}, err
	})
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Tenant   string `json:"tenant"`
		DirGroup string `json:"dirGroup"` // id, externalId or display name
		Group    string `json:"group"`    // id or slug
		Role     string `json:"role"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Tenant == "" || in.DirGroup == "" || in.Group == "" || in.Role == "" {
		writeErr(w, badRequest("tenant, dirGroup, group and role are required"))
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (policy.Rule, error) {
		t := policy.TenantID(in.Tenant)
		d, err := lookupDirGroup(tx, t, in.DirGroup)
		if err != nil {
			return policy.Rule{}, badRequest("dirGroup %q: %v", in.DirGroup, err)
		}
		g, err := lookupGroup(tx, in.Group)
		if err != nil {
			return policy.Rule{}, badRequest("group %q: no such group", in.Group)
		}
		if _, err := tx.Role(policy.RoleName(in.Role)); err != nil {
			return policy.Rule{}, badRequest("role %q: %v", in.Role, err)
		}
		return tx.CreateRule(policy.Rule{Tenant: t, DirGroup: d.ID, Group: g.ID, Role: policy.RoleName(in.Role)})
	})
}

func (s *Server) deleteRule(w http.ResponseWriter, r *http.Request, p principal) {
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		return none{}, tx.DeleteRule(policy.RuleID(r.PathValue("id")))
	})
}
