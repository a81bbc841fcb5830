package scim

import (
	"net/http"
	"strings"
	"testing"
)

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	r := e.acme(t, "GET", "/ServiceProviderConfig", nil)
	if r.status != 200 {
		t.Fatalf("ServiceProviderConfig: %d", r.status)
	}
	for path, want := range map[string]any{
		"patch/supported": true, "filter/supported": true, "filter/maxResults": float64(DefaultMaxResults),
		"etag/supported": true, "sort/supported": true, "bulk/supported": true, "bulk/maxOperations": float64(DefaultBulkMaxOperations),
		"bulk/maxPayloadSize": float64(DefaultBulkMaxBytes), "changePassword/supported": false,
		"authenticationSchemes/0/type": "oauthbearertoken",
		"meta/location":                "https://roster.example.com/scim/v2/acme/ServiceProviderConfig",
	} {
		if got, _ := dig(r.body, path); got != want {
			t.Errorf("ServiceProviderConfig %s = %v, want %v", path, got, want)
		}
	}

	r = e.acme(t, "GET", "/ResourceTypes", nil)
	if r.status != 200 || r.body["totalResults"] != float64(2) {
		t.Fatalf("ResourceTypes: %d %s", r.status, r.raw)
	}
	if got, _ := dig(r.body, "Resources/0/schemaExtensions/0/schema"); got != EnterpriseSchema {
		t.Errorf("User extension = %v", got)
	}
	if r := e.acme(t, "GET", "/ResourceTypes/Group", nil); r.status != 200 || r.body["endpoint"] != "/Groups" {
		t.Errorf("ResourceTypes/Group: %d %s", r.status, r.raw)
	}

	r = e.acme(t, "GET", "/Schemas", nil)
	if r.status != 200 || r.body["totalResults"] != float64(6) {
		t.Fatalf("Schemas: %d %s", r.status, r.raw)
	}
	if strings.Contains(string(r.raw), "null") {
		t.Error("/Schemas contains null values")
	}
	ids := map[string]bool{}
	for _, s := range r.body["Resources"].([]any) {
		ids[s.(map[string]any)["id"].(string)] = true
	}
	for _, id := range []string{UserSchema, GroupSchema, EnterpriseSchema, spcSchema, resourceTypeSchema, schemaSchema} {
		if !ids[id] {
			t.Errorf("schema %s missing", id)
		}
		if r := e.acme(t, "GET", "/Schemas/"+id, nil); r.status != 200 || r.body["id"] != id {
			t.Errorf("Schemas/%s: %d", id, r.status)
		}
	}
}

// TestDiscoveryTellsTheWholeTruth: /Schemas describes the discovery
// resources too (RFC 7643 §5–7), and a filter on a discovery endpoint is
// refused with 403 (RFC 7644 §4), other parameters ignored.
func TestDiscoveryTellsTheWholeTruth(t *testing.T) {
	e := newEnv(t)
	for id, attrs := range map[string][]string{
		spcSchema:          {"documentationUri", "patch", "bulk", "filter", "changePassword", "sort", "etag", "authenticationSchemes"},
		resourceTypeSchema: {"id", "name", "description", "endpoint", "schema", "schemaExtensions"},
		schemaSchema:       {"id", "name", "description", "attributes"},
	} {
		r := e.acme(t, "GET", "/Schemas/"+id, nil)
		if r.status != 200 || r.body["id"] != id || strings.Contains(string(r.raw), "null") {
			t.Fatalf("Schemas/%s: %d %s", id, r.status, r.raw)
		}
		for i, name := range attrs {
			if got, _ := dig(r.body, "attributes/"+itoa(i)+"/name"); got != name {
				t.Errorf("%s attribute %d = %v, want %s", id, i, got, name)
			}
			if got, _ := dig(r.body, "attributes/"+itoa(i)+"/mutability"); got != "readOnly" {
				t.Errorf("%s.%s mutability %v", id, name, got)
			}
		}
		if m, _ := dig(r.body, "meta/resourceType"); m != "Schema" {
			t.Errorf("%s meta.resourceType %v", id, m)
		}
	}
	if got, _ := dig(e.acme(t, "GET", "/Schemas/"+schemaSchema, nil).body, "attributes/3/subAttributes/11/name"); got != "subAttributes" {
		t.Errorf("Schema.attributes.subAttributes missing: %v", got)
	}
	for _, path := range []string{
		`/Schemas?filter=id eq "x"`, `/ResourceTypes?filter=name eq "User"`,
		`/ServiceProviderConfig?filter=patch.supported eq true`, `/Schemas/` + UserSchema + `?filter=id pr`,
	} {
		r := e.acme(t, "GET", path, nil)
		if r.status != http.StatusForbidden || r.body["status"] != "403" {
			t.Errorf("GET %s: %d %s, want 403", path, r.status, r.raw)
		}
		if s, _ := dig(r.body, "schemas/0"); s != "urn:ietf:params:scim:api:messages:2.0:Error" {
			t.Errorf("GET %s: error schema %v", path, s)
		}
	}
	// Other query parameters are ignored (RFC 7644 §4).
	r := e.acme(t, "GET", "/Schemas?startIndex=3&count=1&sortBy=id", nil)
	if r.status != 200 || r.body["totalResults"] != float64(6) || len(r.body["Resources"].([]any)) != 6 {
		t.Errorf("Schemas with paging: %d %.300s", r.status, r.raw)
	}
	// A wrong method is still 405, filter or not.
	if r := e.acme(t, "POST", "/Schemas?filter=x", "{}"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /Schemas?filter: %d", r.status)
	}
}

func TestETagsAndProjection(t *testing.T) {
	e := newEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	r := e.acme(t, "GET", "/Users/"+alice, nil)
	tag := r.header.Get("ETag")
	if tag != `W/"1"` || r.body["meta"].(map[string]any)["version"] != tag {
		t.Fatalf("ETag %q, meta %v", tag, r.body["meta"])
	}
	if r := e.acme(t, "GET", "/Users/"+alice, nil, "If-None-Match", tag); r.status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.status)
	}
	r = e.acme(t, "PATCH", "/Users/"+alice, patchBody(map[string]any{"op": "replace", "path": "title", "value": "Boss"}), "If-Match", tag)
	if r.status != 200 || r.header.Get("ETag") != `W/"2"` {
		t.Fatalf("PATCH with If-Match: %d %s %s", r.status, r.header.Get("ETag"), r.raw)
	}
	// An unchanged PATCH does not bump the version.
	r = e.acme(t, "PATCH", "/Users/"+alice, patchBody(map[string]any{"op": "replace", "path": "title", "value": "Boss"}))
	if r.header.Get("ETag") != `W/"2"` {
		t.Errorf("no-op PATCH changed the version: %s", r.header.Get("ETag"))
	}
	if r := e.acme(t, "DELETE", "/Groups/"+group, nil, "If-Match", `W/"1"`); r.status != 204 {
		t.Errorf("DELETE with If-Match: %d %s", r.status, r.raw)
	}

	r = e.acme(t, "GET", "/Users/"+alice+"?attributes=userName,name.givenName,emails.value", nil)
	if _, ok := r.body["title"]; ok || r.body["userName"] != "alice@example.com" || r.body["id"] != alice {
		t.Errorf("attributes: %s", r.raw)
	}
	if got, _ := dig(r.body, "emails/0/value"); got != "alice@example.com" {
		t.Errorf("attributes emails.value: %s", r.raw)
	}
	if _, ok := dig(r.body, "emails/0/type"); ok {
		t.Errorf("attributes kept emails.type: %s", r.raw)
	}
	r = e.acme(t, "GET", "/Users?excludedAttributes=emails,title&filter=userName eq \"alice@example.com\"", nil)
	res := r.body["Resources"].([]any)[0].(map[string]any)
	if _, ok := res["emails"]; ok || res["userName"] == nil {
		t.Errorf("excludedAttributes: %s", r.raw)
	}

	// POST /.search.
	r = e.acme(t, "POST", "/Users/.search", map[string]any{"schemas": []string{searchRequestSchema},
		"filter": `title eq "boss"`, "attributes": []string{"userName"}, "startIndex": 1, "count": 10})
	if r.status != 200 || r.body["totalResults"] != float64(1) {
		t.Errorf(".search: %d %s", r.status, r.raw)
	}
}
