package admin

import (
	"net/http"
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
