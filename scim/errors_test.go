package scim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func patchBody(ops ...map[string]any) map[string]any {
	l := make([]any, len(ops))
	for i, o := range ops {
		l[i] = o
	}
	return map[string]any{"schemas": []string{patchOpSchema}, "Operations": l}
}

// TestErrors checks status and scimType of each error, and that a rejected
// request leaves the store exactly as it was.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	bob, group2 := seed(t, e, acmeToken, "acme", "bob")
	_ = bob
	big := `{"userName":"big","x":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`

	tests := []struct {
		name         string
		method, path string
		body         any
		hdr          []string
		status       int
		scimType     string
	}{
		{"duplicate userName, other case", "POST", "/Users", map[string]any{"schemas": []any{UserSchema}, "userName": "ALICE@example.com"}, nil, 409, "uniqueness"},
		{"duplicate externalId", "POST", "/Users", map[string]any{"schemas": []any{UserSchema}, "userName": "new@example.com", "externalId": "alice-ext"}, nil, 409, "uniqueness"},
		{"PUT onto a taken userName", "PUT", "/Users/" + alice, map[string]any{"schemas": []any{UserSchema}, "userName": "Bob@Example.com"}, nil, 409, "uniqueness"},
		{"PATCH onto a taken userName", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "path": "userName", "value": "bob@example.com"}), nil, 409, "uniqueness"},
		{"duplicate group name", "POST", "/Groups", map[string]any{"schemas": []any{GroupSchema}, "displayName": "ALICE GROUP"}, nil, 409, "uniqueness"},
		{"rename group onto a taken name", "PATCH", "/Groups/" + group2, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "alice group"}), nil, 409, "uniqueness"},

		{"filter without value", "GET", `/Users?filter=userName eq`, nil, nil, 400, "invalidFilter"},
		{"filter unbalanced", "GET", `/Users?filter=(userName eq "x"`, nil, nil, 400, "invalidFilter"},
		{"filter bad operator", "GET", `/Users?filter=userName xx "x"`, nil, nil, 400, "invalidFilter"},
		{"filter bad bracket", "GET", `/Groups?filter=members[value eq "x"`, nil, nil, 400, "invalidFilter"},
		{"search bad filter", "POST", "/Users/.search", map[string]any{"schemas": []string{searchRequestSchema}, "filter": "userName eq"}, nil, 400, "invalidFilter"},

		{"path unbalanced", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "path": `emails[type eq "work"`, "value": "x"}), nil, 400, "invalidPath"},
		{"path bad name", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "path": "name..x", "value": "x"}), nil, 400, "invalidPath"},
		{"remove the core schema", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "remove", "path": UserSchema}), nil, 400, "invalidPath"},
		{"path not a string", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "path": 3, "value": "x"}), nil, 400, "invalidPath"},

		{"malformed JSON", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName": `, nil, 400, "invalidSyntax"},
		{"JSON array", "POST", "/Users", `[]`, nil, 400, "invalidSyntax"},
		{"trailing data", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"} {}`, nil, 400, "invalidSyntax"},
		{"PATCH without Operations", "PATCH", "/Users/" + alice, map[string]any{"schemas": []string{patchOpSchema}}, nil, 400, "invalidSyntax"},
		{"PATCH unknown op", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "move", "path": "title", "value": "x"}), nil, 400, "invalidSyntax"},
		{"malformed PATCH JSON", "PATCH", "/Groups/" + group, `{"Operations": [`, nil, 400, "invalidSyntax"},

		{"no userName", "POST", "/Users", map[string]any{"schemas": []any{UserSchema}, "displayName": "x"}, nil, 400, "invalidValue"},
		{"userName not a string", "POST", "/Users", map[string]any{"schemas": []any{UserSchema}, "userName": 7}, nil, 400, "invalidValue"},
		{"active not a boolean", "POST", "/Users", map[string]any{"schemas": []any{UserSchema}, "userName": "x@example.com", "active": "maybe"}, nil, 400, "invalidValue"},
		{"emails not an array", "PUT", "/Users/" + alice, map[string]any{"schemas": []any{UserSchema}, "userName": "alice@example.com", "emails": "a@b"}, nil, 400, "invalidValue"},
		{"unknown member", "PATCH", "/Groups/" + group, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "nope"}}}), nil, 400, "invalidValue"},
		{"group without displayName", "POST", "/Groups", map[string]any{"schemas": []any{GroupSchema}, "members": []any{}}, nil, 400, "invalidValue"},
		{"group contains itself", "PATCH", "/Groups/" + group, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": group}}}), nil, 400, "invalidValue"},
		{"add without value", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "add", "path": "title"}), nil, 400, "invalidValue"},
		{"bad count", "GET", "/Users?count=ten", nil, nil, 400, "invalidValue"},
		{"bad attributes", "GET", "/Users?attributes=a..b", nil, nil, 400, "invalidValue"},
		{"no-path replace with a string", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "value": "x"}), nil, 400, "invalidValue"},

		{"PATCH id", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "path": "id", "value": "other"}), nil, 400, "mutability"},
		{"PATCH meta", "PATCH", "/Groups/" + group, patchBody(map[string]any{"op": "replace", "path": "meta.created", "value": "x"}), nil, 400, "mutability"},

		{"remove without path", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "remove"}), nil, 400, "noTarget"},

		{"later op fails: earlier ones are not kept", "PATCH", "/Users/" + alice, patchBody(
			map[string]any{"op": "replace", "path": "displayName", "value": "changed"},
			map[string]any{"op": "replace", "path": "id", "value": "x"}), nil, 400, "mutability"},

		{"unknown user", "GET", "/Users/does-not-exist", nil, nil, 404, ""},
		{"unknown group PATCH", "PATCH", "/Groups/does-not-exist", patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "x"}), nil, 404, ""},
		{"unknown user DELETE", "DELETE", "/Users/does-not-exist", nil, nil, 404, ""},
		{"unknown endpoint", "GET", "/Nope", nil, nil, 404, ""},
		// RFC 7644 §3.11: an unsupported /Me SHOULD give 501.
		{"Bulk without its schema", "POST", "/Bulk", map[string]any{"schemas": []string{patchOpSchema}, "Operations": []any{}}, nil, 400, "invalidSyntax"},
		{"GET Bulk", "GET", "/Bulk", nil, nil, 405, ""},
		{"Me", "GET", "/Me", nil, nil, 501, ""},
		{"unknown schema", "GET", "/Schemas/urn:nope", nil, nil, 404, ""},

		{"body too large", "POST", "/Users", big, nil, 413, ""},
		{"PATCH body too large", "PATCH", "/Users/" + alice, big, nil, 413, ""},

		{"DELETE collection", "DELETE", "/Users", nil, nil, 405, ""},
		{"POST to a resource", "POST", "/Users/" + alice, bodyFor("POST", "/Users"), nil, 405, ""},
		{"PUT discovery", "PUT", "/ServiceProviderConfig", map[string]any{}, nil, 405, ""},
		{"GET search", "GET", "/Groups/.search", nil, nil, 405, ""},

		{"stale If-Match on PATCH", "PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "path": "title", "value": "x"}), []string{"If-Match", `W/"99"`}, 412, ""},
		{"stale If-Match on DELETE", "DELETE", "/Groups/" + group, nil, []string{"If-Match", `W/"99"`}, 412, ""},

		{"wrong content type", "POST", "/Users", `userName=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.snapshot(t, "acme")
			r := e.acme(t, tc.method, tc.path, tc.body, tc.hdr...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if r.body["status"] != itoa(tc.status) {
				t.Errorf("status member %v, want %q", r.body["status"], itoa(tc.status))
			}
			if s, _ := r.body["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("schemas = %v", r.body["schemas"])
			}
			if got, _ := r.body["scimType"].(string); got != tc.scimType {
				t.Errorf("scimType %q, want %q", got, tc.scimType)
			}
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if after := e.snapshot(t, "acme"); after != before {
				t.Errorf("a rejected request changed the store")
			}
		})
	}
}

// failingStore fails every transaction with an error holding a secret.
type failingStore struct{ store.Store }

var errSecret = errors.New("disk on fire at /var/secret/path")

func (f failingStore) View(ctx context.Context, fn func(store.Tx) error) error { return errSecret }
func (f failingStore) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	return errSecret
}

func TestInternalErrorsLeakNothing(t *testing.T) {
	e := newEnv(t)
	srv, err := New(Config{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:   failingStore{e.st},
		BaseURL: "https://roster.example.com",
		Tenants: map[policy.TenantID]TenantConfig{"acme": {Tokens: []string{acmeToken}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	e.ts = ts
	for _, m := range []string{"GET", "POST"} {
		r := e.acme(t, m, "/Users", bodyFor(m, "/Users"))
		if r.status != http.StatusInternalServerError || strings.Contains(string(r.raw), "secret") || r.body["status"] != "500" {
			t.Errorf("%s: %d %s", m, r.status, r.raw)
		}
	}
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t)
	for name, cfg := range map[string]Config{
		"no store":    {BaseURL: "https://x"},
		"no base URL": {Store: e.st},
		"short token": {Store: e.st, BaseURL: "https://x", Tenants: map[policy.TenantID]TenantConfig{"a": {Tokens: []string{"short"}}}},
		"bad tenant":  {Store: e.st, BaseURL: "https://x", Tenants: map[policy.TenantID]TenantConfig{"a/b": {}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// TestUniquenessRace: concurrent creates of the same userName or group
// displayName (in different cases) give exactly one 201 and 409s.
func TestUniquenessRace(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		path string
		body func(i int) map[string]any
	}{
		{"/Users", func(i int) map[string]any {
			name := "race@example.com"
			if i%2 == 1 {
				name = strings.ToUpper(name)
			}
			return map[string]any{"schemas": []any{UserSchema}, "userName": name}
		}},
		{"/Groups", func(i int) map[string]any {
			name := "Race Group"
			if i%2 == 1 {
				name = strings.ToLower(name)
			}
			return map[string]any{"schemas": []any{GroupSchema}, "displayName": name}
		}},
	} {
		const n = 8
		statuses := make(chan int, n)
		for i := 0; i < n; i++ {
			go func() { statuses <- e.acme(t, "POST", tc.path, tc.body(i)).status }()
		}
		created := 0
		for i := 0; i < n; i++ {
			switch s := <-statuses; s {
			case 201:
				created++
			case 409:
			default:
				t.Errorf("%s: status %d", tc.path, s)
			}
		}
		if created != 1 {
			t.Errorf("%s: %d creates succeeded, want 1", tc.path, created)
		}
	}
}
