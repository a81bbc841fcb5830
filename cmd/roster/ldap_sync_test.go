package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
)

// TestSyncApproveEndToEnd drives the deletion guard through the binary
// against a private slapd: `roster sync` holds a mass deletion,
// `roster sync --dry-run` shows it without writing, `roster sync approve`
// applies it; then the server, following the directory with syncrepl,
// holds a deletion as it happens, shows it in GET /api/v1/sync/{t}/{dir},
// and POST …/approve applies it (a second approval finds nothing).
func TestSyncApproveEndToEnd(t *testing.T) {
	var gen strings.Builder
	if err := ldaptest.Generate(&gen, ldaptest.GenOptions{Users: 40, Groups: 4, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	srv := ldaptest.New(t, ldaptest.Options{LDIF: []string{gen.String()}})
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := writeConfig(t, dir, addr, "")
	addVendorLDAP(t, cfg, fmt.Sprintf(`id: corp
url: %s
bindDN: %s
bindPassword: %s
users:  {baseDN: "ou=people,%s"}
groups: {baseDN: "ou=groups,%s"}
interval: 1h
deletionGuard: {users: 0.10, memberships: 1}
`, srv.URL, srv.AdminDN, srv.AdminPassword, srv.Suffix, srv.Suffix))
	roster := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "ROSTER_ADMIN_TOKEN="+testAdminToken)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("roster %s: %w: %s", strings.Join(args, " "), err, errb.String())
		}
		return out.String(), err
	}
	status := func(out string) ldap.RunStatus {
		t.Helper()
		var rs ldap.RunStatus
		if err := json.Unmarshal([]byte(out), &rs); err != nil {
			t.Fatalf("sync output %q: %v", out, err)
		}
		return rs
	}
	deleteUsers := func(from, to int) {
		var ldif strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&ldif, "dn: %s\nchangetype: delete\n\n", ldaptest.UserDN(i))
		}
		srv.MustModify(t, ldif.String())
	}

	out, err := roster("sync", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rs := status(out); rs.Users.Created < 40 || !rs.OK() {
		t.Fatalf("first sync: %+v", rs)
	}

	// 8 of 40 users go: 20%, over the 10% guard.
	deleteUsers(0, 8)
	out, err = roster("sync", "--config", cfg, "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "nothing written") || !strings.Contains(out, "would hold (8 users") {
		t.Errorf("dry run output:\n%s", out)
	}
	out, err = roster("sync", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rs := status(out); !rs.PendingApproval || rs.Users.Held != 8 || rs.Users.Deleted != 0 || rs.Held == nil || rs.Held.Users != 8 {
		t.Fatalf("sync after the mass deletion: pending %v users %+v held %+v", rs.PendingApproval, rs.Users, rs.Held)
	}
	out, err = roster("sync", "approve", "--config", cfg, "--directory", "vendor/corp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "approved vendor/corp: 8 users deleted") || strings.Contains(out, "still held") {
		t.Errorf("approve output: %q", out)
	}
	if _, err := roster("sync", "approve", "--config", cfg, "--directory", "vendor/corp"); err == nil ||
		!strings.Contains(err.Error(), "no sync run waits for approval") {
		t.Errorf("a second approval: %v", err)
	}

	// The server follows the directory: a deletion as it happens, held.
	s := startServer(t, "serve", "--config", cfg)
	base := "http://" + addr
	s.waitReady(t, base)
	deleteUsers(8, 16) // 8 of 32
	// The deletions arrive one by one and are applied a burst at a time:
	// those of a first burst may pass, the rest is held. Settled once
	// every one of the 8 is either applied or held.
	var st ldap.RunStatus
	users := func() int {
		code, body := api(t, "GET", base+"/api/v1/tenants/vendor/users", "")
		var page struct {
			Items []json.RawMessage `json:"items"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET users: %d %s", code, body)
		}
		return len(page.Items)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		code, body := api(t, "GET", base+"/api/v1/sync/vendor/corp", "")
		if code != http.StatusOK {
			t.Fatalf("GET sync status: %d %s", code, body)
		}
		st = ldap.RunStatus{}
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		if st.PendingApproval && st.Held != nil && users() == 24+st.Held.Users {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not hold the deletions: %s\n%s", body, s.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Mode != ldap.Persist || st.Held.Users == 0 || !strings.Contains(st.Guard, "deletion guard") {
		t.Errorf("status while held: mode %s held %+v guard %q", st.Mode, st.Held, st.Guard)
	}
	held := st.Held.Users
	code, body := api(t, "POST", base+"/api/v1/sync/vendor/corp/approve", "")
	if code != http.StatusOK {
		t.Fatalf("POST approve: %d %s", code, body)
	}
	var ap ldap.RunStatus
	if err := json.Unmarshal(body, &ap); err != nil || ap.Users.Deleted != held || ap.PendingApproval {
		t.Errorf("approve answer (%d held): %s (%v)", held, body, err)
	}
	if n := users(); n != 24 {
		t.Errorf("%d users after the approval, want 24", n)
	}
	if code, body := api(t, "POST", base+"/api/v1/sync/vendor/corp/approve", ""); code != http.StatusConflict || !strings.Contains(string(body), "nothing_pending") {
		t.Errorf("second POST approve: %d %s", code, body)
	}
}

// TestDailyIntervalAlone: a directory configured with `interval: 24h`
// and no fullSyncInterval is accepted (the full-sync interval follows a
// long interval instead of refusing it as shorter), and `roster sync`
// runs against it.
func TestDailyIntervalAlone(t *testing.T) {
	srv := ldaptest.New(t, ldaptest.Options{})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, freeAddr(t), "")
	addVendorLDAP(t, cfg, fmt.Sprintf("id: corp\nurl: %s\nbindDN: %s\nbindPassword: %s\nusers: {baseDN: \"ou=people,%s\"}\ngroups: {baseDN: \"ou=groups,%s\"}\ninterval: 24h\n",
		srv.URL, srv.AdminDN, srv.AdminPassword, srv.Suffix, srv.Suffix))
	cmd := exec.Command(binary, "sync", "--config", cfg)
	cmd.Env = append(os.Environ(), "ROSTER_ADMIN_TOKEN="+testAdminToken)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("roster sync with interval: 24h alone: %v\n%s%s", err, out, stderr)
	}
	var rs ldap.RunStatus
	if err := json.Unmarshal(out, &rs); err != nil || !rs.OK() || rs.Mode != ldap.Full {
		t.Fatalf("sync status %s (%v)", out, err)
	}
}
