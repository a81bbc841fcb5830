package admin

// This file holds the user handlers (/api/v1/tenants/{tenant}/users, /api/v1/me).

import (
	"errors"
	"net/http"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p principal) {
	readPage(s, w, r, func(tx store.Tx, pg store.Page) ([]policy.User, error) {
		return tx.Users(policy.TenantID(r.PathValue("tenant")), pg)
	}, func(u policy.User) string { return string(u.ID) })
}

// lookupUser finds a user of tenant by id or userName.
func lookupUser(tx store.Tx, tenant policy.TenantID, ref string) (policy.User, error) {
	u, err := tx.User(tenant, policy.UserID(ref))
	if errors.Is(err, store.ErrNotFound) {
		u, err = tx.UserByUserName(tenant, ref)
	}
	return u, err
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (policy.User, error) {
		return lookupUser(tx, policy.TenantID(r.PathValue("tenant")), r.PathValue("user"))
	})
}

// effectiveGroup is one line of a user's effective groups.
type effectiveGroup struct {
	policy.EffectiveMembership
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (s *Server) userGroups(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (map[string]any, error) {
		u, err := lookupUser(tx, policy.TenantID(r.PathValue("tenant")), r.PathValue("user"))
		if err != nil {
			return nil, err
		}
		out := []effectiveGroup{}
		for _, m := range s.cfg.Engine.EffectiveGroups(u.ID) {
			eg := effectiveGroup{EffectiveMembership: m}
			if g, err := tx.Group(m.Group); err == nil {
				eg.Slug, eg.Name = g.Slug, g.Name
			}
			out = append(out, eg)
		}
		return map[string]any{"user": u.ID, "userName": u.UserName, "groups": out}, nil
	})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p principal) {
	if p.admin {
		writeJSON(w, http.StatusOK, map[string]any{"admin": true})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"admin": false, "user": p.user, "groups": nonNil(s.cfg.Engine.EffectiveGroups(p.user))})
}
