package oidc

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/roster-dev/roster/policy"
)

// accountPage is the data of /account.
type accountPage struct {
	Name, UserName, Email, Tenant string
	Groups                        []accountGroup
	Sessions                      []Session
	Current                       string
	CSRF                          string
	Notice                        string
}

type accountGroup struct {
	Name, Slug string
	Roles      []string
}

// handleAccount shows the signed-in member who they are, their groups and
// roles, and their sessions, each of which they can end. Without a
// session it starts a sign-in that comes back here.
func (p *Provider) handleAccount(w http.ResponseWriter, r *http.Request) {
	s, u, ok := p.browserSession(r.Context(), r)
	if !ok {
		lr := loginRequest{ID: randomString(24), Account: true, CSRF: randomString(32), Binding: p.binding(w, r),
			Expires: p.now().Add(p.cfg.LoginLifetime)}
		p.startLogin(w, r, lr)
		return
	}
	sessions, err := p.Sessions(r.Context(), u.Tenant, u.ID)
	if err != nil {
		p.pageForError(w, err)
		return
	}
	pg := accountPage{UserName: u.UserName, Email: u.PrimaryEmail(), Tenant: string(u.Tenant), Sessions: sessions, Current: s.ID, CSRF: s.CSRF}
	pg.Name = u.DisplayName
	if pg.Name == "" {
		pg.Name = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
	if t, err := p.tenant(r.Context(), u.Tenant); err == nil && t.Name != "" {
		pg.Tenant = t.Name
	}
	byGroup := map[policy.GroupID]*accountGroup{}
	for _, m := range p.engine.EffectiveGroups(u.ID) {
		g := byGroup[m.Group]
		if g == nil {
			eg, ok := p.engine.Group(m.Group)
			if !ok {
				continue
			}
			g = &accountGroup{Name: eg.Name, Slug: eg.Slug}
			byGroup[m.Group] = g
		}
		if !slices.Contains(g.Roles, string(m.Role)) {
			g.Roles = append(g.Roles, string(m.Role))
		}
	}
	for _, g := range byGroup {
		slices.Sort(g.Roles)
		pg.Groups = append(pg.Groups, *g)
	}
	slices.SortFunc(pg.Groups, func(a, b accountGroup) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	if r.URL.Query().Get("ended") == "1" {
		pg.Notice = "That session is signed out."
	}
	p.render(w, http.StatusOK, "account.html", "Your account", pg)
}

// handleAccountEnd ends one of the member's sessions (their own form,
// checked by the session's CSRF token). Ending the current one signs this
// browser out.
func (p *Provider) handleAccountEnd(w http.ResponseWriter, r *http.Request) {
	if !parseLimited(w, r, maxLoginBytes) {
		p.errorPage(w, http.StatusBadRequest, "The form is malformed or too large.")
		return
	}
	s, u, ok := p.browserSession(r.Context(), r)
	if !ok {
		http.Redirect(w, r, p.endpoint("/account"), http.StatusSeeOther)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.CSRF)) != 1 {
		p.errorPage(w, http.StatusForbidden, "The form has expired or was not sent by this site. Open your account page again.")
		return
	}
	id := r.PathValue("id")
	ids, err := p.userSessionIDs(r.Context(), u.Tenant, u.ID)
	if err != nil {
		p.pageForError(w, err)
		return
	}
	if !slices.Contains(ids, id) {
		http.Redirect(w, r, p.endpoint("/account"), http.StatusSeeOther)
		return
	}
	p.endSessions(r.Context(), userActor(u.Tenant, u.UserName), "signed out on the account page", id)
	if id == s.ID {
		p.clearSessionCookies(w)
		p.render(w, http.StatusOK, "loggedout.html", "Signed out", nil)
		return
	}
	http.Redirect(w, r, p.endpoint("/account?ended=1"), http.StatusSeeOther)
}

// clearSessionCookies removes the session and binding cookies (the device
// cookie stays: it only eases rate limits for this account).
func (p *Provider) clearSessionCookies(w http.ResponseWriter) {
	p.setCookie(w, p.sessionCookieName(), "", -1)
	p.setCookie(w, bindingCookie, "", -1)
}
