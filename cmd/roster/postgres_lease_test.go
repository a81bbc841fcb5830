package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/store/postgres/pgtest"
)

// replicaConfig is the configuration of one replica on the PostgreSQL
// database of ROSTER_DATABASE_URL.
type replicaConfig struct {
	issuer string // "": http://<addr>
	vendor string // more keys of the vendor tenant (indented four spaces)
	acme   string // more keys of the acme tenant
	extra  string // more top-level sections
}

func writeReplicaConfig(t *testing.T, dir, addr string, rc replicaConfig) string {
	t.Helper()
	if rc.issuer == "" {
		rc.issuer = "http://" + addr
	}
	cfg := fmt.Sprintf(`listen: %s
issuer: %s
store:
  postgres: {dsn: "${ROSTER_DATABASE_URL}", maxConns: 6, migrate: auto}
admin:
  tokens: ["${ROSTER_ADMIN_TOKEN}"]
tenants:
  - id: vendor
    name: Vendor Inc
    kind: vendor
%s  - id: acme
    name: Acme Corp
    kind: partner
%s%s`, addr, rc.issuer, rc.vendor, rc.acme, rc.extra)
	return writeFile(t, filepath.Join(dir, "roster-"+strings.ReplaceAll(addr, ":", "-")+".yaml"), cfg)
}

// pgDSN starts a private PostgreSQL and returns the DSN of a fresh
// database, set in the environment the replicas' configurations refer to.
func pgDSN(t *testing.T) (string, *pgtest.Server) {
	t.Helper()
	pg := pgServer(t)
	dsn, err := pg.NewDatabase(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROSTER_DATABASE_URL", dsn)
	t.Setenv("ROSTER_ADMIN_TOKEN", testAdminToken)
	return dsn, pg
}

// leaseHolder waits until exactly one of the servers says it started the
// leased job name, and returns it.
func leaseHolder(t *testing.T, name string, servers ...*server) (holder *server, others []*server) {
	t.Helper()
	mark := `msg="leased job started" lease=` + name
	deadline := time.Now().Add(60 * time.Second) // only keeps a broken lease from hanging the test
	for {
		var found []*server
		for _, s := range servers {
			if strings.Contains(s.output(), mark) {
				found = append(found, s)
			}
		}
		if len(found) > 1 {
			t.Fatalf("%d replicas started %s", len(found), name)
		}
		if len(found) == 1 {
			for _, s := range servers {
				if s != found[0] {
					others = append(others, s)
				}
			}
			return found[0], others
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replica took the lease %s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPostgresSyncLeaderKilled: two replicas on one database share a
// directory's schedule through a lease. The replica running the first
// (full) sync is killed with SIGKILL while it writes; the other takes the
// lease, runs the sync to the end, and the store holds every directory
// user and group exactly once, each created once in the audit log.
func TestPostgresSyncLeaderKilled(t *testing.T) {
	if !ldaptest.Installed() {
		if os.Getenv("CI") != "" {
			t.Fatal("slapd is not installed (CI must run this test)")
		}
		t.Skip("slapd is not installed")
	}
	const users, groups = 6000, 80
	var gen strings.Builder
	if err := ldaptest.Generate(&gen, ldaptest.GenOptions{Users: users, Groups: groups, Seed: 10}); err != nil {
		t.Fatal(err)
	}
	dir := ldaptest.New(t, ldaptest.Options{LDIF: []string{gen.String()}})
	dsn, _ := pgDSN(t)
	ldapCfg := fmt.Sprintf(`    ldap:
      - id: corp
        url: %s
        bindDN: %s
        bindPassword: %s
        flavor: openldap
        users:  {baseDN: "ou=people,%s", filter: "(objectClass=inetOrgPerson)"}
        groups: {baseDN: "ou=groups,%s", filter: "(objectClass=groupOfNames)"}
        interval: 1h
`, dir.URL, dir.AdminDN, dir.AdminPassword, dir.Suffix, dir.Suffix)
	tmp := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startServer(t, "serve", "--config", writeReplicaConfig(t, tmp, addrA, replicaConfig{vendor: ldapCfg}))
	a.waitReady(t, "http://"+addrA)
	b := startServer(t, "serve", "--config", writeReplicaConfig(t, tmp, addrB, replicaConfig{vendor: ldapCfg}))
	b.waitReady(t, "http://"+addrB)
	holder, others := leaseHolder(t, "ldap-sync:vendor/corp", a, b)
	next := others[0]

	db, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	count := func() int {
		var n int
		if err := db.QueryRow(t.Context(), `SELECT count(*) FROM users WHERE tenant = 'vendor'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Kill the holder once its sync has committed part of the users.
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n := count()
		if n >= users {
			t.Fatalf("the first sync ended before it could be killed (%d users)", n)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first sync wrote nothing\n%s", holder.output())
		}
	}
	if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-holder.done
	killedAt := count()
	if killedAt >= users {
		t.Fatalf("the first sync ended before it was killed (%d users)", killedAt)
	}
	t.Logf("leader killed with %d of %d users written", killedAt, users)
	leaseHolder(t, "ldap-sync:vendor/corp", next)

	// The new leader's run completes (its status is in the store).
	for deadline := time.Now().Add(180 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body := api(t, "GET", next.base+"/api/v1/sync/vendor/corp", "")
		var st struct {
			Finished time.Time `json:"finished"`
			Error    string    `json:"error"`
			Users    struct {
				Created int `json:"created"`
			} `json:"users"`
		}
		if code == http.StatusOK && json.Unmarshal(body, &st) == nil && !st.Finished.IsZero() {
			if st.Error != "" {
				t.Fatalf("the new leader's sync failed: %s", st.Error)
			}
			if got := killedAt + st.Users.Created; got != users {
				t.Errorf("users written before the kill (%d) + created by the new leader (%d) = %d, want %d", killedAt, st.Users.Created, got, users)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new leader's sync did not finish: %d %s\n%s", code, body, next.output())
		}
	}
	if n := count(); n != users {
		t.Errorf("%d users in the store, want %d", n, users)
	}
	var ngroups int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM dirgroups WHERE tenant = 'vendor'`).Scan(&ngroups); err != nil {
		t.Fatal(err)
	}
	if ngroups != groups {
		t.Errorf("%d directory groups in the store, want %d", ngroups, groups)
	}
	// Every user and group is created once in the audit log, and every
	// one created there is in the store: nothing lost, nothing doubled. A
	// create is an entry of its own or an id a bulk write's create-batch
	// entry names (policy.OpCreateBatch).
	const created = `WITH created AS (
		SELECT kind, id FROM audit WHERE kind IN ('user', 'dirgroup') AND op = 'create'
		UNION ALL
		SELECT kind, json_array_elements_text(after->'ids') FROM audit WHERE kind IN ('user', 'dirgroup') AND op = 'create-batch') `
	for _, q := range []struct{ what, sql string }{
		{"records created more than once", created + `SELECT count(*) FROM (SELECT id FROM created
			GROUP BY id HAVING count(*) > 1) d`},
		{"users created in the audit but missing", created + `SELECT count(*) FROM (SELECT DISTINCT id FROM created WHERE kind = 'user') a
			WHERE NOT EXISTS (SELECT 1 FROM users u WHERE a.id = u.id OR a.id LIKE '%/' || u.id)`},
		{"users in the store without their creation in the audit", created + `SELECT count(*) FROM users u
			WHERE NOT EXISTS (SELECT 1 FROM created a WHERE a.kind = 'user' AND (a.id = u.id OR a.id LIKE '%/' || u.id))`},
		{"audit sequence numbers skipped", `SELECT (SELECT max(seq) FROM audit) - (SELECT count(*) FROM audit)`},
	} {
		var n int
		if err := db.QueryRow(t.Context(), q.sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q.what, err)
		}
		if n != 0 {
			t.Errorf("%s: %d", q.what, n)
		}
	}
}
