package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/crypto/bcrypt"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// logoutReceiver is a relying party's back-channel logout endpoint: it
// verifies each logout token with go-oidc against the provider's JWKS and
// checks the claims Back-Channel Logout 1.0 §2.6 requires.
type logoutReceiver struct {
	t   *testing.T
	srv *httptest.Server
	got chan receivedLogout
	// fail answers 503 to the first n deliveries (retries).
	mu   sync.Mutex
	fail int
}

type receivedLogout struct {
	Client, Sid, Sub string
}

func newLogoutReceiver(t *testing.T, e *env) *logoutReceiver {
	lr := &logoutReceiver{t: t, got: make(chan receivedLogout, 32)}
	ctx := gooidc.ClientContext(context.Background(), e.srv.Client())
	keys := gooidc.NewRemoteKeySet(ctx, e.srv.URL+"/keys")
	lr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lr.mu.Lock()
		if lr.fail > 0 {
			lr.fail--
			lr.mu.Unlock()
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		lr.mu.Unlock()
		client := strings.TrimPrefix(r.URL.Path, "/")
		raw := r.PostFormValue("logout_token")
		v := gooidc.NewVerifier(e.srv.URL, keys, &gooidc.Config{ClientID: client, Now: e.clock.Now, SupportedSigningAlgs: []string{AlgRS256, AlgES256}})
		idt, err := v.Verify(ctx, raw)
		if err != nil {
			t.Errorf("logout token for %s: %v", client, err)
			http.Error(w, "bad token", http.StatusBadRequest)
			return
		}
		var c struct {
			Sid    string                     `json:"sid"`
			Nonce  *string                    `json:"nonce"`
			Jti    string                     `json:"jti"`
			Events map[string]json.RawMessage `json:"events"`
		}
		idt.Claims(&c)
		hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
		var h struct {
			Typ string `json:"typ"`
		}
		json.Unmarshal(hdr, &h)
		if _, ok := c.Events[backchannelEvent]; !ok || c.Nonce != nil || c.Jti == "" || c.Sid == "" || h.Typ != "logout+jwt" {
			t.Errorf("logout token claims for %s: %+v typ %q", client, c, h.Typ)
		}
		w.WriteHeader(http.StatusOK)
		lr.got <- receivedLogout{Client: client, Sid: c.Sid, Sub: idt.Subject}
	}))
	t.Cleanup(lr.srv.Close)
	return lr
}

// wait returns the logouts received for n clients.
func (lr *logoutReceiver) wait(n int) []receivedLogout {
	lr.t.Helper()
	var out []receivedLogout
	timeout := time.After(30 * time.Second) // a bound on a hang, not a timing assertion
	for len(out) < n {
		select {
		case r := <-lr.got:
			out = append(out, r)
		case <-timeout:
			lr.t.Fatalf("back-channel logouts: got %v, want %d", out, n)
		}
	}
	slices.SortFunc(out, func(a, b receivedLogout) int { return strings.Compare(a.Client, b.Client) })
	return out
}

// ssoEnv is an env whose portal and london clients send back-channel
// logouts to a receiver.
func ssoEnv(t *testing.T, opts ...envOption) (*env, *logoutReceiver) {
	t.Helper()
	st, eng := openStore(t)
	users := seed(t, st, 0)
	ls := newLateServer(t)
	var recv *logoutReceiver
	recvSrv := newLateServer(t)
	opts = append([]envOption{func(c *Config) {
		c.BackchannelBackoff = time.Millisecond
		for i := range c.Clients {
			if id := c.Clients[i].ID; id == "portal" || id == "london" {
				c.Clients[i].BackchannelLogoutURI = recvSrv.URL + "/" + id
			}
		}
	}}, opts...)
	e := startProviderOn(t, ls, st, eng, users, opts...)
	recv = newLogoutReceiver(t, e)
	recvSrv.set(recv.srv.Config.Handler)
	return e, recv
}

// authorize starts an authorization for client in browser b: it returns
// the redirect to the client when no page was shown, else the page.
func (e *env) authorize(t *testing.T, b *browser, client string, extra ...string) (page, *url.URL) {
	t.Helper()
	pg, loc, err := b.get(e.authorizeURL(authParams(client, extra...)))
	if err != nil {
		t.Fatal(err)
	}
	return pg, loc
}

func (e *env) exchangeFor(t *testing.T, client, code string) map[string]any {
	t.Helper()
	st, tok := e.postForm(t, "/token", client, portalSecret, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpRedirect}, "code_verifier": {testVerifier}})
	if st != http.StatusOK {
		t.Fatalf("exchange for %s: %d %v", client, st, tok)
	}
	return tok
}

func idTokenClaims(t *testing.T, tok map[string]any) map[string]any {
	t.Helper()
	raw, _ := tok["id_token"].(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("no ID token in %v", tok)
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	json.Unmarshal(b, &c)
	return c
}

// TestSingleSignOn: one sign-in for client A, then client B gets a code
// with no page; both ID tokens name the same session, with amr and acr;
// the session cookie is HttpOnly, SameSite=Lax and only its hash is kept.
func TestSingleSignOn(t *testing.T) {
	e, _ := ssoEnv(t)
	b := newBrowser(rpRedirect)
	loc, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...)
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("first sign-in: %v %v", loc, err)
	}
	a := idTokenClaims(t, e.exchangeFor(t, "portal", loc.Query().Get("code")))

	pg, loc := e.authorize(t, b, "london")
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("second client: a page (status %d, %q), want a code at once", pg.status, pg.alert())
	}
	bc := idTokenClaims(t, e.exchangeFor(t, "london", loc.Query().Get("code")))
	if a["sid"] == nil || a["sid"] != bc["sid"] || a["sub"] != bc["sub"] || a["auth_time"] != bc["auth_time"] {
		t.Errorf("ID tokens of one session: %v / %v", a, bc)
	}
	if !slices.Equal(toStrings(a["amr"]), []string{"pwd"}) || a["acr"] != acrFresh || bc["acr"] != acrSession {
		t.Errorf("amr/acr: %v %v / %v", a["amr"], a["acr"], bc["acr"])
	}

	// The cookie.
	u, _ := url.Parse(e.srv.URL)
	var sess *http.Cookie
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == e.p.sessionCookieName() {
			sess = c
		}
	}
	if sess == nil {
		t.Fatal("no session cookie")
	}
	id, secret, _ := strings.Cut(sess.Value, ".")
	var rec sessionRecord
	e.st.View(context.Background(), func(tx store.Tx) error { return jsonrec.Get(tx, nsSessions, sessionKey(id), &rec) })
	if rec.Hash != hashSecret64(secret) || strings.Contains(mustJSON(rec), secret) {
		t.Errorf("session record %+v keeps more than the secret's hash", rec)
	}
	if len(rec.Clients) != 2 {
		t.Errorf("session clients %v, want portal and london", rec.Clients)
	}
	// Attributes the jar does not return: ask the provider directly.
	w := httptest.NewRecorder()
	e.p.setCookie(w, e.p.sessionCookieName(), "x", time.Hour)
	sc := w.Result().Cookies()[0]
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie attributes: %+v", sc)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSessionCookieNames: __Host- at an https root, __Secure- below a
// path, Secure whenever https.
func TestSessionCookieNames(t *testing.T) {
	st, eng := openStore(t)
	for _, tc := range []struct{ issuer, name string }{
		{"https://roster.example.com", "__Host-roster-session"},
		{"https://example.com/sso", "__Secure-roster-session"},
		{"http://127.0.0.1:8080", "roster_session"},
	} {
		p, err := New(Config{Issuer: tc.issuer, Store: st, Engine: eng})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		p.setCookie(w, p.sessionCookieName(), "v", time.Hour)
		c := w.Result().Cookies()[0]
		if c.Name != tc.name || c.Secure != strings.HasPrefix(tc.issuer, "https") || (tc.name == "__Host-roster-session" && c.Path != "/") {
			t.Errorf("%s: cookie %+v, want %s", tc.issuer, c, tc.name)
		}
	}
}

// TestPromptAndMaxAge: prompt=none with and without a session; prompt=login
// and max_age=0 force a password; a max_age the session satisfies does
// not; login_hint naming another user is not answered from the session.
func TestPromptAndMaxAge(t *testing.T) {
	e, _ := ssoEnv(t)
	b := newBrowser(rpRedirect)
	_, loc := e.authorize(t, b, "portal", "prompt", "none")
	if loc == nil || loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != "st-9" {
		t.Fatalf("prompt=none without a session: %v", loc)
	}
	if loc, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in: %v %v", loc, err)
	}
	_, loc = e.authorize(t, b, "london", "prompt", "none")
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("prompt=none with a session: %v", loc)
	}
	e.clock.Advance(10 * time.Minute)
	for _, extra := range [][]string{{"prompt", "login"}, {"max_age", "0"}, {"max_age", "60"}, {"login_hint", "bob"}} {
		pg, loc := e.authorize(t, b, "portal", extra...)
		if loc != nil || pg.status != http.StatusOK || !strings.Contains(pg.body, `name="identifier"`) {
			t.Errorf("%v: %v (status %d), want the sign-in page", extra, loc, pg.status)
		}
	}
	// prompt=none with max_age too short, or another user hinted.
	_, loc = e.authorize(t, b, "portal", "prompt", "none", "max_age", "60")
	if loc == nil || loc.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none, max_age exceeded: %v", loc)
	}
	_, loc = e.authorize(t, b, "portal", "prompt", "none", "login_hint", "bob")
	if loc == nil || loc.Query().Get("error") != "interaction_required" {
		t.Errorf("prompt=none for another user: %v", loc)
	}
	_, loc = e.authorize(t, b, "portal", "prompt", "none login")
	if loc == nil || loc.Query().Get("error") != "invalid_request" {
		t.Errorf("prompt=none login: %v", loc)
	}
	// login_hint naming the session's user, and a max_age it satisfies.
	_, loc = e.authorize(t, b, "portal", "max_age", "3600", "login_hint", "alice@acme.example")
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("max_age=3600: %v", loc)
	}
	c := idTokenClaims(t, e.exchangeFor(t, "portal", loc.Query().Get("code")))
	if at, _ := c["auth_time"].(float64); int64(at) != e.clock.Now().Add(-10*time.Minute).Unix() {
		t.Errorf("auth_time %v, want the sign-in's", c["auth_time"])
	}

	// max_age=0 forces a password and moves auth_time.
	loc, err := b.signIn(e.authorizeURL(authParams("portal", "max_age", "0")), map[string]string{"identifier": "alice"}, map[string]string{"password": alicePassword})
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("max_age=0 sign-in: %v %v", loc, err)
	}
	c = idTokenClaims(t, e.exchangeFor(t, "portal", loc.Query().Get("code")))
	if at, _ := c["auth_time"].(float64); int64(at) != e.clock.Now().Unix() || c["acr"] != acrFresh {
		t.Errorf("after max_age=0: auth_time %v acr %v", c["auth_time"], c["acr"])
	}

	// login_hint prefills the first step.
	pg, _ := e.authorize(t, newBrowser(rpRedirect), "portal", "login_hint", "alice@acme.example")
	if _, v, _ := pg.form(); v.Get("identifier") != "alice@acme.example" {
		t.Errorf("login_hint not prefilled: %v", v)
	}
}

// TestDeactivationEndsSession: a user deactivated in the store (as SCIM,
// LDAP or the admin API do) loses the session: the next authorization asks
// for the password, and with Run following the change feed the clients
// get back-channel logouts and the refresh tokens stop working.
func TestDeactivationEndsSession(t *testing.T) {
	for _, how := range []string{"deactivated", "deleted"} {
		t.Run(how, func(t *testing.T) {
			e, recv := ssoEnv(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- e.p.Run(ctx, time.Hour) }()
			t.Cleanup(func() { cancel(); <-done })

			b := newBrowser(rpRedirect)
			loc, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...)
			if err != nil {
				t.Fatal(err)
			}
			tok := e.exchangeFor(t, "portal", loc.Query().Get("code"))
			sid := idTokenClaims(t, tok)["sid"]
			alice := e.users["alice"]
			err = e.st.Update(context.Background(), "scim:acme", func(tx store.Tx) error {
				if how == "deleted" {
					return tx.DeleteUser(testTenant, alice.ID)
				}
				return deactivateUser(tx, alice.ID)
			})
			if err != nil {
				t.Fatal(err)
			}
			got := recv.wait(1)
			if got[0].Client != "portal" || got[0].Sid != sid || got[0].Sub != string(alice.ID) {
				t.Errorf("back-channel logout %+v, want portal %v", got, sid)
			}
			if st, _ := e.refreshWith(t, tok["refresh_token"].(string)); st == http.StatusOK {
				t.Errorf("refresh after the session ended: %d", st)
			}
			pg, loc := e.authorize(t, b, "portal")
			if loc != nil || !strings.Contains(pg.body, `name="identifier"`) {
				t.Errorf("authorization after %s: %v, want the sign-in page", how, loc)
			}
		})
	}
}

// TestDeactivationCheckedAtUse: without Run (no change feed follower),
// the session of a deactivated user is refused when used.
func TestDeactivationCheckedAtUse(t *testing.T) {
	e, recv := ssoEnv(t)
	b := newBrowser(rpRedirect)
	if _, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Update(context.Background(), "ldap:corp", func(tx store.Tx) error {
		return deactivateUser(tx, e.users["alice"].ID)
	}); err != nil {
		t.Fatal(err)
	}
	_, loc := e.authorize(t, b, "london", "prompt", "none")
	if loc == nil || loc.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none after deactivation: %v", loc)
	}
	recv.wait(1)
}

// TestBackchannelLogout: RP-initiated logout with an id_token_hint ends
// the session; every client of it gets a verified logout token (the
// first delivery fails and is retried), its refresh tokens are revoked,
// and the next sign-in asks for the password.
func TestBackchannelLogout(t *testing.T) {
	e, recv := ssoEnv(t)
	recv.fail = 1
	b := newBrowser(rpRedirect)
	loc, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...)
	if err != nil {
		t.Fatal(err)
	}
	tokA := e.exchangeFor(t, "portal", loc.Query().Get("code"))
	_, loc = e.authorize(t, b, "london")
	tokB := e.exchangeFor(t, "london", loc.Query().Get("code"))
	// spa has no back-channel URI: it is skipped.
	_, loc = e.authorize(t, b, "spa")
	if loc.Query().Get("code") == "" {
		t.Fatalf("spa: %v", loc)
	}
	sid := idTokenClaims(t, tokA)["sid"].(string)

	_, loc, err = b.get(e.srv.URL + "/logout?" + url.Values{"id_token_hint": {tokA["id_token"].(string)}, "post_logout_redirect_uri": {rpLogout}}.Encode())
	if err != nil || loc == nil || !strings.HasPrefix(loc.String(), rpLogout) {
		t.Fatalf("logout: %v %v", loc, err)
	}
	got := recv.wait(2)
	alice := string(e.users["alice"].ID)
	want := []receivedLogout{{"london", sid, alice}, {"portal", sid, alice}}
	if !slices.Equal(got, want) {
		t.Errorf("back-channel logouts %+v, want %+v", got, want)
	}
	if st, _ := e.refreshWith(t, tokA["refresh_token"].(string)); st == http.StatusOK {
		t.Errorf("portal's refresh token after logout: %d", st)
	}
	st, _ := e.postForm(t, "/token", "london", portalSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokB["refresh_token"].(string)}})
	if st == http.StatusOK {
		t.Errorf("london's refresh token after logout: %d", st)
	}
	pg, loc := e.authorize(t, b, "london")
	if loc != nil || !strings.Contains(pg.body, `name="identifier"`) {
		t.Errorf("sign-in after logout: %v, want the password again", loc)
	}
}

// TestLogoutWithoutHintAsks: a logout request without id_token_hint from
// a browser with a session shows a confirmation form; posting it ends the
// session.
func TestLogoutWithoutHintAsks(t *testing.T) {
	e, recv := ssoEnv(t)
	b := newBrowser(rpLogout)
	if _, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil {
		t.Fatal(err)
	}
	pg, loc, err := b.get(e.srv.URL + "/logout?client_id=portal&post_logout_redirect_uri=" + url.QueryEscape(rpLogout))
	if err != nil || loc != nil || !strings.Contains(pg.body, "Sign out?") {
		t.Fatalf("logout without hint: %v %v %d", loc, err, pg.status)
	}
	if _, loc, err = b.submit(pg, nil); err != nil || loc == nil || !strings.HasPrefix(loc.String(), rpLogout) {
		t.Fatalf("confirming: %v %v", loc, err)
	}
	recv.wait(1)
	b.stop = rpRedirect
	if _, loc := e.authorize(t, b, "portal", "prompt", "none"); loc.Query().Get("error") != "login_required" {
		t.Errorf("after confirmed logout: %v", loc)
	}
}

// TestRevokeSessions: the Go API behind the admin API lists a user's
// sessions and ends one or all of them, with back-channel logouts.
func TestRevokeSessions(t *testing.T) {
	e, recv := ssoEnv(t)
	ctx := context.Background()
	alice := e.users["alice"]
	b1, b2 := newBrowser(rpRedirect), newBrowser(rpRedirect)
	for _, b := range []*browser{b1, b2} {
		if _, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil {
			t.Fatal(err)
		}
	}
	ss, err := e.p.Sessions(ctx, testTenant, alice.ID)
	if err != nil || len(ss) != 2 || !slices.Equal(ss[0].AMR, []string{"pwd"}) || !slices.Equal(ss[0].Clients, []string{"portal"}) {
		t.Fatalf("sessions: %+v %v", ss, err)
	}
	if _, err := e.p.RevokeSession(ctx, testTenant, alice.ID, "nope"); err != ErrSessionNotFound {
		t.Errorf("unknown session: %v", err)
	}
	if n, err := e.p.RevokeSession(store.WithActor(ctx, "admin:root"), testTenant, alice.ID, ss[0].ID); n != 1 || err != nil {
		t.Errorf("revoke one: %d %v", n, err)
	}
	recv.wait(1)
	if n, err := e.p.RevokeSession(ctx, testTenant, alice.ID, ""); n != 1 || err != nil {
		t.Errorf("revoke all: %d %v", n, err)
	}
	recv.wait(1)
	for _, b := range []*browser{b1, b2} {
		if _, loc := e.authorize(t, b, "portal", "prompt", "none"); loc.Query().Get("error") != "login_required" {
			t.Errorf("after revoking: %v", loc)
		}
	}
	var audit []policy.Change
	e.st.View(ctx, func(tx store.Tx) error { audit, err = tx.Audit(0, 0); return err })
	found := false
	for _, c := range audit {
		if strings.HasPrefix(c.ID, auditSession) && c.Op == policy.OpDelete && c.Actor == "admin:root" {
			found = true
		}
	}
	if !found {
		t.Error("no audit entry of the admin revoking the session")
	}
}

// TestSessionLifetimes: idle and absolute lifetimes end a session.
func TestSessionLifetimes(t *testing.T) {
	e, _ := ssoEnv(t, func(c *Config) { c.Session = SessionConfig{Idle: time.Hour, Absolute: 3 * time.Hour} })
	b := newBrowser(rpRedirect)
	if _, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil {
		t.Fatal(err)
	}
	for range 3 { // used every 50 minutes: alive until the absolute end
		e.clock.Advance(50 * time.Minute)
		if _, loc := e.authorize(t, b, "portal", "prompt", "none"); loc.Query().Get("code") == "" {
			t.Fatalf("within lifetimes: %v", loc)
		}
	}
	e.clock.Advance(40 * time.Minute) // 3h10 after sign-in
	if _, loc := e.authorize(t, b, "portal", "prompt", "none"); loc.Query().Get("error") != "login_required" {
		t.Errorf("past the absolute lifetime: %v", loc)
	}
	if _, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(61 * time.Minute)
	if _, loc := e.authorize(t, b, "portal", "prompt", "none"); loc.Query().Get("error") != "login_required" {
		t.Errorf("past the idle lifetime: %v", loc)
	}
}

// TestRateLimitsStopGuessingNotMembers: 20 correct sign-ins in a row for
// one account all succeed; 10 wrong passwords from one address lock that
// address (and the account, for browsers it does not know), but not the
// member on the browser they signed in with before.
func TestRateLimitsStopGuessingNotMembers(t *testing.T) {
	e, _ := ssoEnv(t)
	known := newBrowser(rpRedirect)
	for i := range 20 {
		b := newBrowser(rpRedirect)
		if i == 0 {
			b = known
		}
		loc, err := b.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...)
		if err != nil || loc.Query().Get("code") == "" {
			t.Fatalf("correct sign-in %d: %v %v", i+1, loc, err)
		}
	}
	// The known browser signs out (its session ends; the device stays).
	_, loc := e.authorize(t, known, "portal")
	tok := e.exchangeFor(t, "portal", loc.Query().Get("code"))
	known.stop = rpLogout
	if _, loc, err := known.get(e.srv.URL + "/logout?" + url.Values{"id_token_hint": {tok["id_token"].(string)}, "post_logout_redirect_uri": {rpLogout}}.Encode()); err != nil || loc == nil {
		t.Fatalf("logout: %v %v", loc, err)
	}
	known.stop = rpRedirect

	// Five guesses at alice's password (her account's burst), five at
	// other names: ten failures from one address.
	attacker := newBrowser(rpRedirect)
	for i := range 10 {
		name := "alice"
		if i >= 5 {
			name = "user-" + string(rune('a'+i))
		}
		pg := signInPage(t, e, attacker, map[string]string{"tenant": testTenant}, map[string]string{"username": name, "password": "guess-" + string(rune('a'+i))})
		if pg.status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %q", i+1, pg.status, pg.alert())
		}
	}
	pg := signInPage(t, e, attacker, map[string]string{"tenant": testTenant}, map[string]string{"username": "alice", "password": alicePassword})
	if pg.status != http.StatusTooManyRequests {
		t.Errorf("the guessing address: %d, want 429", pg.status)
	}
	pg = signInPage(t, e, newBrowser(rpRedirect), map[string]string{"tenant": testTenant}, map[string]string{"username": "bob", "password": bobPassword})
	if pg.status != http.StatusTooManyRequests {
		t.Errorf("another account from the guessing address: %d, want 429", pg.status)
	}
	if loc, err := known.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil || loc.Query().Get("code") == "" {
		t.Errorf("the member on their known device: %v %v", loc, err)
	}
}

// routingEnv adds domains to acme, a password tenant vendor
// (vendor.example, user victor) and a user "sam" in both.
func routingEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := newEnv(t, 0, opts...)
	ctx := context.Background()
	err := e.st.Update(ctx, "test", func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: testTenant, Name: "Acme Corp", Kind: policy.TenantPartner, Domains: []string{"acme.example"}}); err != nil {
			return err
		}
		if err := tx.PutTenant(policy.Tenant{ID: "vendor", Name: "Vendor Ltd", Kind: policy.TenantVendor, Domains: []string{"vendor.example"}}); err != nil {
			return err
		}
		for _, u := range []policy.User{
			{Tenant: "vendor", UserName: "victor", Emails: []policy.Email{{Value: "v.ictor@vendor.example", Primary: true}}, Active: true, Source: "local"},
			{Tenant: "vendor", UserName: "sam", Active: true, Source: "local"},
			{Tenant: testTenant, UserName: "sam", Active: true, Source: "local"},
		} {
			if _, err := tx.CreateUser(u.Tenant, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	la := LocalAccounts{Store: e.st, Cost: bcrypt.MinCost}
	if _, err := la.SetPassword(ctx, "vendor", "victor", "victor-password"); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEmailFirst: the first step routes by domain or user name, without
// telling whether an account exists.
func TestEmailFirst(t *testing.T) {
	e := routingEnv(t)
	first := func(identifier string) page {
		t.Helper()
		return signInPage(t, e, newBrowser(rpRedirect), map[string]string{"identifier": identifier})
	}
	// An address of vendor's domain: the password step, named.
	pg := first("v.ictor@vendor.example")
	if pg.status != http.StatusOK || !strings.Contains(pg.body, "Vendor Ltd") || !strings.Contains(pg.body, `name="password"`) {
		t.Fatalf("vendor address: %d %q", pg.status, pg.alert())
	}
	// …signs victor in with the address (not his user name).
	loc, err := newBrowser(rpRedirect).signIn(e.authorizeURL(authParams("portal")),
		map[string]string{"identifier": "v.ictor@vendor.example"}, map[string]string{"password": "victor-password"})
	if err != nil || loc.Query().Get("code") == "" {
		t.Errorf("victor by address: %v %v", loc, err)
	}
	// An unknown account at a known domain looks the same as a known one.
	if pg := first("nobody@vendor.example"); pg.status != http.StatusOK || !strings.Contains(pg.body, `name="password"`) {
		t.Errorf("unknown account at vendor: %d", pg.status)
	}
	// An unknown domain: one message.
	pg = first("x@initech.example")
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.alert(), "initech.example") {
		t.Errorf("unknown domain: %d %q", pg.status, pg.alert())
	}
	// A user name in one tenant and one in none: both the password step,
	// without the tenant's name.
	for _, name := range []string{"victor", "nobody-at-all"} {
		pg := first(name)
		if pg.status != http.StatusOK || !strings.Contains(pg.body, `name="password"`) || strings.Contains(pg.body, "Vendor Ltd") {
			t.Errorf("user name %q: %d %q", name, pg.status, pg.alert())
		}
	}
	loc, err = newBrowser(rpRedirect).signIn(e.authorizeURL(authParams("portal")),
		map[string]string{"identifier": "nobody-at-all"}, map[string]string{"password": "whatever-1"})
	if err == nil || !strings.Contains(err.Error(), "") {
		t.Errorf("nobody signs in: %v %v", loc, err)
	}
	// An ambiguous name: one message.
	pg = first("sam")
	if pg.status != http.StatusBadRequest || !strings.Contains(pg.alert(), "More than one organisation") {
		t.Errorf("ambiguous name: %d %q", pg.status, pg.alert())
	}
	// The picker stays as a fallback.
	b := newBrowser(rpRedirect)
	pg, _, _ = b.get(e.authorizeURL(authParams("portal")))
	if !strings.Contains(pg.body, "pick=1") {
		t.Errorf("no link to the organisation list")
	}
	pg, _, _ = b.get(pg.url.String() + "&pick=1")
	if !strings.Contains(pg.body, `<option value="vendor">Vendor Ltd</option>`) {
		t.Errorf("picker: %s", pg.body)
	}
}

// TestAccountPage: /account signs in, shows the member, their groups and
// sessions, and signs out of one.
func TestAccountPage(t *testing.T) {
	e, recv := ssoEnv(t)
	other := newBrowser(rpRedirect)
	if _, err := other.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(rpRedirect)
	pg, loc, err := b.get(e.srv.URL + "/account")
	if err != nil || loc != nil || !strings.Contains(pg.body, `name="identifier"`) || !strings.Contains(pg.body, "your account") {
		t.Fatalf("account without a session: %v %v", loc, err)
	}
	if pg, _, err = b.submit(pg, map[string]string{"identifier": "alice"}); err != nil {
		t.Fatal(err)
	}
	if pg, _, err = b.submit(pg, map[string]string{"password": alicePassword}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Your account", "Alice Liddell", "LUG London", "organizer", "This browser", "Tools: portal"} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	// The second form signs out of the other browser's session.
	forms := formRE.FindAllStringSubmatch(pg.body, -1)
	if len(forms) != 3 {
		t.Fatalf("%d forms on the account page, want 3", len(forms))
	}
	var otherForm string
	for _, f := range forms[1:] {
		if strings.Contains(f[0], "the session from") {
			otherForm = f[0]
		}
	}
	pg2 := pg
	pg2.body = otherForm
	if pg, _, err = b.submit(pg2, nil); err != nil || !strings.Contains(pg.body, "That session is signed out.") {
		t.Fatalf("ending the other session: %v %d", err, pg.status)
	}
	recv.wait(1)
	if _, loc := e.authorize(t, other, "portal", "prompt", "none"); loc.Query().Get("error") != "login_required" {
		t.Errorf("the other browser after sign-out: %v", loc)
	}
	if _, loc := e.authorize(t, b, "portal", "prompt", "none"); loc.Query().Get("code") == "" {
		t.Errorf("this browser still signed in: %v", loc)
	}
}
