package scim

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// TestPatchMembersDelta runs members-only PATCHes (the delta path) next to
// the same PATCHes forced through the general path (an If-Match: * makes
// the handler take it) on twin groups, and checks both answer the same
// and leave the same members, including refusals.
func TestPatchMembersDelta(t *testing.T) {
	e := newEnv(t)
	var users []string
	for i := range 4 {
		r := e.acme(t, "POST", "/Users", map[string]any{"schemas": []any{UserSchema}, "userName": fmt.Sprintf("m%d@acme.example", i)})
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		users = append(users, r.body["id"].(string))
	}
	member := func(ids ...string) []any {
		out := make([]any, len(ids))
		for i, id := range ids {
			out[i] = map[string]any{"value": id}
		}
		return out
	}
	group := func(name string, ids ...string) string {
		r := e.acme(t, "POST", "/Groups", map[string]any{"schemas": []any{GroupSchema}, "displayName": name, "members": member(ids...)})
		if r.status != http.StatusCreated {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		return r.body["id"].(string)
	}
	members := func(id string) []string {
		r := e.acme(t, "GET", "/Groups/"+id, nil)
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		var out []string
		list, _ := r.body["members"].([]any)
		for _, m := range list {
			out = append(out, m.(map[string]any)["value"].(string))
		}
		return out
	}
	delta, general := group("delta", users[0]), group("general", users[0])
	nested := group("nested")
	twin := map[string]string{delta: general}

	steps := []struct {
		name   string
		ops    func(self string) []map[string]any
		status int
		want   func(self string) []string
	}{
		{"add two, one repeated", func(string) []map[string]any {
			return []map[string]any{{"op": "Add", "path": "members", "value": member(users[2], users[1], users[2])}}
		}, http.StatusNoContent, func(string) []string { return []string{users[0], users[2], users[1]} }},
		{"remove by filter", func(string) []map[string]any {
			return []map[string]any{{"op": "Remove", "path": fmt.Sprintf(`members[value eq "%s"]`, users[0])}}
		}, http.StatusNoContent, func(string) []string { return []string{users[2], users[1]} }},
		{"remove a non-member, add then remove, remove then add", func(string) []map[string]any {
			return []map[string]any{
				{"op": "remove", "path": "members", "value": member(users[0])},
				{"op": "add", "path": "members", "value": member(users[3])},
				{"op": "remove", "path": "members", "value": member(users[3], users[2])},
				{"op": "add", "path": "members", "value": member(users[2])},
			}
		}, http.StatusNoContent, func(string) []string { return []string{users[1], users[2]} }},
		{"add an existing member", func(string) []map[string]any {
			return []map[string]any{{"op": "add", "path": "members", "value": member(users[1])}}
		}, http.StatusNoContent, func(string) []string { return []string{users[1], users[2]} }},
		{"add an unknown member", func(string) []map[string]any {
			return []map[string]any{{"op": "add", "path": "members", "value": member(users[3], "no-such-id")}}
		}, http.StatusBadRequest, func(string) []string { return []string{users[1], users[2]} }},
		{"add itself", func(self string) []map[string]any {
			return []map[string]any{{"op": "add", "path": "members", "value": member(self)}}
		}, http.StatusBadRequest, func(string) []string { return []string{users[1], users[2]} }},
		{"add a nested group", func(string) []map[string]any {
			return []map[string]any{{"op": "add", "path": "members", "value": member(nested)}}
		}, http.StatusNoContent, func(string) []string { return []string{users[1], users[2], nested} }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for _, id := range []string{delta, general} {
				var hdr []string
				if id == general {
					hdr = []string{"If-Match", "*"}
				}
				r := e.acme(t, "PATCH", "/Groups/"+id, patchBody(st.ops(id)...), hdr...)
				if r.status != st.status {
					t.Errorf("group %s: status %d, want %d: %s", id, r.status, st.status, r.raw)
				}
				if r.status == http.StatusBadRequest && r.body["scimType"] != "invalidValue" {
					t.Errorf("group %s: scimType %v, want invalidValue", id, r.body["scimType"])
				}
				got := members(id)
				// Users first, then groups: the order a group's members are shown in.
				if want := st.want(id); !slices.Equal(got, want) {
					t.Errorf("group %s: members %v, want %v", id, got, want)
				}
			}
		})
	}
	_ = twin

	// A nested group that would make a cycle is refused on the delta path.
	r := e.acme(t, "PATCH", "/Groups/"+nested, patchBody(map[string]any{"op": "add", "path": "members", "value": member(delta)}))
	if r.status != http.StatusBadRequest || r.body["scimType"] != "invalidValue" {
		t.Errorf("cycle: %d %s, want 400 invalidValue", r.status, r.raw)
	}
	if got := members(nested); len(got) != 0 {
		t.Errorf("refused cycle left members %v", got)
	}
	// An unknown group is 404.
	if r := e.acme(t, "PATCH", "/Groups/no-such-group", patchBody(map[string]any{"op": "add", "path": "members", "value": member(users[0])})); r.status != http.StatusNotFound {
		t.Errorf("unknown group: %d %s", r.status, r.raw)
	}
}
