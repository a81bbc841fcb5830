package scim

import (
	"net/http"
	"strings"
	"testing"
)

// TestSort: sortBy and sortOrder (RFC 7644 §3.4.2.3) on simple attributes,
// sub-attributes, multi-valued attributes by their primary value and
// extension attributes; missing values last ascending and first
// descending; ties by id, so pages are stable.
func TestSort(t *testing.T) {
	e := newSchemaEnv(t)
	for _, body := range []string{
		`"userName":"bob","externalId":"b","name":{"familyName":"Zeta"},"emails":[{"value":"b@x"},{"value":"a2@x","primary":true}],"` + acmeExt + `":{"badge":2}`,
		`"userName":"Alice","externalId":"A","name":{"familyName":"alpha"},"emails":[{"value":"c@x"}],"` + acmeExt + `":{"badge":10}`,
		`"userName":"carol","externalId":"a","active":false`,
		`"userName":"dave","name":{"familyName":"Beta"},"emails":[{"value":"A@x","primary":true}]`,
	} {
		if r := e.acme(t, "POST", "/Users", `{"schemas":["`+UserSchema+`"],`+body+`}`); r.status != http.StatusCreated {
			t.Fatalf("seed: %d %s", r.status, r.raw)
		}
	}
	names := func(r reply) string {
		var out []string
		for _, res := range asList(r.body["Resources"]) {
			out = append(out, res.(map[string]any)["userName"].(string))
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		query, want string
		total       float64
	}{
		{"sortBy=userName", "Alice,bob,carol,dave", 4},
		{"sortBy=userName&sortOrder=descending", "dave,carol,bob,Alice", 4},
		{"sortBy=USERNAME&sortOrder=Ascending", "Alice,bob,carol,dave", 4},
		{"sortBy=name.familyName", "Alice,dave,bob,carol", 4},
		{"sortBy=name.familyName&sortOrder=descending", "carol,bob,dave,Alice", 4},
		{"sortBy=emails", "bob,dave,Alice,carol", 4},
		{"sortBy=emails.value", "bob,dave,Alice,carol", 4},
		{"sortBy=" + acmeExt + ":badge", "bob,Alice,carol,dave", 4},
		{"sortBy=" + acmeExt + ":badge&sortOrder=descending", "carol,dave,Alice,bob", 4}, // ties by id,
		{"sortBy=externalId", "Alice,carol,bob,dave", 4},
		{"sortBy=active", "carol,bob,Alice,dave", 4},
		{"sortBy=meta.created", "bob,Alice,carol,dave", 4},
		{"sortBy=urn:ietf:params:scim:schemas:core:2.0:User:userName", "Alice,bob,carol,dave", 4},
		{"sortBy=userName&startIndex=2&count=2", "bob,carol", 4},
		{"sortBy=userName&startIndex=4&count=2", "dave", 4},
		{"sortBy=userName&startIndex=9", "", 4},
		{"sortBy=userName&count=0", "", 4},
		{`sortBy=userName&filter=userName ne "dave"`, "Alice,bob,carol", 3},
		{`sortBy=userName&sortOrder=descending&filter=userName eq "bob"`, "bob", 1},
		{"sortOrder=descending", "bob,Alice,carol,dave", 4}, // no sortBy: id order
	} {
		r := e.acme(t, "GET", "/Users?"+tc.query, nil)
		if r.status != http.StatusOK || names(r) != tc.want || r.body["totalResults"] != tc.total {
			t.Errorf("%s: %d %q total %v, want %q total %v", tc.query, r.status, names(r), r.body["totalResults"], tc.want, tc.total)
		}
	}

	// Stable paging: the pages of a sort with ties cover every user once.
	var seen []string
	for start := 1; start <= 4; start++ {
		r := e.acme(t, "GET", "/Users?sortBy="+acmeExt+":badge&count=1&startIndex="+itoa(start), nil)
		seen = append(seen, names(r))
	}
	if got := strings.Join(seen, ","); got != "bob,Alice,carol,dave" {
		t.Errorf("paged sort: %s", got)
	}

	r := e.acme(t, "POST", "/Users/.search", map[string]any{"schemas": []any{searchRequestSchema}, "sortBy": "name.familyName", "sortOrder": "descending", "count": 2})
	if r.status != http.StatusOK || names(r) != "carol,bob" {
		t.Errorf(".search sorted: %d %q", r.status, names(r))
	}

	for _, name := range []string{"b-team", "A-team", "c-team"} {
		e.acme(t, "POST", "/Groups", map[string]any{"schemas": []any{GroupSchema}, "displayName": name})
	}
	r = e.acme(t, "GET", "/Groups?sortBy=displayName&sortOrder=descending", nil)
	var groups []string
	for _, g := range asList(r.body["Resources"]) {
		groups = append(groups, g.(map[string]any)["displayName"].(string))
	}
	if got := strings.Join(groups, ","); r.status != http.StatusOK || got != "c-team,b-team,A-team" {
		t.Errorf("groups sorted: %d %s", r.status, got)
	}

	if r := e.acme(t, "GET", "/ServiceProviderConfig", nil); r.body["sort"].(map[string]any)["supported"] != true {
		t.Error("sort.supported is not true")
	}
}

// TestSortRejects: a bad sortOrder or a sortBy that names no simple
// attribute of the served schemas is 400 invalidValue.
func TestSortRejects(t *testing.T) {
	e := newSchemaEnv(t)
	seed(t, e, acmeToken, "acme", "alice")
	for _, q := range []string{
		"sortBy=userName&sortOrder=sideways",
		"sortOrder=up",
		"sortBy=x-extra",
		"sortBy=name",
		"sortBy=name.nick",
		"sortBy=urn:other:ext:attr",
		"sortBy=emails[type eq \"work\"]",
		"sortBy=" + EnterpriseSchema + ":manager",
	} {
		r := e.acme(t, "GET", "/Users?"+q, nil)
		if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" {
			t.Errorf("%s: %d %s, want 400 invalidValue", q, r.status, r.raw)
		}
	}
	r := e.acme(t, "POST", "/Users/.search", map[string]any{"schemas": []any{searchRequestSchema}, "sortOrder": "random"})
	if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" {
		t.Errorf(".search with a bad sortOrder: %d %s", r.status, r.raw)
	}
}
