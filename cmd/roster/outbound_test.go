package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster/config"
	"github.com/roster-dev/roster/outbound"
)

const hookSecret = "cmd-test-hook-secret-0123456789"

// hookReceiver verifies every delivery's signature and records the events
// it acknowledged; while holding, it never answers.
type hookReceiver struct {
	mu    sync.Mutex
	acked []outbound.Event
	bad   int
	hold  func(n int) bool // n: events acknowledged so far
	url   string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	h.url = "http://" + ln.Addr().String() + "/hook"
	return h
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := outbound.Verify(hookSecret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		h.mu.Lock()
		h.bad++
		h.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h.mu.Lock()
	hold := h.hold != nil && h.hold(len(h.acked))
	h.mu.Unlock()
	if hold {
		<-r.Context().Done()
		panic(http.ErrAbortHandler)
	}
	var ev outbound.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.acked = append(h.acked, ev)
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) events() []outbound.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]outbound.Event(nil), h.acked...)
}

func outboundConfig(url string) string {
	return fmt.Sprintf(`outbound:
  - id: chat
    webhook: {url: %q, secret: %q}
    events: [group]
    timeout: 1s
    retry: {initial: 10ms, max: 100ms, pauseAfter: 1000}
`, url, hookSecret)
}

func outboundStatus(t *testing.T, base string) outbound.Status {
	t.Helper()
	code, b := api(t, "GET", base+"/api/v1/outbound/chat", "")
	var st outbound.Status
	if code != 200 || json.Unmarshal(b, &st) != nil {
		t.Fatalf("GET /outbound/chat: %d %s", code, b)
	}
	return st
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 3000 {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutboundKilledMidDeliveryResumes: the server is SIGKILLed while a
// delivery hangs; restarted, it resumes from its cursor: every event
// arrives, in order, and none the receiver acknowledged before the kill
// is sent again. The CLI then shows the target and replays from a seq.
func TestOutboundKilledMidDeliveryResumes(t *testing.T) {
	rcv := newHookReceiver(t)
	rcv.hold = func(n int) bool { return n >= 12 }
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := writeConfig(t, dir, addr, outboundConfig(rcv.url))
	base := "http://" + addr
	s := startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	const n = 20
	for i := range n {
		if code, b := api(t, "POST", base+"/api/v1/groups", fmt.Sprintf(`{"slug":"g-%02d","name":"G %d","kind":"special-interest"}`, i, i)); code != 201 {
			t.Fatalf("create group: %d %s", code, b)
		}
	}
	poll(t, "12 deliveries, committed, the 13th in flight", func() bool {
		st := outboundStatus(t, base)
		return len(rcv.events()) == 12 && !st.Uncommitted && st.FailuresTotal == 0 && st.LagEvents > 0
	})
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	rcv.mu.Lock()
	rcv.hold = nil
	rcv.mu.Unlock()

	s = startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	poll(t, "every group", func() bool { return len(rcv.events()) >= n })
	poll(t, "caught up", func() bool { return outboundStatus(t, base).LagEvents == 0 })
	evs := rcv.events()
	if len(evs) != n {
		t.Errorf("%d events for %d groups", len(evs), n)
	}
	for i, ev := range evs {
		g, _ := ev.Data.(map[string]any)
		if want := fmt.Sprintf("g-%02d", i); ev.Type != "group.created" || g["slug"] != want {
			t.Errorf("event %d: %s %v, want group.created of %s", i, ev.Type, g["slug"], want)
		}
	}
	if rcv.bad != 0 {
		t.Errorf("%d bad signatures", rcv.bad)
	}

	// The CLI.
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append(args, "--server", base)...)
		cmd.Env = append(os.Environ(), "ROSTER_ADMIN_TOKEN="+testAdminToken)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("roster %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := cli("outbound", "status"); !strings.Contains(out, "chat") || !strings.Contains(out, "webhook") || !strings.Contains(out, " ok") {
		t.Errorf("outbound status:\n%s", out)
	}
	cli("outbound", "replay", "--target", "chat", "--from", fmt.Sprint(evs[n-1].Seq))
	poll(t, "the replay", func() bool { return len(rcv.events()) == n+1 })
	if ev := rcv.events()[n]; ev.ID != evs[n-1].ID {
		t.Errorf("replayed %s, want %s", ev.ID, evs[n-1].ID)
	}
	if code, _ := api(t, "GET", base+"/api/v1/outbound/nope", ""); code != 404 {
		t.Errorf("unknown target: %d", code)
	}
	code, b := api(t, "GET", base+"/metrics", "")
	if code != 200 || !strings.Contains(string(b), `roster_outbound_lag_events{kind="webhook",target="chat"} 0`) {
		t.Errorf("metrics: %d, no lag of chat", code)
	}
}

func TestOutboundConfig(t *testing.T) {
	for _, tt := range []struct{ doc, field string }{
		{"outbound:\n  - {id: chat, webhook: {url: 'https://h.example/x', secret: short}}\n", "outbound[0].webhook.secret"},
		{"outbound:\n  - {id: wiki, scim: {url: 'https://w.example/scim/v2', token: t}}\n", "outbound[0].groups.root"},
		{"outbound:\n  - {id: chat, webhook: {url: 'https://h.example/x', secret: " + hookSecret + "}, colour: red}\n", "outbound"},
		{"outbound:\n  secretKey: c2hvcnQ=\n", "outbound.secretKey"},
		{"outbound:\n  targets:\n    - {id: chat, webhook: {url: 'https://h.example/x', secret: short}}\n", "outbound.targets[0].webhook.secret"},
		{"outbound:\n  - {id: a, webhook: {url: 'https://h.example/x', secret: " + hookSecret + "}}\n  - {id: a, webhook: {url: 'https://h.example/y', secret: " + hookSecret + "}}\n", "outbound[1].id"},
	} {
		cfg, err := config.Parse([]byte(tt.doc), func(string) (string, bool) { return "", false })
		if err == nil {
			_, err = decodeSections(cfg)
		}
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Field != tt.field {
			t.Errorf("%q: %v, want an error about %s", tt.doc, err, tt.field)
		}
	}
	cfg, err := config.Parse([]byte("outbound:\n  - {id: wiki, scim: {url: 'https://w.example/scim/v2', token: t}, groups: {root: rug}, groupName: name}\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeSections(cfg)
	if err != nil || len(s.outbound) != 1 || s.outbound[0].GroupName != "name" || s.outbound[0].Retry.PauseAfter == 0 {
		t.Fatalf("decodeSections: %v %+v", err, s)
	}
}

// TestOutboundTargetsThroughAPI: a webhook target created through the
// admin API delivers at once, shows its secret only in the creation
// answer, keeps it encrypted at rest, is audited under the caller,
// survives a restart, and stops on deletion; the SSRF guard refuses a
// metadata address at creation.
func TestOutboundTargetsThroughAPI(t *testing.T) {
	rcv, rcv2 := newHookReceiver(t), newHookReceiver(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	cfg := writeConfig(t, dir, addr, "outbound:\n  secretKey: "+key+"\n")
	s := startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)

	for _, tt := range []struct {
		body string
		code int
		want string
	}{
		{`{"id":"meta","webhook":{"url":"http://169.254.169.254/latest","secret":"` + hookSecret + `"}}`, 400, "link-local"},
		{`{"id":"meta","webhook":{"url":"http://127.0.0.1:1/x","secret":"` + hookSecret + `"},"allowLinkLocal":true}`, 400, "allowLinkLocal"},
		{`{"id":"Bad Id","webhook":{"url":"http://127.0.0.1:1/x"}}`, 400, "id"},
		{`{"id":"wiki","scim":{"url":"http://127.0.0.1:1/scim/v2","token":"t"}}`, 400, "groups.root"},
	} {
		code, b := api(t, "POST", base+"/api/v1/outbound", tt.body)
		if code != tt.code || !strings.Contains(string(b), tt.want) {
			t.Errorf("POST %s: %d %s, want %d about %s", tt.body, code, b, tt.code, tt.want)
		}
	}

	code, b := api(t, "POST", base+"/api/v1/outbound", fmt.Sprintf(`{"id":"chat","webhook":{"url":%q,"secret":%q},"events":["group"]}`, rcv.url, hookSecret))
	var created struct {
		outbound.Status
		Secret string `json:"secret"`
	}
	if code != 201 || json.Unmarshal(b, &created) != nil || created.Secret != hookSecret || created.Source != "api" || created.Kind != "webhook" {
		t.Fatalf("create: %d %s", code, b)
	}
	if code, b := api(t, "POST", base+"/api/v1/outbound", fmt.Sprintf(`{"id":"chat","webhook":{"url":%q}}`, rcv.url)); code != 409 {
		t.Errorf("create twice: %d %s", code, b)
	}
	// A generated secret is shown once.
	code, b = api(t, "POST", base+"/api/v1/outbound", fmt.Sprintf(`{"id":"gen","webhook":{"url":%q},"events":["meeting"]}`, rcv2.url))
	if code != 201 || json.Unmarshal(b, &created) != nil || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create with a generated secret: %d %s", code, b)
	}
	generated := created.Secret

	if code, b := api(t, "POST", base+"/api/v1/groups", `{"slug":"g-1","name":"G 1","kind":"special-interest"}`); code != 201 {
		t.Fatalf("create group: %d %s", code, b)
	}
	poll(t, "the first event", func() bool { return len(rcv.events()) == 1 })
	code, b = api(t, "GET", base+"/api/v1/outbound", "")
	var list struct{ Items []outbound.Status }
	if code != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) != 2 || list.Items[0].Source != "api" ||
		strings.Contains(string(b), hookSecret) || strings.Contains(string(b), generated) {
		t.Errorf("GET /outbound shows a secret or no source: %d %s", code, b)
	}
	code, b = api(t, "GET", base+"/api/v1/audit?limit=500", "")
	var audit struct {
		Items []struct{ ID, Actor string } `json:"items"`
	}
	if code != 200 || json.Unmarshal(b, &audit) != nil {
		t.Fatalf("audit: %d %s", code, b)
	}
	found := false
	for _, e := range audit.Items {
		if e.ID == "outbound/target/chat" {
			found = true
			if !strings.HasPrefix(e.Actor, "admin:") {
				t.Errorf("creation audited as %q, want the admin caller", e.Actor)
			}
		}
	}
	if !found || strings.Contains(string(b), hookSecret) || strings.Contains(string(b), generated) {
		t.Errorf("audit: creation found %v, or a secret in it", found)
	}

	// The secrets are not at rest in clear, and the targets survive a restart.
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-s.done
	db, err := os.ReadFile(filepath.Join(dir, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(db), hookSecret) || strings.Contains(string(db), generated) {
		t.Error("a secret is in the store in clear")
	}
	s = startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	if code, b := api(t, "POST", base+"/api/v1/groups", `{"slug":"g-2","name":"G 2","kind":"special-interest"}`); code != 201 {
		t.Fatalf("create group: %d %s", code, b)
	}
	poll(t, "the event after the restart", func() bool { return len(rcv.events()) == 2 })

	// Deleted, the target is sent nothing more.
	if code, b := api(t, "DELETE", base+"/api/v1/outbound/chat", ""); code != 204 {
		t.Fatalf("delete: %d %s", code, b)
	}
	if code, _ := api(t, "GET", base+"/api/v1/outbound/chat", ""); code != 404 {
		t.Errorf("deleted target: %d", code)
	}
	if code, _ := api(t, "DELETE", base+"/api/v1/outbound/chat", ""); code != 404 {
		t.Errorf("delete twice: %d", code)
	}
	code, b = api(t, "POST", base+"/api/v1/outbound", fmt.Sprintf(`{"id":"after","webhook":{"url":%q,"secret":%q},"events":["group"]}`, rcv2.url, hookSecret))
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	if code, b := api(t, "POST", base+"/api/v1/groups", `{"slug":"g-3","name":"G 3","kind":"special-interest"}`); code != 201 {
		t.Fatalf("create group: %d %s", code, b)
	}
	poll(t, "the event to the target created last", func() bool { return len(rcv2.events()) == 1 })
	if evs := rcv.events(); len(evs) != 2 {
		t.Errorf("the deleted target got %d events, want 2", len(evs))
	}
	if rcv.bad+rcv2.bad != 0 {
		t.Errorf("%d bad signatures", rcv.bad+rcv2.bad)
	}
}
