// Package portal serves Roster's web portal at /portal: the pages where
// members, organizers and the vendor's community team see and run their
// user groups in a browser.
//
// The portal is an ordinary OpenID Connect client of Roster's own provider
// (authorization code flow with PKCE S256, RFC 7636; OIDC Core §3.1). It
// keeps a server-side session behind a random cookie and does every read
// and every change by calling the admin API over HTTP with the signed-in
// user's access token, so it can never do more than its user could do with
// the API: the policy engine decides, the portal only shows the answer.
//
// Pages are server-rendered html/template with embedded assets and work
// without JavaScript (the LUG finder's optional map is the one script). Every form carries a per-session CSRF token and is
// refused from another origin (Origin, then Referer, then
// Sec-Fetch-Site). The portal does not persist anything: a restart signs
// everyone out.
package portal

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// UI is the deployment's look.
type UI struct {
	// Title names the deployment in every page's header and title.
	Title string
	// LogoURL is the logo image, if any.
	LogoURL string
	// PrimaryColor is a CSS hex colour (#rgb or #rrggbb).
	PrimaryColor string
}

// Config configures the portal.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Issuer is Roster's public base URL: the OIDC issuer. The portal is
	// served at Issuer + "/portal/" and redirects there.
	Issuer string
	// API is the base URL of the admin API (default Issuer).
	API string
	// ClientID and ClientSecret identify the portal at the OIDC provider
	// (a confidential client with redirect URI Issuer/portal/callback).
	ClientID, ClientSecret string
	UI                     UI
	// HTTPClient is used for discovery, the token endpoint and the admin
	// API (default: a client with a 15 s timeout).
	HTTPClient *http.Client
	// SessionIdle ends a session unused for this long (default 8 h).
	SessionIdle time.Duration
	// MaxSessions bounds the sessions kept in memory (default 100,000);
	// past it, the oldest are dropped.
	MaxSessions int
	// MapTiles is the URL template of the map tiles the LUG finder draws
	// its map with ("https://tile.example/{z}/{x}/{y}.png", {s} for a
	// subdomain); empty: no map, a plain list. MapAttribution is the
	// credit the tile provider asks for (HTML is escaped).
	MapTiles, MapAttribution string
}

// Portal is the portal's HTTP handler.
type Portal struct {
	cfg      Config
	mux      *http.ServeMux
	sessions *sessions
	pages    map[string]*template.Template
	origin   string // scheme://host[:port] of Issuer
	secure   bool

	mu       sync.Mutex
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the portal handler, serving paths under /portal/.
func New(cfg Config) (*Portal, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("portal: Issuer, ClientID and ClientSecret are required")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("portal: issuer %q is not an http(s) URL", cfg.Issuer)
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if cfg.API == "" {
		cfg.API = cfg.Issuer
	}
	cfg.API = strings.TrimRight(cfg.API, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 8 * time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 100000
	}
	if cfg.UI.Title == "" {
		cfg.UI.Title = "Roster"
	}
	if cfg.MapTiles != "" && !ValidMapTiles(cfg.MapTiles) {
		return nil, fmt.Errorf("portal: map tiles %q are not an http(s) URL template with {z}, {x} and {y}", cfg.MapTiles)
	}
	if !hexColor(cfg.UI.PrimaryColor) {
		cfg.UI.PrimaryColor = "#1d4f91"
	}
	p := &Portal{
		cfg:      cfg,
		mux:      http.NewServeMux(),
		sessions: newSessions(cfg.Now, cfg.SessionIdle, cfg.MaxSessions),
		origin:   u.Scheme + "://" + u.Host,
		secure:   u.Scheme == "https",
	}
	if p.pages, err = parsePages(); err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

func hexColor(s string) bool {
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range s[1:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ServeHTTP serves the portal.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", p.csp())
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/portal/static/") {
		h.Set("Cache-Control", "no-store")
	}
	p.mux.ServeHTTP(w, r)
}

// csp allows the portal's own assets, the configured logo and forms posted
// to the portal and the provider only; no script runs (the finder's map
// sets its own policy: mapCSP).
func (p *Portal) csp() string {
	img := "'self'"
	if l, err := url.Parse(p.cfg.UI.LogoURL); err == nil && l.Host != "" {
		img += " " + l.Scheme + "://" + l.Host
	}
	return "default-src 'none'; style-src 'self'; img-src " + img + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

// setup discovers the provider on first use: when the portal is wired, the
// server it lives in is not listening yet.
func (p *Portal) setup(ctx context.Context) (*oauth2.Config, *gooidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider == nil {
		pr, err := gooidc.NewProvider(gooidc.ClientContext(ctx, p.cfg.HTTPClient), p.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("portal: discovery: %w", err)
		}
		p.provider, p.verifier = pr, pr.Verifier(&gooidc.Config{ClientID: p.cfg.ClientID, Now: p.cfg.Now})
	}
	return p.oauth(), p.verifier, nil
}

func (p *Portal) oauth() *oauth2.Config {
	return &oauth2.Config{
		ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: p.provider.Endpoint(),
		RedirectURL: p.cfg.Issuer + "/portal/callback",
		Scopes:      []string{gooidc.ScopeOpenID, "profile", "email", gooidc.ScopeOfflineAccess},
	}
}

func (p *Portal) clientCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.cfg.HTTPClient)
}

const cookieName = "roster_portal"

func (p *Portal) setCookie(w http.ResponseWriter, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/portal", HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

// session returns the request's session, if any.
func (p *Portal) session(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	return p.sessions.get(c.Value)
}

// login starts the code flow in a fresh session: state, nonce and the PKCE
// verifier stay server-side, the browser holds only the session id.
func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	oc, _, err := p.setup(r.Context())
	if err != nil {
		p.cfg.Logger.Error("portal sign-in", "err", err)
		p.fail(w, r, http.StatusBadGateway, "Sign-in is unavailable: the identity provider did not answer. Try again in a moment.")
		return
	}
	s := p.sessions.create()
	s.state, s.nonce, s.verifier = randString(), randString(), oauth2.GenerateVerifier()
	s.next = safeNext(r.URL.Query().Get("next"))
	p.setCookie(w, s.id, 0)
	http.Redirect(w, r, oc.AuthCodeURL(s.state, gooidc.Nonce(s.nonce), oauth2.S256ChallengeOption(s.verifier)), http.StatusFound)
}

// safeNext keeps a return path only if it stays inside the portal.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/portal/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/portal/"
	}
	return next
}

func (p *Portal) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s := p.session(r)
	ok := false
	if s != nil {
		// Check and spend the state under the lock: two callbacks racing
		// with one state cannot both pass.
		s.mu.Lock()
		ok = s.state != "" && subtle.ConstantTimeCompare([]byte(s.state), []byte(q.Get("state"))) == 1
		if ok {
			s.state = "" // one use
		}
		s.mu.Unlock()
	}
	if !ok {
		p.fail(w, r, http.StatusBadRequest, "This sign-in link is stale or was not started here. Please sign in again.")
		return
	}
	if e := q.Get("error"); e != "" {
		p.fail(w, r, http.StatusForbidden, "Sign-in did not complete: "+e+" "+q.Get("error_description"))
		return
	}
	oc, v, err := p.setup(r.Context())
	if err != nil {
		p.fail(w, r, http.StatusBadGateway, "Sign-in is unavailable: the identity provider did not answer.")
		return
	}
	ctx, cancel := context.WithTimeout(p.clientCtx(r.Context()), 15*time.Second)
	defer cancel()
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(s.verifier))
	if err != nil {
		p.cfg.Logger.Warn("portal code exchange", "err", err)
		p.fail(w, r, http.StatusBadGateway, "Sign-in failed while exchanging the code. Please sign in again.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := v.Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(s.nonce)) != 1 {
		p.cfg.Logger.Warn("portal ID token refused", "err", err)
		p.fail(w, r, http.StatusBadGateway, "Sign-in failed: the ID token was not valid. Please sign in again.")
		return
	}
	var claims struct {
		Tenant   string `json:"tenant"`
		UserName string `json:"preferred_username"`
		Name     string `json:"name"`
	}
	_ = idt.Claims(&claims)
	// A new id once signed in: an id known before sign-in is worthless.
	next := s.next
	p.sessions.drop(s.id)
	ns := p.sessions.create()
	ns.user = &user{ID: idt.Subject, Tenant: claims.Tenant, UserName: claims.UserName, Name: claims.Name}
	if ns.user.Name == "" {
		ns.user.Name = ns.user.UserName
	}
	ns.token, ns.idToken = tok, raw
	p.setCookie(w, ns.id, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session, revokes its refresh token and sends the browser
// to the provider's RP-initiated logout.
func (p *Portal) logout(w http.ResponseWriter, r *http.Request, s *session) {
	p.sessions.drop(s.id)
	p.setCookie(w, "", -1)
	s.mu.Lock()
	tok := s.token
	s.mu.Unlock()
	if tok != nil && tok.RefreshToken != "" {
		form := url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.cfg.Issuer+"/revoke", strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
			if resp, err := p.cfg.HTTPClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	target := p.cfg.Issuer + "/logout?" + url.Values{
		"id_token_hint":            {s.idToken},
		"client_id":                {p.cfg.ClientID},
		"post_logout_redirect_uri": {p.cfg.Issuer + "/portal/"},
	}.Encode()
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// guard wraps a page: without a session the browser is sent to sign in;
// a POST must carry the session's CSRF token and come from the portal's
// own origin.
func (p *Portal) guard(h func(w http.ResponseWriter, r *http.Request, s *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := p.session(r)
		if r.Method == http.MethodPost {
			if !p.sameOrigin(r) {
				p.fail(w, r, http.StatusForbidden, "Refused: this form was sent from another site.")
				return
			}
			if s == nil || s.user == nil {
				p.fail(w, r, http.StatusForbidden, "Refused: your session has ended. Sign in again and repeat the change.")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				p.fail(w, r, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) != 1 {
				p.fail(w, r, http.StatusForbidden, "Refused: the form's security token is missing or stale. Reload the page and try again.")
				return
			}
		} else if s == nil || s.user == nil {
			http.Redirect(w, r, "/portal/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		h(w, r, s)
	}
}

// sameOrigin reports whether a POST comes from the portal's own pages: the
// Origin header when the browser sends one, else the Referer, else
// Sec-Fetch-Site. A request with none of them (not a browser) relies on
// the CSRF token alone.
func (p *Portal) sameOrigin(r *http.Request) bool {
	if o := r.Header.Get("Origin"); o != "" {
		return o == p.origin
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme+"://"+u.Host == p.origin
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}

func randString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// static serves the embedded stylesheet and images.
func (p *Portal) static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix("/portal/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// theme serves the deployment's colour as CSS custom properties.
func (p *Portal) theme(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	fmt.Fprintf(w, ":root{--primary:%s}\n", p.cfg.UI.PrimaryColor)
}
