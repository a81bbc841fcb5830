package portal_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	demoworld "github.com/roster-dev/roster/demo"
)

// TestPortalTalkFormsRefuseBadInput: every form of the talks and feedback
// pages answers bad input with 422 and the message next to the field (the
// portal's own checks and the admin API's, which names the field), and
// changes nothing; a member of another company is refused the organizers'
// forms, and a proposal under review is not his to decide.
func TestPortalTalkFormsRefuseBadInput(t *testing.T) {
	d := startDemo(t)
	alice := d.signIn(t, "vendor", "alice")
	bob := d.signIn(t, "acme", "bob@acme.example")
	next := "/portal/groups/lug-london/meetings/" + demoworld.MeetingLondonNext
	past := "/portal/groups/lug-london/meetings/" + demoworld.MeetingLondonPast
	var talks struct {
		Items []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"items"`
	}
	d.adminGet(t, "/groups/lug-london/meetings/"+demoworld.MeetingLondonNext+"/talks", &talks)
	if len(talks.Items) != 1 || talks.Items[0].Status != "proposed" {
		t.Fatalf("the demo's proposals: %+v", talks.Items)
	}
	proposal := talks.Items[0].ID

	before := d.auditSeq(t)
	for _, tc := range []struct {
		who           *browser
		path, id, msg string
		form          url.Values
	}{
		{alice, next + "/talks/program", "program-feedbackDays-error", "The feedback form stays open 1 to 90 days", url.Values{"callOpen": {"on"}, "feedbackDays": {"1000"}}},
		{alice, next + "/talks/program", "program-deadline-error", "A deadline is a date and time", url.Values{"callOpen": {"on"}, "deadline": {"soon"}}},
		{alice, next + "/talks/program", "program-formats-error", "name: minutes", url.Values{"formats": {"lightning five"}}},
		{alice, next + "/talks/program", "program-formats-error", "A format lasts 1 to 480 minutes", url.Values{"formats": {"keynote: 0"}}},
		{alice, next + "/talks/comment", "comment-" + proposal + "-text-error", "Comment is required.", url.Values{"talk": {proposal}, "text": {" "}}},
		{bob, next + "/talks/topic", "topic-title-error", "Topic is required.", url.Values{"title": {""}}},
		{bob, next + "/talks/propose", "propose-format-error", "Choose one of the formats: lightning, talk", url.Values{"title": {"x"}, "abstract": {"y"}, "format": {"keynote"}}},
		{bob, next + "/talks/propose", "propose-abstract-error", "Abstract is required.", url.Values{"title": {"x"}, "format": {"talk"}}},
		{bob, past + "/feedback/rate", "rate-overall-error", "Choose from 1 to 5 stars.", url.Values{"overall": {"9"}}},
	} {
		code, body := tc.who.post(tc.path, tc.form, nil)
		i := strings.Index(body, `id="`+tc.id+`"`)
		if code != http.StatusUnprocessableEntity || i < 0 || !strings.Contains(body[i:min(len(body), i+300)], tc.msg) {
			t.Errorf("POST %s %v: %d, want 422 with %q at %s", tc.path, tc.form, code, tc.msg, tc.id)
		}
		if !strings.Contains(body, "Nothing was changed") {
			t.Errorf("POST %s %v: no alert that nothing changed", tc.path, tc.form)
		}
	}
	// Another company's member: the organizers' forms are refused, and
	// a proposal under review is not even his to see.
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{next + "/talks/program", url.Values{"callOpen": {"on"}}},
		{next + "/talks/accept", url.Values{"talk": {proposal}}},
		{next + "/talks/comment", url.Values{"talk": {proposal}, "text": {"mine"}}},
		{next + "/talks/pick", url.Values{"topic": {"x"}}},
		{past + "/feedback/checkin", url.Values{"user": {"x"}}},
	} {
		if code, body := bob.post(tc.path, tc.form, nil); code != http.StatusForbidden || !strings.Contains(body, "Refused") {
			t.Errorf("bob POST %s: %d, want 403 Refused", tc.path, code)
		}
	}
	if code, body := bob.get(past + "/feedback"); code != http.StatusOK || strings.Contains(body, "Check-in list") || strings.Contains(body, "Great venue") {
		t.Errorf("bob's feedback page (%d) shows the organizers' view", code)
	}
	// Nothing the people did is in the audit trail (the demo's own
	// background jobs may write meanwhile, under their own names).
	var l struct {
		Items []struct {
			Actor string `json:"actor"`
			ID    string `json:"id"`
		} `json:"items"`
	}
	d.adminGet(t, "/audit?limit=1000&after="+strconv.FormatUint(before, 10), &l)
	for _, e := range l.Items {
		if strings.HasPrefix(e.Actor, "user:") {
			t.Errorf("a refused form changed something: %s by %s", e.ID, e.Actor)
		}
	}
}
