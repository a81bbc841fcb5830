package scim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestHead checks that HEAD is answered wherever GET is (RFC 9110 §9.3.2):
// same status and headers, no body.
func TestHead(t *testing.T) {
	e := newEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	for _, path := range []string{"/Users", "/Users/" + alice, "/Users/" + alice + "/", "/Groups", "/Groups/" + group, "/ServiceProviderConfig", "/Schemas"} {
		get := e.acme(t, "GET", path, nil)
		head := e.acme(t, "HEAD", path, nil)
		if head.status != http.StatusOK || get.status != http.StatusOK {
			t.Errorf("HEAD %s: %d (GET %d), want 200", path, head.status, get.status)
		}
		if len(head.raw) != 0 {
			t.Errorf("HEAD %s has a body: %s", path, head.raw)
		}
		if head.header.Get("ETag") != get.header.Get("ETag") {
			t.Errorf("HEAD %s: ETag %q, GET gives %q", path, head.header.Get("ETag"), get.header.Get("ETag"))
		}
	}
	if r := e.acme(t, "HEAD", "/Users/nope", nil); r.status != http.StatusNotFound {
		t.Errorf("HEAD of an unknown user: %d, want 404", r.status)
	}
	r := e.acme(t, "DELETE", "/Users", nil)
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("DELETE /Users: %d Allow %q", r.status, r.header.Get("Allow"))
	}
}

// TestFilterHTTP checks filter answers end to end. A filter on an attribute
// of no served schema is invalidFilter (Entra's provisioning logs are
// useless with an empty list), as are syntax errors and unsupported
// comparisons, such as ordering on a boolean.
func TestFilterHTTP(t *testing.T) {
	e := newEnv(t)
	seed(t, e, acmeToken, "acme", "alice")
	tests := []struct {
		filter   string
		status   int
		total    float64
		scimType string
	}{
		{`userName eq "ALICE@EXAMPLE.COM"`, 200, 1, ""},
		{`unknownAttr eq "x"`, 400, 0, "invalidFilter"},
		{`not (unknownAttr eq "x")`, 400, 0, "invalidFilter"},
		{`meta.lastModified gt "2000-01-01T00:00:00+02:00"`, 200, 1, ""},
		{`meta.lastModified lt "2000-01-01T00:00:00.5Z"`, 200, 0, ""},
		{`active gt true`, 400, 0, "invalidFilter"},
		{`meta.lastModified gt "recently"`, 400, 0, "invalidFilter"},
	}
	for _, tc := range tests {
		r := e.acme(t, "GET", "/Users?filter="+tc.filter, nil)
		if r.status != tc.status {
			t.Errorf("%s: %d, want %d: %s", tc.filter, r.status, tc.status, r.raw)
			continue
		}
		if tc.status == 200 && r.body["totalResults"] != tc.total {
			t.Errorf("%s: totalResults %v, want %v", tc.filter, r.body["totalResults"], tc.total)
		}
		if tc.scimType != "" && r.body["scimType"] != tc.scimType {
			t.Errorf("%s: scimType %v, want %s", tc.filter, r.body["scimType"], tc.scimType)
		}
	}
}

// TestPrimaryUnique checks that "primary": true appears at most once in a
// multi-valued attribute (RFC 7643 §2.4): a PATCH that sets a new primary
// clears the old one (RFC 7644 §3.5.2.1), and a request that itself sends
// two is refused.
func TestPrimaryUnique(t *testing.T) {
	e := newEnv(t)
	alice, _ := seed(t, e, acmeToken, "acme", "alice") // alice@example.com is the primary work e-mail
	primaries := func(r reply, attr string) []string {
		t.Helper()
		var out []string
		for _, el := range asList(r.body[attr]) {
			if m := el.(map[string]any); m["primary"] == true {
				out = append(out, m["value"].(string))
			}
		}
		return out
	}
	steps := []struct {
		name string
		ops  []map[string]any
		attr string
		want []string
	}{
		{"add a new primary e-mail", []map[string]any{{"op": "add", "path": "emails", "value": []any{map[string]any{"value": "home@example.com", "type": "home", "primary": true}}}}, "emails", []string{"home@example.com"}},
		{"valuePath makes work primary again", []map[string]any{{"op": "Replace", "path": `emails[type eq "work"].primary`, "value": "True"}}, "emails", []string{"alice@example.com"}},
		{"re-send the same primary", []map[string]any{{"op": "add", "path": "emails", "value": []any{map[string]any{"value": "alice@example.com", "type": "work", "primary": true}}}}, "emails", []string{"alice@example.com"}},
		{"phone numbers", []map[string]any{{"op": "add", "path": "phoneNumbers", "value": []any{map[string]any{"value": "1", "primary": true}}}}, "phoneNumbers", []string{"1"}},
		{"second primary phone", []map[string]any{{"op": "add", "path": "phoneNumbers", "value": map[string]any{"value": "2", "primary": true}}}, "phoneNumbers", []string{"2"}},
		{"no-path replace", []map[string]any{{"op": "replace", "value": map[string]any{"phoneNumbers": []any{map[string]any{"value": "1", "primary": true}, map[string]any{"value": "3"}}}}}, "phoneNumbers", []string{"1"}},
	}
	for _, s := range steps {
		r := e.acme(t, "PATCH", "/Users/"+alice, patchBody(s.ops...))
		if r.status != http.StatusOK {
			t.Fatalf("%s: %d %s", s.name, r.status, r.raw)
		}
		if got := primaries(r, s.attr); !slices.Equal(got, s.want) {
			t.Errorf("%s: primary %s = %v, want %v", s.name, s.attr, got, s.want)
		}
	}

	two := []any{map[string]any{"value": "a@example.com", "primary": true}, map[string]any{"value": "b@example.com", "primary": "True"}}
	before := e.snapshot(t, "acme")
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/Users", map[string]any{"schemas": []any{UserSchema}, "userName": "two@example.com", "emails": two}},
		{"PUT", "/Users/" + alice, map[string]any{"schemas": []any{UserSchema}, "userName": "alice@example.com", "emails": two}},
		{"PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "path": "emails", "value": two})},
		{"PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "add", "path": "phoneNumbers", "value": []any{map[string]any{"value": "7", "primary": true}, map[string]any{"value": "8", "primary": true}}})},
	} {
		r := e.acme(t, tc.method, tc.path, tc.body)
		if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" {
			t.Errorf("%s %s with two primaries: %d %s", tc.method, tc.path, r.status, r.raw)
		}
	}
	if e.snapshot(t, "acme") != before {
		t.Error("a refused request changed the store")
	}
}

// TestRemoveNothing checks that a remove whose target does not exist
// succeeds without changing the resource: no new version, no empty
// attribute appearing.
func TestRemoveNothing(t *testing.T) {
	e := newEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	for _, tc := range []struct{ path, op string }{
		{"/Users/" + alice, `phoneNumbers[type eq "work"]`},
		{"/Users/" + alice, `emails[type eq "home"]`},
		{"/Users/" + alice, `addresses[type eq "work"].locality`},
		{"/Users/" + alice, `nickName`},
		{"/Groups/" + group, `members[value eq "not-a-member"]`},
	} {
		before := e.acme(t, "GET", tc.path, nil)
		r := e.acme(t, "PATCH", tc.path, patchBody(map[string]any{"op": "remove", "path": tc.op}))
		if r.status != http.StatusOK && r.status != http.StatusNoContent {
			t.Errorf("remove %s: %d %s", tc.op, r.status, r.raw)
			continue
		}
		after := e.acme(t, "GET", tc.path, nil)
		if string(after.raw) != string(before.raw) {
			t.Errorf("remove %s changed the resource:\n%s\n%s", tc.op, before.raw, after.raw)
		}
	}
}

// TestActiveNull checks that "active": null means unassigned (RFC 7643
// §2.5), exactly like an absent active: a new user is active, a replaced
// one keeps its state.
func TestActiveNull(t *testing.T) {
	e := newEnv(t)
	r := e.acme(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","active":null}`)
	if r.status != http.StatusCreated || r.body["active"] != true {
		t.Fatalf("POST with active null: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	r = e.acme(t, "PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","active":null,"displayName":"N"}`)
	if r.status != http.StatusOK || r.body["active"] != true {
		t.Fatalf("PUT with active null: %d %s", r.status, r.raw)
	}
}

// TestIfMatchRace sends concurrent PUTs and PATCHes carrying the same
// If-Match: exactly one wins, the others get 412 (RFC 7644 §3.14).
func TestIfMatchRace(t *testing.T) {
	e := newEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	for _, tc := range []struct {
		path string
		body func(i int) any
	}{
		{"/Users/" + alice, func(i int) any {
			return map[string]any{"schemas": []any{UserSchema}, "userName": "alice@example.com", "displayName": fmt.Sprint("A", i)}
		}},
		{"/Groups/" + group, func(i int) any {
			return patchBody(map[string]any{"op": "replace", "path": "displayName", "value": fmt.Sprint("G", i)})
		}},
	} {
		et := e.acme(t, "GET", tc.path, nil).header.Get("ETag")
		method := "PUT"
		if strings.HasPrefix(tc.path, "/Groups") {
			method = "PATCH"
		}
		const n = 6
		codes := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- e.acme(t, method, tc.path, tc.body(i), "If-Match", et).status
			}()
		}
		wg.Wait()
		close(codes)
		won, lost := 0, 0
		for c := range codes {
			switch c {
			case http.StatusOK, http.StatusNoContent:
				won++
			case http.StatusPreconditionFailed:
				lost++
			default:
				t.Errorf("%s %s: status %d", method, tc.path, c)
			}
		}
		if won != 1 || lost != n-1 {
			t.Errorf("%s %s with one If-Match: %d won, %d got 412", method, tc.path, won, lost)
		}
	}
}

// TestPatchAtomic checks that a PATCH whose last operation fails applies
// none of the earlier ones (RFC 7644 §3.5.2: "each operation ... applied
// ... or the whole request fails").
func TestPatchAtomic(t *testing.T) {
	e := newEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	bob, _ := seed(t, e, acmeToken, "acme", "bob")
	gus, _ := seed(t, e, globexToken, "globex", "gus")
	before := e.snapshot(t, "acme")
	for _, tc := range []struct {
		path string
		ops  []map[string]any
	}{
		{"/Users/" + alice, []map[string]any{
			{"op": "replace", "path": "displayName", "value": "X"},
			{"op": "add", "path": "title", "value": "T"},
			{"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"},
		}},
		{"/Users/" + alice, []map[string]any{
			{"op": "Replace", "path": "active", "value": "False"},
			{"op": "remove"},
		}},
		{"/Groups/" + group, []map[string]any{
			{"op": "add", "path": "members", "value": []any{map[string]any{"value": bob}}},
			{"op": "replace", "path": "displayName", "value": "renamed"},
			{"op": "add", "path": "members", "value": []any{map[string]any{"value": gus}}},
		}},
		{"/Groups/" + group, []map[string]any{
			{"op": "remove", "path": "members"},
			{"op": "add", "path": "members", "value": []any{map[string]any{"value": "no-such-id"}}},
		}},
	} {
		if r := e.acme(t, "PATCH", tc.path, patchBody(tc.ops...)); r.status != http.StatusBadRequest {
			t.Errorf("PATCH %s %v: %d, want 400", tc.path, tc.ops, r.status)
		}
		if e.snapshot(t, "acme") != before {
			t.Fatalf("PATCH %s %v changed the store", tc.path, tc.ops)
		}
	}
}

// TestPaging checks the list parameters of RFC 7644 §3.4.2.4: startIndex
// below 1 is 1, a negative count is 0, a count beyond the maximum (even
// beyond an int) is the maximum, and the counters are integers.
func TestPaging(t *testing.T) {
	e := newEnv(t)
	seed(t, e, acmeToken, "acme", "alice")
	seed(t, e, acmeToken, "acme", "bob")
	for _, tc := range []struct {
		query       string
		start, page float64
	}{
		{"?startIndex=0&count=1", 1, 1},
		{"?startIndex=-7", 1, 2},
		{"?count=0", 1, 0},
		{"?count=-3", 1, 0},
		{"?count=99999999999999999999999", 1, 2},
		{"?startIndex=99999999999999999999999", 99999999999999999999999, 0},
		{"?startIndex=2&count=5", 2, 1},
	} {
		r := e.acme(t, "GET", "/Users"+tc.query, nil)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d %s", tc.query, r.status, r.raw)
			continue
		}
		if r.body["totalResults"] != float64(2) || r.body["itemsPerPage"] != tc.page || len(r.body["Resources"].([]any)) != int(tc.page) {
			t.Errorf("%s: %s", tc.query, r.raw)
		}
		if tc.start < 1e10 && r.body["startIndex"] != tc.start {
			t.Errorf("%s: startIndex %v, want %v", tc.query, r.body["startIndex"], tc.start)
		}
	}
	if r := e.acme(t, "GET", "/Users?count=ten", nil); r.status != http.StatusBadRequest {
		t.Errorf("count=ten: %d", r.status)
	}
}

// TestIfNoneMatchOnWrites checks RFC 9110 §13.1.2: a PUT, PATCH or DELETE
// whose If-None-Match matches the current version (or is "*") is not
// performed: 412, and nothing changes.
func TestIfNoneMatchOnWrites(t *testing.T) {
	e := newEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	before := e.snapshot(t, "acme")
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/Users/" + alice, map[string]any{"schemas": []any{UserSchema}, "userName": "alice@example.com", "displayName": "x"}},
		{"PATCH", "/Users/" + alice, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "x"})},
		{"PATCH", "/Groups/" + group, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "x"})},
		{"DELETE", "/Groups/" + group, nil},
	} {
		for _, inm := range []string{"*", `W/"1"`} {
			if r := e.acme(t, tc.method, tc.path, tc.body, "If-None-Match", inm); r.status != http.StatusPreconditionFailed {
				t.Errorf("%s %s If-None-Match %s: %d, want 412", tc.method, tc.path, inm, r.status)
			}
		}
	}
	if e.snapshot(t, "acme") != before {
		t.Fatal("a refused conditional write changed the store")
	}
	if r := e.acme(t, "PATCH", "/Users/"+alice, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "y"}), "If-None-Match", `W/"7"`); r.status != http.StatusOK {
		t.Errorf("If-None-Match of another version: %d", r.status)
	}
}
