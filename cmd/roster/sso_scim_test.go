package main

import (
	"encoding/json"
	"net/url"
	"testing"
)

// TestSCIMDeactivationEndsSession: a member signed in once (single
// sign-on session); their company deactivates them over SCIM; the next
// authorization from the same browser is not answered from the session
// (prompt=none: login_required) and the password no longer signs them in.
func TestSCIMDeactivationEndsSession(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	cfg := writeConfig(t, dir, addr, `clients:
  - {id: tool, name: Tool, public: true, redirectURIs: ["http://127.0.0.1:9/cb"]}
`)
	s := startServer(t, "serve", "--config", cfg)
	s.waitReady(t, base)
	if st, b := api(t, "PUT", base+"/api/v1/tenants/acme/local-accounts/ada", `{"password":"ada-password-1"}`); st >= 300 {
		t.Fatalf("local account: %d %s", st, b)
	}
	st, b := api(t, "POST", base+"/api/v1/tenants/acme/scim-tokens", `{"name":"okta"}`)
	var tok struct{ Token string }
	if err := json.Unmarshal(b, &tok); st != 201 || err != nil || tok.Token == "" {
		t.Fatalf("scim token: %d %s", st, b)
	}

	c := signInBrowser()
	_, body, pu := authorize(t, c, base, nil)
	_, body, pu = submit(t, c, pu, body, map[string]string{"identifier": "ada"})
	if loc, _, _ := submit(t, c, pu, body, map[string]string{"password": "ada-password-1"}); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in: %v", loc)
	}
	if loc, _, _ := authorize(t, c, base, url.Values{"prompt": {"none"}}); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("the session does not answer: %v", loc)
	}

	scim := func(method, path, body string) (int, []byte) {
		return scimSend(t, method, base+"/scim/v2/acme"+path, tok.Token, body)
	}
	st, b = scim("GET", "/Users?filter="+url.QueryEscape(`userName eq "ada"`), "")
	var list struct{ Resources []struct{ ID string } }
	if err := json.Unmarshal(b, &list); st != 200 || err != nil || len(list.Resources) != 1 {
		t.Fatalf("SCIM lookup: %d %s", st, b)
	}
	if st, b = scim("PATCH", "/Users/"+list.Resources[0].ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`); st != 200 && st != 204 {
		t.Fatalf("SCIM deactivate: %d %s", st, b)
	}

	if loc, _, _ := authorize(t, c, base, url.Values{"prompt": {"none"}}); loc == nil || loc.Query().Get("error") != "login_required" {
		t.Fatalf("after deactivation, prompt=none: %v, want login_required", loc)
	}
	loc, body, pu := authorize(t, c, base, nil)
	if loc != nil {
		t.Fatalf("after deactivation the browser got a code without a page: %v", loc)
	}
	_, body, pu = submit(t, c, pu, body, map[string]string{"identifier": "ada"})
	if loc, _, _ := submit(t, c, pu, body, map[string]string{"password": "ada-password-1"}); loc != nil && loc.Query().Get("code") != "" {
		t.Fatalf("a deactivated member signed in again: %v", loc)
	}
}
