package admin

import (
	"context"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestProfileConsent: what members of lug-london see of each other follows
// each one's choice; the organizer sees work e-mails; the vendor's
// employees are marked.
func TestProfileConsent(t *testing.T) {
	f := newFixture(t)
	err := f.st.Update(context.Background(), "test", func(tx store.Tx) error {
		for tenant, name := range map[policy.TenantID]string{"vendor": "alice", "acme": "carol"} {
			u, err := tx.User(tenant, policy.UserID(f.ids[name]))
			if err != nil {
				return err
			}
			u.DisplayName = name + " Example"
			u.Emails = []policy.Email{{Value: name + "@" + string(tenant) + ".example", Type: "work", Primary: true}}
			if name == "carol" { // as her company's SCIM client sent it
				u.Attributes = map[string]any{"phoneNumbers": []any{map[string]any{"value": "+1 555 0199", "type": "work"}}}
			}
			if _, err := tx.UpdateUser(tenant, u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-london/memberships", `{"user":"`+f.ids["carol"]+`","role":"member"}`); st != 201 {
		t.Fatalf("add carol: %d %v", st, m)
	}
	member := func(token, who string) map[string]any {
		t.Helper()
		_, body := f.call(t, token, "GET", "/api/v1/groups/lug-london/members", "")
		for _, m := range body["members"].([]any) {
			if mm := m.(map[string]any); mm["user"] == f.ids[who] {
				return mm
			}
		}
		t.Fatalf("%s not among the members: %v", who, body)
		return nil
	}
	// By default: name and company, marked as the vendor's.
	a := member("carol-token", "alice")
	if a["displayName"] != "alice Example" || a["company"] != "Vendor" || a["vendor"] != true || a["email"] != nil || a["userName"] != nil {
		t.Errorf("carol sees alice by default as %v", a)
	}
	// The organizer sees carol's work e-mail, not her phone.
	c := member("alice-token", "carol")
	if c["email"] != "carol@acme.example" || c["company"] != "Acme" || c["vendor"] != nil || c["phone"] != nil {
		t.Errorf("the organizer sees carol as %v", c)
	}
	for _, bad := range []string{`{"share":["salary"]}`, `{"share":["phone"],"phone":"call me"}`, `{"share":[],"email":"nope"}`} {
		if st, _ := f.call(t, "alice-token", "PUT", "/api/v1/me/profile", bad); st != 400 {
			t.Errorf("PUT /me/profile %s: %d, want 400", bad, st)
		}
	}
	if st, _ := f.call(t, adminToken, "PUT", "/api/v1/me/profile", `{"share":[]}`); st != 400 {
		t.Errorf("an admin token has no profile: %d, want 400", st)
	}
	if c := member("alice-token", "carol"); c["phone"] != nil {
		t.Errorf("carol's directory phone shown before she shares it: %v", c)
	}
	// carol shares her phone without entering one: the directory's.
	if st, m := f.call(t, "carol-token", "PUT", "/api/v1/me/profile", `{"share":["name","phone"]}`); st != 200 {
		t.Fatalf("carol's profile: %d %v", st, m)
	}
	if c := member("alice-token", "carol"); c["phone"] != "+1 555 0199" {
		t.Errorf("carol shares the directory's phone, the organizer sees %v", c)
	}
	// carol shares her phone and e-mail: alice now sees the phone too.
	if st, m := f.call(t, "carol-token", "PUT", "/api/v1/me/profile", `{"share":["name","email","phone"],"phone":"+1 555 0100"}`); st != 200 || len(m["share"].([]any)) != 3 {
		t.Fatalf("carol's profile: %d %v", st, m)
	}
	if c := member("alice-token", "carol"); c["phone"] != "+1 555 0100" {
		t.Errorf("after consent the organizer sees %v", c)
	}
	// alice shares name, e-mail and phone, not her company.
	if st, _ := f.call(t, "alice-token", "PUT", "/api/v1/me/profile", `{"share":["name","email","phone"],"email":"alice.ug@example.org","phone":"+44 20 7946 0000"}`); st != 200 {
		t.Fatal("alice's profile")
	}
	a = member("carol-token", "alice")
	if a["email"] != "alice.ug@example.org" || a["phone"] != "+44 20 7946 0000" || a["company"] != nil || a["vendor"] != true {
		t.Errorf("carol sees alice after her choice as %v", a)
	}
	// alice shares nothing: carol sees an id, and that she is the vendor's.
	f.call(t, "alice-token", "PUT", "/api/v1/me/profile", `{"share":[]}`)
	a = member("carol-token", "alice")
	if a["displayName"] != nil || a["company"] != nil || a["tenant"] != nil || a["email"] != nil || a["vendor"] != true {
		t.Errorf("carol sees alice who shares nothing as %v", a)
	}
	if _, p := f.call(t, "alice-token", "GET", "/api/v1/me/profile", ""); len(p["share"].([]any)) != 0 || p["phone"] != nil { // PUT replaces the profile
		t.Errorf("alice's own profile: %v", p)
	}
}
