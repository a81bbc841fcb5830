package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Talks: a meeting's call for talks (Program), the talks members propose
// to it, and the agenda the accepted ones form. Topics are subjects
// members suggest for a meeting and vote up. The admin API keeps all of
// them as records (namespaces "programs", "talks", "topics"), keyed
// "<group>/<meeting>/…" like RSVPs.

// TalkStatus is where a proposed talk stands.
type TalkStatus string

// Talk statuses: a talk is proposed, then accepted or declined by an
// organizer; its speaker may withdraw it while it is proposed.
const (
	TalkProposed  TalkStatus = "proposed"
	TalkAccepted  TalkStatus = "accepted"
	TalkDeclined  TalkStatus = "declined"
	TalkWithdrawn TalkStatus = "withdrawn"
)

// Valid reports whether s is a known status.
func (s TalkStatus) Valid() bool {
	return s == TalkProposed || s == TalkAccepted || s == TalkDeclined || s == TalkWithdrawn
}

// TalkFormat is a kind of slot a call for talks offers: a name and its
// length.
type TalkFormat struct {
	Name    string `json:"name"`
	Minutes int    `json:"minutes"`
}

// DefaultFormats are offered by a call for talks that names none.
var DefaultFormats = []TalkFormat{{Name: "lightning", Minutes: 5}, {Name: "talk", Minutes: 30}}

// Limits of talks.
const (
	MaxTalkMinutes   = 8 * 60
	MaxFormats       = 10
	MaxCoSpeakers    = 5
	MaxTalkComments  = 200
	MaxFeedbackDays  = 90
	DefaultFeedback  = 14 // days the feedback form stays open by default
	MaxTitleBytes    = 200
	MaxAbstractBytes = 4 << 10
	MaxCommentBytes  = 2 << 10
	MaxTopicBytes    = 200
	// MaxTalks and MaxTopics bound the talks proposed to, and the topics
	// suggested for, one meeting.
	MaxTalks  = 200
	MaxTopics = 100
	MaxRating = 5
)

// Program is what an organizer sets for one meeting besides the meeting
// itself: its call for talks and how long its feedback form stays open.
type Program struct {
	Group   GroupID `json:"group"`
	Meeting string  `json:"meeting"`
	// CallOpen: members with talks.submit may propose talks until
	// Deadline (zero: until the meeting starts).
	CallOpen bool         `json:"callOpen"`
	Deadline time.Time    `json:"deadline,omitzero"`
	Formats  []TalkFormat `json:"formats,omitempty"`
	// FeedbackDays is how long after the meeting ends its feedback form
	// stays open (0: DefaultFeedback).
	FeedbackDays int       `json:"feedbackDays,omitempty"`
	Updated      time.Time `json:"updated,omitzero"`
}

// FieldError is invalid input in one field: what the portal shows next to
// it. It wraps ErrInvalid.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return "invalid " + e.Field + ": " + e.Message }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, a ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, a...)}
}

// FormatsOf returns the formats p offers: its own, or DefaultFormats.
func (p Program) FormatsOf() []TalkFormat {
	if len(p.Formats) == 0 {
		return DefaultFormats
	}
	return p.Formats
}

// Format returns the offered format named name.
func (p Program) Format(name string) (TalkFormat, bool) {
	i := slices.IndexFunc(p.FormatsOf(), func(f TalkFormat) bool { return f.Name == name })
	if i < 0 {
		return TalkFormat{}, false
	}
	return p.FormatsOf()[i], true
}

// Accepting reports whether the call for talks takes proposals at now for
// meeting m: open, before its deadline, and (without a deadline) before
// the meeting starts.
func (p Program) Accepting(m Meeting, now time.Time) bool {
	if !p.CallOpen || m.Cancelled {
		return false
	}
	if !p.Deadline.IsZero() {
		return now.Before(p.Deadline)
	}
	_, upcoming := m.Next(now)
	return upcoming
}

// FeedbackWindow returns when the feedback form of meeting m opens and
// closes: from the end of its last occurrence that started before now
// (its Length) for FeedbackDays. ok is false when no
// occurrence has ended yet or m is cancelled.
func (p Program) FeedbackWindow(m Meeting, now time.Time) (from, to time.Time, ok bool) {
	if m.Cancelled {
		return time.Time{}, time.Time{}, false
	}
	days := p.FeedbackDays
	if days <= 0 {
		days = DefaultFeedback
	}
	dur := m.Length()
	occ := m.Occurrences(now.AddDate(0, 0, -days).Add(-dur), now, MaxOccurrences)
	for i := len(occ) - 1; i >= 0; i-- {
		end := occ[i].Add(dur)
		if !end.After(now) {
			return end, end.AddDate(0, 0, days), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// AssumedLength is how long a meeting without an end is taken to last.
const AssumedLength = 2 * time.Hour

// Length is the meeting's Duration, or AssumedLength without an end.
func (m Meeting) Length() time.Duration {
	if d := m.Duration(); d > 0 {
		return d
	}
	return AssumedLength
}

// ValidateProgram checks a program: formats named, 1 to MaxTalkMinutes
// long, distinct, at most MaxFormats; feedback open 0 to MaxFeedbackDays.
func ValidateProgram(p Program) error {
	if len(p.Formats) > MaxFormats {
		return invalid("formats", "at most %d formats", MaxFormats)
	}
	seen := map[string]bool{}
	for _, f := range p.Formats {
		switch {
		case strings.TrimSpace(f.Name) == "" || len(f.Name) > 50:
			return invalid("formats", "each format needs a name of at most 50 bytes")
		case f.Minutes < 1 || f.Minutes > MaxTalkMinutes:
			return invalid("formats", "a format lasts 1 to %d minutes", MaxTalkMinutes)
		case seen[f.Name]:
			return invalid("formats", "format %q is named twice", f.Name)
		}
		seen[f.Name] = true
	}
	if p.FeedbackDays < 0 || p.FeedbackDays > MaxFeedbackDays {
		return invalid("feedbackDays", "the feedback form stays open 1 to %d days (0: %d)", MaxFeedbackDays, DefaultFeedback)
	}
	return nil
}

// TalkComment is an organizer's remark on a proposed talk, seen only by
// those who review the meeting's talks.
type TalkComment struct {
	Author     string    `json:"author"`
	AuthorName string    `json:"authorName,omitempty"`
	Text       string    `json:"text"`
	At         time.Time `json:"at"`
}

// Speaker is one person who gives a talk; co-speakers may be of any
// company (tenant).
type Speaker struct {
	User   UserID   `json:"user"`
	Tenant TenantID `json:"tenant"`
	Name   string   `json:"name,omitempty"`
}

// Talk is a talk proposed to a meeting.
type Talk struct {
	ID       string    `json:"id"`
	Group    GroupID   `json:"group"`
	Meeting  string    `json:"meeting"`
	Speaker  Speaker   `json:"speaker"`
	Co       []Speaker `json:"coSpeakers,omitempty"`
	Title    string    `json:"title"`
	Abstract string    `json:"abstract,omitempty"`
	Format   string    `json:"format"`
	Minutes  int       `json:"minutes"`
	// Status and, for accepted talks, Order: the place on the agenda
	// (lower first; ties by acceptance time).
	Status   TalkStatus    `json:"status"`
	Order    int           `json:"order,omitempty"`
	Proposed time.Time     `json:"proposed"`
	Decided  time.Time     `json:"decided,omitzero"`
	Comments []TalkComment `json:"comments,omitempty"`
}

// TalkKey is the key of a talk among the "talks" records.
func TalkKey(g GroupID, meeting, id string) string {
	return string(g) + "/" + meeting + "/" + id
}

// Speaks reports whether u is the talk's speaker or a co-speaker.
func (t Talk) Speaks(u UserID) bool {
	return t.Speaker.User == u || slices.ContainsFunc(t.Co, func(s Speaker) bool { return s.User == u })
}

// SpeakerNames is "A, B and C".
func (t Talk) SpeakerNames() string {
	names := []string{t.Speaker.Name}
	for _, c := range t.Co {
		names = append(names, c.Name)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// ValidateTalk checks a proposal against the program: a title, an
// abstract and a format the call offers, at most MaxCoSpeakers distinct
// co-speakers other than the speaker.
func ValidateTalk(t Talk, p Program) error {
	switch {
	case strings.TrimSpace(t.Title) == "":
		return invalid("title", "a talk needs a title")
	case len(t.Title) > MaxTitleBytes || strings.ContainsAny(t.Title, "\r\n"):
		return invalid("title", "the title is one line of at most %d bytes", MaxTitleBytes)
	case strings.TrimSpace(t.Abstract) == "":
		return invalid("abstract", "say in a few lines what the talk is about")
	case len(t.Abstract) > MaxAbstractBytes:
		return invalid("abstract", "the abstract is at most %d bytes", MaxAbstractBytes)
	case len(t.Co) > MaxCoSpeakers:
		return invalid("coSpeakers", "at most %d co-speakers", MaxCoSpeakers)
	case !t.Status.Valid():
		return invalid("status", "status is proposed, accepted, declined or withdrawn")
	}
	if _, ok := p.Format(t.Format); !ok {
		var names []string
		for _, f := range p.FormatsOf() {
			names = append(names, f.Name)
		}
		return invalid("format", "choose one of the formats: %s", strings.Join(names, ", "))
	}
	seen := map[UserID]bool{t.Speaker.User: true}
	for _, c := range t.Co {
		if seen[c.User] {
			return invalid("coSpeakers", "a co-speaker is named twice, or is the speaker")
		}
		seen[c.User] = true
	}
	return nil
}

// AgendaItem is one accepted talk on a meeting's agenda, with its times.
type AgendaItem struct {
	Talk     string    `json:"talk"`
	Title    string    `json:"title"`
	Speakers string    `json:"speakers"`
	Format   string    `json:"format"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

// Agenda orders the accepted talks of a meeting (by Order, then by when
// they were accepted, then by id) and gives each its times: one after the
// other from start (the occurrence's start), each as long as its format.
func Agenda(start time.Time, talks []Talk) []AgendaItem {
	var acc []Talk
	for _, t := range talks {
		if t.Status == TalkAccepted {
			acc = append(acc, t)
		}
	}
	slices.SortStableFunc(acc, func(a, b Talk) int {
		switch {
		case a.Order != b.Order:
			return a.Order - b.Order
		case !a.Decided.Equal(b.Decided):
			return a.Decided.Compare(b.Decided)
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := make([]AgendaItem, 0, len(acc))
	at := start
	for _, t := range acc {
		end := at.Add(time.Duration(t.Minutes) * time.Minute)
		out = append(out, AgendaItem{Talk: t.ID, Title: t.Title, Speakers: t.SpeakerNames(), Format: t.Format, Start: at, End: end})
		at = end
	}
	return out
}

// AgendaText is the agenda as plain lines ("18:30–19:00 Title — Speaker"),
// times in loc: for the iCalendar DESCRIPTION and mail.
func AgendaText(items []AgendaItem, loc *time.Location) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s–%s %s — %s", it.Start.In(loc).Format("15:04"), it.End.In(loc).Format("15:04"), it.Title, it.Speakers)
	}
	return b.String()
}

// Topic is a subject a member suggests for a meeting; members vote it up
// and organizers pick from the top.
type Topic struct {
	ID      string    `json:"id"`
	Group   GroupID   `json:"group"`
	Meeting string    `json:"meeting"`
	Title   string    `json:"title"`
	Author  UserID    `json:"author"`
	Voters  []UserID  `json:"voters,omitempty"`
	Picked  bool      `json:"picked,omitempty"`
	Created time.Time `json:"created"`
}

// ValidateTopic checks a topic's title.
func ValidateTopic(t Topic) error {
	switch {
	case strings.TrimSpace(t.Title) == "":
		return invalid("title", "a topic needs a title")
	case len(t.Title) > MaxTopicBytes || strings.ContainsAny(t.Title, "\r\n"):
		return invalid("title", "a topic is one line of at most %d bytes", MaxTopicBytes)
	}
	return nil
}

// SortTopics orders topics by votes (most first), then by age.
func SortTopics(ts []Topic) {
	slices.SortStableFunc(ts, func(a, b Topic) int {
		if len(a.Voters) != len(b.Voters) {
			return len(b.Voters) - len(a.Voters)
		}
		return a.Created.Compare(b.Created)
	})
}

// CheckIn is one person checked in at a meeting (by an organizer, on the
// check-in list); like an RSVP going, it lets them rate the meeting.
type CheckIn struct {
	Group   GroupID   `json:"group"`
	Meeting string    `json:"meeting"`
	User    UserID    `json:"user"`
	Tenant  TenantID  `json:"tenant"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
}

// MeetingActivity is what happens around meetings besides the meetings
// themselves: programs, talks, topics, RSVPs, check-ins and ratings. The
// demo world has some; the admin API loads them as its records.
type MeetingActivity struct {
	Programs []Program
	Talks    []Talk
	Topics   []Topic
	RSVPs    []RSVP
	CheckIns []CheckIn
	Ratings  []Rating
}
