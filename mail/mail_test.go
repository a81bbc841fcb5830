package mail

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// TestAnnouncementReachesCurrentMembers: an announcement reaches exactly
// the group's effective members when it is sent: carol, deactivated a
// moment before, and dave, no member, get nothing; erin, deactivated
// after the job was expanded but before delivery, gets nothing either.
func TestAnnouncementReachesCurrentMembers(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	s := w.service(mp.smtpPort, nil)
	process(t, s) // the first pass notes the audit cursor and the digest week

	w.setActive("carol", "acme", false)
	j := w.announce("lug", "Pizza night")
	process(t, s)
	if got, want := mp.recipients(), []string{"alice@vendor.example", "bob@vendor.example"}; !slices.Equal(got, want) {
		t.Fatalf("recipients %v, want %v", got, want)
	}
	msg := mp.messages()[0]
	if msg.Subject != "Pizza night" || !strings.Contains(msg.Parts["text/plain"], "See you soon.") || !strings.Contains(msg.Parts["text/html"], "<p style") {
		t.Errorf("message: subject %q, parts %q", msg.Subject, msg.Parts)
	}
	for _, h := range []string{"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Message-Id"} {
		if msg.Header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if got := msg.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", got)
	}
	var st Status
	_ = w.st.View(context.Background(), func(tx store.Tx) (err error) { st, err = JobStatus(tx, j.ID); return })
	if st.Counts[StateSent] != 2 || st.Job.Recipients != 2 {
		t.Errorf("status %+v", st)
	}

	// To the ISUG and every group below it; erin leaves between the
	// expansion and the delivery.
	mp.clear()
	w.announce("isug", "Annual conference", "isug", "rug", "lug")
	if err := s.expand(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.setActive("erin", "vendor", false)
	process(t, s)
	if got, want := mp.recipients(), []string{"alice@vendor.example", "bob@vendor.example", "frank@acme.example"}; !slices.Equal(got, want) {
		t.Fatalf("recipients %v, want %v", got, want)
	}
}

// TestMeetingNoticeCarriesICS: creating, moving and cancelling a meeting
// each mail the group's members an invitation a real iCalendar parser
// reads, with the meeting's UID and a growing SEQUENCE.
func TestMeetingNoticeCarriesICS(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	w.setActive("carol", "acme", false)
	s := w.service(mp.smtpPort, nil)
	process(t, s)

	start := time.Date(2031, 3, 11, 18, 30, 0, 0, time.UTC)
	m := policy.Meeting{ID: "5f1c0e6a-0000-4000-8000-000000000001", Title: "March meetup", Start: start, End: start.Add(2 * time.Hour),
		TimeZone: "Europe/London", Location: "The Pub", Address: "1 High St, London"}
	w.updateGroup("lug", func(g *policy.Group) { g.Meetings = append(g.Meetings, m) })
	process(t, s)
	first := checkInvite(t, mp, "REQUEST", m.ID, 0, []string{"alice@vendor.example", "bob@vendor.example"})
	if !first.Equal(start) {
		t.Errorf("DTSTART %v, want %v", first, start)
	}

	mp.clear()
	moved := start.Add(24 * time.Hour)
	w.updateGroup("lug", func(g *policy.Group) {
		g.Meetings[0].Start, g.Meetings[0].End = moved, moved.Add(2*time.Hour)
		g.Meetings[0].Sequence++
	})
	process(t, s)
	if got := checkInvite(t, mp, "REQUEST", m.ID, 1, []string{"alice@vendor.example", "bob@vendor.example"}); !got.Equal(moved) {
		t.Errorf("moved DTSTART %v, want %v", got, moved)
	}
	if subj := mp.messages()[0].Subject; subj != "Changed: March meetup" {
		t.Errorf("subject %q", subj)
	}

	mp.clear()
	w.updateGroup("lug", func(g *policy.Group) { g.Meetings[0].Cancelled = true; g.Meetings[0].Sequence++ })
	process(t, s)
	checkInvite(t, mp, "CANCEL", m.ID, 2, []string{"alice@vendor.example", "bob@vendor.example"})

	// A change nobody needs to hear of (capacity) sends nothing.
	mp.clear()
	w.updateGroup("lug", func(g *policy.Group) { g.Meetings[0].Capacity = 40 })
	process(t, s)
	if got := mp.recipients(); len(got) != 0 {
		t.Errorf("capacity change mailed %v", got)
	}
}

// checkInvite parses each message's text/calendar part with go-ical and
// checks METHOD, UID and SEQUENCE; it returns the DTSTART.
func checkInvite(t *testing.T, mp *mailpit, method, uid string, seq int, to []string) time.Time {
	t.Helper()
	msgs := mp.messages()
	var got []string
	var start time.Time
	for _, m := range msgs {
		got = append(got, m.To)
		body, ok := m.Parts["text/calendar"]
		if !ok {
			t.Fatalf("message to %s has no text/calendar part: %v", m.To, m.Parts)
		}
		if m.ParamsOf["text/calendar"]["method"] != method {
			t.Errorf("content type method %q, want %s", m.ParamsOf["text/calendar"]["method"], method)
		}
		cal, err := ical.NewDecoder(strings.NewReader(body)).Decode()
		if err != nil {
			t.Fatalf("go-ical: %v\n%s", err, body)
		}
		if p := cal.Props.Get(ical.PropMethod); p == nil || p.Value != method {
			t.Errorf("METHOD %v, want %s", p, method)
		}
		evs := cal.Events()
		if len(evs) != 1 {
			t.Fatalf("%d events", len(evs))
		}
		ev := evs[0]
		if p := ev.Props.Get(ical.PropUID); p == nil || p.Value != uid+"@roster" {
			t.Errorf("UID %v, want %s@roster", p, uid)
		}
		if p := ev.Props.Get(ical.PropSequence); p == nil || p.Value != strconv.Itoa(seq) {
			t.Errorf("SEQUENCE %v, want %d", p, seq)
		}
		s, err := ev.DateTimeStart(time.UTC)
		if err != nil {
			t.Fatalf("DTSTART: %v", err)
		}
		start = s
	}
	if !slices.Equal(got, to) {
		t.Fatalf("notice recipients %v, want %v", got, to)
	}
	return start
}

// TestUnsubscribeOneClick: the one-click POST of RFC 8058 to the
// List-Unsubscribe URL stops the group's mail to that member; a GET of
// the same URL changes nothing; a forged token is refused.
func TestUnsubscribeOneClick(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	s := w.service(mp.smtpPort, nil)
	process(t, s)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	w.announce("lug", "First")
	process(t, s)
	var link string
	for _, m := range mp.messages() {
		if m.To == "bob@vendor.example" {
			link = strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
			if !strings.Contains(m.Parts["text/plain"], "/mail/preferences?t=") {
				t.Errorf("no preferences link in %q", m.Parts["text/plain"])
			}
		}
	}
	u, err := url.Parse(link)
	if err != nil || u.Path != "/mail/unsubscribe" {
		t.Fatalf("List-Unsubscribe %q", link)
	}
	local := srv.URL + u.RequestURI()

	// status is the status of an answer whose body is not read.
	status := func(resp *http.Response, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	oneClick := func(u string) int {
		t.Helper()
		return status(http.Post(u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click")))
	}
	if st := status(http.Get(local)); st != http.StatusOK { // a link scanner
		t.Fatalf("GET %d", st)
	}
	forged := srv.URL + "/mail/unsubscribe?t=" + strings.Replace(u.Query().Get("t"), ".", ".x", 1)
	if st := oneClick(forged); st != http.StatusBadRequest {
		t.Errorf("forged token: %d", st)
	}

	mp.clear()
	w.announce("lug", "Second (after a GET)")
	process(t, s)
	if got := mp.recipients(); !slices.Contains(got, "bob@vendor.example") {
		t.Fatalf("a GET unsubscribed bob: %v", got)
	}

	if st := oneClick(local); st != http.StatusOK {
		t.Fatalf("one-click POST %d", st)
	}
	mp.clear()
	w.announce("lug", "Third")
	process(t, s)
	if got, want := mp.recipients(), []string{"alice@vendor.example", "carol@acme.example"}; !slices.Equal(got, want) {
		t.Fatalf("after unsubscribe: %v, want %v", got, want)
	}
	// The preferences page shows the choice and can undo it.
	status(http.PostForm(srv.URL+"/mail/preferences?"+u.RawQuery, url.Values{"mode": {"all"}}))
	mp.clear()
	w.announce("lug", "Fourth")
	process(t, s)
	if got := mp.recipients(); !slices.Contains(got, "bob@vendor.example") {
		t.Fatalf("resubscribed bob got nothing: %v", got)
	}
}

// TestRetryWithoutDuplicates: an SMTP server that refuses every other
// connection (421) makes some deliveries wait; they are retried after
// the backoff, and when everything has gone through each member has
// exactly one copy, however many passes follow.
func TestRetryWithoutDuplicates(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	down := true
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	fl := startFlaky(t, mp.smtpPort, func(n int64) bool {
		<-mu
		defer func() { mu <- struct{}{} }()
		return down || n%2 == 1
	})
	s := w.service(fl.port, nil)
	process(t, s)
	j := w.announce("isug", "Retry me", "isug", "rug", "lug")
	process(t, s) // everything fails: the server is down
	if got := mp.recipients(); len(got) != 0 {
		t.Fatalf("delivered while down: %v", got)
	}
	<-mu
	down = false
	mu <- struct{}{}
	process(t, s) // nothing is due before the backoff
	if got := mp.recipients(); len(got) != 0 {
		t.Fatalf("retried before the backoff: %v", got)
	}
	for i := 0; i < 8; i++ {
		w.clock.Advance(10 * time.Minute)
		process(t, s)
	}
	want := []string{"alice@vendor.example", "bob@vendor.example", "carol@acme.example", "erin@vendor.example", "frank@acme.example"}
	if got := mp.recipients(); !slices.Equal(got, want) {
		t.Fatalf("recipients %v, want each of %v once", got, want)
	}
	var st Status
	_ = w.st.View(context.Background(), func(tx store.Tx) (err error) { st, err = JobStatus(tx, j.ID); return })
	if st.Counts[StateSent] != 5 || st.Counts[StateQueued] != 0 {
		t.Errorf("status %+v", st.Counts)
	}
	// A new Service on the same store (a restart) sends nothing again.
	s2 := w.service(mp.smtpPort, nil)
	w.clock.Advance(time.Hour)
	process(t, s2)
	if got := mp.recipients(); len(got) != len(want) {
		t.Fatalf("after restart: %v", got)
	}
}

// TestPermanentFailureRecorded: a 5xx answer is not retried; the
// delivery is recorded as failed with the server's words.
func TestPermanentFailureRecorded(t *testing.T) {
	mp := startMailpit(t, "--smtp-allowed-recipients", "^alice@")
	w := newWorld(t)
	s := w.service(mp.smtpPort, nil)
	process(t, s)
	j := w.announce("lug", "Only alice")
	process(t, s)
	var st Status
	_ = w.st.View(context.Background(), func(tx store.Tx) (err error) { st, err = JobStatus(tx, j.ID); return })
	if st.Counts[StateSent] != 1 || st.Counts[StateFailed] != 2 || len(st.Failures) != 2 {
		t.Fatalf("status %+v", st)
	}
}

// TestWeeklyDigest: at the start of a week the members of groups that
// meet in it get one digest listing their groups' meetings.
func TestWeeklyDigest(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t) // Wednesday 5 March 2031
	s := w.service(mp.smtpPort, nil)
	process(t, s)
	start := time.Date(2031, 3, 13, 18, 0, 0, 0, time.UTC) // next week's Thursday
	w.updateGroup("rug", func(g *policy.Group) {
		g.Meetings = append(g.Meetings, policy.Meeting{ID: "m-rug", Title: "Regional call", Start: start, RRule: "FREQ=WEEKLY;COUNT=3"})
	})
	process(t, s) // the notice to erin
	mp.clear()
	w.clock.Advance(4*24*time.Hour + 22*time.Hour) // Monday 10 March 07:00
	process(t, s)
	msgs := mp.messages()
	if len(msgs) != 1 || msgs[0].To != "erin@vendor.example" {
		t.Fatalf("digest went to %v", mp.recipients())
	}
	if txt := msgs[0].Parts["text/plain"]; !strings.Contains(txt, "Regional call") || !strings.Contains(txt, "Thu 13 Mar 2031, 18:00") {
		t.Errorf("digest text %q", txt)
	}
	// Once a week only.
	mp.clear()
	w.clock.Advance(time.Hour)
	process(t, s)
	if got := mp.recipients(); len(got) != 0 {
		t.Errorf("second digest %v", got)
	}
}

// TestDirectReachesOnlyItsRecipients: a direct message (a talk decided)
// reaches the named people, even one who chose no mail from the group's
// list, and nobody else of the group; an empty one is refused.
func TestDirectReachesOnlyItsRecipients(t *testing.T) {
	mp := startMailpit(t)
	w := newWorld(t)
	s := w.service(mp.smtpPort, nil)
	process(t, s)
	err := w.st.Update(context.Background(), "test", func(tx store.Tx) error {
		if _, err := QueueDirect(tx, Direct{Group: w.grp["lug"], Subject: "x"}, w.clock.Now()); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("no recipients: %v", err)
		}
		if err := SetPrefs(tx, w.ids["carol"], func(p *Prefs) error {
			p.Groups = map[policy.GroupID]string{w.grp["lug"].ID: ModeNone}
			return nil
		}); err != nil {
			return err
		}
		_, err := QueueDirect(tx, Direct{Group: w.grp["lug"], Users: []policy.UserID{w.ids["carol"], w.ids["frank"]},
			Subject: "Your talk is accepted", Body: "See you there."}, w.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	process(t, s)
	if got, want := mp.recipients(), []string{"carol@acme.example", "frank@acme.example"}; !slices.Equal(got, want) {
		t.Fatalf("recipients %v, want %v", got, want)
	}
	if msg := mp.messages()[0]; msg.Subject != "Your talk is accepted" || !strings.Contains(msg.Parts["text/plain"], "See you there.") {
		t.Errorf("message %q %q", msg.Subject, msg.Parts["text/plain"])
	}
}
