package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/store"
)

// benchClient is a keep-alive HTTP client for loopback benchmarks.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
}

// latencies collects per-request durations and reports throughput and
// p50/p99 as benchmark metrics.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
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
}

// issueCodes writes n authorization codes for alice directly to the store.
func (e *env) issueCodes(tb testing.TB, client string, n int) []string {
	codes := make([]string, n)
	err := e.st.Update(context.Background(), "bench", func(tx store.Tx) error {
		for i := range codes {
			codes[i] = codePrefix + randomString(32)
			cr := codeRecord{Grant: randomString(16), Client: client, User: e.users["alice"].ID, Tenant: testTenant,
				Scopes:      []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeRoles, ScopeOfflineAccess},
				RedirectURI: rpRedirect, AuthTime: e.clock.Now(), Expires: e.clock.Now().Add(time.Hour)}
			if err := putJSON(tx, tokenKey(pfxCode, codes[i]), cr); err != nil {
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
		var lat latencies
		hc := benchClient()
		b.SetParallelism(8)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				code := codes[next.Add(1)-1]
				t0 := time.Now()
				if _, err := postToken(hc, e, client, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpRedirect}}); err != nil {
					b.Error(err)
					return
				}
				lat.add(time.Since(t0))
			}
		})
		lat.report(b, time.Since(start))
	})
}

// BenchmarkTokenRefresh measures the refresh token grant with rotation over
// loopback HTTP; each goroutine follows its own token family.
func BenchmarkTokenRefresh(b *testing.B) {
	benchAlgs(b, func(b *testing.B, client string) {
		e := benchEnv(b)
		hc := benchClient()
		const par = 8
		codes := e.issueCodes(b, client, par*2*4)
		var next atomic.Int64
		var lat latencies
		b.SetParallelism(par)
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			out, err := postToken(hc, e, client, url.Values{"grant_type": {"authorization_code"}, "code": {codes[next.Add(1)-1]}, "redirect_uri": {rpRedirect}})
			if err != nil {
				b.Error(err)
				return
			}
			rt := out["refresh_token"].(string)
			for pb.Next() {
				t0 := time.Now()
				out, err := postToken(hc, e, client, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				if err != nil {
					b.Error(err)
					return
				}
				lat.add(time.Since(t0))
				rt = out["refresh_token"].(string)
			}
		})
		lat.report(b, time.Since(start))
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
	var lat latencies
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+at)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			var m map[string]any
			json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("userinfo: %d", resp.StatusCode)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	lat.report(b, time.Since(start))
}
