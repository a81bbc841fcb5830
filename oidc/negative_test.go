package oidc

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (e *env) authorizeURL(v url.Values) string { return e.srv.URL + "/authorize?" + v.Encode() }

// testVerifier is the PKCE verifier of the code_challenge authParams sends
// by default (PKCE is required unless a client opts out).
var testVerifier = strings.Repeat("v", 43)

func authParams(client string, extra ...string) url.Values {
	v := url.Values{"client_id": {client}, "redirect_uri": {rpRedirect}, "response_type": {"code"},
		"scope": {"openid profile groups offline_access"}, "state": {"st-9"}, "nonce": {"n-9"},
		"code_challenge": {s256(testVerifier)}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			v.Del(extra[i])
		} else {
			v.Set(extra[i], extra[i+1])
		}
	}
	return v
}

// code signs alice in for client with an S256 challenge of verifier (none
// when verifier is empty) and returns the code.
func (e *env) code(t *testing.T, client, verifier string) string {
	t.Helper()
	v := authParams(client, "code_challenge", "", "code_challenge_method", "")
	if verifier != "" {
		v.Set("code_challenge", s256(verifier))
		v.Set("code_challenge_method", "S256")
	}
	loc, err := newBrowser(rpRedirect).signIn(e.authorizeURL(v), aliceSteps()...)
	if err != nil {
		t.Fatal(err)
	}
	if loc.Query().Get("code") == "" {
		t.Fatalf("no code: %v", loc)
	}
	return loc.Query().Get("code")
}

func (e *env) exchange(t *testing.T, code, verifier string) (int, map[string]any) {
	t.Helper()
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}}
	if verifier != "" {
		v.Set("code_verifier", verifier)
	}
	return e.postForm(t, "/token", "portal", portalSecret, v)
}

func (e *env) refreshWith(t *testing.T, rt string) (int, map[string]any) {
	t.Helper()
	return e.postForm(t, "/token", "portal", portalSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func wantOAuthError(t *testing.T, status int, body map[string]any, wantStatus int, code string) {
	t.Helper()
	if status != wantStatus || body["error"] != code {
		t.Errorf("got %d %v, want %d %s", status, body, wantStatus, code)
	}
}

// wantRedirectError checks an authorization error redirected to the client.
func wantRedirectError(t *testing.T, e *env, v url.Values, code string) {
	t.Helper()
	pg, loc, err := newBrowser(rpRedirect).get(e.authorizeURL(v))
	if err != nil || loc == nil {
		t.Fatalf("want redirect, got page %d %q (%v)", pg.status, pg.alert(), err)
	}
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), rpRedirect) || q.Get("error") != code || q.Get("state") != "st-9" || q.Get("error_description") == "" {
		t.Errorf("redirect %v, want error %s with state", loc, code)
	}
}

// wantErrorPage checks an authorization error shown without redirect.
func wantErrorPage(t *testing.T, e *env, v url.Values) {
	t.Helper()
	pg, loc, err := newBrowser(rpRedirect).get(e.authorizeURL(v))
	if err != nil || loc != nil || pg.status != http.StatusBadRequest || pg.alert() == "" {
		t.Errorf("want error page, got %v status %d (%v)", loc, pg.status, err)
	}
}

// signInPage runs the sign-in with steps and returns the final page.
func signInPage(t *testing.T, e *env, b *browser, steps ...map[string]string) page {
	t.Helper()
	v := authParams("portal", "code_challenge", s256(strings.Repeat("v", 43)), "code_challenge_method", "S256")
	pg, loc, err := b.get(e.authorizeURL(v))
	for _, st := range steps {
		if err != nil || loc != nil {
			t.Fatalf("unexpected end of sign-in: %v %v", loc, err)
		}
		pg, loc, err = b.submit(pg, st)
	}
	if err != nil || loc != nil {
		t.Fatalf("unexpected end of sign-in: %v %v", loc, err)
	}
	return pg
}

// wantUserLockedOut checks that the tokens of a user deactivated or deleted
// since sign-in no longer work anywhere: introspection says inactive
// (RFC 7662 §2.2), userinfo refuses the access token and the refresh token
// is refused.
func (e *env) wantUserLockedOut(t *testing.T, tok map[string]any) {
	t.Helper()
	for _, kind := range []string{"access_token", "refresh_token"} {
		if st, in := e.postForm(t, "/introspect", "portal", portalSecret, url.Values{"token": {tok[kind].(string)}}); st != 200 || in["active"] != false {
			t.Errorf("introspection of the %s: %d %v, want active false", kind, st, in)
		}
	}
	if st, _ := e.userinfo(t, tok["access_token"].(string)); st != 401 {
		t.Errorf("userinfo: %d, want 401", st)
	}
	st, out := e.refreshWith(t, tok["refresh_token"].(string))
	wantOAuthError(t, st, out, 400, "invalid_grant")
}

func noneJWT(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "."
}

func TestNegative(t *testing.T) {
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"wrong redirect URI shows a page", func(t *testing.T, e *env) {
			wantErrorPage(t, e, authParams("portal", "redirect_uri", "http://127.0.0.1:1/evil"))
			wantErrorPage(t, e, authParams("portal", "redirect_uri", rpRedirect+"/"))
			wantErrorPage(t, e, authParams("portal", "redirect_uri", rpRedirect+"#x"))
			wantErrorPage(t, e, authParams("portal", "redirect_uri", rpRedirect+"?x=1"))
			wantErrorPage(t, e, authParams("portal", "redirect_uri", "http://127.0.0.1:2/cb"))
			wantErrorPage(t, e, authParams("portal", "redirect_uri", "HTTP://127.0.0.1:1/cb"))
			wantErrorPage(t, e, authParams("portal", "redirect_uri", "http://127.0.0.1:1/cbx"))
			wantErrorPage(t, e, authParams("portal", "redirect_uri", ""))
		}},
		{"unknown client shows a page", func(t *testing.T, e *env) {
			wantErrorPage(t, e, authParams("nobody"))
		}},
		{"plain PKCE refused", func(t *testing.T, e *env) {
			wantRedirectError(t, e, authParams("portal", "code_challenge", strings.Repeat("a", 43), "code_challenge_method", "plain"), "invalid_request")
			wantRedirectError(t, e, authParams("portal", "code_challenge", strings.Repeat("a", 43), "code_challenge_method", ""), "invalid_request")
		}},
		{"public client needs PKCE", func(t *testing.T, e *env) {
			wantRedirectError(t, e, authParams("spa", "code_challenge", "", "code_challenge_method", ""), "invalid_request")
		}},
		{"scope the client may not have", func(t *testing.T, e *env) {
			wantRedirectError(t, e, authParams("narrow"), "invalid_scope")
			wantRedirectError(t, e, authParams("portal", "scope", "openid admin"), "invalid_scope")
			wantRedirectError(t, e, authParams("portal", "scope", "profile"), "invalid_scope")
		}},
		{"unsupported response type", func(t *testing.T, e *env) {
			wantRedirectError(t, e, authParams("portal", "response_type", "token"), "unsupported_response_type")
		}},
		{"missing PKCE verifier", func(t *testing.T, e *env) {
			st, out := e.exchange(t, e.code(t, "portal", verifier), "")
			wantOAuthError(t, st, out, 400, "invalid_grant")
		}},
		{"wrong PKCE verifier", func(t *testing.T, e *env) {
			st, out := e.exchange(t, e.code(t, "portal", verifier), oauth2.GenerateVerifier())
			wantOAuthError(t, st, out, 400, "invalid_grant")
		}},
		{"verifier without challenge", func(t *testing.T, e *env) {
			st, out := e.postForm(t, "/token", "legacy", portalSecret, url.Values{"grant_type": {"authorization_code"},
				"code": {e.code(t, "legacy", "")}, "code_verifier": {verifier}, "redirect_uri": {rpRedirect}})
			wantOAuthError(t, st, out, 400, "invalid_grant")
		}},
		{"redirect URI mismatch at token endpoint", func(t *testing.T, e *env) {
			st, out := e.postForm(t, "/token", "portal", portalSecret, url.Values{"grant_type": {"authorization_code"},
				"code": {e.code(t, "portal", verifier)}, "code_verifier": {verifier}, "redirect_uri": {rpRedirect + "x"}})
			wantOAuthError(t, st, out, 400, "invalid_grant")
		}},
		{"code of another client", func(t *testing.T, e *env) {
			st, out := e.postForm(t, "/token", "london", portalSecret, url.Values{"grant_type": {"authorization_code"},
				"code": {e.code(t, "portal", verifier)}, "code_verifier": {verifier}, "redirect_uri": {rpRedirect}})
			wantOAuthError(t, st, out, 400, "invalid_grant")
		}},
		{"code replay revokes the first tokens", func(t *testing.T, e *env) {
			code, first := firstExchange(t, e, verifier)
			wantReplayRevokes(t, e, code, verifier, first)
		}},
		{"code replay after cleanup still revokes", func(t *testing.T, e *env) {
			code, first := firstExchange(t, e, verifier)
			e.clock.Advance(2 * time.Minute) // the code has expired, its tokens have not
			if _, err := e.p.Cleanup(context.Background()); err != nil {
				t.Fatal(err)
			}
			wantReplayRevokes(t, e, code, verifier, first)
		}},
		{"refresh reuse revokes the family", func(t *testing.T, e *env) {
			_, first := e.exchange(t, e.code(t, "portal", verifier), verifier)
			rt1 := first["refresh_token"].(string)
			st, second := e.refreshWith(t, rt1)
			if st != 200 {
				t.Fatalf("refresh: %d %v", st, second)
			}
			st, out := e.refreshWith(t, rt1)
			wantOAuthError(t, st, out, 400, "invalid_grant")
			st, out = e.refreshWith(t, second["refresh_token"].(string))
			wantOAuthError(t, st, out, 400, "invalid_grant")
			if st, _ := e.userinfo(t, second["access_token"].(string)); st != 401 {
				t.Errorf("access token of revoked family still works: %d", st)
			}
		}},
		{"expired code", func(t *testing.T, e *env) {
			code := e.code(t, "portal", verifier)
			e.clock.Advance(61 * time.Second)
			st, out := e.exchange(t, code, verifier)
			wantOAuthError(t, st, out, 400, "invalid_grant")
		}},
		{"expired access token", func(t *testing.T, e *env) {
			_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
			at := tok["access_token"].(string)
			if st, _ := e.userinfo(t, at); st != 200 {
				t.Fatalf("fresh token: %d", st)
			}
			e.clock.Advance(10*time.Minute + time.Second)
			if st, _ := e.userinfo(t, at); st != 401 {
				t.Errorf("expired token at userinfo: %d", st)
			}
			if _, in := e.postForm(t, "/introspect", "portal", portalSecret, url.Values{"token": {at}}); in["active"] != false {
				t.Errorf("expired token introspected active: %v", in)
			}
			n, err := e.p.Cleanup(context.Background())
			if err != nil || n == 0 {
				t.Errorf("Cleanup = %d, %v", n, err)
			}
		}},
		{"expired refresh token", func(t *testing.T, e *env) {
			_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
			e.clock.Advance(8*time.Hour + time.Minute)
			st, out := e.refreshWith(t, tok["refresh_token"].(string))
			wantOAuthError(t, st, out, 400, "invalid_grant")
		}},
		{"inactive user cannot sign in", func(t *testing.T, e *env) {
			pg := signInPage(t, e, newBrowser(rpRedirect), map[string]string{"tenant": testTenant}, map[string]string{"username": "bob", "password": bobPassword})
			if pg.status != http.StatusForbidden || !strings.Contains(pg.alert(), "disabled") {
				t.Errorf("bob: %d %q", pg.status, pg.alert())
			}
		}},
		{"deactivated user cannot refresh", func(t *testing.T, e *env) {
			_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
			err := e.st.Update(context.Background(), "test", func(tx store.Tx) error {
				return deactivateUser(tx, e.users["alice"].ID)
			})
			if err != nil {
				t.Fatal(err)
			}
			e.wantUserLockedOut(t, tok)
		}},
		{"deleted user loses access", func(t *testing.T, e *env) {
			_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
			err := e.st.Update(context.Background(), "test", func(tx store.Tx) error {
				return tx.DeleteUser(testTenant, e.users["alice"].ID)
			})
			if err != nil {
				t.Fatal(err)
			}
			e.wantUserLockedOut(t, tok)
		}},
		{"wrong password", func(t *testing.T, e *env) {
			pg := signInPage(t, e, newBrowser(rpRedirect), map[string]string{"tenant": testTenant}, map[string]string{"username": "alice", "password": "nope-nope"})
			if pg.status != http.StatusUnauthorized || !strings.Contains(pg.alert(), "wrong") {
				t.Errorf("wrong password: %d %q", pg.status, pg.alert())
			}
			pg = signInPage(t, e, newBrowser(rpRedirect), map[string]string{"tenant": testTenant}, map[string]string{"username": "mallory", "password": "nope-nope"})
			if pg.status != http.StatusUnauthorized {
				t.Errorf("unknown user: %d %q", pg.status, pg.alert())
			}
		}},
		{"unknown tenant", func(t *testing.T, e *env) {
			pg := signInPage(t, e, newBrowser(rpRedirect), map[string]string{"tenant": "initech"})
			if pg.status != http.StatusBadRequest || !strings.Contains(pg.alert(), "initech") {
				t.Errorf("unknown tenant: %d %q", pg.status, pg.alert())
			}
			if _, v, ok := pg.form(); !ok || v.Get("step") != "tenant" {
				t.Errorf("no company form after unknown tenant")
			}
		}},
		{"password attempts are rate limited", func(t *testing.T, e *env) {
			b := newBrowser(rpRedirect)
			for i := range 5 {
				pg := signInPage(t, e, b, map[string]string{"tenant": testTenant}, map[string]string{"username": "alice", "password": "nope-nope"})
				if pg.status != http.StatusUnauthorized {
					t.Fatalf("attempt %d: %d", i, pg.status)
				}
			}
			pg := signInPage(t, e, b, map[string]string{"tenant": testTenant}, map[string]string{"username": "alice", "password": alicePassword})
			if pg.status != http.StatusTooManyRequests {
				t.Errorf("sixth attempt: %d %q", pg.status, pg.alert())
			}
			e.clock.Advance(61 * time.Second) // one failure refills per minute
			if loc, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil || loc.Query().Get("code") == "" {
				t.Errorf("after refill: %v %v", loc, err)
			}
		}},
		{"CSRF token and browser binding", func(t *testing.T, e *env) {
			b := newBrowser(rpRedirect)
			pg, _, _ := b.get(e.authorizeURL(authParams("portal")))
			pg2, _, _ := b.submit(pg, map[string]string{"tenant": testTenant, "csrf": "forged"})
			if pg2.status != http.StatusForbidden {
				t.Errorf("forged csrf: %d", pg2.status)
			}
			other := newBrowser(rpRedirect) // no binding cookie
			pg3, _, _ := other.submit(pg, map[string]string{"tenant": testTenant})
			if pg3.status != http.StatusBadRequest || !strings.Contains(pg3.alert(), "another browser") {
				t.Errorf("other browser: %d %q", pg3.status, pg3.alert())
			}
		}},
		{"alg none token rejected", func(t *testing.T, e *env) {
			tok := noneJWT(`{"iss":"` + e.srv.URL + `","sub":"` + string(e.users["alice"].ID) + `","aud":"portal","exp":9999999999,"sid":"x"}`)
			if st, _ := e.userinfo(t, tok); st != 401 {
				t.Errorf("userinfo: %d", st)
			}
			if st, in := e.postForm(t, "/introspect", "portal", portalSecret, url.Values{"token": {tok}}); st != 200 || in["active"] != false {
				t.Errorf("introspect: %d %v", st, in)
			}
			pg, loc, _ := newBrowser(rpLogout).get(e.srv.URL + "/logout?" + url.Values{"id_token_hint": {tok}, "post_logout_redirect_uri": {rpLogout}}.Encode())
			if loc != nil || pg.status != 400 {
				t.Errorf("logout with alg none hint: %v %d", loc, pg.status)
			}
			if _, err := e.p.VerifyAccessToken(context.Background(), tok); err == nil {
				t.Error("VerifyAccessToken accepted alg none")
			}
		}},
		{"bad client secret", func(t *testing.T, e *env) {
			code := e.code(t, "portal", verifier)
			st, out := e.postForm(t, "/token", "portal", "wrong", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {rpRedirect}})
			wantOAuthError(t, st, out, 401, "invalid_client")
			st, out = e.postForm(t, "/token", "", "", url.Values{"grant_type": {"authorization_code"}, "client_id": {"portal"}, "client_secret": {"wrong"}, "code": {code}})
			wantOAuthError(t, st, out, 401, "invalid_client")
			st, out = e.postForm(t, "/introspect", "portal", "wrong", url.Values{"token": {"x"}})
			wantOAuthError(t, st, out, 401, "invalid_client")
			st, out = e.postForm(t, "/token", "nobody", "x", url.Values{"grant_type": {"refresh_token"}})
			wantOAuthError(t, st, out, 401, "invalid_client")
			// The code still works with the right secret.
			if st, out := e.exchange(t, code, verifier); st != 200 {
				t.Errorf("exchange after failed attempts: %d %v", st, out)
			}
		}},
		{"unsupported grant type", func(t *testing.T, e *env) {
			st, out := e.postForm(t, "/token", "portal", portalSecret, url.Values{"grant_type": {"password"}})
			wantOAuthError(t, st, out, 400, "unsupported_grant_type")
			st, out = e.postForm(t, "/token", "portal", portalSecret, url.Values{})
			wantOAuthError(t, st, out, 400, "invalid_request")
		}},
		{"refresh follows the client's reduced scopes", func(t *testing.T, e *env) {
			_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
			// The administrator takes groups away from the portal and restarts.
			e2 := startProvider(t, e.st, e.engine, e.users, func(c *Config) {
				for i := range c.Clients {
					if c.Clients[i].ID == "portal" {
						c.Clients[i].Scopes = []string{ScopeOpenID, ScopeProfile, ScopeOfflineAccess}
					}
				}
			})
			st, out := e2.refreshWith(t, tok["refresh_token"].(string))
			if st != 200 {
				t.Fatalf("refresh: %d %v", st, out)
			}
			if strings.Contains(out["scope"].(string), "groups") {
				t.Errorf("refresh kept a scope the client lost: %q", out["scope"])
			}
			if _, in := e2.userinfo(t, out["access_token"].(string)); in["groups"] != nil {
				t.Errorf("userinfo still has groups: %v", in)
			}
		}},
		{"revocation by another client is ignored", func(t *testing.T, e *env) {
			_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
			for _, kind := range []string{"access_token", "refresh_token"} {
				if st, _ := e.postForm(t, "/revoke", "london", portalSecret, url.Values{"token": {tok[kind].(string)}}); st != 200 {
					t.Errorf("revoke %s of another client: %d, want 200 (RFC 7009 §2.2)", kind, st)
				}
			}
			if st, _ := e.userinfo(t, tok["access_token"].(string)); st != 200 {
				t.Errorf("access token revoked by another client: %d", st)
			}
			if st, out := e.refreshWith(t, tok["refresh_token"].(string)); st != 200 {
				t.Errorf("refresh token revoked by another client: %d %v", st, out)
			}
			if st, _ := e.postForm(t, "/revoke", "portal", portalSecret, url.Values{"token": {"rat_unknown"}}); st != 200 {
				t.Errorf("revoke unknown token: %d", st)
			}
		}},
		{"introspection needs a confidential client", func(t *testing.T, e *env) {
			_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
			at := tok["access_token"].(string)
			st, out := e.postForm(t, "/introspect", "", "", url.Values{"token": {at}})
			wantOAuthError(t, st, out, 401, "invalid_client")
			st, out = e.postForm(t, "/introspect", "", "", url.Values{"token": {at}, "client_id": {"spa"}})
			if st != 403 || out["active"] != nil {
				t.Errorf("public client introspects: %d %v", st, out)
			}
			for _, bad := range []string{"rat_unknown", "rrt_unknown", "garbage"} {
				if st, in := e.postForm(t, "/introspect", "portal", portalSecret, url.Values{"token": {bad}}); st != 200 || len(in) != 1 || in["active"] != false {
					t.Errorf("introspect %q: %d %v", bad, st, in)
				}
			}
		}},
		{"logout never redirects to an unregistered address", func(t *testing.T, e *env) {
			for _, v := range []url.Values{
				{"post_logout_redirect_uri": {rpLogout}},                                         // no client named
				{"client_id": {"portal"}, "post_logout_redirect_uri": {"https://evil.example/"}}, // not registered
				{"client_id": {"portal"}, "post_logout_redirect_uri": {rpLogout + "/x"}},         // prefix
				{"client_id": {"spa"}, "post_logout_redirect_uri": {rpLogout}},                   // another client's
				{"client_id": {"nobody"}, "post_logout_redirect_uri": {rpLogout}},
			} {
				pg, loc, err := newBrowser(rpLogout).get(e.srv.URL + "/logout?" + v.Encode())
				if err != nil || loc != nil || pg.status != 400 {
					t.Errorf("logout %v: redirect %v status %d (%v)", v, loc, pg.status, err)
				}
			}
			_, loc, err := newBrowser(rpLogout).get(e.srv.URL + "/logout?" + url.Values{"client_id": {"portal"}, "post_logout_redirect_uri": {rpLogout}, "state": {"s"}}.Encode())
			if err != nil || loc == nil || loc.Query().Get("state") != "s" {
				t.Errorf("logout to the registered address: %v %v", loc, err)
			}
		}},
		{"refresh scope cannot widen", func(t *testing.T, e *env) {
			_, tok := e.exchange(t, e.code(t, "portal", verifier), verifier)
			st, out := e.postForm(t, "/token", "portal", portalSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "scope": {"openid email"}})
			wantOAuthError(t, st, out, 400, "invalid_scope")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newEnv(t, 0))
		})
	}
}

// firstExchange gets a code for portal and exchanges it (it must work):
// the code and the token response.
func firstExchange(t *testing.T, e *env, verifier string) (string, map[string]any) {
	t.Helper()
	code := e.code(t, "portal", verifier)
	st, first := e.exchange(t, code, verifier)
	if st != 200 {
		t.Fatalf("first exchange: %d %v", st, first)
	}
	return code, first
}

// wantReplayRevokes presents code again: it must be refused
// (invalid_grant) and the tokens first issued for it must stop working.
func wantReplayRevokes(t *testing.T, e *env, code, verifier string, first map[string]any) {
	t.Helper()
	st, out := e.exchange(t, code, verifier)
	wantOAuthError(t, st, out, 400, "invalid_grant")
	if st, _ := e.userinfo(t, first["access_token"].(string)); st != 401 {
		t.Errorf("access token of replayed code still works: %d", st)
	}
	st, out = e.refreshWith(t, first["refresh_token"].(string))
	wantOAuthError(t, st, out, 400, "invalid_grant")
}

// deactivateUser marks a user of the test tenant inactive, as a directory
// would.
func deactivateUser(tx store.Tx, id policy.UserID) error {
	u, err := tx.User(testTenant, id)
	if err != nil {
		return err
	}
	u.Active = false
	_, err = tx.UpdateUser(testTenant, u)
	return err
}
