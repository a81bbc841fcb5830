package oidc

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The pages are server-rendered from embedded templates and work without
// JavaScript. Every input has a label; errors are announced (role=alert),
// linked to the form (aria-describedby) and take the focus (autofocus);
// the focus order follows the reading order.
//
//go:embed web/templates/*.html
var templateFS embed.FS

//go:embed web/static
var staticFS embed.FS

// UI is the deployment's look on the pages: its name, logo and colour
// (the `ui:` section of the configuration, shared with the portal).
type UI struct {
	// Title names the deployment; default "Roster".
	Title string
	// LogoURL is an http(s) URL or an absolute path of the logo; none by
	// default.
	LogoURL string
	// PrimaryColor is a CSS hex colour (#rgb or #rrggbb) for buttons and
	// links; default #1d4f91. Text on it is white or black, whichever
	// contrasts more.
	PrimaryColor string
}

var hexColor = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

func (u UI) withDefaults() UI {
	if u.Title == "" {
		u.Title = "Roster"
	}
	if !hexColor.MatchString(u.PrimaryColor) {
		u.PrimaryColor = "#1d4f91"
	}
	if l := u.LogoURL; l != "" && !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") && (!strings.HasPrefix(l, "/") || strings.HasPrefix(l, "//")) {
		u.LogoURL = ""
	}
	return u
}

// luminance is the relative luminance of a hex colour (WCAG 2.2).
func luminance(hex string) float64 {
	h := strings.TrimPrefix(hex, "#")
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return l
}

// onColor is the text colour with the higher contrast on bg.
func onColor(bg string) string {
	l := luminance(bg)
	if (1.05)/(l+0.05) >= (l+0.05)/0.05 {
		return "#ffffff"
	}
	return "#000000"
}

// loginPage is the data of the sign-in page. Step is stepIdentify (the
// e-mail address or user name), stepTenant (the organisation picker) or
// stepPassword.
type loginPage struct {
	Step       string
	Req        string
	CSRF       string
	Client     string
	TenantName string
	Identifier string
	Tenants    []tenantChoice
	Error      string
}

type tenantChoice struct{ ID, Name string }

// pageData wraps a page's own data with the look of the deployment.
type pageData struct {
	UI      UI
	OnColor string
	Base    string // the issuer's path, for links and assets
	Title   string
	Page    any
}

var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"ago":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	"join": strings.Join,
	"amr": func(amr []string) string {
		for _, a := range amr {
			if a == AMRFederated {
				return "at your organisation's sign-in service"
			}
		}
		return "with a password"
	},
}).ParseFS(templateFS, "web/templates/*.html"))

func (p *Provider) setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	img := "'self'"
	if u, err := url.Parse(p.cfg.UI.LogoURL); err == nil && u.Scheme != "" && u.Host != "" {
		img += " " + u.Scheme + "://" + u.Host
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src "+img+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
}

func (p *Provider) render(w http.ResponseWriter, status int, name, title string, data any) {
	var buf bytes.Buffer
	err := pages.ExecuteTemplate(&buf, name, pageData{UI: p.cfg.UI, OnColor: onColor(p.cfg.UI.PrimaryColor), Base: p.prefix, Title: title, Page: data})
	if err != nil {
		p.log.Error("oidc: rendering page", "page", name, "err", err)
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
		return
	}
	p.setPageHeaders(w)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (p *Provider) renderLogin(w http.ResponseWriter, status int, page loginPage) {
	p.render(w, status, "login.html", "Sign in", page)
}

func (p *Provider) errorPage(w http.ResponseWriter, status int, msg string) {
	p.render(w, status, "error.html", "Sign-in problem", msg)
}

// staticHandler serves the embedded style sheet and images, and the
// deployment's colours as theme.css.
func (p *Provider) staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "web/static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	theme := []byte(fmt.Sprintf(":root{--accent:%s;--on-accent:%s}\n", p.cfg.UI.PrimaryColor, onColor(p.cfg.UI.PrimaryColor)))
	// The default mark takes the deployment's colour.
	raw, _ := fs.ReadFile(sub, "mark.svg")
	mark := []byte(strings.NewReplacer("#1d4f91", p.cfg.UI.PrimaryColor, "#fff", onColor(p.cfg.UI.PrimaryColor)).Replace(string(raw)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		switch r.URL.Path {
		case "/static/theme.css":
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			w.Write(theme)
			return
		case "/static/mark.svg":
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Write(mark)
			return
		}
		files.ServeHTTP(w, r)
	})
}
