package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/roster-dev/roster/internal/teststore"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Tokens of the test tenants, given through Config.
const (
	acmeToken   = "acme-token-0123456789abcdef"
	globexToken = "globex-token-0123456789abcdef"
)

// env is a running SCIM server over a real bbolt store.
type env struct {
	t   *testing.T
	st  store.Store
	srv *Server
	ts  *httptest.Server
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with adjust applied to the Server's Config (to wrap
// the store, capture the log, set admission bounds) before New.
func newEnvWith(t testing.TB, adjust func(*Config)) *env {
	t.Helper()
	st := teststore.Bolt(t, teststore.Partners("acme", "globex")...)
	cfg := Config{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:   st,
		BaseURL: "https://roster.example.com",
		Tenants: map[policy.TenantID]TenantConfig{
			"acme":   {Tokens: []string{acmeToken}},
			"globex": {Tokens: []string{globexToken}},
		},
	}
	if adjust != nil {
		adjust(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &env{st: cfg.Store, srv: srv, ts: ts}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	return e
}

// reply is a decoded HTTP answer.
type reply struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do sends a request to /scim/v2/{tenant}{path}. body may be a string (sent
// as is) or any value (JSON-encoded).
func (e *env) do(t testing.TB, token, tenant, method, path string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+"/scim/v2/"+tenant+encodeQuery(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" && resp.StatusCode != http.StatusNotModified {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return r
}

// encodeQuery turns a readable "?filter=userName eq "x"" into a valid URL.
func encodeQuery(path string) string {
	p, q, ok := strings.Cut(path, "?")
	if !ok {
		return path
	}
	var parts []string
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return p + "?" + strings.Join(parts, "&")
}

// acme is a shortcut for requests of tenant acme with its token.
func (e *env) acme(t testing.TB, method, path string, body any, hdr ...string) reply {
	t.Helper()
	return e.do(t, acmeToken, "acme", method, path, body, hdr...)
}

// dig returns the value at a "/"-separated path of a decoded JSON value.
func dig(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, p := range strings.Split(path, "/") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return nil, false
			}
		case []any:
			i := -1
			for j := range x {
				if p == itoa(j) {
					i = j
				}
			}
			if i < 0 {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// snapshot returns the JSON of every user and directory group of tenant,
// to assert that a rejected request changed nothing.
func (e *env) snapshot(t testing.TB, tenant policy.TenantID) string {
	t.Helper()
	var out []any
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		if err := tx.ForEachUser(tenant, func(u policy.User) error { out = append(out, u); return nil }); err != nil {
			return err
		}
		return tx.ForEachDirGroup(tenant, func(g policy.DirGroup) error { out = append(out, g); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// audit returns the whole audit log as JSON.
func (e *env) audit(t testing.TB) string {
	t.Helper()
	var out []policy.Change
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		var err error
		out, err = tx.Audit(0, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	return string(b)
}
