package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/store/postgres/pgtest"
)

// The benchmarks below run real `roster serve` processes on bbolt and on
// PostgreSQL with the same requests, so their figures stand side by side:
//
//	go test -run '^$' -bench 'Backends' -benchtime 2000x ./cmd/roster/
//
// Each reports the operations per second over HTTP on loopback and the
// load average of the machine when it ended (load1): other work on the
// machine shows in every figure.

// benchProc is a `roster serve` process of a benchmark.
type benchProc struct {
	cmd  *exec.Cmd
	base string
	out  *strings.Builder
	mu   *sync.Mutex
}

func startBench(b *testing.B, cfgPath, addr string) *benchProc {
	b.Helper()
	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "ROSTER_ADMIN_TOKEN="+testAdminToken)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &benchProc{cmd: cmd, base: "http://" + addr, out: &strings.Builder{}, mu: &sync.Mutex{}}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			if p.out.Len() < 1<<20 {
				p.out.WriteString(sc.Text() + "\n")
			}
			p.mu.Unlock()
		}
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	for i := 0; ; i++ {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if i > 600 {
			p.mu.Lock()
			defer p.mu.Unlock()
			b.Fatalf("not ready:\n%s", p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const benchSCIMToken = "bench-scim-token-0123456789abcdef"

// benchCluster starts replicas `roster serve` processes on one store of
// backend ("bbolt": one replica only).
func benchCluster(b *testing.B, backend string, replicas int) []*benchProc {
	b.Helper()
	dir := b.TempDir()
	storeCfg := "  bbolt: {path: " + filepath.Join(dir, "roster.db") + "}\n"
	if backend == "postgres" {
		pgtestRequire(b)
		dsn, err := benchPG(b).NewDatabase(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		b.Setenv("ROSTER_DATABASE_URL", dsn)
		storeCfg = "  postgres: {dsn: \"${ROSTER_DATABASE_URL}\", maxConns: 10, migrate: auto}\n"
	}
	var addrs []string
	for range replicas {
		ln := freeAddr(b)
		addrs = append(addrs, ln)
	}
	var procs []*benchProc
	for i, addr := range addrs {
		cfg := fmt.Sprintf(`listen: %s
issuer: http://%s
log: {level: warn}
store:
%sadmin:
  tokens: ["${ROSTER_ADMIN_TOKEN}"]
tenants:
  - {id: vendor, name: Vendor Inc, kind: vendor}
  - id: acme
    name: Acme Corp
    kind: partner
    scim: {tokens: [%s]}
clients:
  - {id: tool, name: Tool, public: true, redirectURIs: ["http://127.0.0.1:9/cb"]}
`, addr, addrs[0], storeCfg, benchSCIMToken)
		p := writeFile(b, filepath.Join(dir, fmt.Sprintf("roster-%d.yaml", i)), cfg)
		procs = append(procs, startBench(b, p, addr))
	}
	return procs
}

// parallel runs n operations on workers goroutines (op gets the worker and
// the operation's number) and reports operations per second and load1.
func parallel(b *testing.B, workers, n int, op func(w, i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := range next {
				if err := op(w, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.ReportMetric(float64(n)/el.Seconds(), "ops/s")
	b.ReportMetric(load1(), "load1")
}

func load1() float64 {
	raw, _ := os.ReadFile("/proc/loadavg")
	var l float64
	fmt.Sscanf(string(raw), "%f", &l)
	return l
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// BenchmarkBackends: SCIM user creates (4 clients, each user durable
// before its 201) and rotating refresh grants with an RS256 ID token (32
// clients; on PostgreSQL spread over one and over two replicas).
func BenchmarkBackends(b *testing.B) {
	for _, bk := range []struct {
		backend  string
		replicas int
	}{{"bbolt", 1}, {"postgres", 1}, {"postgres", 2}} {
		name := fmt.Sprintf("%s-%dreplica", bk.backend, bk.replicas)
		if bk.replicas == 1 {
			b.Run(name+"/scim-create", func(b *testing.B) {
				procs := benchCluster(b, bk.backend, 1)
				parallel(b, 4, b.N, func(_, i int) error {
					body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bench-%d-%d","active":true}`, time.Now().UnixNano(), i)
					req, _ := http.NewRequest("POST", procs[0].base+"/scim/v2/acme/Users", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+benchSCIMToken)
					req.Header.Set("Content-Type", "application/scim+json")
					resp, err := benchClient.Do(req)
					if err != nil {
						return err
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						return fmt.Errorf("SCIM create: %d", resp.StatusCode)
					}
					return nil
				})
			})
		}
		b.Run(name+"/refresh", func(b *testing.B) {
			procs := benchCluster(b, bk.backend, bk.replicas)
			const workers = 32
			tokens := refreshTokens(b, procs[0].base, workers)
			parallel(b, workers, b.N, func(w, i int) error {
				base := procs[i%len(procs)].base // alternate replicas
				resp, err := benchClient.PostForm(base+"/token", url.Values{"grant_type": {"refresh_token"},
					"refresh_token": {tokens[w]}, "client_id": {"tool"}})
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				var out struct {
					Refresh string `json:"refresh_token"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Refresh == "" {
					return fmt.Errorf("refresh at %s: %d %v", base, resp.StatusCode, err)
				}
				tokens[w] = out.Refresh
				return nil
			})
		})
	}
}

// refreshTokens signs a local account in once and returns n refresh
// tokens (one grant each) of client tool, scope openid offline_access.
func refreshTokens(b *testing.B, base string, n int) []string {
	b.Helper()
	if code, body := benchAPI("PUT", base+"/api/v1/tenants/acme/local-accounts/ada", `{"password":"ada-password-1"}`); code >= 300 {
		b.Fatalf("local account: %d %s", code, body)
	}
	t := &testing.T{}
	c := signInBrowser()
	scope := url.Values{"scope": {"openid offline_access"}}
	var out []string
	for len(out) < n {
		loc, body, pu := authorize(t, c, base, scope)
		if loc == nil {
			_, body, pu = submit(t, c, pu, body, map[string]string{"identifier": "ada"})
			loc, _, _ = submit(t, c, pu, body, map[string]string{"password": "ada-password-1"})
		}
		if loc == nil || loc.Query().Get("code") == "" {
			b.Fatalf("sign-in: %v", loc)
		}
		resp, err := http.PostForm(base+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
			"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {strings.Repeat("v", 43)}, "client_id": {"tool"}})
		if err != nil {
			b.Fatal(err)
		}
		var tok struct {
			Refresh string `json:"refresh_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if err != nil || tok.Refresh == "" {
			b.Fatalf("code exchange: %d %v", resp.StatusCode, err)
		}
		out = append(out, tok.Refresh)
	}
	return out
}

func benchAPI(method, u, body string) (int, string) {
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := benchClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// BenchmarkReplicaPropagation: a change committed through replica A (a
// manual membership, after A's 201) until replica B's policy engine shows
// it (B's effective members, polled); reports p50 and p99 in ms.
func BenchmarkReplicaPropagation(b *testing.B) {
	procs := benchCluster(b, "postgres", 2)
	a, bb := procs[0], procs[1]
	if code, body := benchAPI("PUT", a.base+"/api/v1/tenants/vendor/local-accounts/alice", `{"password":"alice-password-1"}`); code >= 300 {
		b.Fatalf("alice: %d %s", code, body)
	}
	if code, body := benchAPI("POST", a.base+"/api/v1/groups", `{"slug":"sig-prop","name":"Propagation","kind":"special-interest"}`); code != http.StatusCreated {
		b.Fatalf("group: %d %s", code, body)
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		add := i%2 == 0
		method, u, body := "POST", a.base+"/api/v1/groups/sig-prop/memberships", `{"tenant":"vendor","user":"alice","role":"member"}`
		if !add {
			method, u, body = "DELETE", a.base+"/api/v1/groups/sig-prop/memberships/"+aliceID(b, a.base)+"/member", ""
		}
		if code, rb := benchAPI(method, u, body); code >= 300 {
			b.Fatalf("%s membership: %d %s", method, code, rb)
		}
		start := time.Now()
		for {
			_, mb := benchAPI("GET", bb.base+"/api/v1/groups/sig-prop/members", "")
			if strings.Contains(mb, "alice") == add {
				break
			}
			if time.Since(start) > time.Minute {
				b.Fatal("B never saw the change")
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(load1(), "load1")
}

var aliceIDs sync.Map

func aliceID(b *testing.B, base string) string {
	if v, ok := aliceIDs.Load(base); ok {
		return v.(string)
	}
	code, body := benchAPI("GET", base+"/api/v1/groups/sig-prop/memberships", "")
	var out struct {
		Items []struct {
			User string `json:"user"`
		} `json:"items"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || len(out.Items) == 0 {
		b.Fatalf("memberships: %d %s", code, body)
	}
	aliceIDs.Store(base, out.Items[0].User)
	return out.Items[0].User
}

func pgtestRequire(b *testing.B) { pgtest.Require(b) }

// benchPG starts a private PostgreSQL for one benchmark, durable (every
// commit flushed, as bbolt's are).
func benchPG(b *testing.B) *pgtest.Server {
	b.Helper()
	s, err := pgtest.StartDurable()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Stop)
	return s
}
