package admin

import (
	"encoding/xml"
	"net/http"
	"testing"
)

// TestAnnouncementFeedNamesOnlyConsentingAuthors: the anonymous Atom feed
// of a public group names an announcement's author only once they agreed
// to be shown publicly (policy.Profile.Public), as the public pages do;
// otherwise the entry's author is the group. A reader with a token sees
// the author's name.
func TestAnnouncementFeedNamesOnlyConsentingAuthors(t *testing.T) {
	f := newFixture(t)
	f.setDisplayName(t, "vendor", f.ids["alice"], "Alice Andersen")
	if code, m := f.call(t, adminToken, "PUT", "/api/v1/roles/organizer", `{"permissions":["group.read","members.manage","meetings.edit","announcements.send"]}`); code != http.StatusOK {
		t.Fatalf("put role: %d %v", code, m)
	}
	if code, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"public":true}`); code != http.StatusOK {
		t.Fatalf("make public: %d %v", code, m)
	}
	if code, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/announcements", `{"subject":"Pizza night","body":"Thursday at 7."}`); code != http.StatusAccepted {
		t.Fatalf("announce: %d %v", code, m)
	}
	authors := func(token string) []string {
		t.Helper()
		st, _, b := f.send(t, token, "GET", "/api/v1/groups/lug-london/announcements.atom", "")
		if st != http.StatusOK {
			t.Fatalf("feed: %d %s", st, b)
		}
		var feed struct {
			Entries []struct {
				Author string `xml:"author>name"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal(b, &feed); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		var out []string
		for _, e := range feed.Entries {
			out = append(out, e.Author)
		}
		return out
	}
	if got := authors(""); len(got) != 1 || got[0] != "London" {
		t.Errorf("anonymous feed, alice has not agreed: authors %q, want the group's name", got)
	}
	if got := authors("alice-token"); len(got) != 1 || got[0] != "Alice Andersen" {
		t.Errorf("a member's feed: authors %q", got)
	}
	if code, m := f.call(t, "alice-token", "PUT", "/api/v1/me/profile", `{"share":["name"],"public":true}`); code != http.StatusOK {
		t.Fatalf("alice agrees: %d %v", code, m)
	}
	if got := authors(""); len(got) != 1 || got[0] != "Alice Andersen" {
		t.Errorf("anonymous feed, alice agreed: authors %q", got)
	}
}
