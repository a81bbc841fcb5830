package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var secretRE = regexp.MustCompile(`id="secret-value"[^>]*value="([^"]+)"`)

// scimStatus calls tenant's SCIM endpoint with token.
func scimStatus(t *testing.T, d *demo, tenant, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.base+"/scim/v2/"+tenant+"/Users?count=1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestPortalAdminTokensAndClients: the ISUG admin victor lists, creates
// (seeing the secret once) and revokes SCIM tokens and OIDC clients; the
// LUG organizer alice is refused; bad input changes nothing.
func TestPortalAdminTokensAndClients(t *testing.T) {
	d := startDemo(t)
	alice := d.signIn(t, "vendor", "alice")
	victor := d.signIn(t, "vendor", "victor")

	code, body := victor.get("/portal/admin")
	for _, want := range []string{`id="tenant-acme"`, `id="tenant-globex"`, "Create a SCIM token", "portal", "from the configuration", "Register a client"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("admin page (%d) lacks %q", code, want)
		}
	}

	code, body = alice.get("/portal/admin")
	if code != http.StatusForbidden || !strings.Contains(body, "tenants.manage") || strings.Contains(body, "Create a SCIM token") {
		t.Errorf("alice on the admin page: %d, want 403 with the reason", code)
	}
	before := d.auditSeq(t)
	if code, _ := alice.post("/portal/admin/create-token", url.Values{"tenant": {"acme"}, "name": {"sneaky"}}, nil); code != http.StatusForbidden {
		t.Errorf("alice creates a token: %d, want 403", code)
	}
	for _, tc := range []struct {
		path, field, msg string
		form             url.Values
	}{
		{"/portal/admin/create-token", "create-token-name-error", "Token name is required", url.Values{"tenant": {"acme"}, "name": {""}}},
		{"/portal/admin/create-token", "create-token-name-error", "Use letters", url.Values{"tenant": {"acme"}, "name": {"a b"}}},
		{"/portal/admin/create-client", "create-client-redirectURIs-error", "Redirect URIs is required", url.Values{"id": {"wiki"}}},
		{"/portal/admin/create-client", "create-client-id-error", "Use letters", url.Values{"id": {"wi ki"}, "redirectURIs": {"https://wiki.example/cb"}}},
	} {
		code, body := victor.post(tc.path, tc.form, nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="`+tc.field+`"`) || !strings.Contains(body, tc.msg) {
			t.Errorf("POST %s %v: %d, want 422 with %q at %s", tc.path, tc.form, code, tc.msg, tc.field)
		}
	}
	if after := d.auditSeq(t); after != before {
		t.Errorf("audit sequence moved from %d to %d: refused or bad input changed something", before, after)
	}

	// Create: the token is on the next page, once, and works.
	if code, body := victor.post("/portal/admin/create-token", url.Values{"tenant": {"acme"}, "name": {"okta-2026"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("create token: %d\n%s", code, body)
	}
	_, body = victor.get("/portal/admin")
	m := secretRE.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, "only this once") || !strings.Contains(body, "okta-2026") {
		t.Fatalf("the new token is not shown after creation:\n%s", body)
	}
	token := m[1]
	if st := scimStatus(t, d, "acme", token); st != http.StatusOK {
		t.Errorf("SCIM with the new token: %d, want 200", st)
	}
	if _, body = victor.get("/portal/admin"); strings.Contains(body, token) || strings.Contains(body, `id="secret-value"`) {
		t.Error("the token is shown a second time")
	}
	if code, body := victor.post("/portal/admin/create-token", url.Values{"tenant": {"acme"}, "name": {"okta-2026"}}, nil); code != http.StatusUnprocessableEntity || !strings.Contains(body, "already has a token") {
		t.Errorf("a second token of that name: %d, want 422", code)
	}
	if code, _ := victor.post("/portal/admin/revoke-token", url.Values{"tenant": {"acme"}, "name": {"okta-2026"}}, nil); code != http.StatusSeeOther {
		t.Errorf("revoke: %d", code)
	}
	if st := scimStatus(t, d, "acme", token); st != http.StatusUnauthorized {
		t.Errorf("SCIM with the revoked token: %d, want 401", st)
	}

	// Clients: created with its secret shown once, then deleted; a client
	// from the configuration cannot be.
	if code, body := victor.post("/portal/admin/create-client", url.Values{"id": {"wiki"}, "name": {"Wiki"}, "redirectURIs": {"https://wiki.example.com/callback"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("create client: %d\n%s", code, body)
	}
	_, body = victor.get("/portal/admin")
	if m := secretRE.FindStringSubmatch(body); m == nil || !strings.Contains(body, "client secret of “wiki”") {
		t.Errorf("the client secret is not shown after creation")
	}
	if code, _ := victor.post("/portal/admin/delete-client", url.Values{"id": {"wiki"}}, nil); code != http.StatusSeeOther {
		t.Errorf("delete client: %d", code)
	}
	if code, body := victor.post("/portal/admin/delete-client", url.Values{"id": {"portal"}}, nil); code != http.StatusConflict || !strings.Contains(body, "configuration") {
		t.Errorf("delete the configured portal client: %d, want 409", code)
	}
	var cl struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	d.adminGet(t, "/clients", &cl)
	for _, c := range cl.Items {
		if c.ID == "wiki" {
			t.Error("client wiki still exists")
		}
	}
}
