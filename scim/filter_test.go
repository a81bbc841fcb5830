package scim

import (
	"encoding/json"
	"errors"
	"testing"
)

const testUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "id": "2819c223", "externalId": "Ext-1", "userName": "Bjensen@Example.com", "displayName": "Babs \"B\" Jensen",
  "name": {"givenName": "Barbara", "familyName": "Jensen"},
  "active": true, "title": "Tour Guide", "loginCount": 12,
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
  "meta": {"lastModified": "2011-05-13T04:42:34Z"},
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "26118915"}}
}`

func TestFilter(t *testing.T) {
	var res map[string]any
	if err := json.Unmarshal([]byte(testUser), &res); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		filter string
		want   bool
	}{
		{`userName eq "bjensen@example.com"`, true},
		{`USERNAME EQ "BJENSEN@EXAMPLE.COM"`, true},
		{`userName ne "bjensen@example.com"`, false},
		{`externalId eq "ext-1"`, false}, // caseExact
		{`externalId eq "Ext-1"`, true},
		{`id eq "2819c223"`, true},
		{`name.familyName co "ens"`, true},
		{`userName sw "bj"`, true},
		{`userName ew ".com"`, true},
		{`title pr`, true},
		{`nickName pr`, false},
		{`nickName ne "x"`, true},
		{`nickName eq null`, true},
		{`title eq null`, false},
		{`active eq true`, true},
		{`active eq false`, false},
		{`loginCount gt 10`, true},
		{`loginCount le 11`, false},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, false},
		{`meta.lastModified ge "2011-05-13T04:42:34Z"`, true},
		{`meta.lastModified lt "2012-01-01T00:00:00Z"`, true},
		// dateTime compares chronologically (RFC 7644 §3.4.2.2), not as text.
		{`meta.lastModified gt "2011-05-13T04:42:33.5Z"`, true},
		{`meta.lastModified lt "2011-05-13T04:42:34.5Z"`, true},
		{`meta.lastModified gt "2011-05-13T05:00:00+02:00"`, true},
		{`meta.lastModified eq "2011-05-13T06:42:34+02:00"`, true},
		{`meta.lastModified ge "2011-05-13T04:42:34.000Z"`, true},
		{`meta.created pr`, false},
		{`emails eq "babs@jensen.org"`, true},
		{`emails.value eq "babs@jensen.org"`, true},
		{`emails.type eq "work"`, true},
		{`emails[type eq "work" and value co "@example.com"]`, true},
		{`emails[type eq "home" and value co "@example.com"]`, false},
		{`emails[type eq "work"].value eq "bjensen@example.com"`, true},
		{`emails[type eq "home"].value eq "bjensen@example.com"`, false},
		{`emails[not (type eq "work")]`, true},
		{`title pr and userType pr`, false},
		{`title pr or userType pr`, true},
		{`not (title pr)`, false},
		{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, false},
		{`title eq "Tour Guide" and (emails co "example.com" or emails.value co "example.org")`, true},
		{`displayName eq "Babs \"B\" Jensen"`, true},
		{`displayName eq "Babs \u0022B\u0022 Jensen"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "tour"`, true},
	}
	for _, tc := range tests {
		f, err := parseFilter(tc.filter)
		if err != nil {
			t.Errorf("parse %s: %v", tc.filter, err)
			continue
		}
		if got := matches(f, res, UserSchema); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

func TestFilterSyntaxErrors(t *testing.T) {
	for _, f := range []string{
		``, `userName`, `userName eq`, `userName eq "x`, `userName eq "x" and`, `(userName eq "x"`,
		`userName eq "x")`, `userName zz "x"`, `emails[type eq "work"`, `1abc eq "x"`, `a.b.c eq "x"`,
		`userName eq bareword`, `not userName eq "x"`, `userName eq"x"`, `emails[type eq "w"].value`,
		`a:b eq "x"`,
		// Ordering and substring operators on booleans SHALL give
		// invalidFilter (RFC 7644 §3.4.2.2); so does a dateTime
		// comparison with a value that is not a dateTime.
		`active gt true`, `active le false`, `active co true`, `emails[primary sw true]`,
		`meta.lastModified gt "yesterday"`, `meta.created lt 3`,
	} {
		if _, err := parseFilter(f); !errors.Is(err, errFilter) {
			t.Errorf("%q: err = %v, want errFilter", f, err)
		}
	}
}

func TestPatchPath(t *testing.T) {
	tests := []struct {
		in         string
		uri, a, s  string
		withFilter bool
	}{
		{"userName", "", "userName", "", false},
		{"name.familyName", "", "name", "familyName", false},
		{`emails[type eq "work"].value`, "", "emails", "value", true},
		{`members[value eq "2819c223-7f76-453a-919d-413861904646"]`, "", "members", "", true},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", EnterpriseSchema, "employeeNumber", "", false},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", EnterpriseSchema, "manager", "value", false},
		{"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department", EnterpriseSchema, "department", "", false},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", EnterpriseSchema, "", "", false},
	}
	for _, tc := range tests {
		p, err := parsePatchPath(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if p.Path.URI != tc.uri || p.Path.Attr != tc.a || p.Path.Sub != tc.s || (p.Filter != nil) != tc.withFilter {
			t.Errorf("%s = %+v", tc.in, p)
		}
	}
	for _, bad := range []string{"", "name..x", "emails[", `emails[type eq "x"]x`, "a b", "name.given.x", "emails.value[type eq \"x\"]"} {
		if _, err := parsePatchPath(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestApplyPatch(t *testing.T) {
	base := func() map[string]any {
		var m map[string]any
		_ = json.Unmarshal([]byte(`{"id":"u1","userName":"a","emails":[{"value":"a@x","type":"work","primary":true},{"value":"a@home","type":"home"}],
			"members":[{"value":"1"},{"value":"2"},{"value":"3"}], "name":{"givenName":"A","familyName":"B"}}`), &m)
		return m
	}
	tests := []struct {
		name string
		ops  []patchOp
		path string
		want string
	}{
		{"replace sub", []patchOp{{Op: "replace", Path: "name.givenName", Value: "Z"}}, "name", `{"familyName":"B","givenName":"Z"}`},
		{"replace complex merges", []patchOp{{Op: "replace", Path: "name", Value: map[string]any{"givenName": "Q"}}}, "name", `{"familyName":"B","givenName":"Q"}`},
		{"remove with value array is targeted", []patchOp{{Op: "remove", Path: "members", Value: []any{map[string]any{"value": "2", "$ref": nil}}}}, "members", `[{"value":"1"},{"value":"3"}]`},
		{"remove absent member", []patchOp{{Op: "remove", Path: "members", Value: []any{map[string]any{"value": "9"}}}}, "members", `[{"value":"1"},{"value":"2"},{"value":"3"}]`},
		{"remove with filter", []patchOp{{Op: "remove", Path: `members[value eq "1"]`}}, "members", `[{"value":"2"},{"value":"3"}]`},
		{"remove all", []patchOp{{Op: "remove", Path: "members"}}, "members", `null`},
		{"add dedupes", []patchOp{{Op: "add", Path: "members", Value: []any{map[string]any{"value": "3"}, map[string]any{"value": "4"}}}}, "members", `[{"value":"1"},{"value":"2"},{"value":"3"},{"value":"4"}]`},
		{"add single value to multi-valued", []patchOp{{Op: "add", Path: "members", Value: map[string]any{"value": "5"}}}, "members", `[{"value":"1"},{"value":"2"},{"value":"3"},{"value":"5"}]`},
		{"replace members", []patchOp{{Op: "replace", Path: "members", Value: []any{map[string]any{"value": "7"}}}}, "members", `[{"value":"7"}]`},
		{"valuePath sub replace", []patchOp{{Op: "replace", Path: `emails[type eq "home"].value`, Value: "new@home"}}, "emails", `[{"primary":true,"type":"work","value":"a@x"},{"type":"home","value":"new@home"}]`},
		{"valuePath without match creates", []patchOp{{Op: "add", Path: `emails[type eq "other"].value`, Value: "o@x"}}, "emails", `[{"primary":true,"type":"work","value":"a@x"},{"type":"home","value":"a@home"},{"type":"other","value":"o@x"}]`},
		{"valuePath element replace", []patchOp{{Op: "replace", Path: `emails[type eq "home"]`, Value: map[string]any{"value": "h@h", "type": "home"}}}, "emails", `[{"primary":true,"type":"work","value":"a@x"},{"type":"home","value":"h@h"}]`},
		{"remove sub of matching", []patchOp{{Op: "remove", Path: `emails[type eq "work"].primary`}}, "emails", `[{"type":"work","value":"a@x"},{"type":"home","value":"a@home"}]`},
		{"no-path dotted and URN keys", []patchOp{{Op: "replace", Value: map[string]any{"name.familyName": "F", EnterpriseSchema + ":department": "D"}}}, EnterpriseSchema, `{"department":"D"}`},
		{"no-path extension object", []patchOp{{Op: "add", Value: map[string]any{EnterpriseSchema: map[string]any{"costCenter": "4130"}}}}, EnterpriseSchema, `{"costCenter":"4130"}`},
		{"no-path with own id", []patchOp{{Op: "replace", Value: map[string]any{"id": "u1", "userName": "b"}}}, "userName", `"b"`},
		{"case-insensitive attribute", []patchOp{{Op: "replace", Path: "NAME.GIVENNAME", Value: "Y"}}, "name", `{"familyName":"B","givenName":"Y"}`},
		{"no-path core schema object", []patchOp{{Op: "replace", Value: map[string]any{UserSchema: map[string]any{"displayName": "D"}}}}, "displayName", `"D"`},
		{"core schema as path", []patchOp{{Op: "add", Path: UserSchema, Value: map[string]any{"title": "T", "name.givenName": "G"}}}, "title", `"T"`},
		{"core schema as path leaves no empty key", []patchOp{{Op: "add", Path: UserSchema, Value: map[string]any{"title": "T"}}}, "", `null`},
	}
	for _, tc := range tests {
		m := base()
		if err := applyPatch(m, tc.ops, UserSchema, "u1"); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got, _ := json.Marshal(m[tc.path])
		if string(got) != tc.want {
			t.Errorf("%s: %s = %s, want %s", tc.name, tc.path, got, tc.want)
		}
	}
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`, `emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp"]`,
		`not (title pr) and meta.lastModified gt "2011-05-13T04:42:34Z"`, `emails[type eq "work"].value eq "x"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "1"`, `loginCount ge 1.5e3`,
		`((((a eq 1))))`, `x eq "\u00e9\\"`,
	} {
		f.Add(s)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(testUser), &res); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			if !errors.Is(err, errFilter) {
				t.Fatalf("error does not wrap errFilter: %v", err)
			}
			return
		}
		matches(e, res, UserSchema)
		// A valid filter is also a valid value filter in a PATCH path.
		_, _ = parsePatchPath("emails[" + s + "]")
	})
}

func FuzzPatch(f *testing.F) {
	f.Add(`emails[type eq "work"].value`, "replace", `"x@y"`)
	f.Add(`members[value eq "1"]`, "remove", `null`)
	f.Add(`members`, "Remove", `[{"value":"2","$ref":null}]`)
	f.Add(``, "replace", `{"name.givenName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":"m","active":"False"}`)
	f.Add(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, "add", `{"department":"d"}`)
	f.Add(`name`, "add", `{"givenName":"q"}`)
	f.Fuzz(func(t *testing.T, path, op, value string) {
		var v any
		if json.Unmarshal([]byte(value), &v) != nil {
			return
		}
		body := map[string]any{"Operations": []any{map[string]any{"op": op, "path": path, "value": v}}}
		ops, err := parsePatchRequest(body, nil)
		if err != nil {
			return
		}
		var res map[string]any
		_ = json.Unmarshal([]byte(testUser), &res)
		res["members"] = []any{map[string]any{"value": "1"}, map[string]any{"value": "2"}}
		if err := applyPatch(res, ops, UserSchema, "2819c223"); err != nil {
			return
		}
		if _, err := userFromSCIM(res); err != nil {
			return
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
	})
}
