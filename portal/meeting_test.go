package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var editLinkRE = regexp.MustCompile(`href="(/portal/groups/lug-london/meetings/[^"]+)"[^>]*aria-label="Edit the meeting Portal edit test"`)

// TestPortalEditMeeting: alice, organizer of lug-london, edits a meeting's
// fields from its page; bad input is answered next to the field and
// changes nothing; bob, a member, may not open the edit page.
func TestPortalEditMeeting(t *testing.T) {
	d := startDemo(t)
	alice := d.signIn(t, "vendor", "alice")
	if code, body := alice.post("/portal/groups/lug-london/add-meeting", url.Values{"title": {"Portal edit test"}, "start": {"2031-03-11T18:30"}, "tz": {"Europe/London"}, "location": {"Old venue"}}, nil); code != http.StatusSeeOther {
		t.Fatalf("add meeting: %d\n%s", code, body)
	}
	_, body := alice.get("/portal/groups/lug-london")
	m := editLinkRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no Edit link for the new meeting on the group page")
	}
	edit := m[1]
	code, body := alice.get(edit)
	for _, want := range []string{`value="Portal edit test"`, `value="2031-03-11T18:30"`, `value="Europe/London"`, `value="Old venue"`} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("edit page (%d) lacks %s", code, want)
		}
	}
	before := d.auditSeq(t)
	for _, tc := range []struct {
		form      url.Values
		field, in string
	}{
		{url.Values{"title": {""}, "start": {"2031-03-11T18:30"}, "tz": {"Europe/London"}}, "edit-meeting-title-error", "Title is required"},
		{url.Values{"title": {"x"}, "start": {"2031-03-11T18:30"}, "end": {"2031-03-11T17:00"}, "tz": {"Europe/London"}}, "edit-meeting-end-error", "before the start"},
		{url.Values{"title": {"x"}, "start": {"2031-03-11T18:30"}, "tz": {"Europe/London"}, "repeat": {"custom"}, "rrule": {"FREQ=SOMETIMES"}}, "edit-meeting-rrule-error", ""},
	} {
		code, body := alice.post(edit, tc.form, nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="`+tc.field+`"`) || !strings.Contains(body, tc.in) {
			t.Errorf("POST %v: %d, want 422 with %q at %s", tc.form, code, tc.in, tc.field)
		}
	}
	if after := d.auditSeq(t); after != before {
		t.Errorf("bad input moved the audit sequence from %d to %d", before, after)
	}
	code, _ = alice.post(edit, url.Values{"title": {"Portal edit test"}, "start": {"2031-03-11T19:00"}, "end": {"2031-03-11T21:00"}, "tz": {"Europe/London"},
		"location": {"New venue"}, "capacity": {"40"}, "repeat": {"monthly-weekday"}, "count": {"3"}}, nil)
	if code != http.StatusSeeOther {
		t.Fatalf("save: %d", code)
	}
	var ml struct {
		Items []struct {
			Title, Location, RRule string
			Start                  string
			Capacity, Sequence     int
		} `json:"items"`
	}
	d.adminGet(t, "/groups/lug-london/meetings", &ml)
	found := false
	for _, it := range ml.Items {
		if it.Title != "Portal edit test" {
			continue
		}
		found = true
		if it.Location != "New venue" || it.Capacity != 40 || it.RRule != "FREQ=MONTHLY;COUNT=3;BYDAY=2TU" && it.RRule != "FREQ=MONTHLY;BYDAY=2TU;COUNT=3" || !strings.HasPrefix(it.Start, "2031-03-11T19:00:00Z") || it.Sequence < 1 {
			t.Errorf("after the edit: %+v", it)
		}
	}
	if !found {
		t.Error("the meeting is gone")
	}
	bob := d.signIn(t, "acme", "bob@acme.example")
	if code, _ := bob.get(edit); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Errorf("bob opens the edit page: %d, want 403 or 404", code)
	}
}
