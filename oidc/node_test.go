package oidc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// nodeOrSkip returns the node binary, skipping the test when node or the
// npm packages (scripts/deps/node-oidc.sh) are missing — unless CI is set.
func nodeOrSkip(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join("testdata", "node", "node_modules", "openid-client", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or openid-client missing (run scripts/deps/node-oidc.sh): %v", err)
		}
		t.Skipf("node or openid-client missing (run scripts/deps/node-oidc.sh): %v", err)
	}
	return node
}

func TestNodeOpenIDClient(t *testing.T) {
	node := nodeOrSkip(t)
	e := newEnv(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "rp.mjs")
	cmd.Dir = filepath.Join("testdata", "node")
	cmd.Env = append(os.Environ(), "ISSUER="+e.srv.URL, "CLIENT_ID=spa", "REDIRECT_URI="+rpRedirect, "ID_TOKEN_ALG=ES256",
		"CLIENT2_ID=london", "CLIENT2_SECRET="+portalSecret)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var result struct {
		Alg            string   `json:"alg"`
		Sub            string   `json:"sub"`
		Nonce          bool     `json:"nonce"`
		Tenant         string   `json:"tenant"`
		Groups         []string `json:"groups"`
		Roles          []string `json:"roles"`
		Email          string   `json:"email"`
		UserinfoSub    string   `json:"userinfoSub"`
		UserinfoGroups []string `json:"userinfoGroups"`
		Rotated        bool     `json:"rotated"`
		RefreshedSub   string   `json:"refreshedSub"`
		Reuse          string   `json:"reuse"`
	}
	var result2 struct {
		Sub      string `json:"sub"`
		Sid      string `json:"sid"`
		FirstSid string `json:"firstSid"`
		Acr      string `json:"acr"`
		Aud      any    `json:"aud"`
	}
	got, got2 := false, false
	b := newBrowser(rpRedirect) // one browser, one cookie jar, for both clients
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "AUTH "):
			loc, err := b.signIn(strings.TrimPrefix(line, "AUTH "), aliceSteps()...)
			if err != nil {
				t.Errorf("sign-in: %v", err)
				stdin.Close()
				continue
			}
			fmt.Fprintln(stdin, loc.String())
		case strings.HasPrefix(line, "AUTH2 "):
			// Single sign-on: the same browser gets the second client's
			// code at once, without a page.
			pg, loc, err := b.get(strings.TrimPrefix(line, "AUTH2 "))
			if err != nil || loc == nil || loc.Query().Get("code") == "" {
				t.Errorf("second client: a page (status %d, %q) or %v, want a code at once", pg.status, pg.alert(), err)
				stdin.Close()
				continue
			}
			fmt.Fprintln(stdin, loc.String())
		case strings.HasPrefix(line, "RESULT2 "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT2 ")), &result2); err != nil {
				t.Fatal(err)
			}
			got2 = true
		case strings.HasPrefix(line, "RESULT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), &result); err != nil {
				t.Fatal(err)
			}
			got = true
		default:
			t.Logf("node: %s", line)
		}
	}
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil || !got || !got2 {
		t.Fatalf("node rp.mjs: %v\n%s", err, stderr.String())
	}
	alice := string(e.users["alice"].ID)
	if result.Alg != "ES256" || result.Sub != alice || !result.Nonce || result.Tenant != testTenant || result.Email != "alice@acme.example" {
		t.Errorf("ID token: %+v", result)
	}
	want := []string{"isug", "lug-london", "sig-go"}
	if !slices.Equal(result.Groups, want) || !slices.Equal(result.UserinfoGroups, want) || !slices.Contains(result.Roles, "lug-london:organizer") {
		t.Errorf("groups: %+v", result)
	}
	if result2.Sub != alice || result2.Sid == "" || result2.Sid != result2.FirstSid || result2.Aud != "london" {
		t.Errorf("second client's ID token is not of the same session: %+v", result2)
	}
	if result.UserinfoSub != alice || !result.Rotated || result.RefreshedSub != alice || result.Reuse != "invalid_grant" {
		t.Errorf("userinfo/refresh: %+v", result)
	}
}
