package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/policy/policytest"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// BenchmarkPortalPages measures the portal's tree page and a group page on
// the 100k-user world of policytest.Large (10,000 user groups ten levels
// deep), served by the real binary: an ISUG admin signed in through the
// portal (OIDC code flow with PKCE, then the admin API with the access
// token, as in production) requests each page from 8 concurrent clients.
// It reports requests/s and p50/p99 per page.
//
//	go test ./cmd/roster -run '^$' -bench BenchmarkPortalPages -benchtime 1x
func BenchmarkPortalPages(b *testing.B) {
	base, c, s := portalBench(b, nil)
	// A group near the middle of the tree that has members.
	group := "g3-0"
	measurePages(b, base, c, s, []benchPage{{"tree", "/portal/"}, {"group", "/portal/groups/" + group}})
}

// benchPage is one page measurePages requests.
type benchPage struct{ name, path string }

// portalBench serves the 100k-user world of policytest.Large with the real
// binary (seed, when set, adds to the store first, in the transaction that
// creates the ISUG admin "bench-admin") and returns the base URL and a
// client signed in as that admin through the portal.
func portalBench(b *testing.B, seed func(tx store.Tx, w policy.World, admin policy.User) error) (string, *http.Client, *server) {
	dir := b.TempDir()
	w := policytest.Generate(policytest.Large)
	root := w.Groups[0] // the ISUG
	// The generated world may bind one directory group to one role twice;
	// the store refuses the repeat.
	type ruleKey struct {
		t policy.TenantID
		d policy.DirGroupID
		g policy.GroupID
		r policy.RoleName
	}
	seen := map[ruleKey]bool{}
	rules := w.Rules[:0]
	for _, r := range w.Rules {
		if k := (ruleKey{r.Tenant, r.DirGroup, r.Group, r.Role}); !seen[k] {
			seen[k] = true
			rules = append(rules, r)
		}
	}
	w.Rules = rules
	const tenant = "tenant-00"
	st, err := bolt.Open(filepath.Join(dir, "roster.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := st.Update(ctx, "bench", func(tx store.Tx) error { return loadWorld(tx, w) }); err != nil {
		b.Fatal(err)
	}
	var admin policy.User
	if err := st.Update(ctx, "bench", func(tx store.Tx) error {
		u, err := tx.CreateUser(tenant, policy.User{UserName: "bench-admin", Active: true, Source: "local"})
		if err != nil {
			return err
		}
		admin = u
		if _, err = tx.AddMembership(policy.Membership{User: u.ID, Group: root.ID, Role: "admin", Origin: policy.OriginManual}); err != nil || seed == nil {
			return err
		}
		return seed(tx, w, u)
	}); err != nil {
		b.Fatal(err)
	}
	st.Close()
	_ = admin

	addr := freeAddr(b)
	base := "http://" + addr
	var tenants strings.Builder
	for _, t := range w.Tenants {
		fmt.Fprintf(&tenants, "  - {id: %s, name: %q, kind: %s}\n", t.ID, t.Name, t.Kind)
	}
	cfg := fmt.Sprintf(`listen: %[1]s
issuer: %[2]s
store:
  bbolt: {path: %[3]s}
admin:
  tokens: ["%[4]s"]
  clients: [portal]
clients:
  - id: portal
    name: Roster portal
    secret: "portal-bench-secret-0123456789abcdef"
    redirectURIs: ["%[2]s/portal/callback"]
portal: {clientID: portal, clientSecret: "portal-bench-secret-0123456789abcdef"}
tenants:
%[5]s`, addr, base, filepath.Join(dir, "roster.db"), testAdminToken, tenants.String())
	cfgPath := filepath.Join(dir, "roster.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	s := startServer(b, "serve", "--config", cfgPath)
	s.waitReady(b, base)
	if st, body := api(b, "PUT", base+"/api/v1/tenants/"+tenant+"/local-accounts/bench-admin", `{"password":"bench-password-1"}`); st >= 300 {
		b.Fatalf("local account: %d %s", st, body)
	}

	// Sign in through the portal, as a browser would.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/portal/")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	pu := resp.Request.URL.String()
	for _, step := range []map[string]string{{"identifier": "bench-admin", "tenant": tenant}, {"password": "bench-password-1"}} {
		if !strings.Contains(string(body), "<form") {
			break
		}
		loc, page, u := submit(b, c, pu, string(body), step)
		if loc != nil { // a redirect the jar client did not follow (303 handled by follow)
			resp, err := c.Get(loc.String())
			if err != nil {
				b.Fatal(err)
			}
			bb, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page, u = string(bb), resp.Request.URL.String()
		}
		body, pu = []byte(page), u
	}
	if !strings.Contains(pu, "/portal/") || !strings.Contains(string(body), "g0-0") {
		b.Fatalf("portal sign-in ended at %s:\n%.600s", pu, body)
	}

	return base, c, s
}

// measurePages requests each page once unmeasured (a cold cache is not
// what is measured), then from 4 concurrent clients, 10 times each, and
// reports requests/s and p50/p99 per page.
func measurePages(b *testing.B, base string, c *http.Client, s *server, pages []benchPage) {
	for _, page := range pages {
		if resp, err := c.Get(base + page.path); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.Run(page.name, func(b *testing.B) {
			const clients, perClient = 4, 10
			var mu sync.Mutex
			var lat []time.Duration
			var bytes int
			start := time.Now()
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					for range perClient {
						t0 := time.Now()
						resp, err := c.Get(base + page.path)
						if err != nil {
							b.Error(err)
							return
						}
						n, _ := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						d := time.Since(t0)
						if resp.StatusCode != 200 {
							out := s.output()
							b.Errorf("%s: %d\n%s", page.path, resp.StatusCode, out[max(0, len(out)-3000):])
							return
						}
						mu.Lock()
						lat = append(lat, d)
						bytes = int(n)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			slices.Sort(lat)
			if len(lat) == 0 {
				b.Fatal("no request succeeded")
			}
			b.ReportMetric(float64(len(lat))/el.Seconds(), "req/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(bytes)/1024, "page-KiB")
		})
	}
}
