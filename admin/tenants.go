package admin

// This file holds the tenant handlers (/api/v1/tenants).

import (
	"net/http"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[policy.Tenant], error) {
		ts, err := tx.Tenants()
		return list[policy.Tenant]{Items: nonNil(ts)}, err
	})
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (policy.Tenant, error) { return tx.Tenant(policy.TenantID(r.PathValue("tenant"))) })
}
