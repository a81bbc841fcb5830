package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
)

// acmeExt is the custom extension tenant acme declares in the schema tests.
const acmeExt = "urn:acme:params:scim:schemas:extension:2.0:User"

// newSchemaEnv is newEnv with a custom User extension for acme.
func newSchemaEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(c *Config) {
		c.Tenants["acme"] = TenantConfig{Tokens: []string{acmeToken}, Extensions: []Extension{{
			URN: acmeExt,
			Attributes: []ExtensionAttribute{
				{Name: "badge", Type: "integer", CaseExact: true},
				{Name: "site", Type: "string"},
				{Name: "contractor", Type: "boolean"},
				{Name: "hired", Type: "dateTime"},
				{Name: "homepage", Type: "reference"},
				{Name: "audit", Type: "string", Mutability: "readOnly", Returned: "never"},
				{Name: "desks", Type: "complex", MultiValued: true, SubAttributes: []ExtensionAttribute{
					{Name: "value"}, {Name: "primary", Type: "boolean"},
				}},
			},
		}}}
	})
}

func userJSON(extra string) string {
	b := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@example.com"`
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

func patchJSON(ops string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
}

// TestSchemaRejects: what the served schemas refuse, with the exact status,
// scimType and error schema, and nothing stored.
func TestSchemaRejects(t *testing.T) {
	e := newSchemaEnv(t)
	alice, group := seed(t, e, acmeToken, "acme", "alice")
	u := "/Users/" + alice
	tests := []struct {
		name, method, path, body string
		scimType                 string
	}{
		{"POST without schemas", "POST", "/Users", `{"userName":"x@example.com"}`, "invalidValue"},
		{"POST with schemas not an array", "POST", "/Users", `{"schemas":"urn:ietf:params:scim:schemas:core:2.0:User","userName":"x@example.com"}`, "invalidValue"},
		{"POST naming only the enterprise schema", "POST", "/Users", `{"schemas":["` + EnterpriseSchema + `"],"userName":"x@example.com"}`, "invalidValue"},
		{"POST a group with the User schema", "POST", "/Groups", `{"schemas":["` + UserSchema + `"],"displayName":"g"}`, "invalidValue"},
		{"PUT without schemas", "PUT", u, `{"userName":"alice@example.com"}`, "invalidValue"},
		{"same attribute under two capitalisations", "POST", "/Users", userJSON(`"UserName":"y@example.com"`), "invalidSyntax"},
		{"same sub-attribute under two capitalisations", "PUT", u, `{"schemas":["` + UserSchema + `"],"userName":"alice@example.com","name":{"givenName":"a","GIVENNAME":"b"}}`, "invalidSyntax"},
		{"invalid UTF-8", "POST", "/Users", userJSON("\"displayName\":\"\xff\xfe\""), "invalidSyntax"},
		{"boolean as text", "POST", "/Users", userJSON(`"active":"maybe"`), "invalidValue"},
		{"boolean as number", "PUT", u, `{"schemas":["` + UserSchema + `"],"userName":"alice@example.com","active":1}`, "invalidValue"},
		{"string as number", "POST", "/Users", userJSON(`"displayName":7`), "invalidValue"},
		{"reference as object", "POST", "/Users", userJSON(`"profileUrl":{"href":"x"}`), "invalidValue"},
		{"complex as string", "POST", "/Users", userJSON(`"name":"Ada"`), "invalidValue"},
		{"multi-valued as object", "POST", "/Users", userJSON(`"emails":{"value":"x@example.com"}`), "invalidValue"},
		{"sub-attribute type", "POST", "/Users", userJSON(`"emails":[{"value":"x@example.com","primary":"often"}]`), "invalidValue"},
		{"extension not an object", "POST", "/Users", userJSON(`"` + acmeExt + `":"x"`), "invalidValue"},
		{"extension integer", "POST", "/Users", userJSON(`"` + acmeExt + `":{"badge":1.5}`), "invalidValue"},
		{"extension dateTime", "POST", "/Users", userJSON(`"` + acmeExt + `":{"hired":"last tuesday"}`), "invalidValue"},
		{"enterprise manager as number", "POST", "/Users", userJSON(`"` + EnterpriseSchema + `":{"manager":7}`), "invalidValue"},
		{"members not an array", "POST", "/Groups", `{"schemas":["` + GroupSchema + `"],"displayName":"g2","members":{"value":"x"}}`, "invalidValue"},

		{"PATCH without the PatchOp schema", "PATCH", u, `{"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`, "invalidSyntax"},
		{"PATCH with the User schema", "PATCH", u, `{"schemas":["` + UserSchema + `"],"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`, "invalidSyntax"},
		{"PATCH path of no schema, after a good op", "PATCH", u, patchJSON(`{"op":"replace","path":"displayName","value":"changed"},{"op":"add","path":"x-extra","value":"x"}`), "invalidPath"},
		{"PATCH unknown sub-attribute", "PATCH", u, patchJSON(`{"op":"replace","path":"name.nickname","value":"x"}`), "invalidPath"},
		{"PATCH unknown extension", "PATCH", u, patchJSON(`{"op":"add","path":"urn:other:ext:attr","value":"x"}`), "invalidPath"},
		{"PATCH unknown extension attribute", "PATCH", u, patchJSON(`{"op":"add","path":"` + acmeExt + `:floor","value":"x"}`), "invalidPath"},
		{"PATCH filter on unknown sub-attribute", "PATCH", u, patchJSON(`{"op":"replace","path":"emails[kind eq \"work\"].value","value":"x@example.com"}`), "invalidPath"},
		{"PATCH filter on a simple attribute", "PATCH", u, patchJSON(`{"op":"replace","path":"userName[value eq \"x\"]","value":"x"}`), "invalidPath"},
		{"PATCH group unknown path", "PATCH", "/Groups/" + group, patchJSON(`{"op":"add","path":"owners","value":[{"value":"x"}]}`), "invalidPath"},
		{"PATCH value of the wrong type", "PATCH", u, patchJSON(`{"op":"replace","path":"active","value":"perhaps"}`), "invalidValue"},
		{"PATCH extension value of the wrong type", "PATCH", u, patchJSON(`{"op":"add","path":"` + acmeExt + `:badge","value":"seven"}`), "invalidValue"},

		{"filter on an unknown attribute", "GET", `/Users?filter=x-extra eq "x"`, "", "invalidFilter"},
		{"filter on an unknown sub-attribute", "GET", `/Users?filter=name.nick eq "x"`, "", "invalidFilter"},
		{"filter on an unknown extension", "GET", `/Users?filter=urn:other:ext:attr eq "x"`, "", "invalidFilter"},
		{"value filter on an unknown sub-attribute", "GET", `/Users?filter=emails[kind eq "work"]`, "", "invalidFilter"},
		{"filter on a Group attribute of User", "GET", `/Groups?filter=userName eq "x"`, "", "invalidFilter"},
		{"search without the SearchRequest schema", "POST", "/Users/.search", `{"filter":"userName pr"}`, "invalidSyntax"},
		{"search naming another schema", "POST", "/Groups/.search", `{"schemas":["` + patchOpSchema + `"],"filter":"displayName pr"}`, "invalidSyntax"},
		{"search filter on an unknown attribute", "POST", "/Users/.search", `{"schemas":["` + searchRequestSchema + `"],"filter":"x-extra pr"}`, "invalidFilter"},
	}
	before := e.snapshot(t, "acme")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := e.acme(t, tt.method, tt.path, body)
			if r.status != http.StatusBadRequest || r.body["scimType"] != tt.scimType || r.body["status"] != "400" {
				t.Errorf("%d %.300s, want 400 %s", r.status, r.raw, tt.scimType)
			}
			if s, _ := dig(r.body, "schemas/0"); s != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("error schema %v", s)
			}
			if after := e.snapshot(t, "acme"); after != before {
				t.Fatalf("a refused request changed the store")
			}
		})
	}
}

// TestSchemaAccepts: what the served schemas keep, drop and convert.
func TestSchemaAccepts(t *testing.T) {
	e := newSchemaEnv(t)

	// Attributes of no served schema and readOnly ones are ignored:
	// neither stored nor echoed, never an error.
	r := e.acme(t, "POST", "/Users", `{"schemas":["`+UserSchema+`","`+acmeExt+`","urn:unknown:ext"],
		"userName":"ada@example.com","x-extra":"dropped","id":"mine","meta":{"created":"yesterday"},
		"groups":[{"value":"g"}],"name":{"givenName":"Ada","nick":"dropped"},
		"urn:unknown:ext":{"a":1},
		"`+acmeExt+`":{"Badge":7,"site":"Berlin","contractor":"True","hired":"2024-01-02T03:04:05Z","homepage":"https://ada.example","audit":"x","floor":3,
		  "desks":[{"value":"D1","primary":true,"colour":"red"}]},
		"`+EnterpriseSchema+`":{"department":"R&D","manager":"boss-id","shoeSize":44}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("POST: %d %s", r.status, r.raw)
	}
	id := r.body["id"].(string)
	get := e.acme(t, "GET", "/Users/"+id, nil)
	for _, res := range []reply{r, get} {
		for _, absent := range []string{"x-extra", "groups", "urn:unknown:ext", "name/nick",
			acmeExt + "/floor", acmeExt + "/audit", acmeExt + "/desks/0/colour", EnterpriseSchema + "/shoeSize"} {
			if v, ok := dig(res.body, absent); ok {
				t.Errorf("%s kept: %v", absent, v)
			}
		}
		for path, want := range map[string]any{
			"id":                                id,
			"name/givenName":                    "Ada",
			acmeExt + "/badge":                  float64(7),
			acmeExt + "/site":                   "Berlin",
			acmeExt + "/contractor":             true,
			acmeExt + "/hired":                  "2024-01-02T03:04:05Z",
			acmeExt + "/homepage":               "https://ada.example",
			acmeExt + "/desks/0/value":          "D1",
			EnterpriseSchema + "/department":    "R&D",
			EnterpriseSchema + "/manager/value": "boss-id",
		} {
			if got, _ := dig(res.body, path); got != want {
				t.Errorf("%s = %v, want %v", path, got, want)
			}
		}
		if !strings.Contains(string(res.raw), `"schemas":["`+UserSchema+`","`+EnterpriseSchema+`","`+acmeExt+`"]`) &&
			!strings.Contains(string(res.raw), `"schemas":["`+UserSchema+`","`+acmeExt+`","`+EnterpriseSchema+`"]`) {
			t.Errorf("schemas do not list both extensions: %s", res.raw)
		}
	}
	if created, _ := dig(get.body, "meta/created"); created == "yesterday" {
		t.Error("meta taken from the client")
	}

	// PUT: Okta sends the whole resource back, id, meta and groups
	// included, even another id.
	r = e.acme(t, "PUT", "/Users/"+id, `{"schemas":["`+UserSchema+`"],"id":"someone-else","meta":{"version":"W/\"9\""},
		"groups":[],"userName":"ada@example.com","displayName":"Ada L","active":"False"}`)
	if r.status != http.StatusOK || r.body["id"] != id || r.body["displayName"] != "Ada L" || r.body["active"] != false {
		t.Fatalf("PUT with readOnly attributes: %d %s", r.status, r.raw)
	}
	if _, ok := r.body[acmeExt]; ok {
		t.Errorf("PUT without the extension kept it: %s", r.raw)
	}

	// PATCH: readOnly attributes in a value are ignored; custom extension
	// attributes by path, by URN-qualified key and as a whole object.
	for _, tc := range []struct {
		name, body string
		want       map[string]any
		absent     []string
	}{
		{"no-path value with id and meta", patchJSON(`{"op":"replace","value":{"id":"other","meta":{},"groups":[],"displayName":"Ada M"}}`),
			map[string]any{"id": id, "displayName": "Ada M"}, nil},
		{"extension path", patchJSON(`{"op":"add","path":"` + acmeExt + `:badge","value":8}`),
			map[string]any{acmeExt + "/badge": float64(8)}, nil},
		{"extension attribute in another case", patchJSON(`{"op":"replace","path":"` + acmeExt + `:SITE","value":"Paris"}`),
			map[string]any{acmeExt + "/site": "Paris", acmeExt + "/badge": float64(8)}, nil},
		{"URN-qualified key", patchJSON(`{"op":"replace","value":{"` + acmeExt + `:contractor":"False"}}`),
			map[string]any{acmeExt + "/contractor": false}, nil},
		{"extension object in a value", patchJSON(`{"op":"replace","value":{"` + acmeExt + `":{"site":"Rome","floor":2}}}`),
			map[string]any{acmeExt + "/site": "Rome", acmeExt + "/badge": float64(8)}, []string{acmeExt + "/floor"}},
		{"value path in the extension", patchJSON(`{"op":"add","path":"` + acmeExt + `:desks","value":[{"value":"D2","primary":true}]}`),
			map[string]any{acmeExt + "/desks/0/value": "D2"}, nil},
		{"whole extension replaced", patchJSON(`{"op":"replace","path":"` + acmeExt + `","value":{"badge":9}}`),
			map[string]any{acmeExt + "/badge": float64(9), acmeExt + "/site": "Rome"}, nil},
		{"whole extension removed", patchJSON(`{"op":"remove","path":"` + acmeExt + `"}`),
			nil, []string{acmeExt}},
	} {
		r := e.acme(t, "PATCH", "/Users/"+id, tc.body)
		if r.status != http.StatusOK {
			t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
			continue
		}
		for path, want := range tc.want {
			if got, _ := dig(r.body, path); got != want {
				t.Errorf("%s: %s = %v, want %v", tc.name, path, got, want)
			}
		}
		for _, path := range tc.absent {
			if v, ok := dig(r.body, path); ok {
				t.Errorf("%s: %s kept: %v", tc.name, path, v)
			}
		}
	}

	// Filters on the served schemas, the extension included.
	e.acme(t, "PATCH", "/Users/"+id, patchJSON(`{"op":"add","path":"`+acmeExt+`:site","value":"Oslo"}`))
	for filter, want := range map[string]float64{
		acmeExt + `:site eq "oslo"`: 1,
		acmeExt + `:site eq "Lima"`: 0,
		`meta.created pr`:           1,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ADA@example.com"`: 1,
		`emails[type eq "work"]`:                         0,
		EnterpriseSchema + `:manager.value eq "boss-id"`: 0,
	} {
		r := e.acme(t, "GET", "/Users?filter="+filter, nil)
		if r.status != http.StatusOK || r.body["totalResults"] != want {
			t.Errorf("filter %s: %d %.300s, want %v results", filter, r.status, r.raw, want)
		}
	}

	// Groups: Entra's extra schema URN is accepted, its attributes ignored.
	r = e.acme(t, "POST", "/Groups", `{"schemas":["`+GroupSchema+`","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
		"displayName":"Sales","owner":"x","members":[{"value":"`+id+`","display":"Ada","$ref":null}]}`)
	if r.status != http.StatusCreated || r.body["owner"] != nil {
		t.Fatalf("group POST: %d %s", r.status, r.raw)
	}
	if v, _ := dig(r.body, "members/0/value"); v != id {
		t.Errorf("member %v", v)
	}
}

// TestSchemaDiscoveryExtensions: a tenant's extensions are served at
// /Schemas and in the User ResourceType; other tenants do not see them.
func TestSchemaDiscoveryExtensions(t *testing.T) {
	e := newSchemaEnv(t)
	r := e.acme(t, "GET", "/Schemas/"+acmeExt, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /Schemas/%s: %d %s", acmeExt, r.status, r.raw)
	}
	for path, want := range map[string]any{
		"id":                                acmeExt,
		"attributes/0/name":                 "badge",
		"attributes/0/type":                 "integer",
		"attributes/0/caseExact":            true,
		"attributes/0/mutability":           "readWrite",
		"attributes/0/returned":             "default",
		"attributes/0/multiValued":          false,
		"attributes/5/mutability":           "readOnly",
		"attributes/5/returned":             "never",
		"attributes/6/multiValued":          true,
		"attributes/6/subAttributes/1/type": "boolean",
	} {
		if got, _ := dig(r.body, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	r = e.acme(t, "GET", "/ResourceTypes/User", nil)
	if !strings.Contains(string(r.raw), acmeExt) {
		t.Errorf("User ResourceType lacks the extension: %s", r.raw)
	}
	if r := e.do(t, globexToken, "globex", "GET", "/Schemas/"+acmeExt, nil); r.status != http.StatusNotFound {
		t.Errorf("globex sees acme's extension: %d", r.status)
	}
	if r := e.do(t, globexToken, "globex", "POST", "/Users", userJSON(`"`+acmeExt+`":{"badge":1}`)); r.status != http.StatusCreated {
		t.Errorf("globex POST: %d %s", r.status, r.raw)
	} else if _, ok := r.body[acmeExt]; ok {
		t.Errorf("globex stored acme's extension: %s", r.raw)
	}
}

// TestExtensionConfig: New refuses extensions that cannot be served.
func TestExtensionConfig(t *testing.T) {
	st := newEnv(t).st
	for _, tc := range []struct {
		name string
		ext  Extension
	}{
		{"not a URN", Extension{URN: "acme", Attributes: []ExtensionAttribute{{Name: "a"}}}},
		{"a URN of RFC 7643", Extension{URN: EnterpriseSchema, Attributes: []ExtensionAttribute{{Name: "a"}}}},
		{"no attributes", Extension{URN: acmeExt}},
		{"bad name", Extension{URN: acmeExt, Attributes: []ExtensionAttribute{{Name: "1a"}}}},
		{"twice", Extension{URN: acmeExt, Attributes: []ExtensionAttribute{{Name: "a"}, {Name: "A"}}}},
		{"bad type", Extension{URN: acmeExt, Attributes: []ExtensionAttribute{{Name: "a", Type: "float"}}}},
		{"bad mutability", Extension{URN: acmeExt, Attributes: []ExtensionAttribute{{Name: "a", Mutability: "sometimes"}}}},
		{"bad returned", Extension{URN: acmeExt, Attributes: []ExtensionAttribute{{Name: "a", Returned: "maybe"}}}},
		{"complex without sub-attributes", Extension{URN: acmeExt, Attributes: []ExtensionAttribute{{Name: "a", Type: "complex"}}}},
		{"bad resource type", Extension{URN: acmeExt, ResourceType: "Device", Attributes: []ExtensionAttribute{{Name: "a"}}}},
	} {
		cfg := Config{Store: st, BaseURL: "https://roster.example.com",
			Tenants: map[policy.TenantID]TenantConfig{"acme": {Extensions: []Extension{tc.ext}}}}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "acme") {
			t.Errorf("%s: err %v, want one naming the tenant", tc.name, err)
		}
	}
}

// FuzzDecode feeds request bodies to the schema-driven decoder: it never
// panics, and what it keeps holds only attributes of the served schemas,
// under their canonical names, none readOnly, and decodes to itself again.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","active":"False","x":1}`))
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"i","meta":{},"groups":[],"emails":[{"value":"a@b","primary":"True","z":1}]}`))
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m","department":7}}`))
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"` + acmeExt + `":{"badge":1e3,"hired":"2024-01-02T03:04:05Z","desks":[{"value":"d"},null]}}`))
	f.Add([]byte(`{"schemas":["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"],"USERNAME":"a","Name":{"GivenName":"x"},"urn:ietf:params:scim:schemas:core:2.0:User":{"displayName":"d"}}`))
	d, err := newDiscovery([]Extension{{URN: acmeExt, Attributes: []ExtensionAttribute{
		{Name: "badge", Type: "integer"}, {Name: "hired", Type: "dateTime"}, {Name: "ok", Type: "boolean"},
		{Name: "desks", Type: "complex", MultiValued: true, SubAttributes: []ExtensionAttribute{{Name: "value"}, {Name: "n", Type: "decimal"}}},
	}}})
	if err != nil {
		f.Fatal(err)
	}
	rs := d.user
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil || m == nil || caseDuplicate(m) != nil {
			return
		}
		out, err := rs.decode(normalize(m).(map[string]any))
		if err != nil {
			var se Error
			if !errors.As(err, &se) || se.Status != http.StatusBadRequest {
				t.Fatalf("error is not a 400 SCIM error: %v", err)
			}
			return
		}
		for k := range out {
			if k == "schemas" || rs.extension(k) != nil && rs.extension(k).ID == k {
				continue
			}
			a := rs.coreAttr(k)
			if a == nil || a.Name != k || a.Mutability == "readOnly" {
				t.Fatalf("kept %q, which the served schemas do not allow", k)
			}
		}
		again, err := rs.decode(deepCopy(out).(map[string]any))
		if err != nil {
			t.Fatalf("what was kept does not decode again: %v", err)
		}
		if !jsonEqual(again, out) {
			t.Fatalf("decoding is not idempotent:\n%v\n%v", out, again)
		}
	})
}
