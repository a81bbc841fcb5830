package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/roster-dev/roster/internal/webtest"
)

// TestDemo runs `roster demo`, checks the CLI against it, and signs in at
// the demo portal (go-oidc as the relying party) with a demo account.
func TestDemo(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	dataDir := filepath.Join(t.TempDir(), "data")
	s := startServer(t, "demo", "--listen", addr, "--data", dataDir)
	s.waitReady(t, base)

	cli := func(args ...string) string {
		cmd := exec.Command(binary, append(args, "--server", base, "--token", testAdminToken)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("roster %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tree := cli("groups")
	for _, want := range []string{"isug (international)", "lug-paris (local)", "[chartered by members: 3/5 members in the international group isug, 60%]", "lug-berlin (local) — LUG Berlin · software · Berlin, DE · self-governing [not chartered",
		"lug-tokyo (local) — LUG Tokyo · software · Tokyo, JP · self-governing [chartered by mailing list: 2/5 members in the international group isug, 40%; 4/5 mailing-list subscribers, 80%]",
		"lug-london (local) — LUG London · social · London, England, GB [chartered by members"} {
		if !strings.Contains(tree, want) {
			t.Errorf("groups output lacks %q:\n%s", want, tree)
		}
	}
	if out := cli("members", "lug-london"); !strings.Contains(out, "organizer  vendor/alice") {
		t.Errorf("members output:\n%s", out)
	}
	if out := cli("explain", "vendor/alice", "members.manage", "lug-london"); !strings.HasPrefix(out, "ALLOWED") {
		t.Errorf("explain yes:\n%s", out)
	}
	if out := cli("explain", "vendor/alice", "members.manage", "sig-devops"); !strings.HasPrefix(out, "DENIED") {
		t.Errorf("explain no:\n%s", out)
	}
	// The token is the last line (stdout); the notice before it is stderr.
	lines := strings.Split(strings.TrimSpace(cli("scim-token", "create", "--tenant", "acme", "--name", "okta")), "\n")
	tok := lines[len(lines)-1]
	if st, b := mustSend(t, "GET", base+"/scim/v2/acme/Users?filter="+url.QueryEscape(`userName eq "BOB@acme.example"`), tok, "", nil); st != 200 || !strings.Contains(string(b), `"totalResults":1`) {
		t.Errorf("SCIM lookup with a CLI-made token: %d %s", st, b)
	}
	// Backup, change, restore: the change is gone.
	if st, b := api(t, "POST", base+"/api/v1/groups", `{"slug":"before-backup","name":"Marker before","kind":"special-interest"}`); st != 201 {
		t.Fatalf("marker: %d %s", st, b)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if out := cli("backup", "--out", backup); !strings.Contains(out, "wrote") {
		t.Errorf("backup: %s", out)
	}
	if st, b := api(t, "POST", base+"/api/v1/groups", `{"slug":"after-backup","name":"Marker after","kind":"special-interest"}`); st != 201 {
		t.Fatalf("marker: %d %s", st, b)
	}
	defer func() {
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-s.done; err != nil {
			t.Fatalf("demo shutdown: %v", err)
		}
		out, err := exec.Command(binary, "restore", "--in", backup, "--data", dataDir).CombinedOutput()
		if err != nil {
			t.Fatalf("restore: %v %s", err, out)
		}
		s2 := startServer(t, "demo", "--listen", addr, "--data", dataDir)
		s2.waitReady(t, base)
		if st, _ := api(t, "GET", base+"/api/v1/groups/before-backup", ""); st != 200 {
			t.Errorf("group made before the backup: %d after restore", st)
		}
		if st, _ := api(t, "GET", base+"/api/v1/groups/after-backup", ""); st != 404 {
			t.Errorf("group made after the backup: %d after restore, want 404", st)
		}
	}()

	// Sign in at the demo portal as alice.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	page, err := c.Get(base + "/demo/login")
	if err != nil {
		t.Fatal(err)
	}
	page = webtest.SubmitFirstForm(t, c, page, map[string]string{"tenant": "vendor"})
	page = webtest.SubmitFirstForm(t, c, page, map[string]string{"username": "alice", "password": demoPassword})
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || page.Request.URL.Path != "/demo/callback" {
		t.Fatalf("sign-in ended at %s with %d:\n%s", page.Request.URL, page.StatusCode, body)
	}
	for _, want := range []string{"lug-london:organizer", "&#34;preferred_username&#34;: &#34;alice&#34;"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("portal page lacks %q:\n%s", want, body)
		}
	}

	// An inactive demo account is refused.
	jar2, _ := cookiejar.New(nil)
	c2 := &http.Client{Jar: jar2}
	page, err = c2.Get(base + "/demo/login")
	if err != nil {
		t.Fatal(err)
	}
	page = webtest.SubmitFirstForm(t, c2, page, map[string]string{"tenant": "vendor"})
	page = webtest.SubmitFirstForm(t, c2, page, map[string]string{"username": "mallory", "password": demoPassword})
	body, _ = io.ReadAll(page.Body)
	page.Body.Close()
	if page.Request.URL.Path == "/demo/callback" && page.StatusCode == 200 {
		t.Errorf("inactive mallory signed in:\n%s", body)
	}
}

// TestDelegatedAdminWithAccessToken signs alice in over OIDC (code flow with
// PKCE, go-oidc verifying the ID token) and uses her Roster access token on
// the admin API: as organizer of lug-london she may manage its members and
// meetings and nothing else.
func TestDelegatedAdminWithAccessToken(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	s := startServer(t, "demo", "--listen", addr, "--data", filepath.Join(t.TempDir(), "data"))
	s.waitReady(t, base)
	var m []string
	for i := 0; i < 100 && m == nil; i++ {
		m = regexp.MustCompile(`id demo-portal, secret (\S+)`).FindStringSubmatch(s.output())
		if m == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if m == nil {
		t.Fatalf("demo did not print the client secret:\n%s", s.output())
	}
	ctx := context.Background()
	provider, err := gooidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	oc := &oauth2.Config{ClientID: "demo-portal", ClientSecret: m[1], Endpoint: provider.Endpoint(),
		RedirectURL: base + "/demo/callback", Scopes: []string{"openid", "profile", "groups", "roles"}}
	verifier := oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	var code string
	c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Path == "/demo/callback" {
			code = r.URL.Query().Get("code")
			return http.ErrUseLastResponse
		}
		return nil
	}}
	page, err := c.Get(oc.AuthCodeURL("st4te", gooidc.Nonce("n0nce"), oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	page = webtest.SubmitFirstForm(t, c, page, map[string]string{"tenant": "vendor"})
	page = webtest.SubmitFirstForm(t, c, page, map[string]string{"username": "alice", "password": demoPassword})
	page.Body.Close()
	if code == "" {
		t.Fatalf("no code; sign-in ended with %d at %s", page.StatusCode, page.Request.URL)
	}
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&gooidc.Config{ClientID: "demo-portal"}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := idt.Claims(&claims); err != nil || !slices.Contains(claims.Roles, "lug-london:organizer") {
		t.Fatalf("roles claim = %v (%v)", claims.Roles, err)
	}

	call := func(method, path, body string) int {
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		st, _ := mustSend(t, method, base+"/api/v1"+path, tok.AccessToken, ct, strings.NewReader(body))
		return st
	}
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"add a member to lug-london", "POST", "/groups/lug-london/memberships", `{"tenant":"vendor","user":"peter","role":"member"}`, 201},
		{"record a meeting of lug-london", "POST", "/groups/lug-london/meetings", `{"title":"December meetup","start":"2026-12-10T18:30:00Z","location":"London"}`, 201},
		{"rename lug-london", "PATCH", "/groups/lug-london", `{"name":"Londinium"}`, 403},
		{"make someone admin of lug-london", "POST", "/groups/lug-london/memberships", `{"tenant":"vendor","user":"peter","role":"admin"}`, 403},
		{"manage lug-paris", "POST", "/groups/lug-paris/memberships", `{"tenant":"vendor","user":"peter","role":"member"}`, 404},
		{"create a rule", "POST", "/rules", `{"tenant":"vendor","dirGroup":"x","group":"isug","role":"admin"}`, 403},
		{"read the audit log", "GET", "/audit", "", 403},
		{"list users", "GET", "/tenants/vendor/users", "", 403},
	}
	for _, tt := range tests {
		if got := call(tt.method, tt.path, tt.body); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
	// A bogus token is refused outright.
	if st, _ := mustSend(t, "GET", base+"/api/v1/groups", "rat_forged", "", nil); st != 401 {
		t.Errorf("forged token: %d", st)
	}
}

// TestAdminAcceptsTokensOfListedClientsOnly: an access token issued to a
// client not named in admin.clients (a wiki, say) is refused by the admin
// API; one of a listed client is accepted.
func TestAdminAcceptsTokensOfListedClientsOnly(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	cfg := writeConfig(t, dir, addr, `  - id: makers
    name: Makers Guild
    kind: partner
    localAccounts: [{userName: ada, password: "ada-password-1"}]
clients:
  - {id: portal, secret: "portal-secret-0123456789", redirectURIs: ["http://127.0.0.1:1/cb"]}
  - {id: wiki, secret: "wiki-secret-0123456789", redirectURIs: ["http://127.0.0.1:1/cb"]}
`)
	b, _ := os.ReadFile(cfg)
	doc := strings.Replace(string(b), "admin:\n  tokens:", "admin:\n  clients: [portal]\n  tokens:", 1)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	ctx := context.Background()
	provider, err := gooidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	signIn := func(client, secret string) string {
		oc := &oauth2.Config{ClientID: client, ClientSecret: secret, Endpoint: provider.Endpoint(),
			RedirectURL: "http://127.0.0.1:1/cb", Scopes: []string{"openid", "groups"}}
		jar, _ := cookiejar.New(nil)
		var code string
		c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if r.URL.Host == "127.0.0.1:1" {
				code = r.URL.Query().Get("code")
				return http.ErrUseLastResponse
			}
			return nil
		}}
		verifier := oauth2.GenerateVerifier()
		page, err := c.Get(oc.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if err != nil {
			t.Fatal(err)
		}
		page = webtest.SubmitFirstForm(t, c, page, map[string]string{"tenant": "makers"})
		page = webtest.SubmitFirstForm(t, c, page, map[string]string{"username": "ada", "password": "ada-password-1"})
		page.Body.Close()
		tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("%s: exchange: %v", client, err)
		}
		return tok.AccessToken
	}
	for _, tt := range []struct {
		client, secret string
		want           int
	}{
		{"portal", "portal-secret-0123456789", 200},
		{"wiki", "wiki-secret-0123456789", 401},
	} {
		if st, _ := mustSend(t, "GET", base+"/api/v1/me", signIn(tt.client, tt.secret), "", nil); st != tt.want {
			t.Errorf("token of %s: %d, want %d", tt.client, st, tt.want)
		}
	}
}
