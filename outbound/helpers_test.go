package outbound

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/internal/teststore"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/storetest"
)

const testSecret = "test-webhook-secret-0123456789"

// env is a store, a policy engine fed by it, and a running Service.
type env struct {
	t      testing.TB
	st     store.Store
	eng    *policy.Engine
	svc    *Service
	cancel context.CancelFunc
	done   chan struct{}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("OUTBOUND_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st := teststore.Bolt(t, teststore.Partners("acme", "globex")...)
	err := st.Update(context.Background(), "test", func(tx store.Tx) error {
		for _, r := range demo.DefaultRoles() {
			if _, err := tx.PutRole(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	eng := storetest.Engine(t, st, policy.EngineConfig{Charter: policy.DefaultCharter})
	return &env{t: t, st: st, eng: eng}
}

// start runs a Service with targets.
func (e *env) start(targets ...TargetConfig) {
	e.t.Helper()
	svc, err := New(Config{Logger: testLogger(e.t), Store: e.st, Engine: e.eng, Targets: targets})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.svc, e.cancel, e.done = svc, cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		if err := svc.Run(ctx); err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}()
	e.t.Cleanup(e.stop)
	select {
	case <-svc.Ready():
	case <-e.done:
	}
}

// stop stops the Service gracefully.
func (e *env) stop() {
	if e.cancel != nil {
		e.cancel()
		<-e.done
		e.cancel = nil
	}
}

func (e *env) update(fn func(tx store.Tx) error) {
	e.t.Helper()
	if err := e.st.Update(context.Background(), "admin", fn); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) createUser(tenant policy.TenantID, name string) policy.User {
	e.t.Helper()
	var u policy.User
	e.update(func(tx store.Tx) error {
		var err error
		u, err = tx.CreateUser(tenant, policy.User{UserName: name, DisplayName: name, Active: true, Source: "local",
			Emails: []policy.Email{{Value: name + "@example.org", Primary: true}}})
		return err
	})
	return u
}

func (e *env) createGroup(slug string, parent policy.GroupID) policy.Group {
	e.t.Helper()
	var g policy.Group
	kind := policy.GroupInternational
	if parent != "" {
		kind = policy.GroupSpecialInterest
	}
	e.update(func(tx store.Tx) error {
		var err error
		g, err = tx.CreateGroup(policy.Group{Slug: slug, Name: "Group " + slug, Kind: kind, Parent: parent})
		return err
	})
	return g
}

func (e *env) join(g policy.GroupID, u policy.UserID, role policy.RoleName) {
	e.t.Helper()
	e.update(func(tx store.Tx) error {
		_, err := tx.AddMembership(policy.Membership{Group: g, User: u, Role: role, Origin: policy.OriginManual})
		return err
	})
}

// bindDirGroup creates directory group name of tenant (from ldap:corp)
// holding users and a rule that gives its members role in g.
func (e *env) bindDirGroup(tenant policy.TenantID, name string, g policy.GroupID, role policy.RoleName, users ...policy.UserID) {
	e.t.Helper()
	e.update(func(tx store.Tx) error {
		d, err := tx.CreateDirGroup(tenant, policy.DirGroup{DisplayName: name, Source: "ldap:corp", MemberUsers: users})
		if err != nil {
			return err
		}
		_, err = tx.CreateRule(policy.Rule{Tenant: tenant, DirGroup: d.ID, Group: g, Role: role})
		return err
	})
}

func (e *env) leave(g policy.GroupID, u policy.UserID, role policy.RoleName) {
	e.t.Helper()
	e.update(func(tx store.Tx) error { return tx.RemoveMembership(g, u, role) })
}

func (e *env) setActive(u policy.User, active bool) policy.User {
	e.t.Helper()
	e.update(func(tx store.Tx) error {
		cur, err := tx.User(u.Tenant, u.ID)
		if err != nil {
			return err
		}
		cur.Active = active
		u, err = tx.UpdateUser(u.Tenant, cur)
		return err
	})
	return u
}

// waitFor polls cond until it holds (or fails the test after a long
// while: the condition is about behaviour, the bound only ends a hung test).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// action is how the receiver answers one delivery attempt.
type action int

const (
	answerOK action = iota
	answer500
	answerNever // hold the request until the client gives up
)

// receiver is a webhook receiver over a real socket that verifies every
// signature and can be stopped and started on the same address.
type receiver struct {
	t      testing.TB
	secret string
	decide func(attempt int) action

	mu       sync.Mutex
	addr     string
	srv      *http.Server
	attempts int
	bad      int     // deliveries with a bad signature
	acked    []Event // events answered 2xx, in order
	ackedIDs map[string]int
	arrival  map[string]time.Time
	hang     chan struct{}
}

func newReceiver(t testing.TB, secret string, decide func(int) action) *receiver {
	r := &receiver{t: t, secret: secret, decide: decide, ackedIDs: map[string]int{}, arrival: map[string]time.Time{}}
	r.startOn("127.0.0.1:0")
	t.Cleanup(r.stop)
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/hook" }

func (r *receiver) startOn(addr string) {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 100 { // the old socket may linger a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.addr = ln.Addr().String()
	r.hang = make(chan struct{})
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	srv := r.srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (r *receiver) stop() {
	r.mu.Lock()
	srv, hang := r.srv, r.hang
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		close(hang)
		_ = srv.Close()
	}
}

// restart stops the receiver and starts it again on the same address.
func (r *receiver) restart() {
	r.stop()
	r.startOn(r.addr)
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.attempts++
	n, hang := r.attempts, r.hang
	r.mu.Unlock()
	if err := Verify(r.secret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.mu.Lock()
		r.bad++
		r.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	act := answerOK
	if r.decide != nil {
		act = r.decide(n)
	}
	switch act {
	case answer500:
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	case answerNever:
		select {
		case <-req.Context().Done():
		case <-hang:
		}
		panic(http.ErrAbortHandler) // no answer at all: the connection is cut
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get("webhook-id") {
		http.Error(w, fmt.Sprintf("bad body: %v", err), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.acked = append(r.acked, ev)
	r.ackedIDs[ev.ID]++
	if _, ok := r.arrival[ev.ID]; !ok {
		r.arrival[ev.ID] = time.Now()
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.acked...)
}

func (r *receiver) has(pred func(Event) bool) bool {
	for _, ev := range r.events() {
		if pred(ev) {
			return true
		}
	}
	return false
}

func webhookTarget(id, url string) TargetConfig {
	return TargetConfig{
		ID: id, Webhook: &WebhookTarget{URL: url, Secret: testSecret},
		Timeout: 300 * time.Millisecond,
		Retry:   RetryConfig{Initial: 5 * time.Millisecond, Max: 40 * time.Millisecond, PauseAfter: 1000},
	}
}
