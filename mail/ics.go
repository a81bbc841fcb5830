package mail

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roster-dev/roster/policy"
)

// invitation is a meeting notice's calendar object: an iTIP message (RFC
// 5546 §3.2.2 REQUEST, §3.2.5 CANCEL) with the meeting's stable UID (the
// one the group's feed uses) and its SEQUENCE, so a calendar updates or
// removes the event it already has instead of adding another.
func invitation(m policy.Meeting, method, groupName, organizer, attendee, attendeeName string, now time.Time) []byte {
	var b strings.Builder
	line := func(name, value string) { b.WriteString(ICalLine(name, value)) }
	const utc, local = "20060102T150405Z", "20060102T150405"
	zoned := m.TimeZone != "" && m.TimeZone != "UTC"
	when := func(t time.Time) (string, string) {
		if !zoned {
			return "", t.UTC().Format(utc)
		}
		return ";TZID=" + m.TimeZone, t.In(m.Zone()).Format(local)
	}
	line("BEGIN", "VCALENDAR")
	line("VERSION", "2.0")
	line("PRODID", "-//Roster//Roster meetings//EN")
	line("CALSCALE", "GREGORIAN")
	line("METHOD", method)
	if zoned {
		last, ok := m.Last()
		if !ok || last.Before(m.Start) {
			last = m.Start.AddDate(5, 0, 0)
		}
		writeVTimezone(line, m.TimeZone, m.Zone(), time.Date(m.Start.Year()-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(last.Year()+2, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	line("BEGIN", "VEVENT")
	line("UID", m.ID+"@roster")
	line("DTSTAMP", now.UTC().Format(utc))
	p, v := when(m.Start)
	line("DTSTART"+p, v)
	if !m.End.IsZero() {
		p, v = when(m.End)
		line("DTEND"+p, v)
	}
	if m.RRule != "" {
		if r, err := policy.ParseRRule(m.RRule); err == nil {
			line("RRULE", r.String())
		}
	}
	line("SUMMARY", ICalText(m.Title))
	desc := strings.TrimSpace(m.Description + "\n\n" + groupName)
	if m.OnlineURL != "" {
		desc += "\nOnline: " + m.OnlineURL
	}
	line("DESCRIPTION", ICalText(desc))
	if where := place(m); where != "" {
		line("LOCATION", ICalText(where))
	}
	if m.OnlineURL != "" {
		line("URL", m.OnlineURL)
	}
	line("ORGANIZER;CN="+paramText(groupName), "mailto:"+organizer)
	line("ATTENDEE;CN="+paramText(attendeeName)+";ROLE=REQ-PARTICIPANT;RSVP=FALSE", "mailto:"+attendee)
	line("SEQUENCE", fmt.Sprint(m.Sequence))
	if method == "CANCEL" || m.Cancelled {
		line("STATUS", "CANCELLED")
	} else {
		line("STATUS", "CONFIRMED")
	}
	line("END", "VEVENT")
	line("END", "VCALENDAR")
	return []byte(b.String())
}

// place is a meeting's venue and address, or its online link.
func place(m policy.Meeting) string {
	parts := []string{}
	for _, s := range []string{m.Location, m.Address} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 && m.OnlineURL != "" {
		return "Online: " + m.OnlineURL
	}
	return strings.Join(parts, ", ")
}

// ICalLine is the iCalendar content line name:value, folded at 75
// octets and ended with CRLF (RFC 5545 §3.1). It does not escape value
// (see ICalText).
func ICalLine(name, value string) string {
	var b strings.Builder
	width := 0
	for _, r := range name + ":" + value {
		n := utf8.RuneLen(r)
		if width+n > 75 {
			b.WriteString("\r\n ")
			width = 1
		}
		b.WriteRune(r)
		width += n
	}
	b.WriteString("\r\n")
	return b.String()
}

// ICalText escapes a TEXT value (RFC 5545 §3.3.11).
func ICalText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", "").Replace(s)
}

// paramText quotes a parameter value (RFC 5545 §3.2); DQUOTE cannot be
// escaped, so it is dropped.
func paramText(s string) string {
	return `"` + strings.Map(func(r rune) rune {
		if r == '"' || r < ' ' {
			return -1
		}
		return r
	}, s) + `"`
}

// writeVTimezone writes zone's offset changes between from and to as
// VTIMEZONE observances (RFC 5545 §3.6.5), one per transition, read from
// the time zone database.
func writeVTimezone(line func(string, string), tzid string, loc *time.Location, from, to time.Time) {
	type tr struct {
		at       time.Time
		from, to int
		name     string
		dst      bool
	}
	var trs []tr
	_, off := from.In(loc).Zone()
	for t := from; t.Before(to); t = t.Add(24 * time.Hour) {
		next := t.Add(24 * time.Hour)
		_, noff := next.In(loc).Zone()
		if noff == off {
			continue
		}
		lo, hi := t.Unix(), next.Unix()
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if _, o := time.Unix(mid, 0).In(loc).Zone(); o == off {
				lo = mid
			} else {
				hi = mid
			}
		}
		at := time.Unix(hi, 0)
		name, _ := at.In(loc).Zone()
		trs = append(trs, tr{at: at, from: off, to: noff, name: name, dst: at.In(loc).IsDST()})
		off = noff
	}
	sort.Slice(trs, func(i, j int) bool { return trs[i].at.Before(trs[j].at) })
	offset := func(sec int) string {
		sign := "+"
		if sec < 0 {
			sign, sec = "-", -sec
		}
		return fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec%3600/60)
	}
	line("BEGIN", "VTIMEZONE")
	line("TZID", tzid)
	if len(trs) == 0 {
		name, o := from.In(loc).Zone()
		line("BEGIN", "STANDARD")
		line("DTSTART", "19700101T000000")
		line("TZOFFSETFROM", offset(o))
		line("TZOFFSETTO", offset(o))
		line("TZNAME", name)
		line("END", "STANDARD")
	}
	for _, t := range trs {
		kind := "STANDARD"
		if t.dst {
			kind = "DAYLIGHT"
		}
		line("BEGIN", kind)
		// DTSTART of an observance is the local time before the change.
		line("DTSTART", t.at.UTC().Add(time.Duration(t.from)*time.Second).Format("20060102T150405"))
		line("TZOFFSETFROM", offset(t.from))
		line("TZOFFSETTO", offset(t.to))
		line("TZNAME", t.name)
		line("END", kind)
	}
	line("END", "VTIMEZONE")
}
