package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/teststore"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
	"github.com/roster-dev/roster/store/storetest"
)

const adminToken = "test-admin-token-0123456789"

// tokenMap is a test seam for the OIDC provider's verifier: fixed access
// tokens for fixed users.
type tokenMap map[string]policy.UserID

func (m tokenMap) VerifyAccessToken(_ context.Context, tok string) (AccessToken, error) {
	if u, ok := m[tok]; ok {
		tenant := policy.TenantID("vendor")
		if tok == "carol-token" {
			tenant = "acme"
		}
		return AccessToken{User: u, Tenant: tenant}, nil
	}
	return AccessToken{}, errors.New("unknown token")
}

type fixture struct {
	adm    *Server
	srv    *httptest.Server
	st     store.Store
	eng    *policy.Engine
	ids    map[string]string
	tokens tokenMap
}

// newFixture starts the admin API over a real bbolt store with a small
// world: isug > rug-europe > lug-london, a vendor tenant with alice (member
// of dir group "organizers", bound to organizer in lug-london) and bob.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, openBolt(t))
}

// openBolt opens a bbolt store in the test's temporary folder.
func openBolt(t *testing.T) store.Store {
	t.Helper()
	return teststore.Bolt(t)
}

// newFixtureOn is newFixture over the store st (see backends_test.go).
func newFixtureOn(t *testing.T, st store.Store) *fixture {
	t.Helper()
	eng := storetest.Engine(t, st, policy.EngineConfig{})
	ids := map[string]string{}
	ctx := context.Background()
	err := st.Update(ctx, "test", func(tx store.Tx) error {
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(tx.PutTenant(policy.Tenant{ID: "vendor", Name: "Vendor", Kind: policy.TenantVendor}))
		must(tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner}))
		for _, r := range []policy.Role{
			{Name: "member", Permissions: []policy.Permission{"group.read"}},
			{Name: "speaker", Permissions: []policy.Permission{"group.read", "talks.submit"}},
			{Name: "organizer", Permissions: []policy.Permission{"group.read", "members.manage", "meetings.edit", "talks.submit"}},
			{Name: "admin", Permissions: []policy.Permission{"group.read", "members.manage", "meetings.edit", "talks.submit", "groups.manage", "roles.assign", "audit.read", "groups.suspend"}, Inherit: true},
			{Name: "steward", Permissions: []policy.Permission{"group.read", "roles.assign"}},
			{Name: "regional-admin", Permissions: []policy.Permission{"group.read", "groups.manage", "members.manage"}, Inherit: true},
		} {
			_, err := tx.PutRole(r)
			must(err)
		}
		alice, err := tx.CreateUser("vendor", policy.User{UserName: "alice", Active: true, Source: "local"})
		must(err)
		bob, err := tx.CreateUser("vendor", policy.User{UserName: "bob", Active: true, Source: "local"})
		must(err)
		carol, err := tx.CreateUser("acme", policy.User{UserName: "carol", Active: true, Source: "scim:acme"})
		must(err)
		d, err := tx.CreateDirGroup("vendor", policy.DirGroup{DisplayName: "organizers", Source: "local", MemberUsers: []policy.UserID{alice.ID}})
		must(err)
		isug, err := tx.CreateGroup(policy.Group{Slug: "isug", Name: "ISUG", Kind: policy.GroupInternational})
		must(err)
		rug, err := tx.CreateGroup(policy.Group{Slug: "rug-europe", Name: "Europe", Kind: policy.GroupRegional, Parent: isug.ID})
		must(err)
		lug, err := tx.CreateGroup(policy.Group{Slug: "lug-london", Name: "London", Kind: policy.GroupLocal, Parent: rug.ID, Governance: policy.GovernManaged})
		must(err)
		paris, err := tx.CreateGroup(policy.Group{Slug: "lug-paris", Name: "Paris", Kind: policy.GroupLocal, Parent: rug.ID, Governance: policy.GovernManaged})
		must(err)
		_, err = tx.CreateRule(policy.Rule{Tenant: "vendor", DirGroup: d.ID, Group: lug.ID, Role: "organizer"})
		must(err)
		ids["alice"], ids["bob"], ids["carol"] = string(alice.ID), string(bob.ID), string(carol.ID)
		ids["isug"], ids["rug"], ids["lug"], ids["paris"], ids["dir"] = string(isug.ID), string(rug.ID), string(lug.ID), string(paris.ID), string(d.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := store.Snapshot(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	eng.Load(w)
	tokens := tokenMap{"alice-token": policy.UserID(ids["alice"]), "bob-token": policy.UserID(ids["bob"]), "carol-token": policy.UserID(ids["carol"])}
	s, err := New(Config{Store: st, Engine: eng, Tokens: []Token{{Name: "ops", Token: adminToken}}, AccessTokens: tokens, MaxBodyBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &fixture{adm: s, srv: srv, st: st, eng: eng, ids: ids, tokens: tokens}
}

// call sends a request and returns the status and decoded JSON body.
func (f *fixture) call(t *testing.T, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	st, h, b := f.send(t, token, method, path, body)
	var m map[string]any
	if len(b) > 0 && h.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %s", method, path, b)
		}
	}
	return st, m
}

// send sends a request (with token as bearer token unless empty, body
// as JSON unless empty) and returns the status, headers and body.
func (f *fixture) send(t *testing.T, token, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// lastSeq is the newest audit sequence number: unchanged means no write.
// refusal is a request the admin API must refuse without changing the
// store: with status, its error naming field (when field is set).
type refusal struct {
	name, token, method, path, body string
	status                          int
	field                           string
}

// refuses sends each request and checks that it is refused as told and
// that the store did not change.
func (f *fixture) refuses(t *testing.T, rs []refusal) {
	t.Helper()
	for _, c := range rs {
		before := f.lastSeq(t)
		st, m := f.call(t, c.token, c.method, c.path, c.body)
		e, _ := m["error"].(map[string]any)
		if st != c.status || c.field != "" && e["field"] != c.field {
			t.Errorf("%s: %d %v, want %d field %q", c.name, st, m, c.status, c.field)
		}
		if f.lastSeq(t) != before {
			t.Errorf("%s: changed the store", c.name)
		}
	}
}

func (f *fixture) lastSeq(t *testing.T) uint64 {
	var last uint64
	_ = f.st.View(context.Background(), func(tx store.Tx) error {
		cs, err := tx.Audit(0, 0)
		if len(cs) > 0 {
			last = cs[len(cs)-1].Seq
		}
		return err
	})
	return last
}

func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	big := `{"slug":"x","name":"` + strings.Repeat("a", 5000) + `","kind":"local"}`
	tests := []struct {
		name, token, method, path, body string
		status                          int
		code                            string
	}{
		{"no token", "", "GET", "/api/v1/groups", "", 401, "unauthorized"},
		{"wrong token", "nope-nope-nope-nope", "GET", "/api/v1/groups", "", 401, "unauthorized"},
		{"malformed json", adminToken, "POST", "/api/v1/groups", `{"slug":`, 400, "invalid_json"},
		{"unknown field", adminToken, "POST", "/api/v1/groups", `{"slug":"x","name":"X","kind":"local","colour":"red"}`, 400, "invalid_json"},
		{"trailing data", adminToken, "POST", "/api/v1/groups", `{"slug":"x","name":"X","kind":"local"} {}`, 400, "invalid_json"},
		{"oversize body", adminToken, "POST", "/api/v1/groups", big, 413, "too_large"},
		{"invalid slug", adminToken, "POST", "/api/v1/groups", `{"slug":"Not A Slug","name":"X","kind":"local"}`, 400, "invalid"},
		{"duplicate slug", adminToken, "POST", "/api/v1/groups", `{"slug":"isug","name":"X","kind":"special-interest"}`, 409, "conflict"},
		{"LUG under a LUG", adminToken, "POST", "/api/v1/groups", `{"slug":"lug-london-2","name":"London","kind":"local","parent":"lug-london"}`, 400, "invalid"},
		{"LUG at the top", adminToken, "POST", "/api/v1/groups", `{"slug":"lug-nowhere","name":"Nowhere","kind":"local"}`, 400, "invalid"},
		{"sibling with the same name", adminToken, "POST", "/api/v1/groups", `{"slug":"lug-london-2","name":"LONDON","kind":"local","parent":"rug-europe"}`, 400, "invalid"},
		{"rename onto a sibling's name", adminToken, "PATCH", "/api/v1/groups/lug-paris", `{"name":"london"}`, 400, "invalid"},
		{"kind change strands children", adminToken, "PATCH", "/api/v1/groups/rug-europe", `{"kind":"local"}`, 400, "invalid"},
		{"move a LUG under a LUG", adminToken, "POST", "/api/v1/groups/lug-paris/move", `{"parent":"lug-london"}`, 400, "invalid"},
		{"unknown kind", adminToken, "POST", "/api/v1/groups", `{"slug":"x","name":"X","kind":"chapter","parent":"isug"}`, 400, "bad_request"},
		{"unknown parent", adminToken, "POST", "/api/v1/groups", `{"slug":"x","name":"X","kind":"local","parent":"nowhere"}`, 400, "bad_request"},
		{"unknown group", adminToken, "GET", "/api/v1/groups/no-such-group", "", 404, "not_found"},
		{"unknown group patch", adminToken, "PATCH", "/api/v1/groups/no-such-group", `{"name":"x"}`, 404, "not_found"},
		{"move makes cycle", adminToken, "POST", "/api/v1/groups/isug/move", `{"parent":"lug-london"}`, 409, "cycle"},
		{"move onto itself", adminToken, "POST", "/api/v1/groups/isug/move", `{"parent":"isug"}`, 409, "cycle"},
		{"stale version", adminToken, "PATCH", "/api/v1/groups/isug", `{"name":"New","version":99}`, 412, "version_mismatch"},
		{"delete group with children", adminToken, "DELETE", "/api/v1/groups/isug", "", 409, "in_use"},
		{"membership unknown role", adminToken, "POST", "/api/v1/groups/isug/memberships", `{"user":"` + f.ids["bob"] + `","role":"emperor"}`, 404, "not_found"},
		{"membership missing user", adminToken, "POST", "/api/v1/groups/isug/memberships", `{"role":"member"}`, 400, "bad_request"},
		{"rule unknown dirgroup", adminToken, "POST", "/api/v1/rules", `{"tenant":"vendor","dirGroup":"nope","group":"isug","role":"member"}`, 400, "bad_request"},
		{"rule dirgroup of another tenant", adminToken, "POST", "/api/v1/rules", `{"tenant":"acme","dirGroup":"` + f.ids["dir"] + `","group":"isug","role":"member"}`, 400, "bad_request"},
		{"meeting without start", adminToken, "POST", "/api/v1/groups/lug-london/meetings", `{"title":"x"}`, 400, "bad_request"},
		{"bad limit", adminToken, "GET", "/api/v1/audit?limit=0", "", 400, "bad_request"},
		{"wrong method", adminToken, "PUT", "/api/v1/groups", "{}", 405, "method_not_allowed"},
		{"unknown endpoint", adminToken, "GET", "/api/v1/nothing", "", 404, "not_found"},
		{"user of another tenant", adminToken, "GET", "/api/v1/tenants/vendor/users/" + f.ids["carol"], "", 404, "not_found"},
		{"unknown tenant", adminToken, "GET", "/api/v1/tenants/nope/users", "", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			status, body := f.call(t, tt.token, tt.method, tt.path, tt.body)
			if status != tt.status || errCode(body) != tt.code {
				t.Errorf("got %d %q (%v), want %d %q", status, errCode(body), body, tt.status, tt.code)
			}
			if after := f.lastSeq(t); after != before {
				t.Errorf("audit seq moved from %d to %d: a rejected request wrote", before, after)
			}
		})
	}
}

func TestGroupLifecycle(t *testing.T) {
	f := newFixture(t)
	st, g := f.call(t, adminToken, "POST", "/api/v1/groups", `{"slug":"sig-security","name":"Security SIG","kind":"special-interest","parent":"isug"}`)
	if st != 201 || g["slug"] != "sig-security" || g["parent"] != f.ids["isug"] {
		t.Fatalf("create: %d %v", st, g)
	}
	st, g = f.call(t, adminToken, "PATCH", "/api/v1/groups/sig-security", `{"description":"Keeps us safe","version":1}`)
	if st != 200 || g["description"] != "Keeps us safe" || g["version"].(float64) != 2 {
		t.Fatalf("patch: %d %v", st, g)
	}
	st, g = f.call(t, adminToken, "POST", "/api/v1/groups/sig-security/move", `{"parent":"rug-europe"}`)
	if st != 200 || g["parent"] != f.ids["rug"] {
		t.Fatalf("move: %d %v", st, g)
	}
	st, m := f.call(t, adminToken, "POST", "/api/v1/groups/sig-security/meetings", `{"title":"Kick-off","start":"2026-12-01T18:00:00Z","location":"London"}`)
	if st != 201 || m["id"] == "" {
		t.Fatalf("meeting: %d %v", st, m)
	}
	st, _ = f.call(t, adminToken, "DELETE", "/api/v1/groups/sig-security/meetings/"+m["id"].(string), "")
	if st != 204 {
		t.Fatalf("delete meeting: %d", st)
	}
	st, _ = f.call(t, adminToken, "DELETE", "/api/v1/groups/sig-security", "")
	if st != 204 {
		t.Fatalf("delete: %d", st)
	}
	st, _ = f.call(t, adminToken, "GET", "/api/v1/groups/sig-security", "")
	if st != 404 {
		t.Fatalf("get after delete: %d", st)
	}
}

func TestMembershipsRulesAndExplain(t *testing.T) {
	f := newFixture(t)
	// bob becomes a member of lug-paris manually.
	st, _ := f.call(t, adminToken, "POST", "/api/v1/groups/lug-paris/memberships", `{"tenant":"vendor","user":"bob","role":"member"}`)
	if st != 201 {
		t.Fatalf("add membership: %d", st)
	}
	st, body := f.call(t, adminToken, "GET", "/api/v1/groups/lug-paris/members", "")
	members := body["members"].([]any)
	if st != 200 || len(members) != 1 || members[0].(map[string]any)["userName"] != "bob" {
		t.Fatalf("members: %d %v", st, body)
	}
	// A rule binds the organizers dir group to member in isug.
	st, rule := f.call(t, adminToken, "POST", "/api/v1/rules", `{"tenant":"vendor","dirGroup":"organizers","group":"isug","role":"member"}`)
	if st != 201 {
		t.Fatalf("rule: %d %v", st, rule)
	}
	st, body = f.call(t, adminToken, "GET", "/api/v1/tenants/vendor/users/alice/groups", "")
	if st != 200 || len(body["groups"].([]any)) != 2 {
		t.Fatalf("alice's groups: %d %v", st, body)
	}
	st, ex := f.call(t, adminToken, "GET", "/api/v1/explain?user=vendor/alice&permission=members.manage&group=lug-london", "")
	if st != 200 || ex["allowed"] != true || len(ex["steps"].([]any)) == 0 {
		t.Fatalf("explain: %d %v", st, ex)
	}
	st, ex = f.call(t, adminToken, "GET", "/api/v1/explain?user=vendor/bob&permission=members.manage&group=lug-paris", "")
	if st != 200 || ex["allowed"] != false || ex["reason"] == "" {
		t.Fatalf("explain no: %d %v", st, ex)
	}
	st, _ = f.call(t, adminToken, "DELETE", "/api/v1/rules/"+rule["id"].(string), "")
	if st != 204 {
		t.Fatalf("delete rule: %d", st)
	}
	st, body = f.call(t, adminToken, "GET", "/api/v1/tenants/vendor/users/alice/groups", "")
	if st != 200 || len(body["groups"].([]any)) != 1 {
		t.Fatalf("alice's groups after rule removal: %d %v", st, body)
	}
	st, body = f.call(t, adminToken, "GET", "/api/v1/audit?limit=2", "")
	if st != 200 || len(body["items"].([]any)) != 2 || body["next"] == nil {
		t.Fatalf("audit page: %d %v", st, body)
	}
}

// statusCase is one request of a table of requests by several callers
// and the status it must get.
type statusCase struct {
	name, token, method, path, body string
	status                          int
}

// runStatusCases makes each request in turn (a subtest each) and checks
// its status; a refused one must write nothing.
func (f *fixture) runStatusCases(t *testing.T, tests []statusCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			st, body := f.call(t, tt.token, tt.method, tt.path, tt.body)
			if st != tt.status {
				t.Fatalf("got %d %v, want %d", st, body, tt.status)
			}
			if st >= 400 && f.lastSeq(t) != before {
				t.Errorf("a refused request wrote")
			}
		})
	}
}

func TestDelegatedAdministration(t *testing.T) {
	f := newFixture(t)
	bob := f.ids["bob"]
	tests := []statusCase{
		{"organizer adds a member to own group", "alice-token", "POST", "/api/v1/groups/lug-london/memberships", `{"user":"` + bob + `","role":"member"}`, 201},
		{"organizer adds a meeting to own group", "alice-token", "POST", "/api/v1/groups/lug-london/meetings", `{"title":"Meetup","start":"2026-12-03T18:00:00Z"}`, 201},
		{"organizer may not assign other roles", "alice-token", "POST", "/api/v1/groups/lug-london/memberships", `{"user":"` + bob + `","role":"admin"}`, 403},
		{"organizer may not rename the group", "alice-token", "PATCH", "/api/v1/groups/lug-london", `{"name":"Londinium"}`, 403},
		{"organizer may not touch another group", "alice-token", "POST", "/api/v1/groups/lug-paris/memberships", `{"user":"` + bob + `","role":"member"}`, 404},
		{"organizer may not touch the parent", "alice-token", "POST", "/api/v1/groups/rug-europe/meetings", `{"title":"x","start":"2026-12-03T18:00:00Z"}`, 404},
		{"organizer may not create rules", "alice-token", "POST", "/api/v1/rules", `{"tenant":"vendor","dirGroup":"organizers","group":"isug","role":"admin"}`, 403},
		{"organizer may not read audit", "alice-token", "GET", "/api/v1/audit", "", 403},
		{"organizer may not back up", "alice-token", "GET", "/api/v1/backup", "", 403},
		{"organizer may not explain others", "alice-token", "GET", "/api/v1/explain?user=vendor/bob&permission=group.read&group=lug-london", "", 403},
		{"member reads own group", "bob-token", "GET", "/api/v1/groups/lug-london", "", 200},
		{"member may not manage members", "bob-token", "DELETE", "/api/v1/groups/lug-london/memberships/" + bob + "/member", "", 403},
		{"organizer removes the member", "alice-token", "DELETE", "/api/v1/groups/lug-london/memberships/" + bob + "/member", "", 204},
	}
	f.runStatusCases(t, tests)
	// Only groups bob may read are listed for him.
	_, body := f.call(t, "bob-token", "GET", "/api/v1/groups", "")
	if n := len(body["items"].([]any)); n != 0 {
		t.Errorf("bob sees %d groups after removal, want 0", n)
	}
}

func TestBackupStreamsADatabase(t *testing.T) {
	f := newFixture(t)
	code, _, b := f.send(t, adminToken, "GET", "/api/v1/backup", "")
	if code != 200 || len(b) < 4096 {
		t.Fatalf("backup: %d, %d bytes", code, len(b))
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(t.TempDir(), "restored.db")
	if err := bolt.Restore(path, restored); err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(restored, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(context.Background(), func(tx store.Tx) error {
		_, err := tx.GroupBySlug("lug-london")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoEscalation covers the ways a delegated administrator could try to
// get more than they hold.
func TestNoEscalation(t *testing.T) {
	f := newFixture(t)
	bob, carol := f.ids["bob"], f.ids["carol"]
	// bob: steward (group.read + roles.assign) of lug-london; carol (acme):
	// member of lug-london; alice: regional-admin of rug-europe.
	for _, m := range []string{
		`{"user":"` + bob + `","role":"steward"}`,
		`{"user":"` + carol + `","role":"member"}`,
	} {
		if st, body := f.call(t, adminToken, "POST", "/api/v1/groups/lug-london/memberships", m); st != 201 {
			t.Fatalf("setup: %d %v", st, body)
		}
	}
	if st, body := f.call(t, adminToken, "POST", "/api/v1/groups/rug-europe/memberships", `{"user":"`+f.ids["alice"]+`","role":"regional-admin"}`); st != 201 {
		t.Fatalf("setup: %d %v", st, body)
	}
	tests := []statusCase{
		{"steward may not make himself admin", "bob-token", "POST", "/api/v1/groups/lug-london/memberships", `{"user":"` + bob + `","role":"admin"}`, 403},
		{"steward may not give organizer", "bob-token", "POST", "/api/v1/groups/lug-london/memberships", `{"user":"` + bob + `","role":"organizer"}`, 403},
		{"steward may give steward", "bob-token", "POST", "/api/v1/groups/lug-london/memberships", `{"user":"` + carol + `","role":"steward"}`, 201},
		{"regional admin may not retype the region", "alice-token", "PATCH", "/api/v1/groups/rug-europe", `{"kind":"international"}`, 403},
		{"regional admin may rename the region", "alice-token", "PATCH", "/api/v1/groups/rug-europe", `{"description":"Europe and beyond"}`, 200},
		{"regional admin may not move the region to the root", "alice-token", "POST", "/api/v1/groups/rug-europe/move", `{"parent":""}`, 403},
		{"regional admin may not move a LUG under the ISUG", "alice-token", "POST", "/api/v1/groups/lug-london/move", `{"parent":"isug"}`, 403},
		{"explain of an unknown user is forbidden, not not-found", "bob-token", "GET", "/api/v1/explain?user=vendor/nobody&permission=group.read&group=lug-london", "", 403},
		{"explain of another user is forbidden", "bob-token", "GET", "/api/v1/explain?user=vendor/alice&permission=group.read&group=lug-london", "", 403},
		{"explain of oneself in an unreadable group says not found", "carol-token", "GET", "/api/v1/explain?user=" + carol + "&permission=group.read&group=isug", "", 404},
		{"explain of oneself", "carol-token", "GET", "/api/v1/explain?user=" + carol + "&permission=group.read&group=lug-london", "", 200},
		{"unknown kind refused", adminToken, "POST", "/api/v1/groups", `{"slug":"x","name":"X","kind":"galactic"}`, 400},
	}
	f.runStatusCases(t, tests)
	if f.eng.Check(policy.UserID(bob), "groups.manage", policy.GroupID(f.ids["lug"])) {
		t.Error("bob gained groups.manage")
	}
	// carol (acme) sees the names of her own company only.
	_, body := f.call(t, "carol-token", "GET", "/api/v1/groups/lug-london/members", "")
	for _, m := range body["members"].([]any) {
		mm := m.(map[string]any)
		if mm["tenant"] != "acme" && mm["userName"] != nil && mm["userName"] != "" {
			t.Errorf("carol sees %v of another company", mm["userName"])
		}
	}
	// the admin sees all names.
	_, body = f.call(t, adminToken, "GET", "/api/v1/groups/lug-london/members", "")
	for _, m := range body["members"].([]any) {
		if m.(map[string]any)["userName"] == nil {
			t.Errorf("admin misses a name: %v", m)
		}
	}
}

// TestAuditNamesTheActor: every write records who did it — the admin
// token's name, or the user behind an access token — not just "admin".
func TestAuditNamesTheActor(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, token, body, want string
	}{
		{"admin token", adminToken, `{"user":"` + f.ids["bob"] + `","role":"member"}`, "admin:ops"},
		{"organizer's access token", "alice-token", `{"user":"` + f.ids["carol"] + `","tenant":"acme","role":"member"}`, "user:vendor/" + f.ids["alice"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			if st, m := f.call(t, tt.token, "POST", "/api/v1/groups/lug-london/memberships", tt.body); st != http.StatusCreated && st != http.StatusOK {
				t.Fatalf("add membership: %d %v", st, m)
			}
			var got []policy.Change
			_ = f.st.View(context.Background(), func(tx store.Tx) (err error) { got, err = tx.Audit(before, 0); return })
			if len(got) == 0 {
				t.Fatal("no audit entry")
			}
			for _, c := range got {
				if c.Actor != tt.want {
					t.Errorf("audit %s %s %s: actor %q, want %q", c.Kind, c.Op, c.ID, c.Actor, tt.want)
				}
			}
		})
	}
}

// TestAnswersDoNotRevealExistence: across a delegation boundary a missing
// group and one the caller may not read get the very same answer, and
// errors carry no store internals.
func TestAnswersDoNotRevealExistence(t *testing.T) {
	f := newFixture(t)
	alice := f.ids["alice"] // organizer of lug-london only
	pairs := []struct {
		name, method, hidden, missing, bodyHidden, bodyMissing string
	}{
		{"read a group", "GET", "/api/v1/groups/lug-paris", "/api/v1/groups/lug-nowhere", "", ""},
		{"read by id", "GET", "/api/v1/groups/" + f.ids["paris"], "/api/v1/groups/0190f7a8-0000-7000-8000-000000000000", "", ""},
		{"group's members", "GET", "/api/v1/groups/lug-paris/members", "/api/v1/groups/lug-nowhere/members", "", ""},
		{"explain", "GET", "/api/v1/explain?user=" + alice + "&permission=group.read&group=lug-paris", "/api/v1/explain?user=" + alice + "&permission=group.read&group=lug-nowhere", "", ""},
		{"create under a parent", "POST", "/api/v1/groups", "/api/v1/groups", `{"slug":"sig-x","name":"X","kind":"special-interest","parent":"lug-paris"}`, `{"slug":"sig-x","name":"X","kind":"special-interest","parent":"lug-nowhere"}`},
		{"move under a parent", "POST", "/api/v1/groups/lug-london/move", "/api/v1/groups/lug-london/move", `{"parent":"lug-paris"}`, `{"parent":"lug-nowhere"}`},
	}
	for _, tt := range pairs {
		t.Run(tt.name, func(t *testing.T) {
			before := f.lastSeq(t)
			st1, m1 := f.call(t, "alice-token", tt.method, tt.hidden, tt.bodyHidden)
			st2, m2 := f.call(t, "alice-token", tt.method, tt.missing, tt.bodyMissing)
			if st1 != st2 || fmt.Sprint(m1) != fmt.Sprint(m2) {
				t.Errorf("hidden: %d %v\nmissing: %d %v", st1, m1, st2, m2)
			}
			if st1 < 400 {
				t.Errorf("status %d, want an error", st1)
			}
			if f.lastSeq(t) != before {
				t.Error("a refused request wrote")
			}
		})
	}
	for _, tenant := range []string{"acme", "no-such-tenant"} {
		st, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/memberships", `{"user":"zed","tenant":"`+tenant+`","role":"member"}`)
		msg := fmt.Sprint(m)
		if st != http.StatusBadRequest || strings.Contains(msg, "store:") || strings.Contains(msg, "bolt:") {
			t.Errorf("unknown user in %s: %d %s", tenant, st, msg)
		}
	}
}

// TestNoZeroTimes: a meeting without an end has no "end" in the answer,
// not the year 1.
func TestNoZeroTimes(t *testing.T) {
	f := newFixture(t)
	if st, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-london/meetings", `{"title":"Kick-off","start":"2027-01-12T18:00:00Z"}`); st != 201 {
		t.Fatalf("add meeting: %d %v", st, m)
	}
	_, _, b := f.send(t, adminToken, "GET", "/api/v1/groups/lug-london", "")
	if strings.Contains(string(b), "0001-01-01") || !strings.Contains(string(b), "Kick-off") {
		t.Fatalf("group answer: %s", b)
	}
}
