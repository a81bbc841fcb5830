package scim

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestManagerShapes: every shape of the enterprise manager that Entra ID
// and Okta have sent is stored and returned as {value, $ref?, displayName?};
// shapes of no sense are 400 invalidValue and store nothing.
func TestManagerShapes(t *testing.T) {
	e := newEnv(t)
	boss := "26118915-6090-4610-87e4-49d8ca9f808d"
	ref := "https://idp.example.com/Users/" + boss
	tests := []struct {
		name, manager, want string
	}{
		{"bare string (Entra)", `"` + boss + `"`, `{"value":"` + boss + `"}`},
		{"object", `{"value":"` + boss + `"}`, `{"value":"` + boss + `"}`},
		{"object with $ref and displayName", `{"value":"` + boss + `","$ref":"` + ref + `","displayName":"Boss"}`,
			`{"value":"` + boss + `","$ref":"` + ref + `","displayName":"Boss"}`},
		{"capitalised sub-attributes", `{"Value":"` + boss + `","DisplayName":"Boss"}`, `{"value":"` + boss + `","displayName":"Boss"}`},
		{"legacy array with $ref", `[{"value":"` + boss + `","$ref":"` + ref + `"}]`, `{"value":"` + boss + `","$ref":"` + ref + `"}`},
		{"legacy array, primary wins", `[{"value":"other"},{"value":"` + boss + `","primary":true}]`, `{"value":"` + boss + `"}`},
		{"legacy array of a string", `["` + boss + `"]`, `{"value":"` + boss + `"}`},
		{"unknown sub-attribute dropped", `{"value":"` + boss + `","email":"b@example.com"}`, `{"value":"` + boss + `"}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "m" + itoa(i) + "@example.com"
			r := e.acme(t, "POST", "/Users", `{"schemas":["`+UserSchema+`","`+EnterpriseSchema+`"],"userName":"`+name+`",
				"`+EnterpriseSchema+`":{"manager":`+tt.manager+`}}`)
			if r.status != http.StatusCreated {
				t.Fatalf("POST: %d %s", r.status, r.raw)
			}
			id := r.body["id"].(string)
			checkManager(t, r, tt.want)
			checkManager(t, e.acme(t, "GET", "/Users/"+id, nil), tt.want)
			// The same shapes through PATCH (Entra: path and bare string).
			r = e.acme(t, "PATCH", "/Users/"+id, patchJSON(`{"op":"remove","path":"`+EnterpriseSchema+`:manager"}`))
			if m, _ := dig(r.body, EnterpriseSchema+"/manager"); m != nil {
				t.Fatalf("manager not removed: %s", r.raw)
			}
			r = e.acme(t, "PATCH", "/Users/"+id, patchJSON(`{"op":"Add","path":"`+EnterpriseSchema+`:manager","value":`+tt.manager+`}`))
			if r.status != http.StatusOK {
				t.Fatalf("PATCH: %d %s", r.status, r.raw)
			}
			checkManager(t, e.acme(t, "GET", "/Users/"+id, nil), tt.want)
		})
	}

	before := e.snapshot(t, "acme")
	for _, bad := range []string{`7`, `[[{"value":"x"}]]`, `[7]`, `{"value":7}`, `true`} {
		t.Run("refused "+bad, func(t *testing.T) {
			r := e.acme(t, "POST", "/Users", userJSON(`"`+EnterpriseSchema+`":{"manager":`+bad+`}`))
			if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" {
				t.Errorf("%d %s, want 400 invalidValue", r.status, r.raw)
			}
			if s, _ := dig(r.body, "schemas/0"); s != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("error schema %v", s)
			}
			if e.snapshot(t, "acme") != before {
				t.Fatal("a refused request changed the store")
			}
		})
	}
}

func checkManager(t *testing.T, r reply, want string) {
	t.Helper()
	got, _ := dig(r.body, EnterpriseSchema+"/manager")
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("manager = %s, want %s", g, want)
	}
}
