// Package mailpit starts Mailpit, the SMTP server the tests deliver to
// (installed by scripts/deps/mail.sh), on the loopback and reads what it
// received through its HTTP API. It is for tests only.
package mailpit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary finds Mailpit: $MAILPIT, then PATH, then $GOPATH/bin. Without it
// the test is skipped, except in CI, where a missing server is a failure.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("MAILPIT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	if gopath, _ := exec.Command("go", "env", "GOPATH").Output(); strings.TrimSpace(string(gopath)) != "" {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "mailpit")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("mailpit is not installed (scripts/deps/mail.sh installs it); CI must not skip the mail tests")
	}
	t.Skip("mailpit is not installed; run scripts/deps/mail.sh")
	return ""
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Server is a running Mailpit on the loopback.
type Server struct {
	t        testing.TB
	SMTPPort int
	API      string // its HTTP base URL
}

// Start starts Mailpit with extra flags and stops it (by its PID) when
// the test ends.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := Binary(t)
	m := &Server{t: t, SMTPPort: freePort(t)}
	httpPort := freePort(t)
	m.API = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	args := append([]string{
		"--smtp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--disable-version-check", "--quiet", "--smtp-disable-rdns",
	}, extra...)
	cmd := exec.Command(bin, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill()
		}
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(m.API + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort)); err == nil {
				c.Close()
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Raw returns every message Mailpit holds (at most 1000), as received.
func (m *Server) Raw() [][]byte {
	m.t.Helper()
	var list struct {
		Messages []struct {
			ID string `json:"ID"`
		} `json:"messages"`
	}
	GetJSON(m.t, m.API+"/api/v1/messages?limit=1000", &list)
	var out [][]byte
	for _, it := range list.Messages {
		resp, err := http.Get(m.API + "/api/v1/message/" + it.ID + "/raw")
		if err != nil {
			m.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, b)
	}
	return out
}

// Clear deletes every message.
func (m *Server) Clear() {
	req, _ := http.NewRequest(http.MethodDelete, m.API+"/api/v1/messages", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	resp.Body.Close()
}

// GetJSON decodes the JSON answer of a GET.
func GetJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
