package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/store/postgres/pgtest"
)

// pgServer starts a private PostgreSQL for one test (pgtest skips the test
// when PostgreSQL is not installed, and fails it under CI).
func pgServer(t *testing.T) *pgtest.Server {
	t.Helper()
	pgtest.Require(t)
	s, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func writePGConfig(t *testing.T, dir, addr, migrate string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: %s
issuer: http://%s
store:
  postgres: {dsn: "${ROSTER_DATABASE_URL}", maxConns: 5, migrate: %s}
admin:
  tokens: ["${ROSTER_ADMIN_TOKEN}"]
tenants:
  - {id: vendor, name: Vendor Inc, kind: vendor}
  - {id: acme, name: Acme Corp, kind: partner}
`, addr, addr, migrate)
	return writeFile(t, filepath.Join(dir, "roster-"+strings.ReplaceAll(addr, ":", "-")+".yaml"), cfg)
}

// TestPostgresReplicas: `roster migrate` prepares the database a manual
// configuration refuses to start on; two `roster serve` processes share
// it, and a change made through one reaches the other's policy engine.
func TestPostgresReplicas(t *testing.T) {
	pgDSN(t)
	dir := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	cfgA, cfgB := writePGConfig(t, dir, addrA, "manual"), writePGConfig(t, dir, addrB, "auto")

	out, err := exec.Command(binary, "serve", "--config", cfgA).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "roster migrate") {
		t.Fatalf("serve on an empty database with migrate: manual: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "migrate", "--config", cfgA).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "applied migrations [1]") {
		t.Fatalf("roster migrate: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "migrate", "--config", cfgA).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "up to date") {
		t.Fatalf("second roster migrate: %v\n%s", err, out)
	}
	out, err = exec.Command(binary, "backup", "--config", cfgA, "--out", filepath.Join(dir, "b")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "pg_dump") {
		t.Fatalf("roster backup of a PostgreSQL store: %v\n%s", err, out)
	}

	a := startServer(t, "serve", "--config", cfgA)
	a.waitReady(t, "http://"+addrA)
	b := startServer(t, "serve", "--config", cfgB)
	b.waitReady(t, "http://"+addrB)

	code, body := api(t, "POST", a.base+"/api/v1/groups", `{"slug":"sig-replicas","name":"Replicas SIG","kind":"special-interest"}`)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("create group on A: %d %s", code, body)
	}
	// B's engine learns it from the change feed; the bound only keeps a
	// broken feed from hanging the test.
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body = api(t, "GET", b.base+"/api/v1/groups/sig-replicas/members", "")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B never saw the group: %d %s\nA:\n%s\nB:\n%s", code, body, a.output(), b.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
