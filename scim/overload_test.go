package scim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/admission"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// BenchmarkOverload reproduces the mix of issue #16: 500 concurrent
// connections over loopback sockets against one tenant of 20,000 users
// (SCIM_OVERLOAD_USERS to change it), 90% cheap requests (discovery,
// single-user GETs, userName eq filters) and 10% expensive ones
// (displayName co filters, deep startIndex pages without a cursor), for
// SCIM_OVERLOAD_SECONDS (default 10) per phase: first with admission
// control off (bounds of a million), then with the default bounds. It
// reports the p50 and p99 of the cheap requests, the p99 of all, the share
// answered 429 and the share of errors (other statuses, client timeouts of
// 10 s); it never fails on time.
//
//	go test -run '^$' -bench Overload -benchtime 1x ./scim/
func BenchmarkOverload(b *testing.B) {
	users := envInt("SCIM_OVERLOAD_USERS", 20_000)
	secs := envInt("SCIM_OVERLOAD_SECONDS", 10)
	e := newEnv(b)
	ids := loadUsers(b, e.st, users)
	b.Logf("load average before: %s", loadAvg())
	for _, phase := range []struct {
		name string
		cfg  admission.Config
	}{
		{"admission=off", admission.Config{Global: 1 << 20, PerKey: 1 << 20}},
		{"admission=on", admission.Config{}},
	} {
		b.Run(phase.name, func(b *testing.B) {
			srv, err := New(Config{
				Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
				Store:     e.st,
				BaseURL:   "https://roster.example.com",
				Tenants:   map[policy.TenantID]TenantConfig{"acme": {Tokens: []string{acmeToken}}},
				Admission: admission.New(phase.cfg),
			})
			if err != nil {
				b.Fatal(err)
			}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			res := overload(ts.URL, ids, 500, time.Duration(secs)*time.Second)
			b.ReportMetric(res.cheapP50.Seconds()*1000, "cheap-p50-ms")
			b.ReportMetric(res.cheapP99.Seconds()*1000, "cheap-p99-ms")
			b.ReportMetric(res.allP99.Seconds()*1000, "all-p99-ms")
			b.ReportMetric(res.pct(res.refused), "429-%")
			b.ReportMetric(res.pct(res.errors), "err-%")
			b.ReportMetric(float64(res.total)/res.elapsed.Seconds(), "req/s")
			b.Logf("%s: %d requests in %v (%d cheap, %d expensive, of which %d served), cheap p50 %v p99 %v, expensive served p99 %v, all p99 %v, 429 %.2f%%, errors %.2f%% (%d timeouts), load average %s",
				phase.name, res.total, res.elapsed.Round(time.Millisecond), res.cheap, res.expensive, res.expensiveOK,
				res.cheapP50, res.cheapP99, res.expensiveP99, res.allP99, res.pct(res.refused), res.pct(res.errors), res.timeouts, loadAvg())
		})
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// loadUsers creates n users in tenant acme, in batches of 1000.
func loadUsers(b *testing.B, st store.Store, n int) []string {
	b.Helper()
	ids := make([]string, 0, n)
	for batch := 0; batch*1000 < n; batch++ {
		err := st.Update(context.Background(), "bench", func(tx store.Tx) error {
			for i := batch * 1000; i < min((batch+1)*1000, n); i++ {
				u, err := tx.CreateUser("acme", policy.User{
					UserName: fmt.Sprintf("user%06d@acme.example", i), ExternalID: fmt.Sprintf("ext-%06d", i),
					GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i), DisplayName: fmt.Sprintf("User %d", i),
					Emails: []policy.Email{{Value: fmt.Sprintf("user%06d@acme.example", i), Type: "work", Primary: true}},
					Active: true, Source: "scim:acme",
					Attributes: map[string]any{EnterpriseSchema: map[string]any{"department": fmt.Sprintf("Dept %d", i%50)}},
				})
				if err != nil {
					return err
				}
				ids = append(ids, string(u.ID))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

type overloadResult struct {
	total, cheap, expensive, expensiveOK, refused, errors, timeouts int
	elapsed                                                         time.Duration
	cheapP50, cheapP99, expensiveP99, allP99                        time.Duration
}

func (r overloadResult) pct(n int) float64 { return 100 * float64(n) / float64(max(r.total, 1)) }

// overload runs conns workers, each on its own connection, sending the
// mix to base for d.
func overload(base string, ids []string, conns int, d time.Duration) overloadResult {
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: time.Minute,
		},
	}
	defer client.CloseIdleConnections()
	prefix := base + PathPrefix + "acme"
	n := len(ids)
	type sample struct {
		lat       time.Duration
		expensive bool
		status    int // 0: client error or timeout
		timeout   bool
	}
	var mu sync.Mutex
	var all []sample
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 16))
			var mine []sample
			for time.Now().Before(deadline) {
				var path string
				expensive := false
				switch k := rng.IntN(100); {
				case k < 10:
					path = []string{"/ServiceProviderConfig", "/Schemas", "/ResourceTypes"}[k%3]
				case k < 45:
					path = "/Users/" + ids[rng.IntN(n)]
				case k < 90:
					path = "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%06d@acme.example"`, rng.IntN(n)))
				case k < 95:
					expensive = true
					path = "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`displayName co "%d"`, rng.IntN(10_000)))
				default:
					expensive = true
					path = fmt.Sprintf("/Users?startIndex=%d&count=100", n/4+rng.IntN(max(n-n/4, 1)))
				}
				req, _ := http.NewRequest("GET", prefix+path, nil)
				req.Header.Set("Authorization", "Bearer "+acmeToken)
				t0 := time.Now()
				resp, err := client.Do(req)
				s := sample{expensive: expensive}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					s.status = resp.StatusCode
				} else {
					s.timeout = strings.Contains(err.Error(), "Timeout") || strings.Contains(err.Error(), "deadline")
				}
				s.lat = time.Since(t0)
				mine = append(mine, s)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r := overloadResult{elapsed: time.Since(start), total: len(all)}
	var cheap, exp, every []time.Duration
	for _, s := range all {
		every = append(every, s.lat)
		switch {
		case s.status == http.StatusTooManyRequests:
			r.refused++
		case s.status != http.StatusOK:
			r.errors++
			if s.timeout {
				r.timeouts++
			}
		}
		if s.expensive {
			r.expensive++
			if s.status == http.StatusOK {
				r.expensiveOK++
				exp = append(exp, s.lat)
			}
		} else {
			r.cheap++
			cheap = append(cheap, s.lat)
		}
	}
	r.cheapP50, r.cheapP99 = quantile(cheap, 0.50), quantile(cheap, 0.99)
	r.expensiveP99, r.allP99 = quantile(exp, 0.99), quantile(every, 0.99)
	return r
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(int(float64(len(d))*q), len(d)-1)]
}
