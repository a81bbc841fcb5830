package outbound

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/roster-dev/roster/demo"
	"github.com/roster-dev/roster/ldap"
	"github.com/roster-dev/roster/ldap/ldaptest"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/scim"
	"github.com/roster-dev/roster/store"
)

// The end-to-end tests change a membership through a real inbound path
// (an LDAP full sync, a SCIM PATCH over HTTP) and watch it reach a
// webhook receiver and a second Roster's SCIM provider: the same domain
// operations, the same change feed, whatever the source.

// e2eTargets starts the Service with a webhook receiver (membership
// events) and the SCIM push target (the subtree of rug).
func e2eTargets(t *testing.T, e *env) (*receiver, *downstream) {
	t.Helper()
	d := newDownstream(t)
	rcv := newReceiver(t, testSecret, func(int) action { return answerOK })
	hook := webhookTarget("chat", rcv.url())
	hook.Events = []string{CategoryMembership}
	e.start(hook, scimTarget(d.url))
	return rcv, d
}

// bindToRug creates the user group rug and binds the directory group dg
// (of tenant acme) to it as members.
func bindToRug(t *testing.T, e *env, name string) {
	t.Helper()
	rug := e.createGroup("rug", "")
	e.update(func(tx store.Tx) error {
		dgs, err := tx.DirGroupsByName("acme", name)
		if err != nil || len(dgs) != 1 {
			t.Fatalf("directory group %s: %v %v", name, dgs, err)
		}
		_, err = tx.CreateRule(policy.Rule{Tenant: "acme", DirGroup: dgs[0].ID, Group: rug.ID, Role: demo.RoleMember})
		return err
	})
}

func userID(t *testing.T, e *env, name string) policy.UserID {
	t.Helper()
	var id policy.UserID
	e.update(func(tx store.Tx) error {
		return tx.ForEachUser("acme", func(u policy.User) error {
			if u.UserName == name {
				id = u.ID
			}
			return nil
		})
	})
	if id == "" {
		t.Fatalf("no user %s", name)
	}
	return id
}

func joinedRug(rcv *receiver, u policy.UserID) bool {
	return rcv.has(func(ev Event) bool {
		return ev.Type == "effective_membership.created" && ev.Subject == "user:"+string(u)
	})
}

// TestEndToEndLDAP: bob is added to an LDAP group bound to rug; a full
// sync brings him to the webhook and into the target's group.
func TestEndToEndLDAP(t *testing.T) {
	ldif, err := os.ReadFile("testdata/directory.ldif")
	if err != nil {
		t.Fatal(err)
	}
	srv := ldaptest.New(t, ldaptest.Options{LDIF: []string{string(ldif)}})
	e := newEnv(t)
	src, err := ldap.NewSource(ldap.Config{Logger: testLogger(t), Store: e.st, Tenant: "acme", Directory: ldap.DirectoryConfig{
		ID: "corp", URL: srv.URL, BindDN: srv.AdminDN, BindPassword: srv.AdminPassword,
		Users:         ldap.SearchConfig{BaseDN: "ou=people," + srv.Suffix},
		Groups:        ldap.SearchConfig{BaseDN: "ou=groups," + srv.Suffix},
		DeletionGuard: ldap.GuardShare(1),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	sync := func() {
		t.Helper()
		rs, err := src.Sync(context.Background(), ldap.Full)
		if err != nil || len(rs.Errors) > 0 {
			t.Fatalf("sync: %v %v", err, rs.Errors)
		}
	}
	sync()
	bindToRug(t, e, "engineers")
	rcv, d := e2eTargets(t, e)
	waitState(t, d, "alice rug=alice ")

	srv.MustModify(t, "dn: cn=engineers,ou=groups,dc=example,dc=com\nchangetype: modify\nadd: member\nmember: uid=bob,ou=people,dc=example,dc=com\n")
	sync()
	waitState(t, d, "alice bob rug=alice,bob ")
	bob := userID(t, e, "bob")
	waitFor(t, "bob's effective membership at the webhook", func() bool { return joinedRug(rcv, bob) })
}

// TestEndToEndSCIMInbound: an IdP adds bob to a SCIM group bound to rug
// (PATCH over HTTP to Roster's SCIM provider); he reaches the webhook and
// the target's group.
func TestEndToEndSCIMInbound(t *testing.T) {
	e := newEnv(t)
	const token = "inbound-scim-token-0123456789"
	in, err := scim.New(scim.Config{Logger: testLogger(t), Store: e.st, BaseURL: "http://roster.test",
		Tenants: map[policy.TenantID]scim.TenantConfig{"acme": {Tokens: []string{token}}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(in)
	t.Cleanup(ts.Close)
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+"/scim/v2/acme"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	user := func(name string) string {
		u := call("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`","active":true,"emails":[{"value":"`+name+`@example.com","primary":true}]}`, 201)
		return u["id"].(string)
	}
	alice, bob := user("alice"), user("bob")
	g := call("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"engineers","members":[{"value":"`+alice+`"}]}`, 201)
	bindToRug(t, e, "engineers")
	rcv, d := e2eTargets(t, e)
	waitState(t, d, "alice rug=alice ")

	call("PATCH", "/Groups/"+g["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+bob+`"}]}]}`, http.StatusNoContent)
	waitState(t, d, "alice bob rug=alice,bob ")
	waitFor(t, "bob's effective membership at the webhook", func() bool { return joinedRug(rcv, policy.UserID(bob)) })
}
