package admin

import (
	"net/http"
	"strings"
	"testing"
)

// TestAnnouncements: an organizer with announcements.send writes to their
// group; reaching the groups below needs groups.manage there; others are
// refused; each announcement is archived and audited.
func TestAnnouncements(t *testing.T) {
	f := newFixture(t)
	if code, m := f.call(t, adminToken, "PUT", "/api/v1/roles/organizer", `{"permissions":["group.read","members.manage","meetings.edit","announcements.send"]}`); code != http.StatusOK {
		t.Fatalf("put role: %d %v", code, m)
	}
	before := f.lastSeq(t)
	code, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/announcements", `{"subject":"Pizza night","body":"Thursday at 7."}`)
	if code != http.StatusAccepted || m["recipients"] != float64(1) || m["subject"] != "Pizza night" {
		t.Fatalf("alice announces: %d %v", code, m)
	}
	if f.lastSeq(t) == before {
		t.Error("the announcement was not audited")
	}
	tests := []struct {
		name, token, path, body string
		want                    int
	}{
		{"no permission", "bob-token", "/api/v1/groups/lug-london/announcements", `{"subject":"x","body":"y"}`, http.StatusNotFound},
		{"subgroups without groups.manage", "alice-token", "/api/v1/groups/lug-london/announcements", `{"subject":"x","body":"y","subgroups":true}`, http.StatusForbidden},
		{"other group", "alice-token", "/api/v1/groups/lug-paris/announcements", `{"subject":"x","body":"y"}`, http.StatusNotFound},
		{"no subject", "alice-token", "/api/v1/groups/lug-london/announcements", `{"subject":"","body":"y"}`, http.StatusBadRequest},
		{"two-line subject", "alice-token", "/api/v1/groups/lug-london/announcements", `{"subject":"a\nb","body":"y"}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq := f.lastSeq(t)
			if code, m := f.call(t, tt.token, "POST", tt.path, tt.body); code != tt.want {
				t.Errorf("%d %v, want %d", code, m, tt.want)
			}
			if f.lastSeq(t) != seq {
				t.Error("a refused announcement wrote to the audit log")
			}
		})
	}
	code, m = f.call(t, adminToken, "POST", "/api/v1/groups/isug/announcements", `{"subject":"Conference","body":"Save the date.","subgroups":true}`)
	if gs, _ := m["groups"].([]any); code != http.StatusAccepted || len(gs) != 4 {
		t.Fatalf("ISUG to every group below: %d %v", code, m)
	}
	id, _ := m["id"].(string)
	if code, m := f.call(t, adminToken, "GET", "/api/v1/announcements/"+id, ""); code != http.StatusOK || m["counts"] == nil {
		t.Errorf("status: %d %v", code, m)
	}
	if code, _ := f.call(t, "alice-token", "GET", "/api/v1/announcements/"+id, ""); code != http.StatusNotFound {
		t.Errorf("alice reads the ISUG's announcement status: %d", code)
	}
	code, m = f.call(t, "alice-token", "GET", "/api/v1/groups/lug-london/announcements", "")
	if items, _ := m["items"].([]any); code != http.StatusOK || len(items) != 1 {
		t.Errorf("archive: %d %v", code, m)
	}
}

// TestPublicGroups: without a token, only open and on-request groups are
// listed, searchable, with their next meetings and nothing about people.
func TestPublicGroups(t *testing.T) {
	f := newFixture(t)
	if code, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"join":"open","description":"Londoners who like Roster"}`); code != http.StatusOK {
		t.Fatalf("patch: %d %v", code, m)
	}
	if code, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-london/meetings", `{"title":"Meetup","start":"2099-03-11T18:30","timeZone":"Europe/London","location":"The Pub"}`); code != http.StatusCreated {
		t.Fatalf("meeting: %d %v", code, m)
	}
	code, m := f.call(t, "", "GET", "/api/v1/public/groups?q=london", "")
	items, _ := m["items"].([]any)
	if code != http.StatusOK || len(items) != 1 {
		t.Fatalf("search: %d %v", code, m)
	}
	g := items[0].(map[string]any)
	next, _ := g["next"].([]any)
	if g["slug"] != "lug-london" || g["parent"] != "Europe" || len(next) != 1 {
		t.Errorf("group %v", g)
	}
	for _, k := range []string{"members", "memberships", "meetings", "id"} {
		if _, ok := g[k]; ok {
			t.Errorf("public view has %q", k)
		}
	}
	if code, m := f.call(t, "", "GET", "/api/v1/public/groups?q=paris", ""); code != http.StatusOK || len(m["items"].([]any)) != 0 {
		t.Errorf("a closed group is listed: %v", m)
	}
	if code, _ := f.call(t, "", "GET", "/api/v1/public/groups/lug-paris", ""); code != http.StatusNotFound {
		t.Errorf("closed group page: %d", code)
	}
	if code, m := f.call(t, "", "GET", "/api/v1/public/groups/lug-london", ""); code != http.StatusOK || !strings.Contains(m["description"].(string), "Londoners") {
		t.Errorf("group page: %d %v", code, m)
	}
}
