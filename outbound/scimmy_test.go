package outbound

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster/demo"
)

// scimmyTarget is an independent SCIM service provider: the npm packages
// scimmy and scimmy-routers behind express (testdata/scimmy/server.mjs),
// run by node. It skips the test when node or the packages
// (scripts/deps/node-scimmy.sh) are missing — unless CI is set.
type scimmyTarget struct {
	url   string // SCIM base URL
	state string // GET /state
}

const scimmyToken = "scimmy-bearer-token-0123456789"

func startScimmy(t *testing.T) *scimmyTarget {
	t.Helper()
	dir := filepath.Join("testdata", "scimmy")
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "scimmy-routers", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or scimmy missing (run scripts/deps/node-scimmy.sh): %v", err)
		}
		t.Skipf("node or scimmy missing (run scripts/deps/node-scimmy.sh): %v", err)
	}
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TOKEN="+scimmyToken)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	var hello struct{ URL string }
	if err != nil || json.Unmarshal([]byte(line), &hello) != nil || hello.URL == "" {
		t.Fatalf("scimmy did not start: %q %v", line, err)
	}
	return &scimmyTarget{url: hello.URL, state: strings.TrimSuffix(hello.URL, "/scim/v2") + "/state"}
}

// held renders what the target holds like state.String.
func (s *scimmyTarget) held(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.state)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Users  map[string]bool
		Groups map[string][]string
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for k, v := range st.Groups {
		sort.Strings(v)
		st.Groups[k] = v
	}
	return state{users: st.Users, groups: st.Groups}.String()
}

// TestSCIMPushToScimmy: the initial push and a deactivation reach an
// independent SCIM implementation.
func TestSCIMPushToScimmy(t *testing.T) {
	sc := startScimmy(t)
	e := newEnv(t)
	rug := e.createGroup("rug", "")
	lug := e.createGroup("lug", rug.ID)
	alice := e.createUser("acme", "alice")
	bob := e.createUser("acme", "bob")
	e.join(rug.ID, alice.ID, demo.RoleMember)
	e.join(lug.ID, bob.ID, demo.RoleOrganizer)
	target := scimTarget(sc.url)
	target.SCIM.Token = scimmyToken
	e.start(target)

	wait := func(want string) {
		t.Helper()
		var got string
		waitFor(t, "the target to hold "+want, func() bool { got = sc.held(t); return got == want })
	}
	wait("alice bob lug=bob rug=alice ")
	e.setActive(bob, false)
	wait("alice bob(inactive) lug= rug=alice ")
	if st, _ := e.svc.TargetStatus(t.Context(), "wiki"); st.Paused || st.Held != nil {
		t.Errorf("status: %+v", st)
	}
}
