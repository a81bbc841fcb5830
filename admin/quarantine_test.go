package admin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
	"github.com/roster-dev/roster/store/bolt"
)

// TestQuarantineAPI: a store holding a user that does not decode (as one
// written before records were checked) opens, the admin API lists users,
// lists the quarantined record, and deletes it.
func TestQuarantineAPI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var bad policy.User
	err = st.Update(context.Background(), "test", func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: "acme", Name: "Acme", Kind: policy.TenantPartner}); err != nil {
			return err
		}
		if _, err := tx.CreateUser("acme", policy.User{UserName: "good", Active: true}); err != nil {
			return err
		}
		bad, err = tx.CreateUser("acme", policy.User{UserName: "bad", Active: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		users := tx.Bucket([]byte("v1")).Bucket([]byte("t")).Bucket([]byte("acme")).Bucket([]byte("users"))
		return users.Put([]byte(bad.ID), []byte(`{"id":"`+string(bad.ID)+`","tenant":"acme","userName":"bad","attributes":{"x":`+
			strings.Repeat("[", 9999)+strings.Repeat("]", 9999)+`}}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatalf("a store with an unreadable record does not open: %v", err)
	}
	defer st.Close()
	s, err := New(Config{Store: st, Engine: policy.NewEngine(policy.EngineConfig{}), Tokens: []Token{{Name: "ops", Token: adminToken}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	f := &fixture{srv: srv, st: st}

	if code, body := f.call(t, adminToken, "GET", "/api/v1/tenants/acme/users", ""); code != http.StatusOK || len(body["items"].([]any)) != 1 {
		t.Fatalf("users: %d %v", code, body)
	}
	if code, _ := f.call(t, adminToken, "GET", "/api/v1/audit", ""); code != http.StatusOK {
		t.Errorf("audit: %d", code)
	}
	code, body := f.call(t, adminToken, "GET", "/api/v1/quarantine", "")
	items, _ := body["items"].([]any)
	if code != http.StatusOK || len(items) != 1 {
		t.Fatalf("quarantine: %d %v", code, body)
	}
	q := items[0].(map[string]any)
	if q["kind"] != "user" || q["key"] != string(bad.ID) || q["value"] != nil {
		t.Errorf("quarantine lists %v", q)
	}
	id := q["id"].(string)
	if code, _ := f.call(t, "", "GET", "/api/v1/quarantine", ""); code != http.StatusUnauthorized {
		t.Errorf("quarantine without a token: %d", code)
	}
	if code, body := f.call(t, adminToken, "GET", "/api/v1/quarantine/"+id, ""); code != http.StatusOK || body["value"] == nil {
		t.Errorf("quarantined record: %d %v", code, body)
	}
	if code, body := f.call(t, adminToken, "PUT", "/api/v1/quarantine/"+id, `{"id":"other","tenant":"acme","userName":"bad"}`); code != http.StatusBadRequest {
		t.Errorf("repair with another id: %d %v", code, body)
	}
	if code, body := f.call(t, adminToken, "DELETE", "/api/v1/quarantine/"+id, ""); code != http.StatusNoContent {
		t.Errorf("delete: %d %v", code, body)
	}
	if code, body := f.call(t, adminToken, "GET", "/api/v1/quarantine", ""); code != http.StatusOK || len(body["items"].([]any)) != 0 {
		t.Errorf("quarantine after delete: %d %v", code, body)
	}
}

// TestAdminLimits: what the admin API writes is bounded too, and the
// answer is a 400 that names the field.
func TestAdminLimits(t *testing.T) {
	f := newFixture(t)
	// The fixture's body limit is small; use the default one.
	s, err := New(Config{Store: f.st, Engine: f.eng, Tokens: []Token{{Name: "ops", Token: adminToken}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	long := strings.Repeat("n", 40000)
	for _, tt := range []struct{ method, path, body, field string }{
		{"POST", "/api/v1/groups", `{"slug":"long","name":"` + long + `","kind":"local","parent":"rug-europe"}`, "name"},
		{"POST", "/api/v1/groups", `{"slug":"long","name":"n","kind":"local","parent":"rug-europe","description":"` + strings.Repeat("d", policy.MaxTextBytes+1) + `"}`, "description"},
		{"PUT", "/api/v1/roles/long", `{"description":"` + strings.Repeat("d", policy.MaxTextBytes+1) + `","permissions":["group.read"]}`, "description"},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), tt.field) || strings.Contains(string(raw), long[:100]) {
			t.Errorf("%s %s: %d %.300s, want 400 naming %s", tt.method, tt.path, resp.StatusCode, raw, tt.field)
		}
	}
}
