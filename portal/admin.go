package portal

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// The admin page: the companies' SCIM tokens and the OIDC provider's
// clients, for those who hold tenants.manage and clients.manage on every
// top-level group (the default admin role of the international group).
// A new token or client secret is shown once, on the page that follows
// its creation; neither Roster nor the portal can show it again.

type tenantInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type scimToken struct {
	Tenant  string    `json:"tenant"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

type oidcClient struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Public       bool      `json:"public"`
	RedirectURIs []string  `json:"redirectURIs"`
	FromConfig   bool      `json:"fromConfig"`
	Created      time.Time `json:"created"`
}

type tenantTokens struct {
	tenantInfo
	Tokens []scimToken
}

type adminData struct {
	Tenants      []tenantTokens
	TenantsError string
	Clients      []oidcClient
	ClientsError string
	Secret       *oneTimeSecret
}

var (
	tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	clientIDRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

func (p *Portal) adminPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.showAdmin(w, r, s, http.StatusOK, nil)
}

func (p *Portal) showAdmin(w http.ResponseWriter, r *http.Request, s *session, status int, f *formState) {
	ctx, a := r.Context(), p.api(s)
	d := adminData{Secret: s.takeSecret()}
	refused := func(err error, what string) (string, bool) {
		switch {
		case errors.Is(err, errSignedOut):
			p.apiFail(w, r, err, "")
			return "", false
		case statusOf(err) == http.StatusForbidden:
			return "Refused: " + what + " are for Roster administrators: an admin token, or the permission " + map[string]string{"SCIM tokens": "tenants.manage", "OIDC clients": "clients.manage"}[what] + " on every top-level group (the admin role of the international group carries it).", true
		default:
			p.cfg.Logger.Error("portal admin page", "err", err)
			return "Roster did not answer as expected; try again in a moment.", true
		}
	}
	var ts listOf[tenantInfo]
	if err := a.get(ctx, "/tenants", &ts); err != nil {
		msg, ok := refused(err, "SCIM tokens")
		if !ok {
			return
		}
		d.TenantsError = msg
	}
	for _, t := range ts.Items {
		var tl listOf[scimToken]
		if err := a.get(ctx, "/tenants/"+esc(t.ID)+"/scim-tokens", &tl); err != nil {
			msg, ok := refused(err, "SCIM tokens")
			if !ok {
				return
			}
			d.TenantsError, d.Tenants = msg, nil
			break
		}
		d.Tenants = append(d.Tenants, tenantTokens{tenantInfo: t, Tokens: tl.Items})
	}
	var cl listOf[oidcClient]
	if err := a.get(ctx, "/clients", &cl); err != nil {
		msg, ok := refused(err, "OIDC clients")
		if !ok {
			return
		}
		d.ClientsError = msg
	}
	d.Clients = cl.Items
	if d.TenantsError != "" && d.ClientsError != "" && status == http.StatusOK {
		status = http.StatusForbidden
	}
	p.render(w, r, s, status, "admin", view{Title: "SCIM tokens and clients", Nav: "admin", F: f, D: d})
}

// adminAction performs one of the admin page's forms.
func (p *Portal) adminAction(w http.ResponseWriter, r *http.Request, s *session) {
	ctx, a, action := r.Context(), p.api(s), r.PathValue("action")
	o := outcome{p: p, w: w, r: r, s: s, form: action, back: "/portal/admin",
		show: func(st int, f *formState) { p.showAdmin(w, r, s, st, f) }}
	c := newChecker(r.PostForm)
	switch action {
	case "create-token":
		tenant := c.text("tenant", "Company", true, 64)
		name := c.text("name", "Token name", true, 64)
		if c.errors["name"] == "" && !tokenNameRE.MatchString(name) {
			c.errors["name"] = "Use letters, digits, dots, dashes and underscores (e.g. okta-2026)."
		}
		if !o.ready(c, "create SCIM tokens for "+tenant, "#tenant-"+tenant) {
			return
		}
		var out struct {
			Token string `json:"token"`
		}
		err := a.do(ctx, http.MethodPost, "/tenants/"+esc(tenant)+"/scim-tokens", map[string]any{"name": name}, &out)
		if statusOf(err) == http.StatusConflict {
			o.invalid(map[string]string{"name": "This company already has a token called “" + name + "”."})
			return
		}
		if err == nil {
			s.setSecret("SCIM token “"+name+"” of "+tenant, out.Token)
		}
		o.done(err, "Created the SCIM token “"+name+"” for "+tenant+".")
	case "revoke-token":
		tenant := c.text("tenant", "Company", true, 64)
		name := c.text("name", "Token name", true, 64)
		if !o.ready(c, "revoke SCIM tokens of "+tenant, "#tenant-"+tenant) {
			return
		}
		o.done(a.do(ctx, http.MethodDelete, "/tenants/"+esc(tenant)+"/scim-tokens/"+esc(name), nil, nil),
			"Revoked the SCIM token “"+name+"” of "+tenant+": it stopped working at once.")
	case "create-client":
		id := c.text("id", "Client id", true, 64)
		if c.errors["id"] == "" && !clientIDRE.MatchString(id) {
			c.errors["id"] = "Use letters, digits, dots, dashes and underscores (e.g. wiki)."
		}
		name := c.text("name", "Name", false, 200)
		var uris []string
		for _, u := range strings.Fields(c.text("redirectURIs", "Redirect URIs", true, 4000)) {
			if !strings.Contains(u, ":") {
				c.errors["redirectURIs"] = "Each redirect URI is a full URL, such as https://wiki.example.com/callback."
			}
			uris = append(uris, u)
		}
		public := c.form.Get("public") == "yes"
		if !o.ready(c, "create OIDC clients", "#clients") {
			return
		}
		var out struct {
			Secret string `json:"secret"`
		}
		err := a.do(ctx, http.MethodPost, "/clients", map[string]any{"id": id, "name": name, "public": public, "redirectURIs": uris}, &out)
		var ae *apiError
		switch {
		case statusOf(err) == http.StatusConflict:
			o.invalid(map[string]string{"id": "A client called “" + id + "” exists already."})
			return
		case statusOf(err) == http.StatusBadRequest && errors.As(err, &ae):
			o.invalid(map[string]string{"redirectURIs": ae.Message + "."})
			return
		}
		if err == nil && out.Secret != "" {
			s.setSecret("client secret of “"+id+"”", out.Secret)
		}
		o.done(err, "Created the client “"+id+"”.")
	case "delete-client":
		id := c.text("id", "Client id", true, 64)
		if !o.ready(c, "delete OIDC clients", "#clients") {
			return
		}
		o.done(a.do(ctx, http.MethodDelete, "/clients/"+esc(id), nil, nil), "Deleted the client “"+id+"” and revoked its tokens.")
	default:
		p.fail(w, r, http.StatusNotFound, "There is no such action.")
	}
}
