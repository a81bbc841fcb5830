package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestPostgresReadyMeansCaughtUp: a replica answers /readyz 200 only once
// its policy engine holds every change committed before the probe, by any
// replica: right after a write on A returns, B's /readyz and then B's
// engine (the admin API's group members) agree with it, without waiting.
func TestPostgresReadyMeansCaughtUp(t *testing.T) {
	pgDSN(t)
	a, b := startReplicaPair(t)
	for i := range 20 {
		slug := fmt.Sprintf("sig-ready-%d", i)
		code, body := api(t, "POST", a.base+"/api/v1/groups", fmt.Sprintf(`{"slug":%q,"name":"Ready %d","kind":"special-interest"}`, slug, i))
		if code != http.StatusCreated {
			t.Fatalf("create group on A: %d %s", code, body)
		}
		code, body = api(t, "POST", a.base+"/api/v1/groups/"+slug+"/memberships", `{"tenant":"vendor","user":"alice","role":"member"}`)
		if code != http.StatusCreated {
			t.Fatalf("add alice on A: %d %s", code, body)
		}
		resp, err := http.Get(b.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("B /readyz: %d", resp.StatusCode)
		}
		// The members list is the engine's effective view.
		code, body = api(t, "GET", b.base+"/api/v1/groups/"+slug+"/members", "")
		if code != http.StatusOK || !strings.Contains(string(body), "alice") {
			t.Fatalf("B was ready but its engine lacks alice in %s: %d %s", slug, code, body)
		}
	}
}

// startReplicaPair starts two replicas A and B of the roster binary on
// the same PostgreSQL store (writeReplicaConfig) and gives vendor's alice
// a local account through A.
func startReplicaPair(t *testing.T) (a, b *server) {
	t.Helper()
	dir := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	a = startServer(t, "serve", "--config", writeReplicaConfig(t, dir, addrA, replicaConfig{}))
	a.waitReady(t, "http://"+addrA)
	b = startServer(t, "serve", "--config", writeReplicaConfig(t, dir, addrB, replicaConfig{}))
	b.waitReady(t, "http://"+addrB)
	if code, body := api(t, "PUT", a.base+"/api/v1/tenants/vendor/local-accounts/alice", `{"password":"alice-password-1"}`); code >= 300 {
		t.Fatalf("create alice: %d %s", code, body)
	}
	return a, b
}
