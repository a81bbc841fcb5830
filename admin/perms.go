package admin

import (
	"net/http"

	"github.com/roster-dev/roster/policy"
)

// Permissions over the whole deployment: a delegated caller uses the
// routes they guard only while holding them on every root group (see
// Extension.Permission). The default admin role carries them.
const (
	// PermTenants manages the companies' SCIM tokens and lists the
	// tenants (GET /api/v1/tenants).
	PermTenants policy.Permission = "tenants.manage"
	// PermClients manages the OIDC provider's clients.
	PermClients policy.Permission = "clients.manage"
)

// adminOrEveryRoot serves admin tokens and delegated callers who hold perm
// on every root group.
func (s *Server) adminOrEveryRoot(perm policy.Permission, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		if !p.admin && !s.onEveryRoot(r, p, perm) {
			writeErr(w, errForbidden)
			return
		}
		h(w, r, p)
	}
}
