package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// restartable is a SCIM server over a bbolt file that can be stopped and
// started again on the same file, as a process restart would.
type restartable struct {
	*env
	path string
	log  *syncBuffer
}

func newRestartable(t *testing.T) *restartable {
	t.Helper()
	r := &restartable{env: &env{t: t}, path: filepath.Join(t.TempDir(), "roster.db"), log: &syncBuffer{}}
	r.start(t)
	err := r.st.Update(context.Background(), "test", func(tx store.Tx) error {
		return tx.PutTenant(policy.Tenant{ID: "acme", Name: "acme", Kind: policy.TenantPartner})
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// start opens the store and serves it; it fails the test when the store
// does not open, as `roster serve` would refuse to start.
func (r *restartable) start(t *testing.T) {
	t.Helper()
	st, err := bolt.Open(r.path, bolt.Options{Logger: slog.New(slog.NewTextHandler(r.log, nil))})
	if err != nil {
		t.Fatalf("the store does not open again: %v", err)
	}
	srv, err := New(Config{
		Logger:  slog.New(slog.NewTextHandler(r.log, nil)),
		Store:   st,
		BaseURL: "https://roster.example.com",
		Tenants: map[policy.TenantID]TenantConfig{"acme": {Tokens: []string{acmeToken}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.st, r.srv, r.ts = st, srv, httptest.NewServer(srv)
	t.Cleanup(r.stop)
}

func (r *restartable) stop() {
	if r.ts != nil {
		r.ts.Close()
		r.st.Close()
		r.ts = nil
	}
}

func (r *restartable) restart(t *testing.T) {
	t.Helper()
	r.stop()
	r.start(t)
}

// nested returns a JSON value nested depth levels deep: [[[…"x"…]]].
func nested(depth int) string {
	return strings.Repeat("[", depth-1) + `"x"` + strings.Repeat("]", depth-1)
}

func userBody(userName, extra string) string {
	b := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q`, userName)
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// TestDeepAttributeDoesNotBrickTheService is the regression test of issue
// #15 item 1: a user whose extra attribute nests 9,998 deep was stored,
// after which listing users failed and the store did not open again.
func TestDeepAttributeDoesNotBrickTheService(t *testing.T) {
	r := newRestartable(t)
	ok := r.acme(t, "POST", "/Users", userBody("kept@acme.example", `"nickName":"kept"`))
	if ok.status != http.StatusCreated {
		t.Fatalf("create a plain user: %d %s", ok.status, ok.raw)
	}
	id, _ := ok.body["id"].(string)

	tests := []struct {
		name, method, path, body, scimType string
	}{
		// The body's depth is checked before anything else; below it, the
		// served schemas allow no deep attribute at all (an attribute of
		// no served schema is ignored, a PATCH path to one is invalidPath).
		{"create 9998 deep", "POST", "/Users", userBody("deep@acme.example", `"x-extra":`+nested(9998)), "invalidValue"},
		{"replace 9998 deep", "PUT", "/Users/" + id, userBody("kept@acme.example", `"x-extra":`+nested(9998)), "invalidValue"},
		{"patch 9998 deep", "PATCH", "/Users/" + id,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"x-extra","value":` + nested(9998) + `}]}`, "invalidValue"},
		{"patch one level too deep", "PATCH", "/Users/" + id,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"x-extra","value":` + nested(policy.MaxAttrDepth) + `}]}`, "invalidPath"},
		{"number where a string belongs", "POST", "/Users", userBody("big@acme.example", `"nickName":1e400`), "invalidValue"},
		{"too many values", "POST", "/Users", userBody("many@acme.example", `"roles":[`+strings.Repeat(`{"value":"r"},`, policy.MaxAttrValues)+`{"value":"r"}]`), "tooMany"},
		{"string too long", "POST", "/Users", userBody("str@acme.example", fmt.Sprintf(`"nickName":%q`, strings.Repeat("s", policy.MaxAttrStringBytes+1))), "invalidValue"},
		{"group 9998 deep", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"deep","x-extra":` + nested(9998) + `}`, "invalidValue"},
	}
	before := r.snapshot(t, "acme")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.acme(t, tt.method, tt.path, tt.body)
			if got.status != http.StatusBadRequest || got.body["scimType"] != tt.scimType {
				t.Errorf("%d %.300s, want 400 %s", got.status, got.raw, tt.scimType)
			}
		})
	}
	if after := r.snapshot(t, "acme"); after != before {
		t.Error("a refused request changed the store")
	}

	// Within the body's limit, a deep attribute of no served schema is
	// ignored: neither stored nor echoed.
	deepest := r.acme(t, "POST", "/Users", userBody("deepest@acme.example", `"x-extra":`+nested(policy.MaxAttrDepth-1)))
	if deepest.status != http.StatusCreated {
		t.Fatalf("create at the depth limit: %d %.300s", deepest.status, deepest.raw)
	}

	r.restart(t)
	list := r.acme(t, "GET", "/Users", nil)
	if list.status != http.StatusOK || list.body["totalResults"] != float64(2) {
		t.Fatalf("after a restart, list users: %d %.300s", list.status, list.raw)
	}
	got := r.acme(t, "GET", "/Users/"+deepest.body["id"].(string), nil)
	if _, echoed := deepest.body["x-extra"]; echoed {
		t.Errorf("an attribute of no served schema was echoed: %.300s", deepest.raw)
	}
	if _, kept := got.body["x-extra"]; got.status != http.StatusOK || kept {
		t.Errorf("after a restart, the deep user reads %d %.300s", got.status, got.raw)
	}
	var q []store.Quarantined
	if err := r.st.View(context.Background(), func(tx store.Tx) (err error) { q, err = tx.Quarantine(); return }); err != nil || len(q) != 0 {
		t.Errorf("quarantine after restart: %v %v", q, err)
	}
	if err := r.st.View(context.Background(), func(tx store.Tx) error { _, err := tx.Audit(0, 0); return err }); err != nil {
		t.Errorf("audit after restart: %v", err)
	}
}

// TestLongUserNameIsRefused is the regression test of the 40,000-character
// userName of issue #15: it answered 500 and wrote the name to the log.
func TestLongUserNameIsRefused(t *testing.T) {
	r := newRestartable(t)
	name := strings.Repeat("n", 40000)
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/Users", userBody(name, "")},
		{"POST", "/Users", userBody("ok@acme.example", fmt.Sprintf(`"externalId":%q`, name))},
		{"POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q}`, name)},
	} {
		got := r.acme(t, tt.method, tt.path, tt.body)
		if got.status != http.StatusBadRequest || got.body["scimType"] != "invalidValue" {
			t.Errorf("%s %s: %d %.300s, want 400 invalidValue", tt.method, tt.path, got.status, got.raw)
		}
		if strings.Contains(string(got.raw), name[:100]) {
			t.Errorf("%s %s: the answer quotes the value", tt.method, tt.path)
		}
	}
	if log := r.log.String(); strings.Contains(log, name[:100]) || strings.Contains(log, "internal error") {
		t.Errorf("the log holds the name or an internal error:\n%.500s", log)
	}
	// The largest name accepted is one an index can hold, and it reads back.
	long := strings.Repeat("l", policy.MaxNameBytes)
	if got := r.acme(t, "POST", "/Users", userBody(long, "")); got.status != http.StatusCreated {
		t.Fatalf("userName at the limit: %d %.300s", got.status, got.raw)
	}
	r.restart(t)
	if got := r.acme(t, "GET", `/Users?filter=userName eq "`+long+`"`, nil); got.status != http.StatusOK || got.body["totalResults"] != float64(1) {
		t.Errorf("after a restart: %d %.300s", got.status, got.raw)
	}
}

// FuzzSCIMWrite feeds arbitrary JSON to SCIM create, replace and patch of
// users and groups, and checks that whatever was accepted reads back from
// the store and survives a restart (the store opens with nothing
// quarantined and every fact loads).
func FuzzSCIMWrite(f *testing.F) {
	f.Add(uint8(0), userBody("a@acme.example", `"x-extra":{"a":[1,2,{"b":null}]}`))
	f.Add(uint8(1), userBody("a@acme.example", `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m","employeeNumber":"7"}`))
	f.Add(uint8(2), `{"Operations":[{"op":"add","path":"x-extra","value":[[[["x"]]]]}]}`)
	f.Add(uint8(2), `{"Operations":[{"op":"replace","value":{"name.givenName":"a","active":"False","x":1e308}}]}`)
	f.Add(uint8(3), `{"displayName":"g","x-extra":{"k":"v"}}`)
	f.Add(uint8(5), `{"Operations":[{"op":"add","path":"members","value":[{"value":"nobody"}]}]}`)
	f.Add(uint8(0), userBody("n@acme.example", `"x-extra":1e400`))
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		if !json.Valid([]byte(body)) {
			return
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "roster.db")
		st, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { st.Close() }()
		var userID, groupID string
		err = st.Update(context.Background(), "test", func(tx store.Tx) error {
			if err := tx.PutTenant(policy.Tenant{ID: "acme", Name: "acme", Kind: policy.TenantPartner}); err != nil {
				return err
			}
			u, err := tx.CreateUser("acme", policy.User{UserName: "base@acme.example", Active: true})
			if err != nil {
				return err
			}
			g, err := tx.CreateDirGroup("acme", policy.DirGroup{DisplayName: "base", MemberUsers: []policy.UserID{u.ID}})
			userID, groupID = string(u.ID), string(g.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := New(Config{Logger: slog.New(slog.DiscardHandler), Store: st, BaseURL: "https://roster.example.com",
			Tenants: map[policy.TenantID]TenantConfig{"acme": {Tokens: []string{acmeToken}}}})
		if err != nil {
			t.Fatal(err)
		}
		method, p := [...]struct{ m, p string }{
			{"POST", "/Users"}, {"PUT", "/Users/" + userID}, {"PATCH", "/Users/" + userID},
			{"POST", "/Groups"}, {"PUT", "/Groups/" + groupID}, {"PATCH", "/Groups/" + groupID},
		}[op%6].m, [...]string{"/Users", "/Users/" + userID, "/Users/" + userID, "/Groups", "/Groups/" + groupID, "/Groups/" + groupID}[op%6]
		req := httptest.NewRequest(method, "https://roster.example.com/scim/v2/acme"+p, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, p, rec.Code, rec.Body.Bytes())
		}
		accepted := rec.Code/100 == 2
		if accepted && rec.Code != http.StatusNoContent {
			var res map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
				t.Fatalf("answer is not JSON: %v", err)
			}
			id, _ := res["id"].(string)
			get := httptest.NewRequest("GET", "https://roster.example.com/scim/v2/acme/"+strings.Split(strings.TrimPrefix(p, "/"), "/")[0]+"/"+id, nil)
			get.Header.Set("Authorization", "Bearer "+acmeToken)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, get)
			if rec.Code != http.StatusOK {
				t.Fatalf("accepted %s %s does not read back: %d %s", method, p, rec.Code, rec.Body.Bytes())
			}
		}
		// Restart: the store opens with nothing quarantined and every
		// fact and audit entry reads.
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err = bolt.Open(path, bolt.Options{}); err != nil {
			t.Fatalf("the store does not open again: %v", err)
		}
		if _, err := store.Snapshot(context.Background(), st); err != nil {
			t.Fatalf("facts do not load after a restart: %v", err)
		}
		err = st.View(context.Background(), func(tx store.Tx) error {
			q, err := tx.Quarantine()
			if err != nil || len(q) > 0 {
				return fmt.Errorf("quarantined %v (%v)", q, err)
			}
			cs, err := tx.Audit(0, 0)
			for _, c := range cs {
				if c.Op == store.OpUnreadable {
					return fmt.Errorf("audit entry %d does not read", c.Seq)
				}
			}
			return err
		})
		if err != nil {
			t.Fatalf("after a restart (accepted %v): %v", accepted, err)
		}
	})
}
