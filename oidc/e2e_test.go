package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

type rp struct {
	prov     *gooidc.Provider
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	ctx      context.Context
}

func newRP(t *testing.T, e *env, clientID, secret string, scopes ...string) *rp {
	t.Helper()
	ctx := gooidc.ClientContext(context.Background(), e.srv.Client())
	prov, err := gooidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{gooidc.ScopeOpenID, "profile", "email", "groups", "roles", gooidc.ScopeOfflineAccess}
	}
	return &rp{
		prov:     prov,
		oauth:    oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: prov.Endpoint(), RedirectURL: rpRedirect, Scopes: scopes},
		verifier: prov.VerifierContext(ctx, &gooidc.Config{ClientID: clientID, Now: e.clock.Now, SupportedSigningAlgs: []string{AlgRS256, AlgES256}}),
		ctx:      ctx,
	}
}

// signIn runs the code flow with PKCE through steps (see login) and
// returns the tokens, the verified ID token and its claims.
func (r *rp) signIn(t *testing.T, state, nonce string, steps ...map[string]string) (*oauth2.Token, *gooidc.IDToken, idClaims) {
	t.Helper()
	v := oauth2.GenerateVerifier()
	tok, err := r.oauth.Exchange(r.ctx, r.login(t, state, nonce, v, steps...), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := r.verifier.Verify(r.ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var cl idClaims
	idt.Claims(&cl)
	return tok, idt, cl
}

// login runs the browser part of the code flow and returns the code.
func (r *rp) login(t *testing.T, state, nonce, verifier string, steps ...map[string]string) string {
	t.Helper()
	opts := []oauth2.AuthCodeOption{gooidc.Nonce(nonce)}
	if verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	loc, err := newBrowser(rpRedirect).signIn(r.oauth.AuthCodeURL(state, opts...), steps...)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorization error: %s %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != state {
		t.Fatalf("state = %q, want %q", q.Get("state"), state)
	}
	if iss := q.Get("iss"); iss == "" {
		t.Fatalf("no iss in authorization response")
	}
	return q.Get("code")
}

type idClaims struct {
	Groups            []string          `json:"groups"`
	Roles             []string          `json:"roles"`
	Tenant            string            `json:"tenant"`
	Email             string            `json:"email"`
	EmailVerified     bool              `json:"email_verified"`
	Name              string            `json:"name"`
	PreferredUsername string            `json:"preferred_username"`
	Sid               string            `json:"sid"`
	ClaimNames        map[string]string `json:"_claim_names"`
}

func (e *env) postForm(t *testing.T, path string, basicUser, basicPass string, v url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	return e.doJSON(t, req)
}

func (e *env) userinfo(t *testing.T, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return e.doJSON(t, req)
}

// doJSON sends req to the provider: the status and the JSON object of the
// answer (nil when it is none).
func (e *env) doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestEndToEndGoOIDC(t *testing.T) {
	e := newEnv(t, 0)
	r := newRP(t, e, "portal", portalSecret)
	verifier := oauth2.GenerateVerifier()
	code := r.login(t, "state-1", "nonce-1", verifier, aliceSteps()...)

	tok, err := r.oauth.Exchange(r.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != "nonce-1" {
		t.Errorf("nonce = %q", idt.Nonce)
	}
	if idt.AccessTokenHash == "" {
		t.Error("no at_hash")
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	if idt.Subject != string(e.users["alice"].ID) {
		t.Errorf("sub = %q", idt.Subject)
	}
	var cl idClaims
	if err := idt.Claims(&cl); err != nil {
		t.Fatal(err)
	}
	wantGroups := []string{"isug", "lug-london", "sig-go"}
	wantRoles := []string{"isug:member", "lug-london:organizer", "sig-go:member"}
	if !slices.Equal(cl.Groups, wantGroups) || !slices.Equal(cl.Roles, wantRoles) {
		t.Errorf("groups %v roles %v, want %v %v", cl.Groups, cl.Roles, wantGroups, wantRoles)
	}
	if cl.Tenant != testTenant || cl.Email != "alice@acme.example" || cl.EmailVerified || cl.Name != "Alice Liddell" || cl.PreferredUsername != "alice" {
		t.Errorf("profile claims: %+v", cl)
	}

	// userinfo through go-oidc.
	ui, err := r.prov.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var ucl idClaims
	ui.Claims(&ucl)
	if ui.Subject != idt.Subject || !slices.Equal(ucl.Groups, wantGroups) || ui.Email != "alice@acme.example" {
		t.Errorf("userinfo: sub %q claims %+v", ui.Subject, ucl)
	}

	// VerifyAccessToken for the admin API.
	info, err := e.p.VerifyAccessToken(context.Background(), tok.AccessToken)
	if err != nil || info.User != e.users["alice"].ID || info.Tenant != testTenant || info.Client != "portal" || !info.HasScope("groups") {
		t.Errorf("VerifyAccessToken = %+v, %v", info, err)
	}

	// Introspection.
	st, in := e.postForm(t, "/introspect", "portal", portalSecret, url.Values{"token": {tok.AccessToken}})
	if st != 200 || in["active"] != true || in["sub"] != string(e.users["alice"].ID) || in["username"] != "alice" || in["client_id"] != "portal" {
		t.Errorf("introspect: %d %v", st, in)
	}

	// Refresh with rotation.
	old := tok.RefreshToken
	if old == "" {
		t.Fatal("no refresh token")
	}
	tok2, err := r.oauth.TokenSource(r.ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == old || tok2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh did not rotate: %q", tok2.RefreshToken)
	}
	raw2, _ := tok2.Extra("id_token").(string)
	idt2, err := r.verifier.Verify(r.ctx, raw2)
	if err != nil || idt2.Subject != idt.Subject {
		t.Fatalf("refreshed ID token: %v", err)
	}
	if err := idt2.VerifyAccessToken(tok2.AccessToken); err != nil {
		t.Errorf("refreshed at_hash: %v", err)
	}
	st, in = e.postForm(t, "/introspect", "portal", portalSecret, url.Values{"token": {old}})
	if st != 200 || in["active"] != false {
		t.Errorf("rotated refresh token still active: %v", in)
	}

	// Revocation of the refresh token revokes the grant.
	st, _ = e.postForm(t, "/revoke", "portal", portalSecret, url.Values{"token": {tok2.RefreshToken}, "token_type_hint": {"refresh_token"}})
	if st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	for _, at := range []string{tok.AccessToken, tok2.AccessToken} {
		if st, _ := e.userinfo(t, at); st != http.StatusUnauthorized {
			t.Errorf("userinfo after revocation: %d", st)
		}
		if _, err := e.p.VerifyAccessToken(context.Background(), at); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("VerifyAccessToken after revocation: %v", err)
		}
	}
	if _, err := r.oauth.TokenSource(r.ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token(); err == nil {
		t.Error("refresh after revocation succeeded")
	}

	// RP-initiated logout with id_token_hint and exact post-logout URI.
	b := newBrowser(rpLogout)
	_, loc, err := b.get(e.srv.URL + "/logout?" + url.Values{"id_token_hint": {raw2}, "post_logout_redirect_uri": {rpLogout}, "state": {"bye-1"}}.Encode())
	if err != nil || loc == nil || !strings.HasPrefix(loc.String(), rpLogout) || loc.Query().Get("state") != "bye-1" {
		t.Errorf("logout: %v %v", loc, err)
	}
	pg, loc, _ := b.get(e.srv.URL + "/logout?" + url.Values{"id_token_hint": {raw2}, "post_logout_redirect_uri": {rpLogout + "/evil"}}.Encode())
	if loc != nil || pg.status != http.StatusBadRequest {
		t.Errorf("logout to unregistered URI: %v status %d", loc, pg.status)
	}
}

func TestLogoutRevokesSession(t *testing.T) {
	e := newEnv(t, 0)
	r := newRP(t, e, "portal", portalSecret)
	v := oauth2.GenerateVerifier()
	tok, err := r.oauth.Exchange(r.ctx, r.login(t, "s", "n", v, aliceSteps()...), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	pg, loc, err := newBrowser(rpLogout).get(e.srv.URL + "/logout?id_token_hint=" + url.QueryEscape(raw))
	if err != nil || loc != nil || pg.status != 200 || !strings.Contains(pg.body, "signed out") {
		t.Fatalf("logout page: %v %v %d", err, loc, pg.status)
	}
	if st, _ := e.userinfo(t, tok.AccessToken); st != http.StatusUnauthorized {
		t.Errorf("userinfo after logout: %d", st)
	}
}

func TestClaimsPerClient(t *testing.T) {
	e := newEnv(t, 0)
	aliceLug := "" // id of lug-london
	for _, m := range e.engine.EffectiveGroups(e.users["alice"].ID) {
		if g, _ := e.engine.Group(m.Group); g.Slug == "lug-london" {
			aliceLug = string(g.ID)
		}
	}
	tests := []struct {
		client string
		scopes []string
		groups []string
		roles  []string
	}{
		{"london", nil, []string{"lug-london"}, []string{"lug-london:organizer"}},
		{"ids", nil, []string{aliceLug}, []string{aliceLug + ":organizer"}},
		{"narrow", []string{"openid", "profile"}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.client, func(t *testing.T) {
			r := newRP(t, e, tc.client, portalSecret, tc.scopes...)
			_, _, cl := r.signIn(t, "s", "n", aliceSteps()...)
			if !slices.Equal(cl.Groups, tc.groups) || !slices.Equal(cl.Roles, tc.roles) {
				t.Errorf("groups %v roles %v, want %v %v", cl.Groups, cl.Roles, tc.groups, tc.roles)
			}
		})
	}
}

func TestTooManyGroupsMoveToUserinfo(t *testing.T) {
	e := newEnv(t, 120) // alice is in 123 groups; the limit is 100
	r := newRP(t, e, "portal", portalSecret)
	v := oauth2.GenerateVerifier()
	tok, err := r.oauth.Exchange(r.ctx, r.login(t, "s", "n", v, aliceSteps()...), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := r.verifier.Verify(r.ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		idClaims
		Sources map[string]map[string]string `json:"_claim_sources"`
	}
	idt.Claims(&cl)
	if cl.Groups != nil || cl.ClaimNames["groups"] != "roster" || cl.Sources["roster"]["endpoint"] != e.srv.URL+"/userinfo" {
		t.Errorf("ID token: groups %d names %v sources %v", len(cl.Groups), cl.ClaimNames, cl.Sources)
	}
	_, ui := e.userinfo(t, tok.AccessToken)
	if gs, _ := ui["groups"].([]any); len(gs) != 123 {
		t.Errorf("userinfo has %d groups, want 123", len(gs))
	}
}

func TestClientCredentials(t *testing.T) {
	e := newEnv(t, 0)
	cfg := newRP(t, e, "svc", svcSecret).oauth
	_ = cfg
	st, out := e.postForm(t, "/token", "svc", svcSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"groups"}})
	if st != 200 || out["access_token"] == nil || out["refresh_token"] != nil || out["id_token"] != nil {
		t.Fatalf("client_credentials: %d %v", st, out)
	}
	info, err := e.p.VerifyAccessToken(context.Background(), out["access_token"].(string))
	if err != nil || info.User != "" || info.Client != "svc" {
		t.Errorf("VerifyAccessToken: %+v %v", info, err)
	}
	if st, _ := e.userinfo(t, out["access_token"].(string)); st != http.StatusForbidden {
		t.Errorf("userinfo with client token: %d", st)
	}
	st, out = e.postForm(t, "/token", "svc", svcSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}})
	if st != 400 || out["error"] != "invalid_scope" {
		t.Errorf("client_credentials openid: %d %v", st, out)
	}
	st, out = e.postForm(t, "/token", "portal", portalSecret, url.Values{"grant_type": {"client_credentials"}})
	if st != 400 || out["error"] != "unauthorized_client" {
		t.Errorf("client_credentials for portal: %d %v", st, out)
	}
}
