package oidc

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/store"
)

// benchClient is a keep-alive HTTP client for loopback benchmarks.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

// benchClients is how many requests the benchmarks keep in flight, like
// the connections of a load generator.
var benchClients = flag.Int("oidc.clients", 32, "concurrent clients in the oidc benchmarks")

// setClients makes b.RunParallel run *benchClients goroutines (rounded up
// to a multiple of GOMAXPROCS).
func setClients(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((max(*benchClients, 1) + procs - 1) / procs)
}

// latencies collects per-request durations and reports throughput, p50/p99,
// the process CPU time per request (server and client: both run here) and
// how many token writes shared one store commit.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration

	cpu0           time.Duration
	batches0, ops0 int64
	batcher        *store.Batcher
}

// start records the CPU time and batch counters at the start of the timed
// part.
func (l *latencies) start(bt *store.Batcher) {
	l.batcher = bt
	l.cpu0 = cpuTime()
	l.batches0, l.ops0 = bt.Batches.Load(), bt.Ops.Load()
}

// measure times one request per iteration from *benchClients goroutines
// and reports their latencies (latencies.report). Each goroutine gets its
// request from newRequest (so it may hold its own state) and makes it once
// per iteration; a request that fails stops its goroutine and fails the
// benchmark.
func measure(b *testing.B, bt *store.Batcher, newRequest func() func() error) {
	var lat latencies
	setClients(b)
	b.ResetTimer()
	lat.start(bt)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		request := newRequest()
		for pb.Next() {
			t0 := time.Now()
			if err := request(); err != nil {
				b.Error(err)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b, time.Since(start))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	pct := func(p float64) float64 { return float64(l.d[int(p*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(l.d))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64((cpuTime()-l.cpu0).Microseconds())/1000/float64(len(l.d)), "cpu-ms/req")
	if bt := l.batcher; bt != nil {
		if n := bt.Batches.Load() - l.batches0; n > 0 {
			b.ReportMetric(float64(bt.Ops.Load()-l.ops0)/float64(n), "writes/commit")
		}
	}
}

// issueCodes writes n authorization codes for alice directly to the store.
func (e *env) issueCodes(tb testing.TB, client string, n int) []string {
	codes := make([]string, n)
	err := e.st.Update(context.Background(), "bench", func(tx store.Tx) error {
		for i := range codes {
			codes[i] = codePrefix + randomString(32)
			cr := codeRecord{tokenGrant: tokenGrant{Grant: randomString(16), Client: client, User: e.users["alice"].ID, Tenant: testTenant,
				Scopes: []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeRoles, ScopeOfflineAccess}},
				RedirectURI: rpRedirect, AuthTime: e.clock.Now(), Expires: e.clock.Now().Add(time.Hour)}
			if err := jsonrec.Put(tx, nsTokens, tokenKey(pfxCode, codes[i]), cr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return codes
}

func postToken(c *http.Client, e *env, client string, v url.Values) (map[string]any, error) {
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/token", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, portalSecret)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return out, &oauthError{Code: out["error"].(string)}
	}
	return out, nil
}

func benchEnv(b *testing.B) *env {
	return newEnv(b, 0, func(c *Config) {
		c.Clients = append(c.Clients, ClientConfig{ID: "portal-es", Secret: portalSecret, RedirectURIs: []string{rpRedirect}, IDTokenAlg: AlgES256})
		c.AccessTokenLifetime = time.Hour
	})
}

func benchAlgs(b *testing.B, fn func(b *testing.B, client string)) {
	for _, c := range []struct{ name, client string }{{"RS256", "portal"}, {"ES256", "portal-es"}} {
		b.Run(c.name, func(b *testing.B) { fn(b, c.client) })
	}
}

// BenchmarkTokenCodeExchange measures the authorization code grant over
// loopback HTTP, including the signed ID token.
func BenchmarkTokenCodeExchange(b *testing.B) {
	benchAlgs(b, func(b *testing.B, client string) {
		e := benchEnv(b)
		codes := e.issueCodes(b, client, b.N)
		var next atomic.Int64
		hc := benchClient()
		measure(b, e.p.writes, func() func() error {
			return func() error {
				code := codes[next.Add(1)-1]
				_, err := postToken(hc, e, client, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}})
				return err
			}
		})
	})
}

// BenchmarkTokenRefresh measures the refresh token grant with rotation over
// loopback HTTP; each goroutine follows its own token family. The
// no-ID-token case narrows the scope to leave out openid (OIDC Core §12.2
// lets a refresh response omit the ID token): the cost of everything but
// the signature.
func BenchmarkTokenRefresh(b *testing.B) {
	benchAlgs(b, func(b *testing.B, client string) { benchRefresh(b, client, "") })
	b.Run("no-ID-token", func(b *testing.B) { benchRefresh(b, "portal", "offline_access groups roles") })
}

func benchRefresh(b *testing.B, client, scope string) {
	e := benchEnv(b)
	hc := benchClient()
	// One token family per client, obtained before the timer starts.
	codes := e.issueCodes(b, client, *benchClients+runtime.GOMAXPROCS(0))
	families := make(chan string, len(codes))
	for _, code := range codes {
		out, err := postToken(hc, e, client, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}})
		if err != nil {
			b.Fatal(err)
		}
		families <- out["refresh_token"].(string)
	}
	measure(b, e.p.writes, func() func() error {
		rt := <-families
		return func() error {
			v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			if scope != "" {
				v.Set("scope", scope)
			}
			out, err := postToken(hc, e, client, v)
			if err != nil {
				return err
			}
			if _, ok := out["id_token"]; ok == (scope != "") {
				return fmt.Errorf("id_token present: %v", ok)
			}
			rt = out["refresh_token"].(string)
			return nil
		}
	})
}

// BenchmarkUserinfo measures userinfo (token lookup, user load, group
// claims) over loopback HTTP.
func BenchmarkUserinfo(b *testing.B) {
	e := benchEnv(b)
	hc := benchClient()
	out, err := postToken(hc, e, "portal", url.Values{"grant_type": {"authorization_code"}, "code": {e.issueCodes(b, "portal", 1)[0]}, "redirect_uri": {rpRedirect}})
	if err != nil {
		b.Fatal(err)
	}
	at := out["access_token"].(string)
	measure(b, e.p.writes, func() func() error {
		return func() error {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+at)
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			var m map[string]any
			json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("userinfo: %d", resp.StatusCode)
			}
			return nil
		}
	})
}

// BenchmarkSign measures signing an ID-token-sized payload with the
// current key, without HTTP or the store: the floor of a token response.
func BenchmarkSign(b *testing.B) {
	e := benchEnv(b)
	payload := []byte(`{"iss":"https://roster.example.com","sub":"u-0123456789","aud":"portal","azp":"portal","iat":1700000000,"exp":1700000600,"auth_time":1700000000,"sid":"0123456789abcdef","at_hash":"0123456789abcdefghijkl","tenant":"acme","groups":["lug-london","rug-europe"],"roles":["lug-london:organizer"]}`)
	for _, alg := range []string{AlgRS256, AlgES256} {
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := e.p.keys.sign(context.Background(), alg, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthorizeFromSession measures /authorize answered from a
// browser session: cookie lookup, the user's state, and one
// group-committed write of the code and the session's use, then the
// redirect with the code. 16 browsers signed in once share the load.
func BenchmarkAuthorizeFromSession(b *testing.B) {
	e := benchEnv(b)
	var cookies []string
	for range 16 {
		br := newBrowser(rpRedirect)
		if _, err := br.signIn(e.authorizeURL(authParams("portal")), aliceSteps()...); err != nil {
			b.Fatal(err)
		}
		u, _ := url.Parse(e.srv.URL)
		for _, c := range br.c.Jar.Cookies(u) {
			if c.Name == e.p.sessionCookieName() {
				cookies = append(cookies, c.Name+"="+c.Value)
			}
		}
	}
	authURL := e.authorizeURL(authParams("portal"))
	hc := benchClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var next atomic.Int64
	measure(b, e.p.writes, func() func() error {
		cookie := cookies[int(next.Add(1))%len(cookies)]
		return func() error {
			req, _ := http.NewRequest(http.MethodGet, authURL, nil)
			req.Header.Set("Cookie", cookie)
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			loc, _ := resp.Location()
			if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
				return fmt.Errorf("authorize: %d %v", resp.StatusCode, loc)
			}
			return nil
		}
	})
}
