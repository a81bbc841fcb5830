package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

const testSCIMToken = "cmd-test-scim-token-acme-0123456789"

// startSCIMServer starts the roster binary on a fresh data folder dir
// with scimConfig (written to cfg) and waits until it is ready at base.
func startSCIMServer(t *testing.T) (dir, cfg, base string, s *server) {
	t.Helper()
	dir = t.TempDir()
	addr := freeAddr(t)
	cfg = scimConfig(t, dir, addr)
	base = "http://" + addr
	s = startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	return dir, cfg, base, s
}

// scimConfig writes a configuration whose tenant acme pushes over SCIM.
func scimConfig(t *testing.T, dir, addr string) string {
	t.Helper()
	return writeConfigAcme(t, dir, addr, fmt.Sprintf(", scim: {tokens: [%q]}", testSCIMToken), "")
}

func scimCall(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	return scimSend(t, method, url, testSCIMToken, body)
}

func stopServer(t *testing.T, s *server) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("graceful shutdown: %v\n%s", err, s.output())
	}
}

// TestSCIMDeepAttributeThenRestart is the end-to-end regression test of
// issue #15 item 1 against the roster binary: a SCIM user whose extra
// attribute nests 9,998 deep is refused with 400 invalidValue, and the
// server restarts and serves users, the admin API and the audit.
func TestSCIMDeepAttributeThenRestart(t *testing.T) {
	_, cfg, base, s := startSCIMServer(t)
	users := base + "/scim/v2/acme/Users"
	deep := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"deep@acme.example","x-extra":` +
		strings.Repeat("[", 9997) + `"x"` + strings.Repeat("]", 9997) + `}`
	if code, body := scimCall(t, "POST", users, deep); code != http.StatusBadRequest || !bytes.Contains(body, []byte("invalidValue")) {
		t.Errorf("deep user: %d %.300s, want 400 invalidValue", code, body)
	}
	long := strings.Repeat("n", 40000)
	if code, body := scimCall(t, "POST", users, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+long+`"}`); code != http.StatusBadRequest {
		t.Errorf("40,000-character userName: %d %.300s, want 400", code, body)
	}
	if code, body := scimCall(t, "POST", users, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"kept@acme.example"}`); code != http.StatusCreated {
		t.Fatalf("plain user: %d %s", code, body)
	}
	stopServer(t, s)
	if strings.Contains(s.output(), long[:100]) {
		t.Error("the log holds the long userName")
	}

	s = startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	if code, body := scimCall(t, "GET", users, ""); code != http.StatusOK || !bytes.Contains(body, []byte("kept@acme.example")) {
		t.Errorf("SCIM users after restart: %d %.300s", code, body)
	}
	for _, p := range []string{"/api/v1/tenants/acme/users", "/api/v1/audit", "/api/v1/quarantine"} {
		if code, body := api(t, "GET", base+p, ""); code != http.StatusOK {
			t.Errorf("%s after restart: %d %.300s", p, code, body)
		}
	}
	stopServer(t, s)
}

// TestStartQuarantinesUnreadableRecord: a store holding a user that does
// not decode (written by an earlier version) starts, logs the record
// without its value, serves the rest and lists it; roster doctor lists it
// too, and deletes it.
func TestStartQuarantinesUnreadableRecord(t *testing.T) {
	dir, cfg, base, s := startSCIMServer(t)
	users := base + "/scim/v2/acme/Users"
	var ids []string
	for _, n := range []string{"good@acme.example", "bad@acme.example"} {
		code, body := scimCall(t, "POST", users, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+n+`","x-secret":"s3cr3t-value"}`)
		if code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", n, code, body)
		}
		var u struct{ ID string }
		_ = json.Unmarshal(body, &u)
		ids = append(ids, u.ID)
	}
	stopServer(t, s)

	// Plant what the old code stored for a 9,998-deep attribute.
	db, err := bbolt.Open(filepath.Join(dir, "roster.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("v1")).Bucket([]byte("t")).Bucket([]byte("acme")).Bucket([]byte("users"))
		return b.Put([]byte(ids[1]), []byte(`{"id":"`+ids[1]+`","tenant":"acme","userName":"bad@acme.example","active":true,"source":"scim:acme","attributes":{"x-secret":"s3cr3t-value","x":`+
			strings.Repeat("[", 9999)+strings.Repeat("]", 9999)+`},"version":1}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s = startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	if code, body := scimCall(t, "GET", users, ""); code != http.StatusOK || !bytes.Contains(body, []byte("good@acme.example")) {
		t.Errorf("SCIM users: %d %.300s", code, body)
	}
	code, body := api(t, "GET", base+"/api/v1/quarantine", "")
	var q struct {
		Items []struct{ ID, Kind, Key string }
	}
	_ = json.Unmarshal(body, &q)
	if code != http.StatusOK || len(q.Items) != 1 || q.Items[0].Key != ids[1] || q.Items[0].Kind != "user" {
		t.Fatalf("quarantine: %d %s", code, body)
	}
	stopServer(t, s)
	out := s.output()
	if !strings.Contains(out, "quarantined") || strings.Contains(out, "s3cr3t") {
		t.Errorf("start-up log does not report the quarantine, or quotes a value:\n%.2000s", out)
	}

	doctor := func(args ...string) ([]byte, error) {
		cmd := exec.Command(binary, append([]string{"doctor", "--config", cfg}, args...)...)
		cmd.Env = append(os.Environ(), "ROSTER_ADMIN_TOKEN="+testAdminToken)
		return cmd.CombinedOutput()
	}
	doc, err := doctor()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(doc), ids[1]) || !strings.Contains(string(doc), "indexes: ok") {
		t.Errorf("doctor: %v\n%s", err, doc)
	}
	doc, err = doctor("--delete", q.Items[0].ID)
	if err != nil || !strings.Contains(string(doc), "quarantine: 0 records") {
		t.Errorf("doctor --delete: %v\n%s", err, doc)
	}
}
