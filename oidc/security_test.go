package oidc

// Regression tests of security issue #15 (OIDC parts), each over real
// sockets against a running provider.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/storetest"
)

// rawPost posts body to path and returns the status and the body; a
// transport error (the server may close a connection whose body it
// refused) is returned as status 0.
func (e *env) rawPost(path, contentType, body string) (int, string) {
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Post(e.srv.URL+path, contentType, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b := new(strings.Builder)
	_, _ = fmt.Fprint(b, resp.Header.Get("Location"))
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

// TestIssue15ParameterCaps: over-long parameters and over-large bodies of
// /authorize, /login, /logout and the token endpoints are invalid_request
// (4xx, never 500), and the over-long state is never echoed.
func TestIssue15ParameterCaps(t *testing.T) {
	e := newEnv(t, 0)
	long := func(n int) string { return strings.Repeat("x", n) }

	// Authorization endpoint: redirected error without the state.
	for _, p := range []string{"state", "nonce", "scope", "login_hint", "some_extension"} {
		pg, loc, err := newBrowser(rpRedirect).get(e.authorizeURL(authParams("portal", p, long(5000))))
		if err != nil || loc == nil {
			t.Errorf("%s: want a redirected error, got page %d %q (%v)", p, pg.status, pg.alert(), err)
			continue
		}
		if q := loc.Query(); q.Get("error") != errInvalidRequest || (p == "state" && q.Has("state")) {
			t.Errorf("%s: redirect %.200s", p, loc)
		}
	}
	// client_id and redirect_uri cannot be trusted to redirect to.
	for _, p := range []string{"client_id", "redirect_uri"} {
		pg, loc, err := newBrowser(rpRedirect).get(e.authorizeURL(authParams("portal", p, long(5000))))
		if err != nil || loc != nil || pg.status != http.StatusBadRequest {
			t.Errorf("%s: want a 400 page, got %v %d (%v)", p, loc, pg.status, err)
		}
	}
	// A body over the cap: the 5 MB state of the report, and 100 KB.
	for _, n := range []int{100 << 10, 5 << 20} {
		v := authParams("portal", "state", long(n))
		st, body := e.rawPost("/authorize", "application/x-www-form-urlencoded", v.Encode())
		if st != 0 && st != http.StatusBadRequest {
			t.Errorf("POST /authorize with %d bytes: %d %.200s", n, st, body)
		}
	}
	if n := e.p.logins.len(); n != 0 {
		t.Errorf("%d sign-in requests kept from refused requests", n)
	}

	// Token, revocation, introspection: OAuth JSON errors.
	for _, tc := range []struct {
		path string
		v    url.Values
	}{
		{"/token", url.Values{"grant_type": {"authorization_code"}, "code": {long(300)}, "redirect_uri": {rpRedirect}}},
		{"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {long(300)}}},
		{"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {long(600)}}},
		{"/token", url.Values{"grant_type": {"authorization_code"}, "padding": {long(20 << 10)}}},
		{"/revoke", url.Values{"token": {long(5000)}}},
		{"/introspect", url.Values{"token": {long(5000)}}},
	} {
		st, out := e.postForm(t, tc.path, "portal", portalSecret, tc.v)
		wantOAuthError(t, st, out, http.StatusBadRequest, errInvalidRequest)
	}
	st, out := e.postForm(t, "/token", long(1000), "x", url.Values{"grant_type": {"client_credentials"}})
	wantOAuthError(t, st, out, http.StatusBadRequest, errInvalidRequest)

	// Sign-in form and logout: pages, 400.
	b := newBrowser(rpRedirect)
	pg, _, err := b.get(e.authorizeURL(authParams("portal")))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []map[string]string{{"tenant": long(300)}, {"username": long(300)}, {"padding": long(20 << 10)}} {
		if pg2, _, err := b.submit(pg, f); err != nil || pg2.status != http.StatusBadRequest {
			t.Errorf("sign-in form %.40v: %d (%v)", f, pg2.status, err)
		}
	}
	for _, v := range []url.Values{
		{"client_id": {"portal"}, "post_logout_redirect_uri": {rpLogout + "?" + long(3000)}},
		{"client_id": {"portal"}, "state": {long(5000)}},
		{"id_token_hint": {long(100 << 10)}},
	} {
		pg, loc, err := newBrowser(rpLogout).get(e.srv.URL + "/logout?" + v.Encode())
		if err != nil || loc != nil || pg.status != http.StatusBadRequest {
			t.Errorf("logout with an over-long parameter: %v %d (%v)", loc, pg.status, err)
		}
	}
}

// TestIssue15FloodKeepsStoreFlat simulates an hour of unauthenticated
// traffic (a minute of the fake clock per round, Cleanup as the sweeper
// between rounds): sign-in requests with 2 KB values, refused over-long
// ones, sign-in forms, bogus codes and revocations. The store file does
// not grow after the first rounds, and the pending sign-ins stay within
// their bound.
func TestIssue15FloodKeepsStoreFlat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := storetest.Engine(t, st, policy.EngineConfig{})
	users := seed(t, st, 0)
	e := startProvider(t, st, eng, users)
	ctx := context.Background()
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	value := strings.Repeat("s", 2000)
	var baseline int64
	for minute := range 60 {
		for i := range 40 {
			v := authParams("portal", "state", fmt.Sprintf("%d-%d-%s", minute, i, value), "nonce", value[:500])
			if _, loc, err := newBrowser(rpRedirect).get(e.authorizeURL(v)); err != nil || loc != nil {
				t.Fatalf("sign-in request: %v %v", loc, err)
			}
		}
		for range 3 {
			st, _ := e.rawPost("/authorize", "application/x-www-form-urlencoded", authParams("portal", "state", strings.Repeat(value, 3)).Encode())
			if st != http.StatusSeeOther {
				t.Fatalf("over-long state: %d", st)
			}
		}
		b := newBrowser(rpRedirect)
		for range 3 {
			pg, _, _ := b.get(e.authorizeURL(authParams("portal", "state", value)))
			if pg2, _, err := b.submit(pg, map[string]string{"tenant": testTenant}); err != nil || pg2.status != http.StatusOK {
				t.Fatalf("company step: %d %v", pg2.status, err)
			}
		}
		for range 2 {
			e.postForm(t, "/token", "", "", url.Values{"client_id": {"spa"}, "grant_type": {"authorization_code"}, "code": {codePrefix + randomString(32)}})
			e.postForm(t, "/revoke", "", "", url.Values{"client_id": {"spa"}, "token": {refreshPrefix + randomString(32)}})
		}
		e.clock.Advance(time.Minute)
		if _, err := e.p.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		if n := e.p.logins.len(); n > defaultMaxPendingPerAddr && !t.Failed() {
			t.Errorf("minute %d: %d pending sign-ins from one address, bound %d", minute, n, defaultMaxPendingPerAddr)
		}
		if minute == 2 {
			baseline = size()
		}
	}
	if end := size(); end > baseline {
		t.Errorf("store file grew under the flood: %d bytes after 3 minutes, %d after 60", baseline, end)
	}
}

// TestIssue15PendingSignInsBounded: past the per-address bound the oldest
// request of that address gives way; past the total bound the oldest of
// all does.
func TestIssue15PendingSignInsBounded(t *testing.T) {
	e := newEnv(t, 0, func(c *Config) {
		c.MaxPendingPerAddress, c.MaxPendingSignIns = 3, 5
		c.TrustForwardedFor = true
	})
	start := func(addr string) (*browser, page) {
		t.Helper()
		b := newBrowser(rpRedirect)
		b.c.Transport = &xffTransport{seen: func(int) string { return addr }}
		pg, _, err := b.get(e.authorizeURL(authParams("portal")))
		if err != nil || pg.status != http.StatusOK {
			t.Fatalf("sign-in page: %d %v", pg.status, err)
		}
		return b, pg
	}
	alive := func(b *browser, pg page) bool {
		pg2, _, err := b.submit(pg, map[string]string{"tenant": testTenant})
		return err == nil && pg2.status == http.StatusOK
	}
	b1, p1 := start("192.0.2.1")
	for range 3 {
		start("192.0.2.1")
	}
	if alive(b1, p1) {
		t.Error("a fourth request from one address kept the first")
	}
	b2, p2 := start("192.0.2.2")
	for i := range 5 {
		start(fmt.Sprintf("192.0.2.%d", 10+i))
	}
	if alive(b2, p2) {
		t.Error("the oldest request survived the total bound")
	}
	if n := e.p.logins.len(); n != 5 {
		t.Errorf("%d pending, want 5", n)
	}
}

// TestIssue15EmailVerified: email_verified is true only when the user's
// source vouches for the address: a SCIM tenant that verifies addresses,
// for its own domains; an LDAP directory for the domains it is
// authoritative for. Never a local account, never what a directory put in
// the user's attributes, never a partner for a vendor's address.
func TestIssue15EmailVerified(t *testing.T) {
	st, eng := openStore(t)
	users := seed(t, st, 0)
	ctx := context.Background()
	// Like cmd/roster's: ldap:corp is authoritative for acme.example,
	// SCIM of acme verifies e-mail.
	vouch := func(u policy.User, tn policy.Tenant, addr string) bool {
		switch u.Source {
		case "ldap:corp":
			return policy.InDomains(addr, []string{"acme.example"}) && policy.InDomains(addr, tn.Domains)
		case "scim:" + string(tn.ID):
			return policy.InDomains(addr, tn.Domains)
		}
		return false
	}
	tests := []struct {
		name, source, email string
		attrs               map[string]any
		want                bool
	}{
		{"scim, own domain", "scim:acme", "sam@acme.example", nil, true},
		{"scim, a vendor's address", "scim:acme", "ceo@vendor.example", nil, false},
		{"scim, a vendor's address claimed verified", "scim:acme", "cfo@vendor.example", map[string]any{"emailVerified": true}, false},
		{"ldap, authoritative domain", "ldap:corp", "lee@acme.example", nil, true},
		{"ldap, other domain", "ldap:corp", "lee@gmail.example", nil, false},
		{"local account", "local", "loc@acme.example", map[string]any{"emailVerified": true}, false},
		{"unknown source", "csv-import", "csv@acme.example", nil, false},
	}
	err := st.Update(ctx, "test", func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: testTenant, Name: "Acme Corp", Kind: policy.TenantPartner, Domains: []string{"acme.example"}}); err != nil {
			return err
		}
		for i, tc := range tests {
			if _, err := tx.CreateUser(testTenant, policy.User{Tenant: testTenant, UserName: fmt.Sprintf("user%d", i), Active: true,
				Source: tc.source, Attributes: tc.attrs, Emails: []policy.Email{{Value: tc.email, Primary: true}}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tests {
		if _, err := (LocalAccounts{Store: st, Cost: bcrypt.MinCost}).SetPassword(ctx, testTenant, fmt.Sprintf("user%d", i), alicePassword); err != nil {
			t.Fatal(err)
		}
	}
	e := startProvider(t, st, eng, users, func(c *Config) { c.EmailVerified = vouch })
	r := newRP(t, e, "portal", portalSecret, gooidc.ScopeOpenID, "email")
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, _, cl := r.signIn(t, "s", "n", map[string]string{"tenant": testTenant}, map[string]string{"username": fmt.Sprintf("user%d", i), "password": alicePassword})
			if cl.Email != tc.email || cl.EmailVerified != tc.want {
				t.Errorf("ID token: email %q verified %v, want %q %v", cl.Email, cl.EmailVerified, tc.email, tc.want)
			}
			if _, ui := e.userinfo(t, tok.AccessToken); ui["email_verified"] != tc.want {
				t.Errorf("userinfo: %v", ui)
			}
		})
	}
}

// TestIssue15UpstreamEmailVerified: a user signing in at the tenant's IdP
// has a verified address only when the IdP says "email_verified": true
// for it, and only inside the tenant's own domains.
func TestIssue15UpstreamEmailVerified(t *testing.T) {
	st, eng := openStore(t)
	users := seed(t, st, 0)
	ctx := context.Background()
	if err := st.Update(ctx, "test", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: upstreamTenant, Name: "Globex", Kind: policy.TenantPartner, Domains: []string{"globex.example"}})
	}); err != nil {
		t.Fatal(err)
	}
	mainSrv := newLateServer(t)
	idp := newUpstreamIdP(t, mainSrv.URL)
	main := startProviderOn(t, mainSrv, st, eng, users, func(c *Config) {
		c.Upstreams = map[policy.TenantID]UpstreamConfig{upstreamTenant: {Issuer: idp.srv.URL, ClientID: "roster",
			ClientSecret: upstreamSecret, CreateUsers: true}}
	})
	setCarol := func(email string, verified bool) {
		t.Helper()
		if err := idp.st.Update(ctx, "test", func(tx store.Tx) error {
			c, err := tx.UserByUserName(upstreamTenantU, "carol")
			if err != nil {
				return err
			}
			c.Attributes = map[string]any{"emailVerified": verified}
			c.Emails = []policy.Email{{Value: email, Primary: true}}
			_, err = tx.UpdateUser(upstreamTenantU, c)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// The JIT user's address follows the IdP's (as a directory sync would).
		if err := st.Update(ctx, "test", func(tx store.Tx) error {
			c, err := tx.UserByUserName(upstreamTenant, "carol")
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			c.Emails = []policy.Email{{Value: email, Primary: true}}
			_, err = tx.UpdateUser(upstreamTenant, c)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	r := newRP(t, main, "portal", portalSecret, gooidc.ScopeOpenID, "email")
	for _, tc := range []struct {
		email    string
		idpSays  bool
		want     bool
		scenario string
	}{
		{"carol@globex.example", false, false, "the IdP does not vouch"},
		{"carol@globex.example", true, true, "the IdP vouches for its own domain"},
		{"alice@vendor.example", true, false, "the IdP vouches for a vendor's address"},
	} {
		setCarol(tc.email, tc.idpSays)
		idp.clock.Advance(time.Minute)
		_, _, cl := r.signIn(t, "s", "n", upstreamSteps()...)
		if cl.Email != tc.email || cl.EmailVerified != tc.want {
			t.Errorf("%s: email %q verified %v, want %v", tc.scenario, cl.Email, cl.EmailVerified, tc.want)
		}
	}
}

// TestIssue15ClientDeletion: deleting a client revokes what it was
// issued; a client created again with the same id starts clean. The audit
// names the admin who did it.
func TestIssue15ClientDeletion(t *testing.T) {
	e := newEnv(t, 0)
	ctx := store.WithActor(context.Background(), "admin:ops")
	def := ClientConfig{ID: "tool", RedirectURIs: []string{rpRedirect}}
	_, secret, err := e.p.CreateClient(ctx, def)
	if err != nil {
		t.Fatal(err)
	}
	v := oauth2.GenerateVerifier()
	code := e.code(t, "tool", v)
	st, tok := e.postForm(t, "/token", "tool", secret, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"code_verifier": {v}, "redirect_uri": {rpRedirect}})
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, tok)
	}
	code2 := e.code(t, "tool", v) // issued, not yet exchanged
	if err := e.p.DeleteClient(ctx, "tool"); err != nil {
		t.Fatal(err)
	}
	def.Secret = ""
	_, secret2, err := e.p.CreateClient(ctx, def)
	if err != nil {
		t.Fatal(err)
	}
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	if st, _ := e.userinfo(t, at); st != http.StatusUnauthorized {
		t.Errorf("userinfo with the deleted client's token: %d", st)
	}
	if _, err := e.p.VerifyAccessToken(context.Background(), at); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("VerifyAccessToken: %v", err)
	}
	st, out := e.postForm(t, "/token", "tool", secret2, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	wantOAuthError(t, st, out, http.StatusBadRequest, errInvalidGrant)
	st, out = e.postForm(t, "/token", "tool", secret2, url.Values{"grant_type": {"authorization_code"}, "code": {code2},
		"code_verifier": {v}, "redirect_uri": {rpRedirect}})
	wantOAuthError(t, st, out, http.StatusBadRequest, errInvalidGrant)
	for _, tk := range []string{at, rt} {
		if st, in := e.postForm(t, "/introspect", "tool", secret2, url.Values{"token": {tk}}); st != 200 || in["active"] != false {
			t.Errorf("introspection by the new client: %d %v", st, in)
		}
	}
	// The new client works.
	v2 := oauth2.GenerateVerifier()
	if st, out := e.postForm(t, "/token", "tool", secret2, url.Values{"grant_type": {"authorization_code"}, "code": {e.code(t, "tool", v2)},
		"code_verifier": {v2}, "redirect_uri": {rpRedirect}}); st != 200 {
		t.Errorf("new client: %d %v", st, out)
	}
	for _, c := range auditOf(t, e.st, "oidc-client/tool") {
		if c.Actor != "admin:ops" {
			t.Errorf("audit %s %s by %q, want admin:ops", c.Op, c.ID, c.Actor)
		}
	}
}

// TestIssue15IntrospectionOwnTokens: a client learns about its own tokens
// only, unless registered as a resource server.
func TestIssue15IntrospectionOwnTokens(t *testing.T) {
	e := newEnv(t, 0, func(c *Config) {
		c.Clients = append(c.Clients, ClientConfig{ID: "api", Secret: svcSecret, GrantTypes: []string{GrantClientCredentials},
			Scopes: []string{ScopeGroups}, ResourceServer: true})
	})
	verifier := oauth2.GenerateVerifier()
	_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
	for _, kind := range []string{"access_token", "refresh_token"} {
		if st, in := e.postForm(t, "/introspect", "london", portalSecret, url.Values{"token": {tok[kind].(string)}}); st != 200 || len(in) != 1 || in["active"] != false {
			t.Errorf("%s of portal introspected by london: %d %v", kind, st, in)
		}
		if st, in := e.postForm(t, "/introspect", "portal", portalSecret, url.Values{"token": {tok[kind].(string)}}); st != 200 || in["active"] != true {
			t.Errorf("%s introspected by its own client: %d %v", kind, st, in)
		}
	}
	if st, in := e.postForm(t, "/introspect", "api", svcSecret, url.Values{"token": {tok["access_token"].(string)}}); st != 200 || in["active"] != true || in["client_id"] != "portal" {
		t.Errorf("access token introspected by a resource server: %d %v", st, in)
	}
}

// TestIssue15RedirectURISchemes: a client registers https, http on
// loopback, or a private-use scheme; never javascript:, data:, file:,
// vbscript: or http elsewhere.
func TestIssue15RedirectURISchemes(t *testing.T) {
	e := newEnv(t, 0)
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"javascript:alert(document.cookie)//", false},
		{"javascript://x/%0aalert(1)", false},
		{"JavaScript://x/%0aalert(1)", false},
		{"data:text/html,<script>alert(1)</script>", false},
		{"file:///etc/passwd", false},
		{"vbscript:msgbox(1)", false},
		{"http://tool.example/cb", false},
		{"myapp:/cb", false},
		{"https:/cb", false},
		{"https://tool.example/cb", true},
		{"http://127.0.0.1:9000/cb", true},
		{"http://[::1]:9000/cb", true},
		{"http://localhost:9000/cb", true},
		{"com.example.tool:/oauth2redirect", true},
	} {
		_, _, err := e.p.CreateClient(context.Background(), ClientConfig{Public: true, RedirectURIs: []string{tc.uri}})
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidClient)) {
			t.Errorf("redirect URI %q: %v, want ok %v", tc.uri, err, tc.ok)
		}
		_, _, err = e.p.CreateClient(context.Background(), ClientConfig{Public: true, RedirectURIs: []string{"https://tool.example/cb"}, PostLogoutRedirectURIs: []string{tc.uri}})
		if (err == nil) != tc.ok {
			t.Errorf("post-logout redirect URI %q: %v, want ok %v", tc.uri, err, tc.ok)
		}
	}
	// Over HTTP: /authorize never reaches such an address, as none can be
	// registered; configuration is refused at start.
	_, err := New(Config{Issuer: "https://roster.example", Store: e.st, Engine: e.engine,
		Clients: []ClientConfig{{ID: "x", Secret: portalSecret, RedirectURIs: []string{"javascript:alert(1)//"}}}})
	if !errors.Is(err, ErrInvalidClient) {
		t.Errorf("configured javascript: redirect URI: %v", err)
	}
}

// TestIssue15PKCERequired: every client needs PKCE unless its registration
// opts out; a public client cannot.
func TestIssue15PKCERequired(t *testing.T) {
	e := newEnv(t, 0)
	wantRedirectError(t, e, authParams("portal", "code_challenge", "", "code_challenge_method", ""), errInvalidRequest)
	if loc, err := newBrowser(rpRedirect).signIn(e.authorizeURL(authParams("legacy", "code_challenge", "", "code_challenge_method", "")), aliceSteps()...); err != nil || loc.Query().Get("code") == "" {
		t.Errorf("client registered with pkce: optional: %v %v", loc, err)
	}
	if _, _, err := e.p.CreateClient(context.Background(), ClientConfig{Public: true, PKCE: PKCEOptional, RedirectURIs: []string{rpRedirect}}); !errors.Is(err, ErrInvalidClient) {
		t.Errorf("public client without PKCE: %v", err)
	}
}

// TestIssue15AuditActors: token issue (code, refresh, client credentials)
// and revocation are audited on behalf of the user (or the client acting
// for itself); local-account changes on behalf of the caller in ctx.
func TestIssue15AuditActors(t *testing.T) {
	e := newEnv(t, 0)
	alice := userActor(testTenant, "alice")
	verifier := oauth2.GenerateVerifier()
	st, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
	if st != 200 {
		t.Fatalf("exchange: %d %v", st, tok)
	}
	_, ref := e.refreshWith(t, tok["refresh_token"].(string))
	if st, _ := e.postForm(t, "/revoke", "portal", portalSecret, url.Values{"token": {ref["refresh_token"].(string)}}); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	st, cc := e.postForm(t, "/token", "svc", svcSecret, url.Values{"grant_type": {"client_credentials"}})
	if st != 200 {
		t.Fatalf("client credentials: %d %v", st, cc)
	}
	type entry struct {
		actor string
		op    policy.Op
	}
	var got []entry
	for _, c := range auditOf(t, e.st, auditGrant) {
		got = append(got, entry{c.Actor, c.Op})
	}
	want := []entry{{alice, policy.OpCreate}, {alice, policy.OpCreate}, {alice, policy.OpDelete}, {clientActor("svc"), policy.OpCreate}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("token audit:\n got %v\nwant %v", got, want)
	}

	ctx := store.WithActor(context.Background(), "admin:ops")
	if _, err := (LocalAccounts{Store: e.st, Cost: bcrypt.MinCost}).SetPassword(ctx, testTenant, "newbie", "newbie-password"); err != nil {
		t.Fatal(err)
	}
	for _, c := range auditOf(t, e.st, "") {
		if c.Tenant == testTenant && strings.Contains(string(c.After), "newbie") || strings.HasSuffix(c.ID, "/newbie") {
			if c.Actor != "admin:ops" {
				t.Errorf("local account change %s %s by %q", c.Op, c.ID, c.Actor)
			}
		}
	}
}

// auditOf returns the audit entries whose ID starts with prefix.
func auditOf(t *testing.T, st store.Store, prefix string) []policy.Change {
	t.Helper()
	var out []policy.Change
	err := st.View(context.Background(), func(tx store.Tx) error {
		cs, err := tx.Audit(0, 0)
		for _, c := range cs {
			if strings.HasPrefix(c.ID, prefix) {
				out = append(out, c)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Errorf("no audit entries %q…", prefix)
	}
	return out
}
