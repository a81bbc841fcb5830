package portal

// "Mail from my groups" on the signed-in person's own page: every
// message, a weekly digest, or nothing, per group, and no mail at all
// (GET/PUT /api/v1/me/mail). The links in every message reach the same
// choices without signing in (mail.Handler).

import (
	"errors"
	"net/http"
)

// mailPrefs is GET /api/v1/me/mail.
type mailPrefs struct {
	None   bool `json:"none"`
	Groups []struct {
		Group string `json:"group"`
		Slug  string `json:"slug"`
		Name  string `json:"name"`
		Mode  string `json:"mode"`
	} `json:"groups"`
}

func (p *Portal) mailPrefsRoutes() {
	p.mux.HandleFunc("POST /portal/me/mail", p.guard(p.setMailPrefs))
}

// setMailPrefs saves the form: a radio group "mode-<group id>" per group
// and the checkbox "none".
func (p *Portal) setMailPrefs(w http.ResponseWriter, r *http.Request, s *session) {
	a := p.api(s)
	var cur mailPrefs
	err := a.get(r.Context(), "/me/mail", &cur)
	if err == nil {
		in := map[string]any{"none": r.PostForm.Get("none") == "on"}
		groups := map[string]string{}
		for _, g := range cur.Groups {
			if m := r.PostForm.Get("mode-" + g.Group); m != "" {
				groups[g.Group] = m
			}
		}
		in["groups"] = groups
		err = a.do(r.Context(), http.MethodPut, "/me/mail", in, nil)
	}
	switch {
	case err == nil:
		s.setFlash("Saved: your mail preferences.")
	case errors.Is(err, errSignedOut):
		p.apiFail(w, r, err, "")
		return
	default:
		s.setFlash("Not saved: your mail preferences could not be changed.")
	}
	http.Redirect(w, r, "/portal/me#mail", http.StatusSeeOther)
}
