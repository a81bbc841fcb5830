package scim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func bulkBody(failOnErrors int, ops ...map[string]any) map[string]any {
	b := map[string]any{"schemas": []string{bulkRequestSchema}, "Operations": ops}
	if failOnErrors > 0 {
		b["failOnErrors"] = failOnErrors
	}
	return b
}

func postUser(bulkID, userName string) map[string]any {
	return map[string]any{"method": "POST", "path": "/Users", "bulkId": bulkID,
		"data": map[string]any{"schemas": []string{UserSchema}, "userName": userName}}
}

func postGroup(bulkID, name string, members ...string) map[string]any {
	ms := []any{}
	for _, m := range members {
		ms = append(ms, map[string]any{"value": m})
	}
	return map[string]any{"method": "POST", "path": "/Groups", "bulkId": bulkID,
		"data": map[string]any{"schemas": []string{GroupSchema}, "displayName": name, "members": ms}}
}

// opStatuses lists "bulkId-or-method:status[:scimType]" of a BulkResponse.
func opStatuses(r reply) string {
	var out []string
	ops, _ := r.body["Operations"].([]any)
	for _, o := range ops {
		m := o.(map[string]any)
		s := fmt.Sprint(m["method"])
		if b, ok := m["bulkId"]; ok {
			s = fmt.Sprint(b)
		}
		s += ":" + fmt.Sprint(m["status"])
		if t, ok := dig(m, "response/scimType"); ok {
			s += ":" + fmt.Sprint(t)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// groupMembers returns the member ids of acme's group named name.
func groupMembers(t *testing.T, e *env, name string) (users []policy.UserID, groups []policy.DirGroupID) {
	t.Helper()
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		gs, err := tx.DirGroupsByName("acme", name)
		if err != nil || len(gs) != 1 {
			return fmt.Errorf("group %s: %d, %v", name, len(gs), err)
		}
		users, groups = gs[0].MemberUsers, gs[0].MemberGroups
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return users, groups
}

func userID(t *testing.T, e *env, userName string) policy.UserID {
	t.Helper()
	var id policy.UserID
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		u, err := tx.UserByUserName("acme", userName)
		id = u.ID
		return err
	})
	if err != nil {
		t.Fatalf("user %s: %v", userName, err)
	}
	return id
}

// TestBulkReferences: bulkIds in paths and data, forward references
// reordered, the answer of each operation.
func TestBulkReferences(t *testing.T) {
	e := newEnv(t)
	r := e.acme(t, "POST", "/Bulk", bulkBody(0,
		// A forward reference: the group names a user posted after it.
		postGroup("g1", "Tour Guides", "bulkId:u1"),
		postUser("u1", "ann@example.com"),
		postUser("u2", "bob@example.com"),
		map[string]any{"method": "PATCH", "path": "/Groups/bulkId:g1", "data": map[string]any{"schemas": []string{patchOpSchema},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "bulkId:u2"}}}}}},
		postGroup("g2", "Staff", "bulkId:g1"),
		map[string]any{"method": "PUT", "path": "/Users/bulkId:u2", "data": map[string]any{"schemas": []string{UserSchema},
			"userName": "bob@example.com", "displayName": "Bob"}},
	))
	if r.status != http.StatusOK {
		t.Fatalf("bulk: %d %s", r.status, r.raw)
	}
	if s, _ := dig(r.body, "schemas/0"); s != bulkResponseSchema {
		t.Errorf("schemas %v", s)
	}
	if got, want := opStatuses(r), "u1:201 g1:201 u2:201 PATCH:204 g2:201 PUT:200"; got != want {
		t.Fatalf("operations %s, want %s\n%s", got, want, r.raw)
	}
	ann, bob := userID(t, e, "ann@example.com"), userID(t, e, "bob@example.com")
	if loc, _ := dig(r.body, "Operations/0/location"); loc != "https://roster.example.com/scim/v2/acme/Users/"+string(ann) {
		t.Errorf("location %v", loc)
	}
	if v, _ := dig(r.body, "Operations/0/version"); v != `W/"1"` && !strings.HasPrefix(fmt.Sprint(v), `W/"`) {
		t.Errorf("version %v", v)
	}
	if users, _ := groupMembers(t, e, "Tour Guides"); fmt.Sprint(users) != fmt.Sprint([]policy.UserID{ann, bob}) {
		t.Errorf("Tour Guides members %v, want %v", users, []policy.UserID{ann, bob})
	}
	if _, groups := groupMembers(t, e, "Staff"); len(groups) != 1 {
		t.Errorf("Staff member groups %v", groups)
	}
	if r := e.acme(t, "GET", "/Users/"+string(bob), nil); r.body["displayName"] != "Bob" {
		t.Errorf("PUT by bulkId: %s", r.raw)
	}
}

// TestBulkErrors: each operation changes all or nothing; failed ones are
// reported with status, scimType and the SCIM error; failOnErrors stops.
func TestBulkErrors(t *testing.T) {
	tests := []struct {
		name         string
		failOnErrors int
		ops          []map[string]any
		want         string   // opStatuses
		users        []string // userNames stored afterwards, besides alice
	}{
		{"a duplicate among good ones (fails inside the shared transaction)", 0,
			[]map[string]any{postUser("a", "ann@example.com"), postUser("b", "alice@example.com"), postUser("c", "cid@example.com")},
			"a:201 b:409:uniqueness c:201", []string{"ann@example.com", "cid@example.com"}},
		{"a bad body among good ones", 0,
			[]map[string]any{postUser("a", "ann@example.com"), {"method": "POST", "path": "/Users", "bulkId": "b",
				"data": map[string]any{"schemas": []string{UserSchema}, "userName": "bob@example.com", "active": "perhaps"}}, postUser("c", "cid@example.com")},
			"a:201 b:400:invalidValue c:201", []string{"ann@example.com", "cid@example.com"}},
		{"failOnErrors stops after the first error", 1,
			[]map[string]any{postUser("a", "ann@example.com"), postUser("b", "alice@example.com"), postUser("c", "cid@example.com")},
			"a:201 b:409:uniqueness", []string{"ann@example.com"}},
		{"failOnErrors 2 goes on after one", 2,
			[]map[string]any{postUser("b", "alice@example.com"), postUser("a", "ann@example.com"), postUser("x", "ALICE@example.com"), postUser("c", "cid@example.com")},
			"b:409:uniqueness a:201 x:409:uniqueness", []string{"ann@example.com"}},
		{"a reference to a failed POST", 0,
			[]map[string]any{postUser("b", "alice@example.com"), postGroup("g", "G", "bulkId:b")},
			"b:409:uniqueness g:409", nil},
		{"a reference to no bulkId", 0,
			[]map[string]any{postGroup("g", "G", "bulkId:nobody")}, "g:409", nil},
		{"references in a cycle", 0,
			[]map[string]any{postGroup("g1", "G1", "bulkId:g2"), postGroup("g2", "G2", "bulkId:g1"), postUser("a", "ann@example.com")},
			"g2:409 g1:409 a:201", []string{"ann@example.com"}},
		{"malformed operations", 0,
			[]map[string]any{{"method": "GET", "path": "/Users"}, {"method": "POST", "path": "/Users",
				"data": map[string]any{"schemas": []string{UserSchema}, "userName": "nob@example.com"}},
				{"method": "POST", "path": "/Schemas", "bulkId": "s", "data": map[string]any{}},
				{"method": "DELETE", "path": "/Users"}, postUser("a", "ann@example.com"), postUser("a", "amy@example.com")},
			"GET:400:invalidValue POST:400:invalidValue s:400:invalidValue DELETE:400:invalidValue a:201 a:400:invalidValue", []string{"ann@example.com"}},
		{"a stale version", 0,
			[]map[string]any{{"method": "DELETE", "path": "/Users/ALICE", "version": `W/"99"`}},
			"DELETE:412", nil},
		{"a nesting cycle", 0,
			[]map[string]any{postGroup("g", "G", "GROUP"), {"method": "PATCH", "path": "/Groups/GROUP", "data": map[string]any{"schemas": []string{patchOpSchema},
				"Operations": []any{map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": "bulkId:g"}}}}}}},
			"g:201 PATCH:400:invalidValue", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			alice, group := seed(t, e, acmeToken, "acme", "alice")
			ops := make([]map[string]any, len(tt.ops))
			for i, op := range tt.ops {
				op = copyMap(op)
				op["path"] = strings.NewReplacer("ALICE", alice, "GROUP", group).Replace(fmt.Sprint(op["path"]))
				if d, ok := op["data"].(map[string]any); ok {
					d = deepCopy(d).(map[string]any)
					if ms, ok := d["members"].([]any); ok {
						for _, m := range ms {
							if m.(map[string]any)["value"] == "GROUP" {
								m.(map[string]any)["value"] = group
							}
						}
					}
					op["data"] = d
				}
				ops[i] = op
			}
			groupsBefore := e.snapshotGroups(t, "acme", group)
			r := e.acme(t, "POST", "/Bulk", bulkBody(tt.failOnErrors, ops...))
			if r.status != http.StatusOK {
				t.Fatalf("bulk: %d %s", r.status, r.raw)
			}
			if got := opStatuses(r); got != tt.want {
				t.Errorf("operations %s, want %s\n%s", got, tt.want, r.raw)
			}
			ops2, _ := r.body["Operations"].([]any)
			for _, o := range ops2 {
				if resp, ok := o.(map[string]any)["response"]; ok {
					if s, _ := dig(resp, "schemas/0"); s != "urn:ietf:params:scim:api:messages:2.0:Error" {
						t.Errorf("operation error schema %v", s)
					}
				}
			}
			var names []string
			err := e.st.View(context.Background(), func(tx store.Tx) error {
				return tx.ForEachUser("acme", func(u policy.User) error {
					if u.UserName != "alice@example.com" {
						names = append(names, u.UserName)
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(names)
			if fmt.Sprint(names) != fmt.Sprint(tt.users) {
				t.Errorf("users stored %v, want %v", names, tt.users)
			}
			if strings.Contains(tt.want, "PATCH:400") && e.snapshotGroups(t, "acme", group) != groupsBefore {
				t.Error("the refused PATCH changed its group")
			}
		})
	}
}

// TestBulkRefused: a Bulk request refused as a whole changes nothing.
func TestBulkRefused(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.BulkMaxOperations = 2; c.BulkMaxBytes = 2048 })
	seed(t, e, acmeToken, "acme", "alice")
	r := e.acme(t, "GET", "/ServiceProviderConfig", nil)
	if n, _ := dig(r.body, "bulk/maxOperations"); n != float64(2) {
		t.Errorf("maxOperations %v", n)
	}
	if n, _ := dig(r.body, "bulk/maxPayloadSize"); n != float64(2048) {
		t.Errorf("maxPayloadSize %v", n)
	}
	big := postUser("a", "ann@example.com")
	big["data"].(map[string]any)["displayName"] = strings.Repeat("x", 3000)
	tests := []struct {
		name     string
		body     any
		status   int
		scimType string
	}{
		{"more than maxOperations", bulkBody(0, postUser("a", "a@example.com"), postUser("b", "b@example.com"), postUser("c", "c@example.com")), 413, ""},
		{"more than maxPayloadSize", bulkBody(0, big), 413, ""},
		{"without the BulkRequest schema", map[string]any{"Operations": []any{postUser("a", "a@example.com")}}, 400, "invalidSyntax"},
		{"Operations not an array", map[string]any{"schemas": []string{bulkRequestSchema}, "Operations": postUser("a", "a@example.com")}, 400, "invalidSyntax"},
		{"failOnErrors zero", map[string]any{"schemas": []string{bulkRequestSchema}, "failOnErrors": 0, "Operations": []any{postUser("a", "a@example.com")}}, 400, "invalidValue"},
		{"not JSON", "{", 400, "invalidSyntax"},
	}
	before := e.snapshot(t, "acme")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.acme(t, "POST", "/Bulk", tt.body)
			if r.status != tt.status || fmt.Sprint(r.body["status"]) != fmt.Sprint(tt.status) {
				t.Errorf("%d %s, want %d", r.status, r.raw, tt.status)
			}
			if st, _ := r.body["scimType"].(string); st != tt.scimType {
				t.Errorf("scimType %q, want %q", st, tt.scimType)
			}
			if s, _ := dig(r.body, "schemas/0"); s != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Errorf("error schema %v", s)
			}
			if e.snapshot(t, "acme") != before {
				t.Fatal("a refused Bulk request changed the store")
			}
		})
	}
}

func (e *env) snapshotGroups(t *testing.T, tenant policy.TenantID, id string) string {
	t.Helper()
	var out string
	err := e.st.View(context.Background(), func(tx store.Tx) error {
		g, err := tx.DirGroup(tenant, policy.DirGroupID(id))
		out = fmt.Sprint(g)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzBulk feeds Bulk requests to the parser, the orderer and the server:
// nothing panics; the order is a permutation of the operations in which
// each operation outside a cycle follows the POSTs it refers to; the
// server answers 200 with a BulkResponse or a SCIM error.
func FuzzBulk(f *testing.F) {
	f.Add(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}}]}`)
	f.Add(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"Operations":[{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"bulkId:u"}]}},{"method":"POST","path":"/Users","bulkId":"u","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u"}},{"method":"PATCH","path":"/Groups/bulkId:g","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:g"}]}]}}]}`)
	f.Add(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"DELETE","path":"/Users/bulkId:x"},{"method":"POST","path":"/Users","bulkId":"x","data":{"a":"bulkId:x"}},{"method":"POST","path":"/Users","bulkId":"y","data":{"a":"bulkId:x"}}]}`)
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		var m map[string]any
		if json.Unmarshal([]byte(body), &m) == nil {
			list, _ := getKey(m, "Operations").([]any)
			ops := parseBulkOps(list)
			order, cyclic := bulkOrder(ops)
			pos := make([]int, len(ops))
			seen := make([]bool, len(ops))
			for p, i := range order {
				if seen[i] {
					t.Fatalf("operation %d ordered twice", i)
				}
				seen[i], pos[i] = true, p
			}
			if len(order) != len(ops) {
				t.Fatalf("order has %d of %d operations", len(order), len(ops))
			}
			for i, op := range ops {
				if cyclic[i] {
					continue
				}
				for _, ref := range op.refs {
					for j, def := range ops {
						if def.err == nil && def.method == http.MethodPost && def.bulkID == ref && pos[j] > pos[i] {
							t.Fatalf("operation %d comes before the POST %d it refers to", i, j)
						}
					}
				}
			}
		}
		r := e.acme(t, "POST", "/Bulk", body)
		switch r.status {
		case http.StatusOK:
			if s, _ := dig(r.body, "schemas/0"); s != bulkResponseSchema {
				t.Fatalf("200 without the BulkResponse schema: %s", r.raw)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if s, _ := dig(r.body, "schemas/0"); s != "urn:ietf:params:scim:api:messages:2.0:Error" {
				t.Fatalf("%d without the Error schema: %s", r.status, r.raw)
			}
		default:
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
	})
}
