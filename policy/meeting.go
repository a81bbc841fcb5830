package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of meetings.
const (
	// MaxOccurrences bounds the occurrences one expansion returns.
	MaxOccurrences = 1000
	// MaxCapacity bounds a meeting's capacity.
	MaxCapacity = 1000000
)

// Zone returns the meeting's time zone: TimeZone, or UTC when it is empty
// or unknown.
func (m Meeting) Zone() *time.Location {
	if m.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(m.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Duration is End - Start, or zero without an end.
func (m Meeting) Duration() time.Duration {
	if m.End.IsZero() {
		return 0
	}
	return m.End.Sub(m.Start)
}

// ValidateMeeting checks a meeting: a title and a start, an end not
// before the start, a known IANA time zone, a recurrence rule ParseRRule
// accepts, an http(s) online link, a capacity from 0 to MaxCapacity.
func ValidateMeeting(m Meeting) error {
	switch {
	case strings.TrimSpace(m.Title) == "":
		return fmt.Errorf("%w: a meeting needs a title", ErrInvalid)
	case m.Start.IsZero():
		return fmt.Errorf("%w: a meeting needs a start", ErrInvalid)
	case !m.End.IsZero() && m.End.Before(m.Start):
		return fmt.Errorf("%w: the meeting ends before it starts", ErrInvalid)
	case m.Capacity < 0 || m.Capacity > MaxCapacity:
		return fmt.Errorf("%w: capacity must be from 0 (no limit) to %d", ErrInvalid, MaxCapacity)
	case m.Sequence < 0:
		return fmt.Errorf("%w: sequence must not be negative", ErrInvalid)
	}
	if m.TimeZone != "" {
		if _, err := time.LoadLocation(m.TimeZone); err != nil || m.TimeZone == "Local" {
			return fmt.Errorf("%w: time zone %q is not an IANA time zone name", ErrInvalid, m.TimeZone)
		}
	}
	if m.RRule != "" {
		if _, err := ParseRRule(m.RRule); err != nil {
			return err
		}
	}
	if m.OnlineURL != "" {
		rest, ok := strings.CutPrefix(m.OnlineURL, "https://")
		if !ok {
			rest, ok = strings.CutPrefix(m.OnlineURL, "http://")
		}
		host, _, _ := strings.Cut(rest, "/")
		if !ok || host == "" || strings.ContainsFunc(m.OnlineURL, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return fmt.Errorf("%w: the online link must be an http(s) URL", ErrInvalid)
		}
	}
	if err := checkLens(MaxNameBytes, "address", m.Address, "onlineUrl", m.OnlineURL, "rrule", m.RRule, "timeZone", m.TimeZone); err != nil {
		return err
	}
	return checkLen("description", m.Description, MaxTextBytes)
}

// Occurrences returns the start times of the meeting's occurrences that
// overlap [from, to), in order, at most max (at most MaxOccurrences): the
// start alone for a single meeting, every start of the recurrence
// otherwise. Recurrences follow the wall clock of the meeting's zone.
func (m Meeting) Occurrences(from, to time.Time, max int) []time.Time {
	if max <= 0 || max > MaxOccurrences {
		max = MaxOccurrences
	}
	dur := m.Duration()
	overlaps := func(t time.Time) bool { return t.Before(to) && (t.Add(dur).After(from) || t.Equal(from)) }
	if m.RRule == "" {
		if overlaps(m.Start) {
			return []time.Time{m.Start}
		}
		return nil
	}
	r, err := ParseRRule(m.RRule)
	if err != nil {
		return nil
	}
	var out []time.Time
	r.each(m.Start.In(m.Zone()), func(t time.Time) bool {
		if !t.Before(to) {
			return false
		}
		if overlaps(t) {
			out = append(out, t)
		}
		return len(out) < max
	})
	return out
}

// Next returns the first occurrence that has not ended by now, if any.
func (m Meeting) Next(now time.Time) (time.Time, bool) {
	occ := m.Occurrences(now, now.AddDate(100, 0, 0), 1)
	if len(occ) == 0 {
		return time.Time{}, false
	}
	return occ[0], true
}

// Last returns the start of the meeting's last occurrence and true, or
// false for a recurrence without COUNT or UNTIL.
func (m Meeting) Last() (time.Time, bool) {
	if m.RRule == "" {
		return m.Start, true
	}
	r, err := ParseRRule(m.RRule)
	if err != nil || r.Count == 0 && r.Until.IsZero() {
		return time.Time{}, false
	}
	last := m.Start
	r.each(m.Start.In(m.Zone()), func(t time.Time) bool { last = t; return true })
	return last, true
}

// Frequency is the FREQ of a recurrence rule.
type Frequency string

// Supported frequencies.
const (
	Daily   Frequency = "DAILY"
	Weekly  Frequency = "WEEKLY"
	Monthly Frequency = "MONTHLY"
	Yearly  Frequency = "YEARLY"
)

// WeekdayNum is one BYDAY entry: a weekday, with an ordinal in a month
// (2TU: the second Tuesday, -1FR: the last Friday; 0: every one).
type WeekdayNum struct {
	N   int
	Day time.Weekday
}

var dayCodes = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

func (w WeekdayNum) String() string {
	if w.N == 0 {
		return dayCodes[w.Day]
	}
	return strconv.Itoa(w.N) + dayCodes[w.Day]
}

// RRule is a parsed RFC 5545 recurrence rule (§3.3.10), as far as Roster
// supports it: FREQ DAILY, WEEKLY, MONTHLY or YEARLY; INTERVAL; COUNT or
// UNTIL; BYDAY (with ordinals in MONTHLY rules: 2TU, -1FR); BYMONTHDAY in
// MONTHLY rules; WKST=MO. Other parts (BYSETPOS, BYMONTH, BYHOUR…) are
// refused rather than ignored, so no calendar shows other dates than
// Roster does.
type RRule struct {
	Freq       Frequency
	Interval   int // ≥ 1
	Count      int // 0: no count
	Until      time.Time
	ByDay      []WeekdayNum
	ByMonthDay []int
}

// maxRRulePeriods bounds how many periods an expansion walks.
const maxRRulePeriods = 50000

// ParseRRule parses the value of an RRULE property. Errors wrap
// ErrInvalid.
func ParseRRule(s string) (RRule, error) {
	r := RRule{Interval: 1}
	bad := func(format string, a ...any) (RRule, error) {
		return RRule{}, fmt.Errorf("%w: recurrence %q: %s", ErrInvalid, s, fmt.Sprintf(format, a...))
	}
	s = strings.TrimPrefix(strings.TrimSpace(s), "RRULE:")
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.ToUpper(strings.TrimSpace(k))
		v = strings.ToUpper(strings.TrimSpace(v))
		if !ok || v == "" {
			return bad("%q is not NAME=VALUE", part)
		}
		if seen[k] {
			return bad("%s is given twice", k)
		}
		seen[k] = true
		switch k {
		case "FREQ":
			r.Freq = Frequency(v)
			if !slices.Contains([]Frequency{Daily, Weekly, Monthly, Yearly}, r.Freq) {
				return bad("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
			}
		case "INTERVAL":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return bad("INTERVAL must be a whole number from 1 to 1000")
			}
			r.Interval = n
		case "COUNT":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxOccurrences {
				return bad("COUNT must be a whole number from 1 to %d", MaxOccurrences)
			}
			r.Count = n
		case "UNTIL":
			t, err := parseUntil(v)
			if err != nil {
				return bad("UNTIL must be a UTC date-time (20310101T000000Z) or a date (20310101)")
			}
			r.Until = t
		case "BYDAY":
			for _, d := range strings.Split(v, ",") {
				w, err := parseWeekdayNum(d)
				if err != nil {
					return bad("BYDAY %q: %v", d, err)
				}
				r.ByDay = append(r.ByDay, w)
			}
		case "BYMONTHDAY":
			for _, d := range strings.Split(v, ",") {
				n, err := strconv.Atoi(d)
				if err != nil || n == 0 || n < -31 || n > 31 {
					return bad("BYMONTHDAY %q must be from 1 to 31 or -31 to -1", d)
				}
				r.ByMonthDay = append(r.ByMonthDay, n)
			}
		case "WKST":
			if v != "MO" {
				return bad("only WKST=MO is supported")
			}
		default:
			return bad("%s is not supported (FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY, WKST are)", k)
		}
	}
	switch {
	case r.Freq == "":
		return bad("FREQ is required")
	case r.Count > 0 && !r.Until.IsZero():
		return bad("COUNT and UNTIL may not both be given (RFC 5545)")
	case len(r.ByMonthDay) > 0 && r.Freq != Monthly:
		return bad("BYMONTHDAY is supported in MONTHLY rules only")
	case len(r.ByMonthDay) > 0 && len(r.ByDay) > 0:
		return bad("BYDAY and BYMONTHDAY together are not supported")
	case r.Freq == Yearly && len(r.ByDay) > 0:
		return bad("BYDAY is not supported in YEARLY rules")
	}
	for _, w := range r.ByDay {
		if w.N != 0 && r.Freq != Monthly {
			return bad("a BYDAY ordinal such as %s is allowed in MONTHLY rules only", w)
		}
	}
	return r, nil
}

func parseUntil(v string) (time.Time, error) {
	for _, layout := range []string{"20060102T150405Z", "20060102"} {
		if t, err := time.Parse(layout, v); err == nil {
			if layout == "20060102" {
				t = t.Add(24*time.Hour - time.Second) // the whole day
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad UNTIL")
}

func parseWeekdayNum(s string) (WeekdayNum, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 {
		return WeekdayNum{}, fmt.Errorf("not a weekday")
	}
	code, num := s[len(s)-2:], s[:len(s)-2]
	i := slices.Index(dayCodes, code)
	if i < 0 {
		return WeekdayNum{}, fmt.Errorf("%q is not one of SU, MO, TU, WE, TH, FR, SA", code)
	}
	w := WeekdayNum{Day: time.Weekday(i)}
	if num != "" {
		n, err := strconv.Atoi(num)
		if err != nil || n == 0 || n < -5 || n > 5 {
			return WeekdayNum{}, fmt.Errorf("the ordinal must be from 1 to 5 or -5 to -1")
		}
		w.N = n
	}
	return w, nil
}

// String returns the rule in canonical form (UNTIL in UTC).
func (r RRule) String() string {
	parts := []string{"FREQ=" + string(r.Freq)}
	if r.Interval > 1 {
		parts = append(parts, "INTERVAL="+strconv.Itoa(r.Interval))
	}
	if r.Count > 0 {
		parts = append(parts, "COUNT="+strconv.Itoa(r.Count))
	}
	if !r.Until.IsZero() {
		parts = append(parts, "UNTIL="+r.Until.UTC().Format("20060102T150405Z"))
	}
	if len(r.ByDay) > 0 {
		var ds []string
		for _, w := range r.ByDay {
			ds = append(ds, w.String())
		}
		parts = append(parts, "BYDAY="+strings.Join(ds, ","))
	}
	if len(r.ByMonthDay) > 0 {
		var ds []string
		for _, d := range r.ByMonthDay {
			ds = append(ds, strconv.Itoa(d))
		}
		parts = append(parts, "BYMONTHDAY="+strings.Join(ds, ","))
	}
	return strings.Join(parts, ";")
}

// each calls fn with each occurrence of the rule from start (a time in
// the zone whose wall clock the rule follows), in order, until fn returns
// false, COUNT or UNTIL is reached, or maxRRulePeriods periods were
// walked. The start is always the first occurrence (RFC 5545 §3.8.5.3).
func (r RRule) each(start time.Time, fn func(time.Time) bool) {
	loc := start.Location()
	h, mi, sec := start.Clock()
	n := 1
	if !fn(start) || r.Count == 1 {
		return
	}
	y0, m0, d0 := start.Date()
	date := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	first := date(y0, m0, d0)
	for k := 0; k < maxRRulePeriods; k++ {
		var days []time.Time
		switch r.Freq {
		case Daily:
			d := first.AddDate(0, 0, k*r.Interval)
			if len(r.ByDay) == 0 || slices.ContainsFunc(r.ByDay, func(w WeekdayNum) bool { return w.Day == d.Weekday() }) {
				days = append(days, d)
			}
		case Weekly:
			monday := first.AddDate(0, 0, -((int(first.Weekday())+6)%7)+7*k*r.Interval)
			if len(r.ByDay) == 0 {
				days = append(days, monday.AddDate(0, 0, (int(first.Weekday())+6)%7))
			}
			for _, w := range r.ByDay {
				days = append(days, monday.AddDate(0, 0, (int(w.Day)+6)%7))
			}
		case Monthly:
			month := date(y0, m0+time.Month(k*r.Interval), 1)
			days = monthDays(month, r, d0)
		case Yearly:
			if d := date(y0+k*r.Interval, m0, d0); d.Day() == d0 {
				days = append(days, d)
			}
		}
		slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
		days = slices.Compact(days)
		for _, d := range days {
			t := time.Date(d.Year(), d.Month(), d.Day(), h, mi, sec, 0, loc)
			if !t.After(start) {
				continue
			}
			if !r.Until.IsZero() && t.After(r.Until) {
				return
			}
			n++
			if !fn(t) || r.Count > 0 && n >= r.Count {
				return
			}
		}
	}
}

// monthDays returns the days of the month (its first day at noon UTC)
// that a MONTHLY rule picks; day0 is the start's day of the month.
func monthDays(month time.Time, r RRule, day0 int) []time.Time {
	last := month.AddDate(0, 1, -1).Day()
	var out []time.Time
	at := func(d int) {
		if d >= 1 && d <= last {
			out = append(out, month.AddDate(0, 0, d-1))
		}
	}
	switch {
	case len(r.ByMonthDay) > 0:
		for _, d := range r.ByMonthDay {
			if d < 0 {
				d = last + 1 + d
			}
			at(d)
		}
	case len(r.ByDay) > 0:
		firstDow := int(month.Weekday())
		for _, w := range r.ByDay {
			firstDay := 1 + (int(w.Day)-firstDow+7)%7 // the first such weekday
			var all []int
			for d := firstDay; d <= last; d += 7 {
				all = append(all, d)
			}
			switch {
			case w.N == 0:
				for _, d := range all {
					at(d)
				}
			case w.N > 0 && w.N <= len(all):
				at(all[w.N-1])
			case w.N < 0 && -w.N <= len(all):
				at(all[len(all)+w.N])
			}
		}
	default:
		at(day0)
	}
	return out
}

// RSVP is one person's answer to a meeting (for a recurring meeting: to
// the series): going or not going. There is at most one per meeting and
// person; answering again replaces it.
type RSVP struct {
	Group   GroupID   `json:"group"`
	Meeting string    `json:"meeting"`
	User    UserID    `json:"user"`
	Tenant  TenantID  `json:"tenant"`
	Going   bool      `json:"going"`
	Updated time.Time `json:"updated"`
}

// RSVPKey is the key of an RSVP among the "rsvps" records:
// "<group>/<meeting>/<user>".
func RSVPKey(g GroupID, meeting string, u UserID) string {
	return string(g) + "/" + meeting + "/" + string(u)
}
