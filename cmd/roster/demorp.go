package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// demoRP is the small relying party of `roster demo` at /demo/: a person
// signs in at Roster and sees the ID token claims and userinfo a group tool
// would receive. It uses go-oidc and x/oauth2 like any other client.
type demoRP struct {
	issuer, clientID, secret string

	mu       sync.Mutex
	verifier *gooidc.IDTokenVerifier
	provider *gooidc.Provider
}

// setup discovers the provider on first use (the server is not listening
// yet when the demo is wired).
func (d *demoRP) setup(ctx context.Context) (*gooidc.Provider, *gooidc.IDTokenVerifier, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.provider == nil {
		p, err := gooidc.NewProvider(ctx, d.issuer)
		if err != nil {
			return nil, nil, err
		}
		d.provider, d.verifier = p, p.Verifier(&gooidc.Config{ClientID: d.clientID})
	}
	return d.provider, d.verifier, nil
}

func (d *demoRP) oauth(p *gooidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: d.clientID, ClientSecret: d.secret, Endpoint: p.Endpoint(),
		RedirectURL: d.issuer + "/demo/callback",
		Scopes:      []string{gooidc.ScopeOpenID, "profile", "email", "groups", "roles", "offline_access"},
	}
}

var demoPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Roster demo portal</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head>
<body><main>
<h1>Roster demo portal</h1>
{{if .Error}}<p role="alert"><strong>Error:</strong> {{.Error}}</p>{{end}}
{{if .Claims}}
<p>Signed in. This is what a group tool receives from Roster.</p>
<h2>ID token claims</h2><pre>{{.Claims}}</pre>
<h2>Userinfo</h2><pre>{{.UserInfo}}</pre>
<p><a href="/demo/">Back</a></p>
{{else}}
<p>A tool of the user groups (a portal, a wiki, a chat) signs its members in with Roster.</p>
<p><a href="/demo/login">Sign in with Roster</a></p>
{{end}}
</main></body></html>`))

type demoView struct{ Error, Claims, UserInfo string }

func (d *demoRP) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /demo/", func(w http.ResponseWriter, r *http.Request) {
		_ = demoPage.Execute(w, demoView{})
	})
	mux.HandleFunc("GET /demo/login", func(w http.ResponseWriter, r *http.Request) {
		p, _, err := d.setup(r.Context())
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			_ = demoPage.Execute(w, demoView{Error: err.Error()})
			return
		}
		state, nonce, pkce := randString(), randString(), oauth2.GenerateVerifier()
		for k, v := range map[string]string{"demo_state": state, "demo_nonce": nonce, "demo_pkce": pkce} {
			http.SetCookie(w, &http.Cookie{Name: k, Value: v, Path: "/demo/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600})
		}
		http.Redirect(w, r, d.oauth(p).AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)), http.StatusFound)
	})
	mux.HandleFunc("GET /demo/callback", func(w http.ResponseWriter, r *http.Request) {
		fail := func(msg string) {
			w.WriteHeader(http.StatusBadRequest)
			_ = demoPage.Execute(w, demoView{Error: msg})
		}
		if e := r.URL.Query().Get("error"); e != "" {
			fail(e + ": " + r.URL.Query().Get("error_description"))
			return
		}
		cookie := func(n string) string {
			c, err := r.Cookie(n)
			if err != nil {
				return ""
			}
			return c.Value
		}
		if st := cookie("demo_state"); st == "" || st != r.URL.Query().Get("state") {
			fail("state does not match: start again")
			return
		}
		p, v, err := d.setup(r.Context())
		if err != nil {
			fail(err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		oc := d.oauth(p)
		tok, err := oc.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(cookie("demo_pkce")))
		if err != nil {
			fail("code exchange: " + err.Error())
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := v.Verify(ctx, raw)
		if err != nil {
			fail("ID token: " + err.Error())
			return
		}
		if idt.Nonce != cookie("demo_nonce") {
			fail("nonce does not match")
			return
		}
		var claims map[string]any
		_ = idt.Claims(&claims)
		view := demoView{Claims: indent(claims)}
		if ui, err := p.UserInfo(ctx, oc.TokenSource(ctx, tok)); err == nil {
			var m map[string]any
			_ = ui.Claims(&m)
			view.UserInfo = indent(m)
		} else {
			view.UserInfo = err.Error()
		}
		_ = demoPage.Execute(w, view)
	})
}

func indent(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func randString() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
