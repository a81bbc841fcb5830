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

	got, ok := b.get("req-1", now)
	if !ok || got.Client != "tool" {
		t.Fatalf("B does not see A's request: %v %+v", ok, got)
	}
	got.Identifier = "ada@acme.example"
	if !b.update(got) {
		t.Fatal("B cannot move the request on")
	}
	if back, ok := a.get("req-1", now); !ok || back.Identifier != "ada@acme.example" {
		t.Fatalf("A does not see B's step: %+v", back)
	}
	if !b.take("req-1") {
		t.Fatal("B cannot finish it")
	}
	if a.take("req-1") {
		t.Fatal("A finished it again")
	}
	if _, ok := a.get("req-1", now); ok {
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

// TestSharedRateLimits: with a shared store, the failures counted on one
// replica count on the other: a guesser spread over replicas gets one
// budget; a success on either clears the account; refilled buckets are
// swept.
func TestSharedRateLimits(t *testing.T) {
	st, _ := openStore(t)
	now := time.Now()
	clock := func() time.Time { return now }
	acct, addr := RateLimit{Burst: 3, Every: time.Minute}, RateLimit{Burst: 100, Every: time.Second}
	a := newLimiter(clock, acct, addr, st)
	b := newLimiter(clock, acct, addr, st)
	for i, l := range []*limiter{a, b, a} {
		if !l.allow("acme/ada", "203.0.113.7", "") {
			t.Fatalf("attempt %d refused early", i)
		}
		l.failed("acme/ada", "203.0.113.7", "")
	}
	if b.allow("acme/ada", "198.51.100.9", "") {
		t.Fatal("the fourth failure in a row on another replica and address was allowed: the account's budget is not shared")
	}
	a.succeeded("acme/ada", "")
	if !b.allow("acme/ada", "198.51.100.9", "") {
		t.Fatal("a success on A did not clear the account on B")
	}
	b.failed("acme/ada", "198.51.100.9", "")
	now = now.Add(time.Hour)
	if n := a.sweep(now); n < 2 {
		t.Fatalf("swept %d refilled buckets, want the account's and the addresses'", n)
	}
}
