package scim

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/roster-dev/roster/admission"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// gateStore holds every full scan (ForEachUser, ForEachDirGroup) of a
// read transaction until the gate opens, telling entered when one starts.
// Index lookups, single reads and pages pass.
type gateStore struct {
	store.Store
	entered chan struct{}
	gate    chan struct{}
}

func (s gateStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(gateTx{tx, s}) })
}

type gateTx struct {
	store.Tx
	s gateStore
}

func (t gateTx) wait() {
	select {
	case t.s.entered <- struct{}{}:
		<-t.s.gate
	case <-t.s.gate: // open: nobody waits for the news
	}
}

func (t gateTx) ForEachUser(tenant policy.TenantID, fn func(policy.User) error) error {
	t.wait()
	return t.Tx.ForEachUser(tenant, fn)
}

func (t gateTx) ForEachDirGroup(tenant policy.TenantID, fn func(policy.DirGroup) error) error {
	t.wait()
	return t.Tx.ForEachDirGroup(tenant, fn)
}

func (t gateTx) UsersByEmail(tenant policy.TenantID, addr string) ([]policy.User, error) {
	return t.Tx.(store.EmailTx).UsersByEmail(tenant, addr)
}

// newGateEnv is an env whose full scans wait at the gate, with admission
// bounds of 3 globally and 2 per tenant.
func newGateEnv(t *testing.T) (*env, gateStore) {
	g := gateStore{entered: make(chan struct{}), gate: make(chan struct{})}
	e := newEnvWith(t, func(c *Config) {
		g.Store = c.Store
		c.Store = g
		c.Admission = admission.New(admission.Config{Global: 3, PerKey: 2})
	})
	return e, g
}

// inFlight starts a request that will wait at the gate, and returns the
// channel its reply arrives on once the gate opens.
func inFlight(t *testing.T, e *env, g gateStore, token, tenant, path string) chan reply {
	t.Helper()
	out := make(chan reply, 1)
	go func() { out <- e.do(t, token, tenant, "GET", path, nil) }()
	<-g.entered
	return out
}

// TestAdmission: with two expensive requests of a tenant running, a third
// one of that tenant is refused at once with 429, SCIM error JSON and
// Retry-After, while every kind of cheap request is served, another
// tenant's expensive request still runs up to the global bound, and the
// refused request succeeds once a slot is free.
func TestAdmission(t *testing.T) {
	e, g := newGateEnv(t)
	user, group := seed(t, e, acmeToken, "acme", "alice")
	seed(t, e, globexToken, "globex", "gus")

	running := []chan reply{
		inFlight(t, e, g, acmeToken, "acme", `/Users?filter=displayName co "ali"`),
		inFlight(t, e, g, acmeToken, "acme", `/Groups`),
	}
	expensive := []string{
		`/Users?filter=displayName co "x"`,
		`/Users?filter=userName sw "a"`,
		`/Users?filter=userName eq "alice@example.com" or userName eq "bob"`,
		`/Users?filter=title eq "x"`,
		`/Users?filter=not (userName eq "x")`,
		`/Users?startIndex=5000&count=10`,
		`/Groups?filter=displayName co "x"`,
	}
	for _, p := range expensive {
		r := e.acme(t, "GET", p, nil)
		if r.status != http.StatusTooManyRequests || r.body["status"] != "429" || r.body["detail"] == nil {
			t.Errorf("%s with the tenant's bound reached: %d %s, want 429 in SCIM JSON", p, r.status, r.raw)
		}
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
			t.Errorf("%s: Retry-After %q", p, r.header.Get("Retry-After"))
		}
	}
	r := e.acme(t, "POST", "/Users/.search", map[string]any{"schemas": []string{searchRequestSchema}, "filter": `emails.value ew "example.com"`})
	if r.status != http.StatusTooManyRequests {
		t.Errorf("expensive .search: %d %s, want 429", r.status, r.raw)
	}

	cheap := []string{
		"/ServiceProviderConfig", "/ResourceTypes", "/Schemas",
		"/Users/" + user, "/Groups/" + group,
		`/Users?filter=userName eq "ALICE@example.com"`,
		`/Users?filter=externalId eq "alice-ext"`,
		`/Users?filter=id eq "` + user + `"`,
		`/Users?filter=emails.value eq "alice@example.com"`,
		`/Users?filter=emails[type eq "work"].value eq "alice@example.com"`,
		`/Users?filter=emails[type eq "work" and value eq "alice@example.com"]`,
		`/Users?filter=userName eq "alice@example.com" and displayName co "x"`,
		`/Groups?filter=displayName eq "alice group"&excludedAttributes=members`,
		`/Users?startIndex=1&count=100`,
		`/Users?count=0`,
	}
	for _, p := range cheap {
		if r := e.acme(t, "GET", p, nil); r.status != http.StatusOK {
			t.Errorf("cheap %s while expensive ones run: %d %s", p, r.status, r.raw)
		}
	}
	r = e.acme(t, "GET", `/Users?filter=emails[type eq "work"].value eq "alice@example.com"`, nil)
	if r.body["totalResults"] != float64(1) {
		t.Errorf("emails lookup from the index: %s", r.raw)
	}
	r = e.acme(t, "GET", `/Users?filter=emails[type eq "home"].value eq "alice@example.com"`, nil)
	if r.body["totalResults"] != float64(0) {
		t.Errorf("the index candidates still go through the whole filter: %s", r.raw)
	}

	// Another tenant still has its share, up to the global bound.
	running = append(running, inFlight(t, e, g, globexToken, "globex", `/Users?filter=displayName co "g"`))
	if r := e.do(t, globexToken, "globex", "GET", `/Groups`, nil); r.status != http.StatusTooManyRequests {
		t.Errorf("beyond the global bound: %d %s, want 429", r.status, r.raw)
	}

	close(g.gate)
	for _, c := range running {
		if r := <-c; r.status != http.StatusOK {
			t.Errorf("admitted request: %d %s", r.status, r.raw)
		}
	}
	if r := e.acme(t, "GET", expensive[0], nil); r.status != http.StatusOK {
		t.Errorf("expensive request once slots are free: %d %s", r.status, r.raw)
	}
}

// TestSequentialPagingCursor: a client paging sequentially through an
// unfiltered user listing resumes from a cursor, so its deep pages stay
// cheap (served while the tenant's expensive slots are taken) and it sees
// every user once, in id order; a deep page it did not reach sequentially
// is expensive.
func TestSequentialPagingCursor(t *testing.T) {
	e, g := newGateEnv(t)
	const n = 2500
	err := e.st.Update(context.Background(), "test", func(tx store.Tx) error {
		for i := 0; i < n; i++ {
			if _, err := tx.CreateUser("acme", policy.User{UserName: fmt.Sprintf("u%04d", i), Active: true}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	first := e.acme(t, "GET", "/Users?startIndex=1&count=1000&attributes=userName", nil)
	running := []chan reply{
		inFlight(t, e, g, acmeToken, "acme", `/Users?filter=displayName co "x"`),
		inFlight(t, e, g, acmeToken, "acme", `/Users?filter=displayName co "y"`),
	}
	if r := e.acme(t, "GET", "/Users?startIndex=1501&count=1000", nil); r.status != http.StatusTooManyRequests {
		t.Errorf("a deep page without a cursor: %d, want 429", r.status)
	}
	var ids []string
	seen := map[string]bool{}
	for start, r := 1, first; ; {
		if r.status != http.StatusOK || r.body["totalResults"] != float64(n) || r.body["startIndex"] != float64(start) {
			t.Fatalf("page at %d: %d %.300s", start, r.status, r.raw)
		}
		res := r.body["Resources"].([]any)
		for _, x := range res {
			id := x.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("user %s twice", id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
		if len(res) < 1000 {
			break
		}
		start += len(res)
		r = e.acme(t, "GET", fmt.Sprintf("/Users?startIndex=%d&count=1000&attributes=userName", start), nil)
	}
	if len(ids) != n {
		t.Errorf("paged through %d users, want %d", len(ids), n)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Fatalf("not in id order at %d", i)
		}
	}
	close(g.gate)
	var wg sync.WaitGroup
	for _, c := range running {
		wg.Go(func() { <-c })
	}
	wg.Wait()
}
