package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var (
	sessFormRE  = regexp.MustCompile(`(?s)<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>`)
	sessInputRE = regexp.MustCompile(`<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"`)
)

// signInBrowser is a cookie-jar client that stops at the tool's redirect.
func signInBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), "http://127.0.0.1:9/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// authorize starts a code flow for client tool; it returns the redirect
// to the tool, or the page shown instead.
func authorize(t testing.TB, c *http.Client, base string, extra url.Values) (*url.URL, string, string) {
	t.Helper()
	sum := sha256.Sum256([]byte(strings.Repeat("v", 43)))
	v := url.Values{"client_id": {"tool"}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	for k, x := range extra {
		v[k] = x
	}
	return follow(t, c, base+"/authorize?"+v.Encode(), nil)
}

func follow(t testing.TB, c *http.Client, u string, form url.Values) (*url.URL, string, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if form == nil {
		resp, err = c.Get(u)
	} else {
		resp, err = c.PostForm(u, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusSeeOther {
		loc, _ := resp.Location()
		return loc, "", ""
	}
	return nil, string(b), resp.Request.URL.String()
}

// submit posts the page's first form with fields.
func submit(t testing.TB, c *http.Client, pageURL, body string, fields map[string]string) (*url.URL, string, string) {
	t.Helper()
	m := sessFormRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form in %s", body)
	}
	base, _ := url.Parse(pageURL)
	action, _ := base.Parse(html.UnescapeString(m[1]))
	v := url.Values{}
	for _, in := range sessInputRE.FindAllStringSubmatch(m[2], -1) {
		v.Set(in[1], html.UnescapeString(in[2]))
	}
	for k, x := range fields {
		v.Set(k, x)
	}
	return follow(t, c, action.String(), v)
}

// TestSessionsCLI: a member signs in once (e-mail-first, password), a
// second authorization is answered from the session; `roster sessions
// list` shows it, `roster sessions revoke --all` ends it, and prompt=none
// then answers login_required. The oidc.session and oidc.rateLimit keys
// are accepted.
func TestSessionsCLI(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	cfg := writeConfig(t, dir, addr, `oidc:
  session: {idle: 8h, absolute: 168h}
  rateLimit: {account: {burst: 5, every: 1m}, address: {burst: 10, every: 30s}, deviceLifetime: 720h}
clients:
  - {id: tool, name: Tool, public: true, redirectURIs: ["http://127.0.0.1:9/cb"]}
`)
	s := startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	if st, b := api(t, "PUT", base+"/api/v1/tenants/acme/local-accounts/ada", `{"password":"ada-password-1"}`); st >= 300 {
		t.Fatalf("local account: %d %s", st, b)
	}
	c := signInBrowser()
	loc, body, pu := authorize(t, c, base, nil)
	if loc != nil {
		t.Fatalf("first authorization without a page: %v", loc)
	}
	if _, body, pu = submit(t, c, pu, body, map[string]string{"identifier": "ada"}); !strings.Contains(body, `name="password"`) {
		t.Fatalf("no password step: %s", body)
	}
	if loc, _, _ = submit(t, c, pu, body, map[string]string{"password": "ada-password-1"}); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in: %v", loc)
	}
	if loc, _, _ = authorize(t, c, base, url.Values{"prompt": {"none"}}); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("second authorization: %v", loc)
	}

	var out, errb bytes.Buffer
	env := []string{"--server", base, "--token", testAdminToken, "--tenant", "acme", "--user", "ada"}
	if err := run(context.Background(), append([]string{"sessions", "list"}, env...), &out, &errb); err != nil {
		t.Fatalf("sessions list: %v %s", err, errb.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "pwd") || !strings.Contains(lines[1], "tool") {
		t.Errorf("sessions list:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), append([]string{"sessions", "revoke", "--all"}, env...), &out, &errb); err != nil {
		t.Fatalf("sessions revoke: %v %s", err, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "1 session(s) ended" {
		t.Errorf("revoke: %q", got)
	}
	if loc, _, _ = authorize(t, c, base, url.Values{"prompt": {"none"}}); loc == nil || loc.Query().Get("error") != "login_required" {
		t.Errorf("after revoking: %v", loc)
	}
	if st, b := api(t, "DELETE", base+"/api/v1/tenants/acme/users/ada/sessions/nope", ""); st != http.StatusNotFound {
		t.Errorf("revoking an unknown session: %d %s", st, b)
	}
	if st, b := api(t, "GET", base+"/api/v1/tenants/acme/users/ada/sessions", ""); st != 200 || !strings.Contains(strings.Join(strings.Fields(string(b)), ""), `"items":[]`) {
		t.Errorf("sessions after revoking: %d %s", st, fmt.Sprint(string(b)))
	}
}
