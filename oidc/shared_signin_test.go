package oidc

import (
	"testing"
	"time"

	"github.com/roster-dev/roster/store"
)

// TestSharedPendingSignIns: two replicas' pending sign-ins over one store
// (SharedSignIns): a request begun on A is found, moved on and finished on
// B, once only; expired ones are swept from the store.
func TestSharedPendingSignIns(t *testing.T) {
	st, _ := openStore(t)
	a := newPendingLogins(100, 10, st)
	b := newPendingLogins(100, 10, st)
	now := time.Now()
	lr := loginRequest{ID: "req-1", Client: "tool", CSRF: "c", Expires: now.Add(10 * time.Minute)}
	a.add(lr, "203.0.113.7", now)

	got, ok := b.get("req-1")
	if !ok || got.Client != "tool" {
		t.Fatalf("B does not see A's request: %v %+v", ok, got)
	}
	got.Identifier = "ada@acme.example"
	if !b.update(got) {
		t.Fatal("B cannot move the request on")
	}
	if back, ok := a.get("req-1"); !ok || back.Identifier != "ada@acme.example" {
		t.Fatalf("A does not see B's step: %+v", back)
	}
	if !b.take("req-1") {
		t.Fatal("B cannot finish it")
	}
	if a.take("req-1") {
		t.Fatal("A finished it again")
	}
	if _, ok := a.get("req-1"); ok {
		t.Fatal("a finished request is still found")
	}

	// Expired requests left by any replica are swept from the store.
	a.add(loginRequest{ID: "req-2", Expires: now.Add(time.Minute)}, "203.0.113.7", now)
	if n := b.expire(now.Add(2 * time.Minute)); n < 1 {
		t.Fatalf("swept %d", n)
	}
	left := 0
	_ = st.View(t.Context(), func(tx store.Tx) error {
		return tx.ScanRecords(nsPendingSignIns, "", func(string, []byte) error { left++; return nil })
	})
	if left != 0 {
		t.Fatalf("%d pending sign-ins left in the store after the sweep", left)
	}
	// Without a shared store nothing is written at all.
	c := newPendingLogins(100, 10, nil)
	c.add(loginRequest{ID: "req-3", Expires: now.Add(time.Minute)}, "203.0.113.7", now)
	_ = st.View(t.Context(), func(tx store.Tx) error {
		return tx.ScanRecords(nsPendingSignIns, "", func(string, []byte) error { left++; return nil })
	})
	if left != 0 {
		t.Fatal("a memory-only replica wrote to the store")
	}
}
