package mail

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// HandlerPatterns are the paths Handler serves; cmd mounts them.
var HandlerPatterns = []string{"/mail/unsubscribe", "/mail/preferences"}

// Handler serves the links every message carries, without signing in
// (the signed token in ?t= names the user and the group):
//
//   - GET /mail/unsubscribe shows a confirmation; POST unsubscribes from
//     the group, also as the one-click POST of RFC 8058 §3.2 (body
//     "List-Unsubscribe=One-Click"), which mail programs send.
//   - GET /mail/preferences shows the member's choice for the group
//     (every message, a weekly digest, nothing) and "no mail at all";
//     POST saves it.
//
// A GET never changes anything, so link scanners cannot unsubscribe
// anyone.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /mail/unsubscribe", s.page("unsubscribe"))
	mux.HandleFunc("POST /mail/unsubscribe", s.page("unsubscribe"))
	mux.HandleFunc("GET /mail/preferences", s.page("preferences"))
	mux.HandleFunc("POST /mail/preferences", s.page("preferences"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

type pageData struct {
	Page, Token, Group, Mode, Done string
	None                           bool
}

func (s *Service) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("t")
		t, err := s.ParseToken(r.Context(), tok)
		if err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, ErrBadToken) {
				status = http.StatusBadRequest
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			_ = pageTmpl.Execute(w, pageData{Page: "error"})
			return
		}
		d := pageData{Page: name, Token: tok}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "the form could not be read", http.StatusBadRequest)
				return
			}
			err := s.cfg.Store.Update(r.Context(), "mail:"+string(t.Tenant)+"/"+string(t.User), func(tx store.Tx) error {
				return SetPrefs(tx, t.User, func(p *Prefs) error {
					if p.Groups == nil {
						p.Groups = map[policy.GroupID]string{}
					}
					if name == "unsubscribe" {
						// The one-click POST (RFC 8058) and the button.
						p.Groups[t.Group] = ModeNone
						return nil
					}
					p.None = r.PostForm.Get("none") == "on"
					switch m := r.PostForm.Get("mode"); m {
					case ModeAll, ModeDigest, ModeNone:
						p.Groups[t.Group] = m
					}
					return nil
				})
			})
			if err != nil {
				http.Error(w, "your choice could not be saved; try again later", http.StatusServiceUnavailable)
				return
			}
			d.Done = "saved"
		}
		_ = s.cfg.Store.View(r.Context(), func(tx store.Tx) error {
			if g, err := tx.Group(t.Group); err == nil {
				d.Group = g.Name
			}
			p, err := readPrefs(tx, t.User)
			d.Mode, d.None = ModeAll, p.None
			if m, ok := p.Groups[t.Group]; ok {
				d.Mode = m
			}
			return err
		})
		switch {
		case t.Group == "":
			d.Group = "the weekly digest"
		case d.Group == "":
			d.Group = "this group"
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pageTmpl.Execute(w, d)
	}
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mail from {{.Group}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}button{font:inherit;padding:.4rem 1rem}fieldset{border:1px solid #ccc;margin:1rem 0}</style>
</head><body><main>
{{if eq .Page "error"}}<h1>This link does not work</h1><p>It is malformed or has expired. Open the link in a newer message, or sign in to the portal to change your mail preferences.</p>
{{else if eq .Page "unsubscribe"}}
  {{if .Done}}<h1>Unsubscribed</h1><p>You will get no more mail from {{.Group}}.</p>
  {{else}}<h1>Unsubscribe from {{.Group}}?</h1>
  <form method="post" action="/mail/unsubscribe?t={{.Token}}"><button type="submit">Unsubscribe</button></form>{{end}}
  <p><a href="/mail/preferences?t={{.Token}}">Choose what you get instead</a></p>
{{else}}
  <h1>Mail from {{.Group}}</h1>
  {{if .Done}}<p role="status">Saved.</p>{{end}}
  <form method="post" action="/mail/preferences?t={{.Token}}">
  <fieldset><legend>From {{.Group}}</legend>
  <label><input type="radio" name="mode" value="all"{{if eq .Mode "all"}} checked{{end}}> Every message</label><br>
  <label><input type="radio" name="mode" value="digest"{{if eq .Mode "digest"}} checked{{end}}> A weekly digest</label><br>
  <label><input type="radio" name="mode" value="none"{{if eq .Mode "none"}} checked{{end}}> Nothing</label>
  </fieldset>
  <label><input type="checkbox" name="none"{{if .None}} checked{{end}}> No mail from any group</label>
  <p><button type="submit">Save</button></p></form>
{{end}}
</main></body></html>`))
