package oidc

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/roster-dev/roster/internal/testclock"
	"github.com/roster-dev/roster/internal/teststore"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/storetest"
)

const (
	rpRedirect      = "http://127.0.0.1:1/cb"
	rpLogout        = "http://127.0.0.1:1/bye"
	portalSecret    = "portal-secret-0123456789abcdefghijklmnopqrstuv"
	svcSecret       = "svc-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	alicePassword   = "alice-password-1"
	bobPassword     = "bob-password-1"
	testTenant      = "acme"
	upstreamTenant  = "globex"
	upstreamSecret  = "roster-at-globex-secret-0123456789abcdef"
	carolPassword   = "carol-password-1"
	upstreamTenantU = "corp" // the tenant inside the upstream IdP
)

// env is a Roster provider over real HTTP on a real bbolt store with a real
// policy engine.
type env struct {
	t      *testing.T
	clock  *testclock.Clock
	st     store.Store
	engine *policy.Engine
	p      *Provider
	srv    *httptest.Server
	users  map[string]policy.User
}

type envOption func(*Config)

// openStore opens a bbolt store with a policy engine kept current by its
// change feed.
func openStore(t testing.TB) (store.Store, *policy.Engine) {
	t.Helper()
	st := teststore.Bolt(t)
	return st, storetest.Engine(t, st, policy.EngineConfig{})
}

// seed writes the test world: tenant acme with alice (organizer of
// lug-london, member of isug and sig-go) and bob (inactive), the group tree
// isug > rug-europe > lug-london, and sig-go.
func seed(t testing.TB, st store.Store, extraGroups int) map[string]policy.User {
	t.Helper()
	ctx := context.Background()
	users := map[string]policy.User{}
	err := st.Update(ctx, "test", func(tx store.Tx) error {
		for _, tn := range []policy.Tenant{{ID: testTenant, Name: "Acme Corp", Kind: policy.TenantPartner},
			{ID: upstreamTenant, Name: "Globex", Kind: policy.TenantPartner}} {
			if err := tx.PutTenant(tn); err != nil {
				return err
			}
		}
		for _, r := range []policy.Role{{Name: "member", Permissions: []policy.Permission{"group.read"}},
			{Name: "organizer", Permissions: []policy.Permission{"members.manage"}, Inherit: true}} {
			if _, err := tx.PutRole(r); err != nil {
				return err
			}
		}
		isug, err := tx.CreateGroup(policy.Group{Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational})
		if err != nil {
			return err
		}
		rug, err := tx.CreateGroup(policy.Group{Slug: "rug-europe", Name: "RUG Europe", Kind: policy.GroupRegional, Parent: isug.ID})
		if err != nil {
			return err
		}
		lug, err := tx.CreateGroup(policy.Group{Slug: "lug-london", Name: "LUG London", Kind: policy.GroupLocal, Parent: rug.ID})
		if err != nil {
			return err
		}
		sig, err := tx.CreateGroup(policy.Group{Slug: "sig-go", Name: "SIG Go", Kind: policy.GroupSpecialInterest})
		if err != nil {
			return err
		}
		alice, err := tx.CreateUser(testTenant, policy.User{Tenant: testTenant, UserName: "alice", GivenName: "Alice", FamilyName: "Liddell",
			Emails: []policy.Email{{Value: "alice@acme.example", Primary: true}}, Active: true, Source: "local"})
		if err != nil {
			return err
		}
		bob, err := tx.CreateUser(testTenant, policy.User{Tenant: testTenant, UserName: "bob", Active: false, Source: "local"})
		if err != nil {
			return err
		}
		users["alice"], users["bob"] = alice, bob
		for _, m := range []policy.Membership{{Group: lug.ID, User: alice.ID, Role: "organizer"}, {Group: isug.ID, User: alice.ID, Role: "member"},
			{Group: sig.ID, User: alice.ID, Role: "member"}, {Group: lug.ID, User: bob.ID, Role: "member"}} {
			if _, err := tx.AddMembership(m); err != nil {
				return err
			}
		}
		for i := range extraGroups {
			g, err := tx.CreateGroup(policy.Group{Slug: fmt.Sprintf("sig-extra-%03d", i), Name: "extra", Kind: policy.GroupSpecialInterest})
			if err != nil {
				return err
			}
			if _, err := tx.AddMembership(policy.Membership{Group: g.ID, User: alice.ID, Role: "member"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	la := LocalAccounts{Store: st, Cost: bcrypt.MinCost}
	for name, pw := range map[string]string{"alice": alicePassword, "bob": bobPassword} {
		if _, err := la.SetPassword(ctx, testTenant, name, pw); err != nil {
			t.Fatal(err)
		}
	}
	return users
}

func testClients() []ClientConfig {
	return []ClientConfig{
		{ID: "portal", Name: "Group portal", Secret: portalSecret, RedirectURIs: []string{rpRedirect},
			PostLogoutRedirectURIs: []string{rpLogout}},
		{ID: "spa", Name: "Chat", Public: true, RedirectURIs: []string{rpRedirect}, IDTokenAlg: AlgES256},
		{ID: "svc", Secret: svcSecret, GrantTypes: []string{GrantClientCredentials}, Scopes: []string{ScopeGroups}},
		{ID: "london", Secret: portalSecret, RedirectURIs: []string{rpRedirect}, Groups: GroupFilter{Root: "rug-europe"}},
		{ID: "narrow", Secret: portalSecret, RedirectURIs: []string{rpRedirect}, Scopes: []string{ScopeOpenID, ScopeProfile}},
		{ID: "ids", Secret: portalSecret, RedirectURIs: []string{rpRedirect}, GroupClaim: GroupClaimID, Groups: GroupFilter{Kinds: []policy.GroupKind{policy.GroupLocal}}},
		// A confidential client registered without PKCE.
		{ID: "legacy", Secret: portalSecret, RedirectURIs: []string{rpRedirect}, PKCE: PKCEOptional},
	}
}

func newEnv(t testing.TB, extraGroups int, opts ...envOption) *env {
	t.Helper()
	st, eng := openStore(t)
	users := seed(t, st, extraGroups)
	return startProvider(t, st, eng, users, opts...)
}

// lateServer is an httptest server whose handler is set after it starts,
// so that a provider can be configured with the server's URL.
type lateServer struct {
	*httptest.Server
	mu sync.RWMutex
	h  http.Handler
}

func newLateServer(t testing.TB) *lateServer {
	ls := &lateServer{h: http.NotFoundHandler()}
	ls.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.mu.RLock()
		h := ls.h
		ls.mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ls.Close)
	return ls
}

func (ls *lateServer) set(h http.Handler) {
	ls.mu.Lock()
	ls.h = h
	ls.mu.Unlock()
}

func startProvider(t testing.TB, st store.Store, eng *policy.Engine, users map[string]policy.User, opts ...envOption) *env {
	t.Helper()
	return startProviderOn(t, newLateServer(t), st, eng, users, opts...)
}

func startProviderOn(t testing.TB, ls *lateServer, st store.Store, eng *policy.Engine, users map[string]policy.User, opts ...envOption) *env {
	t.Helper()
	e := &env{clock: testclock.New(time.Now()), st: st, engine: eng, users: users, srv: ls.Server}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	cfg := Config{
		Now: e.clock.Now, Issuer: ls.URL, Store: st, Engine: eng,
		Passwords: LocalAccounts{Store: st, Cost: bcrypt.MinCost},
		Clients:   testClients(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	ls.set(p)
	return e
}

// browser is a user agent with a cookie jar that stops at the relying
// party's redirect URI.
type browser struct {
	c    *http.Client
	stop string
}

func newBrowser(stop string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{stop: stop}
	b.c = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		// Any address of the (unreachable) relying party ends the walk.
		if strings.HasPrefix(req.URL.String(), stop) || strings.HasPrefix(req.URL.String(), "http://127.0.0.1:1/") {
			return http.ErrUseLastResponse
		}
		if len(via) > 20 {
			return fmt.Errorf("too many redirects")
		}
		return nil
	}}
	return b
}

var (
	formRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	inputRE = regexp.MustCompile(`<input[^>]*>`)
	attrRE  = regexp.MustCompile(`(\w+)="([^"]*)"`)
	alertRE = regexp.MustCompile(`role="alert">([^<]*)<`)
)

// page is a fetched HTML page.
type page struct {
	url    *url.URL
	status int
	body   string
}

// form returns the first form's action (absolute) and its inputs' values.
func (pg page) form() (string, url.Values, bool) {
	m := formRE.FindStringSubmatch(pg.body)
	if m == nil {
		return "", nil, false
	}
	action, err := pg.url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return "", nil, false
	}
	v := url.Values{}
	for _, in := range inputRE.FindAllString(m[2], -1) {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(in, -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		if attrs["name"] != "" {
			v.Set(attrs["name"], attrs["value"])
		}
	}
	return action.String(), v, true
}

func (pg page) alert() string {
	if m := alertRE.FindStringSubmatch(pg.body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func (b *browser) do(req *http.Request) (page, *url.URL, error) {
	resp, err := b.c.Do(req)
	if err != nil {
		return page{}, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound {
		loc, err := resp.Location()
		if err != nil {
			return page{}, nil, err
		}
		return page{}, loc, nil
	}
	return page{url: resp.Request.URL, status: resp.StatusCode, body: string(body)}, nil, nil
}

// get fetches u; it returns the RP redirect when reached.
func (b *browser) get(u string) (page, *url.URL, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return page{}, nil, err
	}
	return b.do(req)
}

// submit fills the page's form with fields and posts it.
func (b *browser) submit(pg page, fields map[string]string) (page, *url.URL, error) {
	action, v, ok := pg.form()
	if !ok {
		return page{}, nil, fmt.Errorf("no form on page (status %d): %s", pg.status, pg.alert())
	}
	for k, val := range fields {
		v.Set(k, val)
	}
	req, err := http.NewRequest(http.MethodPost, action, strings.NewReader(v.Encode()))
	if err != nil {
		return page{}, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// signIn drives the sign-in pages from authURL, filling one form per step,
// and returns the redirect to the relying party. It fails when a page
// shows an error or steps run out.
func (b *browser) signIn(authURL string, steps ...map[string]string) (*url.URL, error) {
	pg, loc, err := b.get(authURL)
	for _, st := range steps {
		if err != nil || loc != nil {
			return loc, err
		}
		if msg := pg.alert(); msg != "" {
			return nil, fmt.Errorf("page error (status %d): %s", pg.status, msg)
		}
		pg, loc, err = b.submit(pg, st)
	}
	if err != nil || loc != nil {
		return loc, err
	}
	return nil, fmt.Errorf("no redirect to the client; page status %d, alert %q", pg.status, pg.alert())
}

func aliceSteps() []map[string]string {
	return []map[string]string{{"tenant": testTenant}, {"username": "alice", "password": alicePassword}}
}
