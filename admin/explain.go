package admin

// This file holds the explain handler (/api/v1/explain).

import (
	"errors"
	"net/http"
	"strings"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// explain answers GET /api/v1/explain?user=U&permission=P&group=G, where U
// is a user id or tenant/userName and G a group id or slug. A member may
// explain their own permissions; an admin anyone's.
func (s *Server) explain(w http.ResponseWriter, r *http.Request, p principal) {
	q := r.URL.Query()
	uref, perm, gref := q.Get("user"), q.Get("permission"), q.Get("group")
	if uref == "" || perm == "" || gref == "" {
		writeErr(w, badRequest("user, permission and group are required"))
		return
	}
	var uid policy.UserID
	var gid policy.GroupID
	err := s.view(r, func(tx store.Tx) error {
		if t, name, ok := strings.Cut(uref, "/"); ok {
			u, err := tx.UserByUserName(policy.TenantID(t), name)
			if err != nil {
				return err
			}
			uid = u.ID
		} else {
			uid = policy.UserID(uref)
		}
		g, err := lookupGroup(tx, gref)
		if err != nil {
			return err
		}
		gid = g.ID
		return nil
	})
	if !p.admin {
		// A member may explain only their own permissions, and learns
		// nothing about other users or groups they cannot read.
		switch {
		case uid != p.user:
			err = errForbidden
		case errors.Is(err, errNoGroup) || err == nil && !s.can(p, policy.PermGroupRead, gid):
			err = errNoGroup
		}
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.cfg.Engine.Explain(uid, policy.Permission(perm), gid))
}
