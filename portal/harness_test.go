package portal_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/webtest"
)

// The tests run the real `roster demo` (built once) on 127.0.0.1 and use
// the portal over HTTP, as a browser would, and in browser_test.go with a
// real headless Chromium.

const adminToken = "portal-test-admin-token-0123456789"

var (
	binary  string
	binDir  string
	servers []*exec.Cmd
	mu      sync.Mutex
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "roster-portal-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	binary = filepath.Join(dir, "roster")
	if out, err := exec.Command("go", "build", "-o", binary, "../cmd/roster").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build roster: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	mu.Lock()
	for _, c := range servers {
		_ = c.Process.Signal(os.Interrupt)
		_ = c.Wait()
	}
	mu.Unlock()
	os.RemoveAll(dir)
	os.Exit(code)
}

// demo is a running `roster demo`.
type demo struct {
	base string
}

// startDemo starts a fresh `roster demo` on a free port of 127.0.0.1, with
// args added to its command line, and waits until it is ready. It is
// stopped (by its PID) when the test ends.
func startDemo(t *testing.T, args ...string) *demo {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(binary, append([]string{"demo", "--listen", addr, "--data", filepath.Join(t.TempDir(), "data")}, args...)...)
	cmd.Env = append(os.Environ(), "ROSTER_ADMIN_TOKEN="+adminToken)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var outMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			outMu.Lock()
			out.WriteString(sc.Text() + "\n")
			outMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		pw.Close()
		if t.Failed() {
			outMu.Lock()
			t.Logf("roster demo output:\n%s", out.String())
			outMu.Unlock()
		}
	})
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if i > 600 {
			outMu.Lock()
			defer outMu.Unlock()
			t.Fatalf("roster demo did not get ready:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &demo{base: base}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browser is a signed-in HTTP client of the portal.
type browser struct {
	t    *testing.T
	d    *demo
	c    *http.Client
	csrf string
}

// signIn signs in at the portal through Roster's sign-in pages.
func (d *demo) signIn(t *testing.T, tenant, user string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(d.base + "/portal/login")
	if err != nil {
		t.Fatal(err)
	}
	resp = webtest.SubmitFirstForm(t, c, resp, map[string]string{"tenant": tenant})
	resp = webtest.SubmitFirstForm(t, c, resp, map[string]string{"username": user, "password": "roster-demo"})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/portal/" {
		t.Fatalf("sign-in as %s/%s ended at %s with %d:\n%s", tenant, user, resp.Request.URL, resp.StatusCode, body)
	}
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the portal's first page:\n%s", body)
	}
	return &browser{t: t, d: d, c: c, csrf: string(m[1])}
}

// get fetches a portal page and returns its status and body.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.d.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// post sends a form as the portal's own page would (same Origin, the
// session's CSRF token unless form sets csrf itself). It does not follow
// the redirect, so the status tells what happened.
func (b *browser) post(path string, form url.Values, header http.Header) (int, string) {
	b.t.Helper()
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.d.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.d.base)
	for k, v := range header {
		req.Header[k] = v
	}
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// adminGet reads the admin API with the demo's admin token.
func (d *demo) adminGet(t *testing.T, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.base+"/api/v1"+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// auditSeq returns the sequence number of the newest audit entry made by a
// person or an admin token. Entries of the server's own background jobs
// (the analytics snapshot, the mail queue, leases) are left out: they may
// land at any moment while a test runs, most of all on a loaded machine.
func (d *demo) auditSeq(t *testing.T) uint64 {
	t.Helper()
	var last, newest uint64
	for {
		var l struct {
			Items []struct {
				Seq   uint64 `json:"seq"`
				Actor string `json:"actor"`
			} `json:"items"`
		}
		d.adminGet(t, "/audit?limit=1000&after="+strconv.FormatUint(last, 10), &l)
		if len(l.Items) == 0 {
			return newest
		}
		for _, e := range l.Items {
			if strings.HasPrefix(e.Actor, "user:") || strings.HasPrefix(e.Actor, "admin") {
				newest = e.Seq
			}
		}
		last = l.Items[len(l.Items)-1].Seq
	}
}

// adminSend writes through the admin API with the demo's admin token and
// fails the test unless it answers 2xx.
func (d *demo) adminSend(t *testing.T, method, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, d.base+"/api/v1"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
}
