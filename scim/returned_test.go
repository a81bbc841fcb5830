package scim

import (
	"net/http"
	"sort"
	"strings"
	"testing"
)

const retExt = "urn:acme:params:scim:schemas:extension:hr:2.0:User"

// newReturnedEnv is newEnv with an extension whose attributes cover every
// "returned" and the caseExact and dateTime comparisons.
func newReturnedEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(c *Config) {
		c.Tenants["acme"] = TenantConfig{Tokens: []string{acmeToken}, Extensions: []Extension{{
			URN: retExt,
			Attributes: []ExtensionAttribute{
				{Name: "pin", Mutability: "writeOnly", Returned: "never"},
				{Name: "badge", Returned: "always"},
				{Name: "nick", Returned: "request"},
				{Name: "code", CaseExact: true},
				{Name: "site"},
				{Name: "hired", Type: "dateTime"},
			},
		}}}
	})
}

// keys lists the top-level keys of a resource, and those of the extension
// as "ext:name", sorted.
func keys(m map[string]any) string {
	var out []string
	for k, v := range m {
		if k == retExt {
			for ek := range v.(map[string]any) {
				out = append(out, "ext:"+ek)
			}
			continue
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// TestReturned: the schema's returned characteristic and the attributes /
// excludedAttributes parameters on every answer that carries a resource.
func TestReturned(t *testing.T) {
	e := newReturnedEnv(t)
	r := e.acme(t, "POST", "/Users", `{"schemas":["`+UserSchema+`","`+retExt+`"],"userName":"ada@example.com","displayName":"Ada",
		"emails":[{"value":"ada@example.com","primary":true}],
		"`+retExt+`":{"pin":"1234","badge":"B7","nick":"ace","code":"ABC","site":"berlin","hired":"2021-05-01T10:00:00+02:00"}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	// The never attribute is stored all the same.
	if !strings.Contains(e.snapshot(t, "acme"), `"pin":"1234"`) {
		t.Error("writeOnly pin not stored")
	}
	if got, want := keys(r.body), "active,displayName,emails,ext:badge,ext:code,ext:hired,ext:site,id,meta,schemas,userName"; got != want {
		t.Fatalf("POST answer keys %s, want %s", got, want)
	}
	r = e.acme(t, "POST", "/Groups", map[string]any{"schemas": []string{GroupSchema}, "displayName": "g", "members": []any{map[string]any{"value": id}}})
	gid := r.body["id"].(string)
	u := "/Users/" + id
	full := "active,displayName,emails,ext:badge,ext:code,ext:hired,ext:site,id,meta,schemas,userName"
	tests := []struct {
		name, method, path string
		body               any
		status             int
		want               string // keys of the answer
	}{
		{"GET: never and request hidden", "GET", u, nil, 200, full},
		{"GET a request attribute", "GET", u + "?attributes=" + retExt + ":nick", nil, 200, "ext:badge,ext:nick,id,schemas"},
		{"GET a never attribute by name", "GET", u + "?attributes=" + retExt + ":pin", nil, 200, "ext:badge,id,schemas"},
		{"GET attributes keeps always", "GET", u + "?attributes=userName", nil, 200, "ext:badge,id,schemas,userName"},
		{"GET excluding an always attribute", "GET", u + "?excludedAttributes=" + retExt + ":badge,emails", nil, 200,
			"active,displayName,ext:badge,ext:code,ext:hired,ext:site,id,meta,schemas,userName"},
		{"POST with attributes", "POST", "/Users?attributes=userName,displayName", userJSON(`"` + retExt + `":{"badge":"C1","site":"x"}`), 201, "ext:badge,id,schemas,userName"},
		{"PUT with excludedAttributes", "PUT", u + "?excludedAttributes=emails,meta", `{"schemas":["` + UserSchema + `"],"userName":"ada@example.com","displayName":"Ada",
			"emails":[{"value":"ada@example.com","primary":true}],"` + retExt + `":{"badge":"B7","code":"ABC","site":"berlin","hired":"2021-05-01T10:00:00+02:00"}}`, 200,
			"active,displayName,ext:badge,ext:code,ext:hired,ext:site,id,schemas,userName"},
		{"PATCH user with attributes", "PATCH", u + "?attributes=displayName", patchJSON(`{"op":"replace","path":"displayName","value":"Ada L."}`), 200,
			"displayName,ext:badge,id,schemas"},
		{"PATCH group without attributes: 204", "PATCH", "/Groups/" + gid, patchJSON(`{"op":"replace","path":"displayName","value":"g2"}`), 204, ""},
		{"PATCH group with attributes: 200", "PATCH", "/Groups/" + gid + "?attributes=displayName", patchJSON(`{"op":"replace","path":"displayName","value":"g3"}`), 200,
			"displayName,id,schemas"},
		{"PATCH group members with attributes: 200", "PATCH", "/Groups/" + gid + "?attributes=members", patchJSON(`{"op":"add","path":"members","value":[{"value":"` + id + `"}]}`), 200,
			"id,members,schemas"},
		{"PATCH group members without attributes: 204", "PATCH", "/Groups/" + gid, patchJSON(`{"op":"add","path":"members","value":[{"value":"` + id + `"}]}`), 204, ""},
		{"PATCH group with excludedAttributes: 200", "PATCH", "/Groups/" + gid + "?excludedAttributes=members", patchJSON(`{"op":"replace","path":"displayName","value":"g4"}`), 200,
			"displayName,id,meta,schemas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.acme(t, tt.method, tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tt.status)
			}
			if got := keys(r.body); got != tt.want {
				t.Errorf("keys %s, want %s", got, tt.want)
			}
		})
	}
	// The list answers the same way.
	r = e.acme(t, "GET", `/Users?filter=userName eq "ada@example.com"&attributes=userName`, nil)
	if got, _ := dig(r.body, "Resources/0"); keys(got.(map[string]any)) != "ext:badge,id,schemas,userName" {
		t.Errorf("list keys %s", keys(got.(map[string]any)))
	}
	// A bad attributes parameter on a write is refused before anything
	// is written.
	before := e.snapshot(t, "acme")
	for _, tt := range []struct{ method, path, body string }{
		{"POST", "/Users?attributes=user%20name", userJSON(`"displayName":"new"`)},
		{"PUT", u + "?excludedAttributes=a[b", `{"schemas":["` + UserSchema + `"],"userName":"other@example.com"}`},
		{"PATCH", "/Groups/" + gid + "?attributes=x y", patchJSON(`{"op":"replace","path":"displayName","value":"g5"}`)},
	} {
		r := e.acme(t, tt.method, tt.path, tt.body)
		if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" {
			t.Errorf("%s %s: %d %s, want 400 invalidValue", tt.method, tt.path, r.status, r.raw)
		}
		if e.snapshot(t, "acme") != before {
			t.Fatalf("%s %s: a refused request changed the store", tt.method, tt.path)
		}
	}
}

// TestExtensionComparisons: an extension's caseExact and dateTime
// attributes filter as their schema says.
func TestExtensionComparisons(t *testing.T) {
	e := newReturnedEnv(t)
	r := e.acme(t, "POST", "/Users", `{"schemas":["`+UserSchema+`"],"userName":"ada@example.com",
		"`+retExt+`":{"code":"ABC","site":"berlin","hired":"2021-05-01T10:00:00+02:00"}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.status, r.raw)
	}
	tests := []struct {
		filter string
		want   float64
	}{
		{retExt + `:code eq "ABC"`, 1},
		{retExt + `:code eq "abc"`, 0}, // caseExact
		{retExt + `:code sw "ab"`, 0},
		{retExt + `:site eq "BERLIN"`, 1}, // not caseExact
		{retExt + `:site co "ERL"`, 1},
		{retExt + `:hired lt "2021-05-01T09:00:00Z"`, 1}, // 08:00Z: later as text, earlier in time
		{retExt + `:hired eq "2021-05-01T08:00:00Z"`, 1},
		{retExt + `:hired gt "2021-05-01T08:00:00.5Z"`, 0},
	}
	for _, tt := range tests {
		r := e.acme(t, "GET", "/Users?filter="+tt.filter, nil)
		if r.status != 200 || r.body["totalResults"] != tt.want {
			t.Errorf("%s: %d totalResults %v, want %v", tt.filter, r.status, r.body["totalResults"], tt.want)
		}
	}
}

// TestNeverReturnedNotQueryable: a filter or sortBy on an attribute whose
// returned is never (password, a writeOnly extension attribute, on Users
// and on Groups) is refused 400 invalidFilter on GET and POST /.search, so
// that no list answer reveals what a resource never shows.
func TestNeverReturnedNotQueryable(t *testing.T) {
	const grpExt = "urn:acme:params:scim:schemas:extension:vault:2.0:Group"
	e := newEnvWith(t, func(c *Config) {
		c.Tenants["acme"] = TenantConfig{Tokens: []string{acmeToken}, Extensions: []Extension{
			{URN: retExt, Attributes: []ExtensionAttribute{{Name: "pin", Mutability: "writeOnly", Returned: "never"}, {Name: "site"}}},
			{URN: grpExt, ResourceType: "Group", Attributes: []ExtensionAttribute{{Name: "secret", Mutability: "writeOnly", Returned: "never"},
				{Name: "keys", Type: "complex", MultiValued: true, SubAttributes: []ExtensionAttribute{{Name: "value", Returned: "never"}, {Name: "label"}}}}},
		}}
	})
	if r := e.acme(t, "POST", "/Users", `{"schemas":["`+UserSchema+`","`+retExt+`"],"userName":"ada@example.com","password":"hunter2","`+retExt+`":{"pin":"1234","site":"x"}}`); r.status != http.StatusCreated {
		t.Fatalf("POST user: %d %s", r.status, r.raw)
	}
	if r := e.acme(t, "POST", "/Groups", `{"schemas":["`+GroupSchema+`","`+grpExt+`"],"displayName":"g","`+grpExt+`":{"secret":"s3","keys":[{"value":"k","label":"l"}]}}`); r.status != http.StatusCreated {
		t.Fatalf("POST group: %d %s", r.status, r.raw)
	}
	tests := []struct {
		name, resource, filter, sortBy string
		refused                        bool
	}{
		{"password eq", "Users", `password eq "hunter2"`, "", true},
		{"password pr", "Users", `password pr`, "", true},
		{"password sw inside or", "Users", `userName pr or password sw "h"`, "", true},
		{"password under not", "Users", `not (password eq "x")`, "", true},
		{"password with its URN", "Users", UserSchema + `:password eq "hunter2"`, "", true},
		{"extension never", "Users", retExt + `:pin eq "1234"`, "", true},
		{"sort by password", "Users", "", "password", true},
		{"sort by extension never", "Users", "", retExt + ":pin", true},
		{"group never", "Groups", grpExt + `:secret eq "s3"`, "", true},
		{"group never sub-attribute", "Groups", grpExt + `:keys.value eq "k"`, "", true},
		{"group never in a value filter", "Groups", grpExt + `:keys[value eq "k"]`, "", true},
		{"group sort by never", "Groups", "", grpExt + ":secret", true},
		{"group sort by never multi-valued value", "Groups", "", grpExt + ":keys", true},
		{"allowed: extension default", "Users", retExt + `:site eq "x"`, retExt + ":site", false},
		{"allowed: userName", "Users", `userName eq "ada@example.com"`, "userName", false},
		{"allowed: group sub-attribute", "Groups", grpExt + `:keys.label eq "l"`, "displayName", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q []string
			body := map[string]any{"schemas": []string{searchRequestSchema}}
			if tt.filter != "" {
				q = append(q, "filter="+tt.filter)
				body["filter"] = tt.filter
			}
			if tt.sortBy != "" {
				q = append(q, "sortBy="+tt.sortBy)
				body["sortBy"] = tt.sortBy
			}
			for _, r := range []reply{
				e.acme(t, "GET", "/"+tt.resource+"?"+strings.Join(q, "&"), nil),
				e.acme(t, "POST", "/"+tt.resource+"/.search", body),
			} {
				if tt.refused {
					if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidFilter" || !listsSchema(r.body, "urn:ietf:params:scim:api:messages:2.0:Error") {
						t.Errorf("%d %s, want 400 invalidFilter", r.status, r.raw)
					}
					continue
				}
				if r.status != http.StatusOK || r.body["totalResults"] != float64(1) {
					t.Errorf("%d %s, want 200 with one result", r.status, r.raw)
				}
			}
		})
	}
}
