package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRRuleExpansion(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		name  string
		start time.Time
		rule  string
		want  []string // local wall clock, "2006-01-02 15:04 MST"
	}{
		{"second Tuesday across the spring change", time.Date(2031, 1, 14, 18, 30, 0, 0, london), "FREQ=MONTHLY;BYDAY=2TU;COUNT=4",
			[]string{"2031-01-14 18:30 GMT", "2031-02-11 18:30 GMT", "2031-03-11 18:30 GMT", "2031-04-08 18:30 BST"}},
		{"last Friday", time.Date(2031, 1, 31, 9, 0, 0, 0, time.UTC), "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
			[]string{"2031-01-31 09:00 UTC", "2031-02-28 09:00 UTC", "2031-03-28 09:00 UTC"}},
		{"every other week on Tuesday and Thursday until", time.Date(2031, 10, 28, 19, 0, 0, 0, ny), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;UNTIL=20311125T000000Z",
			[]string{"2031-10-28 19:00 EDT", "2031-10-30 19:00 EDT", "2031-11-11 19:00 EST", "2031-11-13 19:00 EST"}},
		{"weekly, the start's weekday", time.Date(2031, 3, 25, 18, 0, 0, 0, london), "FREQ=WEEKLY;COUNT=3",
			[]string{"2031-03-25 18:00 GMT", "2031-04-01 18:00 BST", "2031-04-08 18:00 BST"}},
		{"the 31st skips short months", time.Date(2031, 1, 31, 12, 0, 0, 0, time.UTC), "FREQ=MONTHLY;COUNT=3",
			[]string{"2031-01-31 12:00 UTC", "2031-03-31 12:00 UTC", "2031-05-31 12:00 UTC"}},
		{"a start off the rule counts first", time.Date(2031, 1, 1, 18, 0, 0, 0, time.UTC), "FREQ=MONTHLY;BYDAY=2TU;COUNT=2",
			[]string{"2031-01-01 18:00 UTC", "2031-01-14 18:00 UTC"}},
		{"quarterly on the 15th", time.Date(2031, 1, 15, 18, 0, 0, 0, time.UTC), "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15;COUNT=3",
			[]string{"2031-01-15 18:00 UTC", "2031-04-15 18:00 UTC", "2031-07-15 18:00 UTC"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Meeting{Title: "x", Start: tc.start, End: tc.start.Add(2 * time.Hour), TimeZone: tc.start.Location().String(), RRule: tc.rule}
			if m.TimeZone == "UTC" {
				m.TimeZone = ""
			}
			if err := ValidateMeeting(m); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range m.Occurrences(tc.start.AddDate(-1, 0, 0), tc.start.AddDate(5, 0, 0), 0) {
				got = append(got, o.Format("2006-01-02 15:04 MST"))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
			if last, ok := m.Last(); !ok || last.Format("2006-01-02 15:04 MST") != tc.want[len(tc.want)-1] {
				t.Errorf("last = %v %v", last, ok)
			}
		})
	}
	// A window in the middle, and an open-ended rule.
	m := Meeting{Title: "x", Start: time.Date(2031, 1, 14, 18, 30, 0, 0, london), TimeZone: "Europe/London", RRule: "FREQ=MONTHLY;BYDAY=2TU"}
	occ := m.Occurrences(time.Date(2035, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 9, 1, 0, 0, 0, 0, time.UTC), 0)
	if len(occ) != 3 || occ[0].Format("2006-01-02 15:04 MST") != "2035-06-12 18:30 BST" {
		t.Errorf("June to August 2035: %v", occ)
	}
	if _, ok := m.Last(); ok {
		t.Error("an open-ended rule has a last occurrence")
	}
	if next, ok := m.Next(time.Date(2031, 2, 12, 0, 0, 0, 0, time.UTC)); !ok || !next.Equal(time.Date(2031, 3, 11, 18, 30, 0, 0, london)) {
		t.Errorf("next = %v", next)
	}
}

func TestMeetingValidation(t *testing.T) {
	start := time.Date(2031, 1, 14, 18, 30, 0, 0, time.UTC)
	ok := Meeting{ID: "m", Title: "t", Start: start}
	for _, tc := range []struct {
		name string
		edit func(*Meeting)
	}{
		{"no title", func(m *Meeting) { m.Title = " " }},
		{"end before start", func(m *Meeting) { m.End = start.Add(-time.Hour) }},
		{"unknown zone", func(m *Meeting) { m.TimeZone = "Mars/Olympus" }},
		{"Local", func(m *Meeting) { m.TimeZone = "Local" }},
		{"unsupported part", func(m *Meeting) { m.RRule = "FREQ=MONTHLY;BYSETPOS=2" }},
		{"no FREQ", func(m *Meeting) { m.RRule = "COUNT=3" }},
		{"COUNT and UNTIL", func(m *Meeting) { m.RRule = "FREQ=WEEKLY;COUNT=3;UNTIL=20320101T000000Z" }},
		{"ordinal in WEEKLY", func(m *Meeting) { m.RRule = "FREQ=WEEKLY;BYDAY=2TU" }},
		{"bad weekday", func(m *Meeting) { m.RRule = "FREQ=MONTHLY;BYDAY=2XX" }},
		{"online link not http", func(m *Meeting) { m.OnlineURL = "javascript:alert(1)" }},
		{"negative capacity", func(m *Meeting) { m.Capacity = -1 }},
	} {
		m := ok
		tc.edit(&m)
		if err := ValidateMeeting(m); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
		g := Group{Slug: "g", Name: "G", Kind: GroupLocal, Meetings: []Meeting{m}}
		if err := ValidateGroup(g); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: group %v, want ErrInvalid", tc.name, err)
		}
	}
	if err := ValidateMeeting(ok); err != nil {
		t.Error(err)
	}
	if r, err := ParseRRule("freq=monthly;byday=2tu;until=20311231"); err != nil || r.String() != "FREQ=MONTHLY;UNTIL=20311231T235959Z;BYDAY=2TU" {
		t.Errorf("canonical form %q %v", r.String(), err)
	}
}

func TestJoinRequestDecide(t *testing.T) {
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	r := JoinRequest{Group: "g", User: "u", State: RequestPending}
	a, err := r.Decide(true, "user:vendor/alice", "", now)
	if err != nil || a.State != RequestApproved || a.DecidedBy != "user:vendor/alice" {
		t.Fatalf("approve: %+v %v", a, err)
	}
	if _, err := a.Decide(false, "x", "", now); !errors.Is(err, ErrInvalid) {
		t.Errorf("deciding twice: %v", err)
	}
	if err := ValidateJoinRequest(JoinRequest{Group: "g", User: "u", State: "maybe"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad state: %v", err)
	}
	if !JoinOpen.Discoverable() || JoinPolicy("").Discoverable() || JoinPolicy("").Effective() != JoinClosed || JoinPolicy("x").Valid() {
		t.Error("join policy helpers")
	}
}
