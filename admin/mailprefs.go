package admin

// A member's mail preferences, as the portal's own page shows them (the
// links in each message reach the same choices without signing in, see
// mail.Handler):
//
//	GET /api/v1/me/mail   {none, groups:[{group, slug, name, mode}]}  for each group of the caller
//	PUT /api/v1/me/mail   {none, groups:{"<group id>": "all"|"digest"|"none"}}  the caller's groups only

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// mailPrefsView is the caller's choice per group.
type mailPrefsView struct {
	None   bool            `json:"none"`
	Groups []mailGroupPref `json:"groups"`
}

type mailGroupPref struct {
	Group policy.GroupID `json:"group"`
	Slug  string         `json:"slug"`
	Name  string         `json:"name"`
	Mode  string         `json:"mode"`
}

func (s *Server) mailPrefsRoutes() {
	s.handle("GET /api/v1/me/mail", s.getMailPrefs)
	s.handle("PUT /api/v1/me/mail", s.putMailPrefs)
}

// mailPrefsOf lists u's groups with the choice for each.
func (s *Server) mailPrefsOf(tx store.Tx, u policy.UserID) (mailPrefsView, error) {
	p, err := mail.ReadPrefs(tx, u)
	if err != nil {
		return mailPrefsView{}, err
	}
	v := mailPrefsView{None: p.None, Groups: []mailGroupPref{}}
	seen := map[policy.GroupID]bool{}
	for _, m := range s.cfg.Engine.EffectiveGroups(u) {
		if seen[m.Group] {
			continue
		}
		seen[m.Group] = true
		g, err := tx.Group(m.Group)
		if err != nil {
			continue // gone meanwhile
		}
		mode := p.Groups[g.ID]
		v.Groups = append(v.Groups, mailGroupPref{Group: g.ID, Slug: g.Slug, Name: g.Name, Mode: cmp.Or(mode, mail.ModeAll)})
	}
	slices.SortFunc(v.Groups, func(a, b mailGroupPref) int { return cmp.Compare(a.Name, b.Name) })
	return v, nil
}

func (s *Server) getMailPrefs(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	read(s, w, r, func(tx store.Tx) (mailPrefsView, error) { return s.mailPrefsOf(tx, p.user) })
}

func (s *Server) putMailPrefs(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	var in struct {
		None   bool                      `json:"none"`
		Groups map[policy.GroupID]string `json:"groups"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (mailPrefsView, error) {
		mine := map[policy.GroupID]bool{}
		for _, m := range s.cfg.Engine.EffectiveGroups(p.user) {
			mine[m.Group] = true
		}
		err := mail.SetPrefs(tx, p.user, func(pr *mail.Prefs) error {
			pr.None = in.None
			if pr.Groups == nil {
				pr.Groups = map[policy.GroupID]string{}
			}
			for g, m := range in.Groups {
				// Only the caller's groups, and those they chose for
				// before (a group left since can be reset): the record
				// stays as small as their groups.
				if _, chosen := pr.Groups[g]; !mine[g] && !chosen {
					return &policy.FieldError{Field: "groups", Message: fmt.Sprintf("%q is not one of your groups", g)}
				}
				pr.Groups[g] = m // SetPrefs refuses a mode it does not know
			}
			return nil
		})
		if err != nil {
			return mailPrefsView{}, err
		}
		return s.mailPrefsOf(tx, p.user)
	})
}
