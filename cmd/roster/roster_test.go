package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster/store/bolt"
)

// binary is the roster binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "roster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "roster")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build roster: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testAdminToken = "cmd-test-admin-token-0123456789"

// freeAddr returns a free 127.0.0.1 port.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeConfig writes dir/roster.yaml: listen on addr, a bbolt store in
// dir, the test admin token, tenants vendor and acme, then extra.
func writeConfig(t testing.TB, dir, addr, extra string) string {
	t.Helper()
	return writeConfigAcme(t, dir, addr, "", extra)
}

// writeConfigAcme is writeConfig with acmeMore added to acme's entry
// (", scim: {…}").
func writeConfigAcme(t testing.TB, dir, addr, acmeMore, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: %s
issuer: http://%s
store:
  bbolt: {path: %s}
admin:
  tokens: ["${ROSTER_ADMIN_TOKEN}"]
tenants:
  - {id: vendor, name: Vendor Inc, kind: vendor}
  - {id: acme, name: Acme Corp, kind: partner%s}
%s`, addr, addr, filepath.Join(dir, "roster.db"), acmeMore, extra)
	return writeFile(t, filepath.Join(dir, "roster.yaml"), cfg)
}

// writeFile writes a configuration file (private: it may hold secrets)
// and returns its path.
func writeFile(t testing.TB, p, content string) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// server is a running roster process.
type server struct {
	cmd  *exec.Cmd
	base string
	mu   sync.Mutex
	out  strings.Builder
	done chan error
}

// output returns what the process printed so far.
func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "ROSTER_ADMIN_TOKEN="+testAdminToken)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	go func() { err := cmd.Wait(); pw.Close(); s.done <- err }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

func (s *server) waitReady(t testing.TB, base string) {
	t.Helper()
	s.base = base
	for i := 0; i < 300; i++ {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("server exited: %v\n%s", err, s.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("server not ready\n%s", s.output())
}

// send makes a request with a bearer token (none when token is empty) and
// a body of content type ct (no header when ct is empty): the status and
// the body of the answer.
func send(method, url, token, ct string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, nil
}

// mustSend is send that ends the test when the request cannot be made.
func mustSend(t testing.TB, method, url, token, ct string, body io.Reader) (int, []byte) {
	t.Helper()
	st, b, err := send(method, url, token, ct, body)
	if err != nil {
		t.Fatal(err)
	}
	return st, b
}

// scimSend sends a SCIM request with token: a body (possibly empty) of
// type application/scim+json.
func scimSend(t testing.TB, method, url, token, body string) (int, []byte) {
	t.Helper()
	return mustSend(t, method, url, token, "application/scim+json", strings.NewReader(body))
}

// api calls the admin API with the test's admin token; a server that does
// not answer is status 0.
func api(t testing.TB, method, url, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	ct := ""
	if body != "" {
		rd, ct = strings.NewReader(body), "application/json"
	}
	st, b, err := send(method, url, testAdminToken, ct, rd)
	if err != nil {
		return 0, nil
	}
	return st, b
}

// TestKillDuringWritesLosesNothing streams admin API writes into a
// server, SIGKILLs it mid-stream, restarts it, and checks that every
// acknowledged write survived and that the indexes are consistent.
func TestKillDuringWritesLosesNothing(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := writeConfig(t, dir, addr, "")
	base := "http://" + addr
	for round := 0; round < 3; round++ {
		s := startServer(t, "serve", "--config", cfg)
		s.waitReady(t, base)
		acked := make(chan string, 1000)
		stop := make(chan struct{})
		go func() {
			defer close(acked)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				slug := fmt.Sprintf("g-%d-%d", round, i)
				st, _ := api(t, "POST", base+"/api/v1/groups", fmt.Sprintf(`{"slug":%q,"name":"G %d-%d","kind":"special-interest"}`, slug, round, i))
				if st == 201 {
					acked <- slug
				} else {
					return
				}
			}
		}()
		var got []string
		for slug := range acked {
			got = append(got, slug)
			if len(got) == 40+round*25 {
				if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				<-s.done
				close(stop)
			}
		}
		if len(got) < 40 {
			t.Fatalf("round %d: only %d writes acknowledged before the stream stopped\n%s", round, len(got), s.output())
		}
		// Restart and check every acknowledged write is there.
		s2 := startServer(t, "serve", "--config", cfg)
		s2.waitReady(t, base)
		st, body := api(t, "GET", base+"/api/v1/groups", "")
		if st != 200 {
			t.Fatalf("list after restart: %d %s", st, body)
		}
		var out struct{ Items []struct{ Slug string } }
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, g := range out.Items {
			have[g.Slug] = true
		}
		for _, slug := range got {
			if !have[slug] {
				t.Errorf("round %d: acknowledged group %s lost after SIGKILL", round, slug)
			}
		}
		// Graceful stop, then verify the indexes offline.
		if err := s2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-s2.done; err != nil {
			t.Fatalf("graceful shutdown: %v\n%s", err, s2.output())
		}
		st2, err := bolt.Open(filepath.Join(dir, "roster.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := st2.Verify(context.Background()); err != nil {
			t.Errorf("round %d: indexes inconsistent after SIGKILL: %v", round, err)
		}
		st2.Close()
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown key", "listen: 127.0.0.1:0\nlistne: x\n", "listne"},
		{"bad tenant kind", "tenants: [{id: a, name: A, kind: reseller}]\n", "tenants[0].kind"},
		{"unset env", "admin: {tokens: [\"${ROSTER_TEST_UNSET_VAR}\"]}\n", "ROSTER_TEST_UNSET_VAR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(p, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(binary, "serve", "--config", p).CombinedOutput()
			if err == nil {
				t.Fatalf("serve accepted a bad config:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("error does not name %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestHealthMetricsAndVersion(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	s := startServer(t, "serve", "--config", writeConfig(t, dir, addr, ""))
	s.waitReady(t, "http://"+addr)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	// /metrics names tenants and directories: not for anyone.
	if st, _ := getWithToken(t, "http://"+addr+"/metrics", ""); st != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d, want 401", st)
	}
	if st, _ := getWithToken(t, "http://"+addr+"/metrics", "not-the-admin-token-0123456789"); st != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d, want 401", st)
	}
	if st, b := getWithToken(t, "http://"+addr+"/metrics", testAdminToken); st != 200 || !strings.Contains(b, "go_goroutines") {
		t.Errorf("/metrics with the admin token: %d, lacks Go metrics: %v", st, !strings.Contains(b, "go_goroutines"))
	}
	st, body := api(t, "GET", "http://"+addr+"/api/v1/roles", "")
	if st != 200 || !strings.Contains(string(body), `"organizer"`) {
		t.Errorf("default roles not seeded: %d %s", st, body)
	}
	out, err := exec.Command(binary, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "roster ") {
		t.Errorf("version: %v %s", err, out)
	}
}

// TestMetricsOnTheirOwnListener: with metrics.listen, /metrics leaves the
// main listener and is served there, behind metrics.token when set.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	dir := t.TempDir()
	addr, maddr := freeAddr(t), freeAddr(t)
	const mtok = "scraper-token-0123456789"
	s := startServer(t, "serve", "--config", writeConfig(t, dir, addr, "metrics: {listen: "+maddr+", token: "+mtok+"}\n"))
	s.waitReady(t, "http://"+addr)
	if st, _ := getWithToken(t, "http://"+addr+"/metrics", testAdminToken); st != http.StatusNotFound {
		t.Errorf("/metrics on the main listener: %d, want 404", st)
	}
	if st, _ := getWithToken(t, "http://"+maddr+"/metrics", ""); st != http.StatusUnauthorized {
		t.Errorf("/metrics without the scraper token: %d, want 401", st)
	}
	if st, b := getWithToken(t, "http://"+maddr+"/metrics", mtok); st != 200 || !strings.Contains(b, "roster_http_requests_total") {
		t.Errorf("/metrics with the scraper token: %d", st)
	}
}

// TestServerTimeouts: every timeout of the HTTP server is set, so a client
// that stops reading cannot hold a connection open forever.
func TestServerTimeouts(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("timeouts not all set: %+v", srv)
	}
}

func getWithToken(t *testing.T, url, token string) (int, string) {
	t.Helper()
	st, b := mustSend(t, "GET", url, token, "", nil)
	return st, string(b)
}

// TestBadSectionTouchesNoStore: a mistake in a protocol section stops
// serve before the store file is even created.
func TestBadSectionTouchesNoStore(t *testing.T) {
	tests := []struct{ name, extra, want string }{
		{"unknown oidc key", "oidc: {keyRotashun: 1h}\n", "keyRotashun"},
		{"upstream without issuer", "  - id: globex\n    name: Globex\n    kind: partner\n    upstream: {clientID: roster}\n", "tenants[2].upstream.issuer"},
		{"short local password", "  - id: makers\n    name: Makers\n    kind: partner\n    localAccounts: [{userName: ada, password: short}]\n", "tenants[2].localAccounts[0].password"},
		{"ldap without url", "  - id: corp2\n    name: Corp\n    kind: vendor\n    ldap: [{id: corp, bindDN: x}]\n", "tenants[2].ldap[0]"},
		{"short scim token", "  - id: initech\n    name: Initech\n    kind: partner\n    scim: {tokens: [short]}\n", "tenants[2].scim.tokens[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := writeConfig(t, dir, freeAddr(t), "")
			b, _ := os.ReadFile(cfg)
			doc := string(b)
			if strings.HasPrefix(tt.extra, "  - ") {
				doc += tt.extra // another tenant
			} else {
				doc = tt.extra + doc
			}
			if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(binary, "serve", "--config", cfg)
			cmd.Env = append(os.Environ(), "ROSTER_ADMIN_TOKEN="+testAdminToken)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("serve accepted the config:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("error does not name %q:\n%s", tt.want, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "roster.db")); !os.IsNotExist(err) {
				t.Errorf("the store was created (%v)", err)
			}
		})
	}
}
