package admin

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/roster-dev/roster/store"
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

// TestAnnouncementToParentOrganizers: a LUG organizer writes up to the
// organizers of their RUG (not to its other members); a group without a
// parent, or an unknown audience, is refused; the audit entry carries
// what an outbound announcement.created event needs.
func TestAnnouncementToParentOrganizers(t *testing.T) {
	f := newFixture(t)
	if code, m := f.call(t, adminToken, "PUT", "/api/v1/roles/organizer", `{"permissions":["group.read","members.manage","meetings.edit","announcements.send"]}`); code != http.StatusOK {
		t.Fatalf("put role: %d %v", code, m)
	}
	for _, body := range []string{
		`{"user":"` + f.ids["carol"] + `","role":"organizer"}`, // a RUG organizer
		`{"user":"` + f.ids["bob"] + `","role":"member"}`,      // a RUG member
	} {
		if code, m := f.call(t, adminToken, "POST", "/api/v1/groups/rug-europe/memberships", body); code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("membership %s: %d %v", body, code, m)
		}
	}
	code, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/announcements", `{"subject":"Speakers wanted","body":"Who can talk in May?","to":"parentOrganizers"}`)
	if gs, _ := m["groups"].([]any); code != http.StatusAccepted || m["recipients"] != float64(1) || len(gs) != 1 || gs[0] != f.ids["rug"] {
		t.Fatalf("to the RUG's organizers: %d %v", code, m)
	}
	var detail map[string]any
	err := f.st.View(context.Background(), func(tx store.Tx) error {
		cs, err := tx.Audit(f.lastSeq(t)-1, 1)
		if err == nil && len(cs) == 1 {
			err = json.Unmarshal(cs[0].After, &detail)
		}
		return err
	})
	if err != nil || detail["to"] != "parentOrganizers" || detail["body"] != "Who can talk in May?" || detail["groupSlug"] != "lug-london" {
		t.Errorf("audit detail %v, %v", detail, err)
	}
	for _, tt := range []struct{ token, path, body string }{
		{adminToken, "/api/v1/groups/isug/announcements", `{"subject":"x","body":"y","to":"parentOrganizers"}`},
		{"alice-token", "/api/v1/groups/lug-london/announcements", `{"subject":"x","body":"y","to":"everyone"}`},
	} {
		if code, m := f.call(t, tt.token, "POST", tt.path, tt.body); code != http.StatusBadRequest {
			t.Errorf("%s %s: %d %v", tt.path, tt.body, code, m)
		}
	}
}

// TestAnnouncementFeed: a public group's announcements are an Atom feed
// anyone may read, newest first, the Markdown rendered and sanitised; a
// group that is not public answers 404 without a token and the feed with
// one that may read it; an announcement to the parent's organizers is
// not in it.
func TestAnnouncementFeed(t *testing.T) {
	f := newFixture(t)
	if code, m := f.call(t, adminToken, "PUT", "/api/v1/roles/organizer", `{"permissions":["group.read","members.manage","meetings.edit","announcements.send"]}`); code != http.StatusOK {
		t.Fatalf("put role: %d %v", code, m)
	}
	for _, body := range []string{
		`{"subject":"Pizza night","body":"**Thursday** at 7.<script>alert(1)</script>"}`,
		`{"subject":"Summer break","body":"No meeting in August."}`,
		`{"subject":"For the RUG","body":"Internal.","to":"parentOrganizers"}`,
	} {
		if code, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/announcements", body); code != http.StatusAccepted {
			t.Fatalf("announce %s: %d %v", body, code, m)
		}
	}
	get := func(token string) (int, string, []byte) {
		st, h, b := f.send(t, token, "GET", "/api/v1/groups/lug-london/announcements.atom", "")
		return st, h.Get("Content-Type"), b
	}
	if code, _, _ := get(""); code != http.StatusNotFound {
		t.Errorf("a group that is not public: %d without a token", code)
	}
	if code, _, _ := get("alice-token"); code != http.StatusOK {
		t.Errorf("alice reads her group's feed: %d", code)
	}
	if code, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"public":true}`); code != http.StatusOK {
		t.Fatalf("make public: %d %v", code, m)
	}
	code, ctype, raw := get("")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "application/atom+xml") {
		t.Fatalf("public feed: %d %s %s", code, ctype, raw)
	}
	var feed struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		Entries []struct {
			ID      string `xml:"id"`
			Title   string `xml:"title"`
			Content struct {
				Type string `xml:"type,attr"`
				Body string `xml:",chardata"`
			} `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(raw, &feed); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if len(feed.Entries) != 2 || feed.Entries[0].Title != "Summer break" || feed.Entries[1].Title != "Pizza night" {
		t.Fatalf("entries %+v", feed.Entries)
	}
	c := feed.Entries[1].Content
	if c.Type != "html" || !strings.Contains(c.Body, "<strong>Thursday</strong>") || strings.Contains(c.Body, "script") {
		t.Errorf("content %+v", c)
	}
}

// TestMailPrefs: a member reads and sets what they get from each of their
// groups and may stop all mail; an unknown mode is refused and changes
// nothing; an admin token (no person) is refused.
func TestMailPrefs(t *testing.T) {
	f := newFixture(t)
	code, m := f.call(t, "alice-token", "GET", "/api/v1/me/mail", "")
	gs, _ := m["groups"].([]any)
	if code != http.StatusOK || m["none"] != false || len(gs) != 1 || gs[0].(map[string]any)["slug"] != "lug-london" || gs[0].(map[string]any)["mode"] != "all" {
		t.Fatalf("GET: %d %v", code, m)
	}
	code, m = f.call(t, "alice-token", "PUT", "/api/v1/me/mail", `{"none":false,"groups":{"`+f.ids["lug"]+`":"digest"}}`)
	if gs, _ := m["groups"].([]any); code != http.StatusOK || len(gs) != 1 || gs[0].(map[string]any)["mode"] != "digest" {
		t.Fatalf("PUT digest: %d %v", code, m)
	}
	if code, m := f.call(t, "alice-token", "PUT", "/api/v1/me/mail", `{"none":true,"groups":{"`+f.ids["lug"]+`":"sometimes"}}`); code != http.StatusBadRequest {
		t.Errorf("unknown mode: %d %v", code, m)
	}
	code, m = f.call(t, "alice-token", "GET", "/api/v1/me/mail", "")
	if gs, _ := m["groups"].([]any); code != http.StatusOK || m["none"] != false || gs[0].(map[string]any)["mode"] != "digest" {
		t.Errorf("after the refused PUT: %d %v", code, m)
	}
	if code, _ := f.call(t, adminToken, "GET", "/api/v1/me/mail", ""); code < 400 {
		t.Errorf("admin token: %d", code)
	}
}
