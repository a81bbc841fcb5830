package admin

// An RFC 5545 iCalendar writer for meeting feeds: VCALENDAR with one
// VTIMEZONE per zone the meetings use (built from the time zone database,
// one observance per transition over the years the feed spans), and one
// VEVENT per meeting with a stable UID, SEQUENCE, RRULE and STATUS.

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
)

// calEvent is one meeting in a feed, with its group's name.
type calEvent struct {
	policy.Meeting
	Group     string // the group's name
	GroupSlug string
	// Agenda is the meeting's agenda (its accepted talks), if any.
	Agenda []policy.AgendaItem
}

// icalWriter writes content lines, folded at 75 octets (§3.1), ended
// with CRLF.
type icalWriter struct {
	w   io.Writer
	err error
}

func (iw *icalWriter) line(name, value string) {
	if iw.err != nil {
		return
	}
	_, iw.err = io.WriteString(iw.w, mail.ICalLine(name, value))
}

const icalUTC = "20060102T150405Z"
const icalLocal = "20060102T150405"

// writeCalendar writes a feed named name with the events, for now.
func writeCalendar(w io.Writer, name string, events []calEvent, now time.Time) error {
	iw := &icalWriter{w: w}
	iw.line("BEGIN", "VCALENDAR")
	iw.line("VERSION", "2.0")
	iw.line("PRODID", "-//Roster//Roster meetings//EN")
	iw.line("CALSCALE", "GREGORIAN")
	iw.line("METHOD", "PUBLISH")
	iw.line("X-WR-CALNAME", mail.ICalText(name))
	// The years each zone must cover.
	type span struct{ from, to time.Time }
	zones := map[string]*span{}
	for _, e := range events {
		if e.TimeZone == "" || e.TimeZone == "UTC" {
			continue
		}
		last, ok := e.Last()
		if !ok {
			last = now.AddDate(5, 0, 0) // an open-ended rule: five years ahead
		}
		if last.Before(now) && e.RRule != "" {
			last = now
		}
		sp := zones[e.TimeZone]
		if sp == nil {
			sp = &span{from: e.Start, to: last}
			zones[e.TimeZone] = sp
		}
		if e.Start.Before(sp.from) {
			sp.from = e.Start
		}
		if last.After(sp.to) {
			sp.to = last
		}
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	for _, z := range names {
		loc, err := time.LoadLocation(z)
		if err != nil {
			continue
		}
		sp := zones[z]
		writeVTimezone(iw, z, loc, time.Date(sp.from.Year()-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(sp.to.Year()+2, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	for _, e := range events {
		writeVEvent(iw, e, now)
	}
	iw.line("END", "VCALENDAR")
	return iw.err
}

// when formats a time as DTSTART/DTEND name and value: UTC with Z, or
// local with TZID.
func when(e calEvent, t time.Time) (param, value string) {
	if e.TimeZone == "" || e.TimeZone == "UTC" {
		return "", t.UTC().Format(icalUTC)
	}
	return ";TZID=" + e.TimeZone, t.In(e.Zone()).Format(icalLocal)
}

func writeVEvent(iw *icalWriter, e calEvent, now time.Time) {
	iw.line("BEGIN", "VEVENT")
	iw.line("UID", e.ID+"@roster")
	stamp := e.Updated
	if stamp.IsZero() {
		stamp = now
	}
	iw.line("DTSTAMP", stamp.UTC().Format(icalUTC))
	if !e.Created.IsZero() {
		iw.line("CREATED", e.Created.UTC().Format(icalUTC))
	}
	if !e.Updated.IsZero() {
		iw.line("LAST-MODIFIED", e.Updated.UTC().Format(icalUTC))
	}
	p, v := when(e, e.Start)
	iw.line("DTSTART"+p, v)
	if !e.End.IsZero() {
		p, v = when(e, e.End)
		iw.line("DTEND"+p, v)
	}
	if e.RRule != "" {
		if r, err := policy.ParseRRule(e.RRule); err == nil {
			iw.line("RRULE", r.String())
		}
	}
	iw.line("SUMMARY", mail.ICalText(e.Title))
	desc := e.Description
	if e.Group != "" {
		if desc != "" {
			desc += "\n\n"
		}
		desc += e.Group
	}
	if e.OnlineURL != "" {
		desc += "\nOnline: " + e.OnlineURL
	}
	if len(e.Agenda) > 0 {
		if desc != "" {
			desc += "\n\n"
		}
		desc += "Agenda:\n" + policy.AgendaText(e.Agenda, e.Zone())
	}
	if desc != "" {
		iw.line("DESCRIPTION", mail.ICalText(desc))
	}
	loc := e.Location
	if e.Address != "" {
		if loc != "" {
			loc += ", "
		}
		loc += e.Address
	}
	if loc == "" && e.OnlineURL != "" {
		loc = e.OnlineURL
	}
	if loc != "" {
		iw.line("LOCATION", mail.ICalText(loc))
	}
	if e.OnlineURL != "" {
		iw.line("URL", e.OnlineURL)
	}
	if e.GroupSlug != "" {
		iw.line("CATEGORIES", mail.ICalText(e.GroupSlug))
	}
	iw.line("SEQUENCE", fmt.Sprint(e.Sequence))
	if e.Cancelled {
		iw.line("STATUS", "CANCELLED")
	} else {
		iw.line("STATUS", "CONFIRMED")
	}
	iw.line("TRANSP", "OPAQUE")
	iw.line("END", "VEVENT")
}

// tzTransition is a change of a zone's offset at an instant.
type tzTransition struct {
	at       time.Time
	from, to int // offsets in seconds east of UTC
	name     string
	dst      bool
}

// transitions finds the offset changes of loc in [from, to): a day-by-day
// walk, then a search to the second.
func transitions(loc *time.Location, from, to time.Time) []tzTransition {
	var out []tzTransition
	prev := from
	_, off := prev.In(loc).Zone()
	for t := from.Add(24 * time.Hour); t.Before(to); t = t.Add(24 * time.Hour) {
		_, o := t.In(loc).Zone()
		if o == off {
			prev = t
			continue
		}
		lo, hi := prev, t // offset at lo is off, at hi is o
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
			if _, mo := mid.In(loc).Zone(); mo == off {
				lo = mid
			} else {
				hi = mid
			}
		}
		name, _ := hi.In(loc).Zone()
		out = append(out, tzTransition{at: hi, from: off, to: o, name: name, dst: hi.In(loc).IsDST()})
		off, prev = o, t
	}
	return out
}

func icalOffset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	s := fmt.Sprintf("%s%02d%02d", sign, sec/3600, sec%3600/60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}

// writeVTimezone writes the zone as it was in force over [from, to): its
// state at from, then one observance per transition (§3.6.5). Each
// DTSTART is the local time of the onset in the offset in force before it.
func writeVTimezone(iw *icalWriter, tzid string, loc *time.Location, from, to time.Time) {
	iw.line("BEGIN", "VTIMEZONE")
	iw.line("TZID", tzid)
	obs := func(dst bool, start time.Time, fromOff, toOff int, name string) {
		kind := "STANDARD"
		if dst {
			kind = "DAYLIGHT"
		}
		iw.line("BEGIN", kind)
		iw.line("DTSTART", start.UTC().Add(time.Duration(fromOff)*time.Second).Format(icalLocal))
		iw.line("TZOFFSETFROM", icalOffset(fromOff))
		iw.line("TZOFFSETTO", icalOffset(toOff))
		if name != "" && !strings.HasPrefix(name, "+") && !strings.HasPrefix(name, "-") {
			iw.line("TZNAME", mail.ICalText(name))
		}
		iw.line("END", kind)
	}
	name, off := from.In(loc).Zone()
	obs(from.In(loc).IsDST(), from, off, off, name)
	for _, tr := range transitions(loc, from, to) {
		obs(tr.dst, tr.at, tr.from, tr.to, tr.name)
	}
	iw.line("END", "VTIMEZONE")
}
