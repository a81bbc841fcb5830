package admin

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	ical "github.com/emersion/go-ical"
)

// fetchFeed GETs an iCalendar feed (with token unless empty) and parses
// it with a real iCalendar library.
func (f *fixture) fetchFeed(t *testing.T, token, path string) (int, *ical.Calendar) {
	t.Helper()
	st, h, b := f.send(t, token, "GET", path, "")
	if st != 200 {
		return st, nil
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
		t.Errorf("%s: content type %q", path, ct)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("%s: line longer than 75 octets: %q", path, l)
		}
	}
	cal, err := ical.NewDecoder(strings.NewReader(string(b))).Decode()
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", path, err, b)
	}
	return 200, cal
}

// vtimezoneOffset is the UTC offset the feed's VTIMEZONE tzid gives to
// the local wall-clock time local (RFC 5545 §3.6.5: the observance with
// the latest onset not after it).
func vtimezoneOffset(t *testing.T, cal *ical.Calendar, tzid string, local time.Time) time.Duration {
	t.Helper()
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone || c.Props.Get(ical.PropTimezoneID).Value != tzid {
			continue
		}
		var best time.Time
		var off string
		for _, o := range c.Children {
			onset, err := time.Parse("20060102T150405", o.Props.Get(ical.PropDateTimeStart).Value)
			if err != nil {
				t.Fatal(err)
			}
			if !onset.After(local) && !onset.Before(best) {
				best, off = onset, o.Props.Get(ical.PropTimezoneOffsetTo).Value
			}
		}
		if off == "" {
			t.Fatalf("VTIMEZONE %s has no observance before %s", tzid, local)
		}
		h, _ := strconv.Atoi(off[1:3])
		m, _ := strconv.Atoi(off[3:5])
		d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
		if off[0] == '-' {
			d = -d
		}
		return d
	}
	t.Fatalf("no VTIMEZONE %s", tzid)
	return 0
}

// TestMeetings creates a recurring meeting as an organizer, refuses bad
// input without a change, takes RSVPs up to the capacity, bumps SEQUENCE
// on each change and cancels it, and reads the group's and a member's
// personal iCalendar feeds with go-ical: stable UIDs, STATUS:CANCELLED,
// and a monthly rule that keeps 18:30 London time across the change to
// summer time, by the library's expansion and by the feed's own VTIMEZONE.
func TestMeetings(t *testing.T) {
	f := newFixture(t)
	bob, carol := f.ids["bob"], f.ids["carol"]
	// Members read meetings; bob and carol are members of lug-london.
	f.call(t, adminToken, "PUT", "/api/v1/roles/member", `{"permissions":["group.read","meetings.read"]}`)
	for _, who := range []string{`{"user":"bob","tenant":"vendor","role":"member"}`, `{"user":"carol","tenant":"acme","role":"member"}`} {
		if st, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-london/memberships", who); st != 201 {
			t.Fatalf("add member: %d %v", st, m)
		}
	}
	before := f.lastSeq(t)
	for _, body := range []string{
		`{"title":"x","start":"2031-01-14T18:30","timeZone":"Mars/Olympus"}`,
		`{"title":"x","start":"2031-01-14T18:30","rrule":"FREQ=MONTHLY;BYSETPOS=2"}`,
		`{"title":"x","start":"2031-01-14T18:30","end":"2031-01-14T17:00"}`,
		`{"title":"x","start":"2031-01-14T18:30","onlineUrl":"javascript:alert(1)"}`,
		`{"title":"x","start":"tomorrow"}`,
		`{"title":" ","start":"2031-01-14T18:30"}`,
		`{"title":"x","start":"2031-01-14T18:30","capacity":-1}`,
	} {
		if st, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/meetings", body); st != 400 {
			t.Errorf("%s: %d %v, want 400", body, st, m)
		}
	}
	if st, _ := f.call(t, "bob-token", "POST", "/api/v1/groups/lug-london/meetings", `{"title":"x","start":"2031-01-14T18:30"}`); st != 403 {
		t.Errorf("a member adds a meeting: %d", st)
	}
	if f.lastSeq(t) != before {
		t.Fatal("refused meetings changed something")
	}

	st, m := f.call(t, "alice-token", "POST", "/api/v1/groups/lug-london/meetings",
		`{"title":"London monthly","description":"Talks, then the pub.","start":"2031-01-14T18:30","end":"2031-01-14T21:00","timeZone":"Europe/London",
		  "rrule":"freq=monthly;byday=2tu;count=6","location":"Vendor Inc office","address":"1 King's Cross, London N1","onlineUrl":"https://meet.example/lug-london","capacity":1}`)
	if st != 201 || m["start"] != "2031-01-14T18:30:00Z" || m["rrule"] != "FREQ=MONTHLY;COUNT=6;BYDAY=2TU" || m["timeZone"] != "Europe/London" {
		t.Fatalf("create: %d %v", st, m)
	}
	id := m["id"].(string)
	mpath := "/api/v1/groups/lug-london/meetings/" + id

	// RSVPs: the capacity holds; not going is always possible.
	if st, m := f.call(t, "bob-token", "PUT", mpath+"/rsvp", `{"going":true}`); st != 200 || m["going"] != 1.0 || m["mine"] != true {
		t.Fatalf("bob going: %d %v", st, m)
	}
	if st, m := f.call(t, "carol-token", "PUT", mpath+"/rsvp", `{"going":true}`); st != 409 || errCode(m) != "full" {
		t.Errorf("carol going to a full meeting: %d %v", st, m)
	}
	if st, m := f.call(t, "carol-token", "PUT", mpath+"/rsvp", `{"going":false}`); st != 200 || m["notGoing"] != 1.0 {
		t.Errorf("carol not going: %d %v", st, m)
	}
	if st, _ := f.call(t, "bob-token", "PUT", mpath+"/rsvp", `{}`); st != 400 {
		t.Errorf("an RSVP without going: %d", st)
	}
	_, m = f.call(t, "bob-token", "GET", mpath, "")
	if m["rsvps"] != nil || m["going"] != 1.0 || len(m["occurrences"].([]any)) != 6 {
		t.Errorf("bob's view of the meeting: %v", m)
	}
	_, m = f.call(t, "alice-token", "GET", mpath, "")
	if rs, _ := m["rsvps"].([]any); len(rs) != 2 || !strings.Contains(str(rs), `"userName":"carol"`) {
		t.Errorf("the organizer's list of RSVPs: %v", m["rsvps"])
	}

	// Changes bump SEQUENCE; a PATCH that changes nothing does not.
	if _, m := f.call(t, "alice-token", "PATCH", mpath, `{"title":"London monthly meetup"}`); m["sequence"] != 1.0 {
		t.Errorf("after a change: %v", m)
	}
	if _, m := f.call(t, "alice-token", "PATCH", mpath, `{"title":"London monthly meetup"}`); m["sequence"] != 1.0 {
		t.Errorf("after no change: %v", m)
	}
	if st, _ := f.call(t, "alice-token", "PATCH", mpath, `{"rrule":"FREQ=HOURLY"}`); st != 400 {
		t.Errorf("a bad rule on patch: %d", st)
	}

	// The group's feed: lug-london is closed, so only with a token.
	if st, _ := f.fetchFeed(t, "", "/groups/lug-london/meetings.ics"); st != 404 {
		t.Errorf("anonymous feed of a closed group: %d", st)
	}
	if st, _ := f.fetchFeed(t, "carol-token", "/groups/isug/meetings.ics"); st != 404 {
		t.Errorf("feed of a group carol may not read: %d", st)
	}
	_, cal := f.fetchFeed(t, "bob-token", "/groups/lug-london/meetings.ics")
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	if uid := ev.Props.Get(ical.PropUID).Value; uid != id+"@roster" {
		t.Errorf("UID %q", uid)
	}
	if seq := ev.Props.Get(ical.PropSequence).Value; seq != "1" {
		t.Errorf("SEQUENCE %s", seq)
	}
	if loc, _ := ev.Props.Text(ical.PropLocation); loc != "Vendor Inc office, 1 King's Cross, London N1" {
		t.Errorf("LOCATION %q", loc)
	}
	set, err := ev.RecurrenceSet(time.UTC)
	if err != nil || set == nil {
		t.Fatalf("recurrence: %v", err)
	}
	london, _ := time.LoadLocation("Europe/London")
	var got []string
	for _, o := range set.All() {
		local := o.In(london)
		got = append(got, local.Format("2006-01-02 15:04 MST"))
		// The feed's own VTIMEZONE gives the same offset as the time zone
		// database at each occurrence.
		wall := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), 0, 0, time.UTC)
		_, want := local.Zone()
		if off := vtimezoneOffset(t, cal, "Europe/London", wall); off != time.Duration(want)*time.Second {
			t.Errorf("%s: VTIMEZONE offset %v, want %ds", local, off, want)
		}
	}
	want := []string{"2031-01-14 18:30 GMT", "2031-02-11 18:30 GMT", "2031-03-11 18:30 GMT", "2031-04-08 18:30 BST", "2031-05-13 18:30 BST", "2031-06-10 18:30 BST"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("expanded by go-ical:\n%v\nwant\n%v", got, want)
	}
	if o := set.All(); len(o) == 6 && o[3].UTC().Format("15:04") != "17:30" {
		t.Errorf("April's meeting at %s UTC, want 17:30", o[3].UTC().Format("15:04"))
	}

	// Cancel: SEQUENCE up, STATUS:CANCELLED, no more RSVPs.
	if _, m := f.call(t, "alice-token", "PATCH", mpath, `{"cancelled":true}`); m["sequence"] != 2.0 || m["cancelled"] != true {
		t.Errorf("cancel: %v", m)
	}
	if st, m := f.call(t, "bob-token", "PUT", mpath+"/rsvp", `{"going":true}`); st != 409 || errCode(m) != "cancelled" {
		t.Errorf("RSVP to a cancelled meeting: %d %v", st, m)
	}
	// An open group's feed is not for anonymous callers; a public group's
	// is.
	f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"join":"open"}`)
	if st, _ = f.fetchFeed(t, "", "/groups/lug-london/meetings.ics"); st != 404 {
		t.Fatalf("anonymous feed of an open group that is not public: %d, want 404", st)
	}
	f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-london", `{"public":true}`)
	st, cal = f.fetchFeed(t, "", "/groups/lug-london/meetings.ics")
	if st != 200 {
		t.Fatalf("public feed of a public group: %d", st)
	}
	ev = cal.Events()[0]
	if s, _ := ev.Status(); s != ical.EventCancelled || ev.Props.Get(ical.PropSequence).Value != "2" || ev.Props.Get(ical.PropUID).Value != id+"@roster" {
		t.Errorf("cancelled event: status %v sequence %s uid %s", s, ev.Props.Get(ical.PropSequence).Value, ev.Props.Get(ical.PropUID).Value)
	}

	// The personal feed: a secret URL that a reset replaces.
	if st, _ := f.call(t, adminToken, "POST", "/api/v1/me/calendar", ""); st != 400 {
		t.Errorf("an admin token's personal feed: %d", st)
	}
	_, m = f.call(t, "bob-token", "POST", "/api/v1/me/calendar", "")
	first, _ := m["path"].(string)
	if !strings.HasPrefix(first, "/calendar/") || !strings.HasSuffix(first, ".ics") {
		t.Fatalf("personal feed: %v", m)
	}
	st, cal = f.fetchFeed(t, "", first)
	if st != 200 || len(cal.Events()) != 1 {
		t.Fatalf("bob's feed: %d", st)
	}
	if _, m := f.call(t, "bob-token", "GET", "/api/v1/me/calendar", ""); m["exists"] != true || strings.Contains(str(m), first) {
		t.Errorf("calendar info: %v", m)
	}
	_, m = f.call(t, "bob-token", "POST", "/api/v1/me/calendar", "")
	second, _ := m["path"].(string)
	if st, _ := f.fetchFeed(t, "", first); st != 404 {
		t.Errorf("the old secret after a reset: %d", st)
	}
	if st, _ := f.fetchFeed(t, "", second); st != 200 {
		t.Errorf("the new secret: %d", st)
	}
	if _, m := f.call(t, "carol-token", "POST", "/api/v1/me/calendar", ""); m["path"] == second {
		t.Error("two people share a secret")
	}

	// Delete: the meeting and its RSVPs go.
	if st, _ := f.call(t, "alice-token", "DELETE", mpath, ""); st != 204 {
		t.Errorf("delete: %d", st)
	}
	if st, _ := f.call(t, "alice-token", "GET", mpath, ""); st != 404 {
		t.Errorf("a deleted meeting: %d", st)
	}
	var audited []string
	_, m = f.call(t, adminToken, "GET", "/api/v1/audit?limit=1000", "")
	for _, c := range m["items"].([]any) {
		c := c.(map[string]any)
		if id, _ := c["id"].(string); strings.HasPrefix(id, "rsvp/") || strings.HasPrefix(id, "calendar/") {
			audited = append(audited, strings.SplitN(id, "/", 2)[0]+" "+c["actor"].(string))
		}
	}
	sort.Strings(audited)
	wantAudit := []string{"calendar user:acme/" + carol, "calendar user:vendor/" + bob, "calendar user:vendor/" + bob, "rsvp user:acme/" + carol, "rsvp user:vendor/" + bob}
	if strings.Join(audited, "|") != strings.Join(wantAudit, "|") {
		t.Errorf("audited %v, want %v", audited, wantAudit)
	}
}

// TestPublicAnswersKeepPrivateThingsPrivate: a group's feed is served
// without sign-in only when the group is public (an open group is not
// public), and the link to join a meeting online is for those who may
// read its meetings.
func TestPublicAnswersKeepPrivateThingsPrivate(t *testing.T) {
	f := newFixture(t)
	if st, m := f.call(t, adminToken, "POST", "/api/v1/groups/lug-paris/meetings", `{"title":"Online night","start":"2031-01-14T18:30","timeZone":"Europe/Paris","onlineUrl":"https://meet.example/secret-room"}`); st != 201 {
		t.Fatalf("meeting: %d %v", st, m)
	}
	const (
		hidden = iota // 404, nothing of the group
		shown         // the meeting, without the online link
		full          // the meeting with its online link
	)
	tests := []struct {
		name, patch string // the group's settings
		token       string // the caller: "" anonymous
		want        int
	}{
		{"closed, anonymous", `{"join":"request","public":false}`, "", hidden},
		{"closed, bad token", `{"join":"request","public":false}`, "no-such-token", hidden},
		{"closed, signed-in outsider", `{"join":"request","public":false}`, "bob-token", hidden},
		{"closed, reader", `{"join":"request","public":false}`, adminToken, full},
		{"open, anonymous", `{"join":"open","public":false}`, "", hidden},
		{"open, bad token", `{"join":"open","public":false}`, "no-such-token", hidden},
		{"open, signed-in outsider", `{"join":"open","public":false}`, "bob-token", shown},
		{"open, reader", `{"join":"open","public":false}`, adminToken, full},
		{"public, anonymous", `{"join":"request","public":true}`, "", shown},
		{"public, signed-in outsider", `{"join":"request","public":true}`, "bob-token", shown},
		{"public, reader", `{"join":"request","public":true}`, adminToken, full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if st, m := f.call(t, adminToken, "PATCH", "/api/v1/groups/lug-paris", tt.patch); st != 200 {
				t.Fatalf("patch %s: %d %v", tt.patch, st, m)
			}
			st, _, b := f.send(t, tt.token, "GET", "/groups/lug-paris/meetings.ics", "")
			body := string(b)
			switch {
			case tt.want == hidden && (st != 404 || strings.Contains(body, "Online night") || strings.Contains(body, "Paris")):
				t.Errorf("%d, want 404 and nothing of the group:\n%s", st, body)
			case tt.want != hidden && (st != 200 || !strings.Contains(body, "Online night")):
				t.Errorf("%d, want 200 with the meeting:\n%s", st, body)
			case tt.want == shown && strings.Contains(body, "secret-room"):
				t.Errorf("the online link is given away:\n%s", body)
			case tt.want == full && !strings.Contains(body, "secret-room"):
				t.Errorf("a reader's feed lacks the online link:\n%s", body)
			}
		})
	}
}
