package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const replicaSCIMToken = "acme-scim-token-0123456789abcdef"

// acmeSCIM sends a SCIM request of tenant acme.
func acmeSCIM(t *testing.T, method, u, body string) (int, map[string]any) {
	t.Helper()
	st, b := scimSend(t, method, u, replicaSCIMToken, body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return st, out
}

// tokenCall posts a token request of the public client tool.
func tokenCall(t testing.TB, base string, form url.Values) map[string]any {
	t.Helper()
	form.Set("client_id", "tool")
	resp, err := http.PostForm(base+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil {
		t.Fatalf("token request at %s (%s): %d %s", base, form.Get("grant_type"), resp.StatusCode, b)
	}
	return out
}

// groupsClaim returns the groups claim of the userinfo answer at base.
func groupsClaim(t testing.TB, base, access string) []string {
	t.Helper()
	code, groups, body := userinfo(t, base, access)
	if code != http.StatusOK {
		t.Fatalf("userinfo at %s: %d %s", base, code, body)
	}
	return groups
}

// userinfo asks base's /userinfo with the access token: the status, the
// groups claim of a 200 answer, and the body.
func userinfo(t testing.TB, base, access string) (int, []string, []byte) {
	t.Helper()
	st, b := mustSend(t, "GET", base+"/userinfo", access, "", nil)
	var out struct {
		Groups []string `json:"groups"`
	}
	if st == http.StatusOK && json.Unmarshal(b, &out) != nil {
		t.Fatalf("userinfo at %s: %s", base, b)
	}
	return st, out.Groups, b
}

// ready asks base's /readyz: 200 means its engine holds every change
// committed before the call (TestPostgresReadyMeansCaughtUp).
func ready(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s/readyz: %d", base, resp.StatusCode)
	}
}

// TestPostgresSignInAcrossReplicas: two replicas behind one issuer. A
// member signs in on A; the
// authorization code is redeemed on B, the refresh token on B and then on
// A; the session cookie A set signs the member in on B without a
// password; a SCIM write on A is in B's claims; and a sign-in begun on A
// continues on B and finishes on A (pending sign-ins are shared through the
// database), once only.
func TestPostgresSignInAcrossReplicas(t *testing.T) {
	pgDSN(t)
	dir := t.TempDir()
	addrA, addrB := freeAddr(t), freeAddr(t)
	rc := replicaConfig{
		issuer: "http://" + addrA,
		acme:   "    scim: {tokens: [" + replicaSCIMToken + "]}\n",
		extra:  "clients:\n  - {id: tool, name: Tool, public: true, redirectURIs: [\"http://127.0.0.1:9/cb\"]}\n",
	}
	a := startServer(t, "serve", "--config", writeReplicaConfig(t, dir, addrA, rc))
	a.waitReady(t, "http://"+addrA)
	b := startServer(t, "serve", "--config", writeReplicaConfig(t, dir, addrB, rc))
	b.waitReady(t, "http://"+addrB)

	if code, body := api(t, "PUT", a.base+"/api/v1/tenants/acme/local-accounts/ada", `{"password":"ada-password-1"}`); code >= 300 {
		t.Fatalf("local account: %d %s", code, body)
	}
	code, found := acmeSCIM(t, "GET", a.base+"/scim/v2/acme/Users?filter="+url.QueryEscape(`userName eq "ada"`), "")
	res, _ := found["Resources"].([]any)
	if code != http.StatusOK || len(res) != 1 {
		t.Fatalf("SCIM find ada: %d %v", code, found)
	}
	adaID, _ := res[0].(map[string]any)["id"].(string)
	code, grp := acmeSCIM(t, "POST", a.base+"/scim/v2/acme/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Makers"}`)
	if code != http.StatusCreated {
		t.Fatalf("SCIM create group: %d %v", code, grp)
	}
	makersID, _ := grp["id"].(string)
	if code, body := api(t, "POST", a.base+"/api/v1/groups", `{"slug":"sig-makers","name":"Makers SIG","kind":"special-interest"}`); code != http.StatusCreated {
		t.Fatalf("create group: %d %s", code, body)
	}
	if code, body := api(t, "POST", a.base+"/api/v1/rules", `{"tenant":"acme","dirGroup":"Makers","group":"sig-makers","role":"member"}`); code != http.StatusCreated {
		t.Fatalf("create rule: %d %s", code, body)
	}

	// Sign in on A.
	c := signInBrowser()
	scope := url.Values{"scope": {"openid groups offline_access"}}
	loc, body, pu := authorize(t, c, a.base, scope)
	if loc != nil {
		t.Fatalf("authorization without a sign-in page: %v", loc)
	}
	if _, body, pu = submit(t, c, pu, body, map[string]string{"identifier": "ada"}); !strings.Contains(body, `name="password"`) {
		t.Fatalf("no password step: %s", body)
	}
	loc, _, _ = submit(t, c, pu, body, map[string]string{"password": "ada-password-1"})
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in on A: %v", loc)
	}
	// The code is redeemed on B.
	verifier := strings.Repeat("v", 43)
	tok := tokenCall(t, b.base, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}})
	access, _ := tok["access_token"].(string)
	refresh, _ := tok["refresh_token"].(string)
	if access == "" || refresh == "" || tok["id_token"] == nil {
		t.Fatalf("token answer on B: %v", tok)
	}
	if g := groupsClaim(t, b.base, access); slices.Contains(g, "sig-makers") {
		t.Fatalf("groups before the SCIM write: %v", g)
	}

	// A SCIM write on A reaches B's claims.
	code, patched := acmeSCIM(t, "PATCH", a.base+"/scim/v2/acme/Groups/"+makersID,
		fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, adaID))
	if code >= 300 {
		t.Fatalf("SCIM add member on A: %d %v", code, patched)
	}
	ready(t, b.base)
	if g := groupsClaim(t, b.base, access); !slices.Contains(g, "sig-makers") {
		t.Fatalf("B's claims lack the group the SCIM write on A gave: %v", g)
	}

	// The refresh token is used on B, its successor on A.
	tok = tokenCall(t, b.base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	refresh, _ = tok["refresh_token"].(string)
	tok = tokenCall(t, a.base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
	if g := groupsClaim(t, a.base, tok["access_token"].(string)); !slices.Contains(g, "sig-makers") {
		t.Errorf("A's claims after the refresh: %v", g)
	}

	// The session A recorded signs the member in on B.
	loc, body, _ = authorize(t, c, b.base, url.Values{"prompt": {"none"}})
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorization on B with A's session: %v %s", loc, body)
	}
	tokenCall(t, a.base, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier}})

	// A sign-in begun on A is finished on B: pending sign-ins are shared
	// through the database when replicas share one.
	c2 := signInBrowser()
	_, body, pu = authorize(t, c2, a.base, nil)
	onB := strings.Replace(pu, a.base, b.base, 1)
	_, body2, pu2 := submit(t, c2, onB, body, map[string]string{"identifier": "ada"})
	if !strings.Contains(body2, `name="password"`) {
		t.Fatalf("B did not continue a sign-in begun on A: %s", body2)
	}
	onA := strings.Replace(pu2, b.base, a.base, 1) // and back again for the password
	loc, _, _ = submit(t, c2, onA, body2, map[string]string{"password": "ada-password-1"})
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("a sign-in begun on A, continued on B, finished on A: %v", loc)
	}
	// The finished request is gone on both: replaying the last step on B
	// issues nothing.
	if loc, _, _ = submit(t, c2, strings.Replace(pu2, a.base, b.base, 1), body2, map[string]string{"password": "ada-password-1"}); loc != nil && loc.Query().Get("code") != "" {
		t.Fatalf("a finished sign-in was finished again on the other replica: %v", loc)
	}
}

// TestPostgresRestartUnderLoad: PostgreSQL restarts while both replicas
// take writes. Writes fail while it is down; afterwards both replicas
// report ready again and take writes without being restarted themselves,
// every acknowledged write is in the store, and a change on each replica
// reaches the other's engine (the change feed reconnected).
func TestPostgresRestartUnderLoad(t *testing.T) {
	dsn, pg := pgDSN(t)
	a, b := startReplicaPair(t)

	// Load: each replica creates groups, one after another, until told
	// to stop. Only the loader's goroutine touches its fields until
	// finished is closed; acked is read while it runs.
	type loader struct {
		s            *server
		acked        atomic.Int64
		failed       int
		ackedSlugs   []string
		afterRestart chan struct{} // closed at the first write acknowledged after the restart
		stop         chan struct{}
		finished     chan struct{}
	}
	restarted := make(chan struct{})
	var loaders []*loader
	for _, s := range []*server{a, b} {
		name := strings.NewReplacer(":", "-", ".", "-").Replace(strings.TrimPrefix(s.base, "http://"))
		l := &loader{s: s, afterRestart: make(chan struct{}), stop: make(chan struct{}), finished: make(chan struct{})}
		loaders = append(loaders, l)
		go func() {
			defer close(l.finished)
			after := false
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				slug := fmt.Sprintf("load-%s-%d", name, i)
				code, _ := api(t, "POST", l.s.base+"/api/v1/groups", fmt.Sprintf(`{"slug":%q,"name":%q,"kind":"special-interest"}`, slug, slug))
				if code != http.StatusCreated {
					l.failed++
					time.Sleep(20 * time.Millisecond) // a refused write: do not spin
					continue
				}
				l.acked.Add(1)
				l.ackedSlugs = append(l.ackedSlugs, slug)
				select {
				case <-restarted:
					if !after {
						after = true
						close(l.afterRestart)
					}
				default:
				}
			}
		}()
	}
	for _, l := range loaders {
		for l.acked.Load() < 10 {
			select {
			case <-l.finished:
				t.Fatal("loader ended")
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	close(restarted)
	for _, l := range loaders {
		select {
		case <-l.afterRestart:
		case err := <-l.s.done:
			t.Fatalf("%s exited: %v\n%s", l.s.base, err, l.s.output())
		case <-time.After(120 * time.Second): // only keeps a broken recovery from hanging the test
			t.Fatalf("%s took no write after the restart\n%s", l.s.base, l.s.output())
		}
	}
	for _, l := range loaders {
		close(l.stop)
		<-l.finished
	}
	for _, s := range []*server{a, b} {
		select {
		case err := <-s.done:
			t.Fatalf("%s exited: %v", s.base, err)
		default:
		}
		ready(t, s.base)
	}

	// Every acknowledged write is in the store.
	db, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	for _, l := range loaders {
		var missing int
		if err := db.QueryRow(t.Context(), `SELECT count(*) FROM unnest($1::text[]) s WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.slug = s)`,
			l.ackedSlugs).Scan(&missing); err != nil {
			t.Fatal(err)
		}
		if missing != 0 {
			t.Errorf("%s: %d of %d acknowledged writes are missing", l.s.base, missing, len(l.ackedSlugs))
		}
		t.Logf("%s: %d writes acknowledged, %d refused around the restart", l.s.base, l.acked.Load(), l.failed)
	}

	// Each replica's engine follows the other's changes again.
	for _, pair := range [][2]*server{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		slug := "after-" + strings.NewReplacer(":", "-", ".", "-").Replace(strings.TrimPrefix(from.base, "http://"))
		if code, body := api(t, "POST", from.base+"/api/v1/groups", fmt.Sprintf(`{"slug":%q,"name":%q,"kind":"special-interest"}`, slug, slug)); code != http.StatusCreated {
			t.Fatalf("create on %s: %d %s", from.base, code, body)
		}
		if code, body := api(t, "POST", from.base+"/api/v1/groups/"+slug+"/memberships", `{"tenant":"vendor","user":"alice","role":"member"}`); code != http.StatusCreated {
			t.Fatalf("add alice on %s: %d %s", from.base, code, body)
		}
		ready(t, to.base)
		if code, body := api(t, "GET", to.base+"/api/v1/groups/"+slug+"/members", ""); code != http.StatusOK || !strings.Contains(string(body), "alice") {
			t.Errorf("%s's engine lacks a change made on %s after the restart: %d %s", to.base, from.base, code, body)
		}
	}
}
