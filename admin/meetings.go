package admin

// Meetings: records inside their group (policy.Meeting), RSVPs as records
// (namespace "rsvps", key "<group>/<meeting>/<user>"), an iCalendar feed
// per group at /groups/{slug}/meetings.ics and a personal feed of all a
// member's groups at a secret URL (/calendar/{secret}.ics).
//
// Who sees meetings: those with meetings.read on the group; for an open
// group, everyone (its feed is public). Who changes them: meetings.edit.
// Who answers (RSVP): a person with meetings.read on the group.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Record namespaces of meetings.
const (
	nsRSVPs = "rsvps"
	// nsCalendarFeeds maps the SHA-256 of a personal feed's secret to its
	// owner; nsCalendarOwners maps the owner to that hash, so a reset
	// drops the old secret.
	nsCalendarFeeds  = "calendar-feeds"
	nsCalendarOwners = "calendar-owners"
)

func (s *Server) meetingRoutes() {
	s.handle("GET /api/v1/groups/{group}/meetings", s.listMeetings)
	s.handle("POST /api/v1/groups/{group}/meetings", s.addMeeting)
	s.handle("GET /api/v1/groups/{group}/meetings/{id}", s.getMeeting)
	s.handle("PATCH /api/v1/groups/{group}/meetings/{id}", s.patchMeeting)
	s.handle("DELETE /api/v1/groups/{group}/meetings/{id}", s.deleteMeeting)
	s.handle("PUT /api/v1/groups/{group}/meetings/{id}/rsvp", s.rsvp)
	s.handle("GET /api/v1/me/calendar", s.calendarInfo)
	s.handle("POST /api/v1/me/calendar", s.resetCalendar)
	s.handle("DELETE /api/v1/me/calendar", s.deleteCalendar)
	// The feeds: outside /api/v1, for calendar programs that send no
	// bearer token (cmd mounts these paths on this handler).
	s.mux.HandleFunc("GET /groups/{group}/meetings.ics", s.groupFeed)
	s.mux.HandleFunc("GET /calendar/{secret}", s.personalFeed)
}

// FeedPatterns are the paths outside /api/v1 that the admin API serves:
// the iCalendar feeds. cmd mounts them on the same handler.
var FeedPatterns = []string{"GET /groups/{group}/meetings.ics", "GET /calendar/{secret}"}

// seesMeetings reports whether p may read g's meetings.
func (s *Server) seesMeetings(p principal, g policy.Group) bool {
	return g.Join == policy.JoinOpen || s.can(p, policy.PermMeetingsRead, g.ID) || s.can(p, policy.PermMeetingsEdit, g.ID)
}

// forCaller hides the meetings of g from a caller who may not read them
// (someone outside a request-only group).
func (s *Server) forCaller(p principal, g policy.Group) policy.Group {
	if !s.seesMeetings(p, g) {
		g.Meetings = nil
	}
	return s.redactSuspensions(p, g)
}

// meetingInput is the body of a meeting create or patch. Times are RFC
// 3339, or a local date-time ("2031-03-11T18:30") in timeZone.
type meetingInput struct {
	Title       *string `json:"title"`
	Description *string `json:"description"`
	Start       *string `json:"start"`
	End         *string `json:"end"`
	TimeZone    *string `json:"timeZone"`
	RRule       *string `json:"rrule"`
	Location    *string `json:"location"`
	Address     *string `json:"address"`
	OnlineURL   *string `json:"onlineUrl"`
	Capacity    *int    `json:"capacity"`
	Cancelled   *bool   `json:"cancelled"`
}

func parseWhen(v string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badRequest("%q is neither an RFC 3339 time nor a local date-time (2006-01-02T15:04)", v)
}

// apply sets the given fields on m. A start or end without an offset is
// read in the meeting's (possibly new) time zone.
func (in meetingInput) apply(m *policy.Meeting) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&m.Title, in.Title)
	set(&m.Description, in.Description)
	set(&m.TimeZone, in.TimeZone)
	set(&m.RRule, in.RRule)
	set(&m.Location, in.Location)
	set(&m.Address, in.Address)
	set(&m.OnlineURL, in.OnlineURL)
	if m.TimeZone == "UTC" {
		m.TimeZone = ""
	}
	if m.TimeZone != "" {
		if _, err := time.LoadLocation(m.TimeZone); err != nil || m.TimeZone == "Local" {
			return badRequest("timeZone %q is not an IANA time zone name (e.g. Europe/London)", m.TimeZone)
		}
	}
	if m.RRule != "" {
		r, err := policy.ParseRRule(m.RRule)
		if err != nil {
			return err
		}
		m.RRule = r.String()
	}
	loc := m.Zone()
	if in.Start != nil {
		t, err := parseWhen(*in.Start, loc)
		if err != nil {
			return err
		}
		m.Start = t
	}
	if in.End != nil {
		m.End = time.Time{}
		if *in.End != "" {
			t, err := parseWhen(*in.End, loc)
			if err != nil {
				return err
			}
			m.End = t
		}
	}
	if in.Capacity != nil {
		m.Capacity = *in.Capacity
	}
	if in.Cancelled != nil {
		m.Cancelled = *in.Cancelled
	}
	// Keep the instants, shown in the meeting's zone.
	m.Start = m.Start.In(loc)
	if !m.End.IsZero() {
		m.End = m.End.In(loc)
	}
	return policy.ValidateMeeting(*m)
}

// meetingView is a meeting with its next occurrence and its RSVPs.
type meetingView struct {
	policy.Meeting
	Group    policy.GroupID `json:"group"`
	Next     *time.Time     `json:"next,omitempty"`
	Going    int            `json:"going"`
	NotGoing int            `json:"notGoing"`
	// Mine is the caller's answer, if any; RSVPs the answers with names,
	// for those who edit the group's meetings.
	Mine        *bool      `json:"mine,omitempty"`
	RSVPs       []rsvpView `json:"rsvps,omitempty"`
	Occurrences []string   `json:"occurrences,omitempty"`
}

type rsvpView struct {
	policy.RSVP
	UserName    string `json:"userName,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// rsvpsOf reads the RSVPs of g (of one meeting when id is set).
func rsvpsOf(tx store.Tx, g policy.GroupID, id string) ([]policy.RSVP, error) {
	prefix := string(g) + "/"
	if id != "" {
		prefix += id + "/"
	}
	return jsonrec.Scan[policy.RSVP](tx, nsRSVPs, prefix)
}

func (s *Server) viewMeeting(m policy.Meeting, g policy.GroupID, rs []policy.RSVP, p principal) meetingView {
	v := meetingView{Meeting: m, Group: g}
	if next, ok := m.Next(s.cfg.Now()); ok && !m.Cancelled {
		v.Next = &next
	}
	for _, r := range rs {
		if r.Meeting != m.ID {
			continue
		}
		if r.Going {
			v.Going++
		} else {
			v.NotGoing++
		}
		if !p.admin && r.User == p.user {
			going := r.Going
			v.Mine = &going
		}
	}
	return v
}

func (s *Server) withMeetingsGroup(w http.ResponseWriter, r *http.Request, p principal) (policy.Group, bool) {
	g, ok := s.withReadableGroup(w, r, p)
	if ok && !s.seesMeetings(p, g) {
		writeErr(w, errForbidden)
		return g, false
	}
	return g, ok
}

// listMeetings answers GET /api/v1/groups/{group}/meetings: the group's
// meetings, cancelled ones included, each with its next occurrence and
// RSVP counts.
func (s *Server) listMeetings(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withMeetingsGroup(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (list[meetingView], error) {
		rs, err := rsvpsOf(tx, g.ID, "")
		out := []meetingView{}
		for _, m := range g.Meetings {
			out = append(out, s.viewMeeting(m, g.ID, rs, p))
		}
		return list[meetingView]{Items: out}, err
	})
}

var errNoMeeting = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such meeting"}

func findMeeting(g policy.Group, id string) (int, error) {
	i := slices.IndexFunc(g.Meetings, func(m policy.Meeting) bool { return m.ID == id })
	if i < 0 {
		return i, errNoMeeting
	}
	return i, nil
}

// meetingAt reads group g from tx (so a write sees the latest) and finds
// meeting id in it: the group and the meeting's index in g.Meetings.
func meetingAt(tx store.Tx, g policy.GroupID, id string) (policy.Group, int, error) {
	cur, err := tx.Group(g)
	if err != nil {
		return cur, -1, err
	}
	i, err := findMeeting(cur, id)
	return cur, i, err
}

// sortMeetings orders meetings by start, keeping the order of those that
// start together.
func sortMeetings(ms []policy.Meeting) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Start.Before(ms[j].Start) })
}

// personBody decodes the body of a request only a person may make;
// check refuses what is missing. On failure it has answered the request
// and ok is false.
func personBody[T any](s *Server, w http.ResponseWriter, r *http.Request, p principal, check func(T) error) (in T, ok bool) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return in, false
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return in, false
	}
	if err := check(in); err != nil {
		writeErr(w, err)
		return in, false
	}
	return in, true
}

// getMeeting answers GET /api/v1/groups/{group}/meetings/{id}: the
// meeting, its next ten occurrences, RSVP counts and, for meetings.edit,
// who answered what.
func (s *Server) getMeeting(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withMeetingsGroup(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (meetingView, error) {
		i, err := findMeeting(g, r.PathValue("id"))
		if err != nil {
			return meetingView{}, err
		}
		m := g.Meetings[i]
		rs, err := rsvpsOf(tx, g.ID, m.ID)
		if err != nil {
			return meetingView{}, err
		}
		v := s.viewMeeting(m, g.ID, rs, p)
		now := s.cfg.Now()
		for _, o := range m.Occurrences(now, now.AddDate(20, 0, 0), 10) {
			v.Occurrences = append(v.Occurrences, o.Format(time.RFC3339))
		}
		if s.can(p, policy.PermMeetingsEdit, g.ID) {
			v.RSVPs = []rsvpView{}
			for _, rv := range rs {
				x := rsvpView{RSVP: rv}
				if u, err := tx.User(rv.Tenant, rv.User); err == nil {
					x.UserName, x.DisplayName = u.UserName, u.DisplayName
				}
				v.RSVPs = append(v.RSVPs, x)
			}
		}
		return v, nil
	})
}

// addMeeting answers POST /api/v1/groups/{group}/meetings.
func (s *Server) addMeeting(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsEdit)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	var in meetingInput
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Title == nil || in.Start == nil {
		writeErr(w, badRequest("title and start (RFC 3339, or a local date-time with timeZone) are required"))
		return
	}
	now := s.cfg.Now().UTC()
	m := policy.Meeting{ID: uuid.NewString(), Created: now, Updated: now}
	if err := in.apply(&m); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (meetingView, error) {
		cur, err := tx.Group(g.ID)
		if err != nil {
			return meetingView{}, err
		}
		cur.Meetings = append(cur.Meetings, m)
		sortMeetings(cur.Meetings)
		_, err = tx.UpdateGroup(cur)
		return s.viewMeeting(m, g.ID, nil, p), err
	})
}

// patchMeeting answers PATCH /api/v1/groups/{group}/meetings/{id}: change
// any field, or cancel ({"cancelled":true}). A change bumps SEQUENCE.
func (s *Server) patchMeeting(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsEdit)
	if !ok {
		return
	}
	var in meetingInput
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (meetingView, error) {
		cur, i, err := meetingAt(tx, g.ID, r.PathValue("id"))
		if err != nil {
			return meetingView{}, err
		}
		m := cur.Meetings[i]
		before, _ := json.Marshal(m)
		if err := in.apply(&m); err != nil {
			return meetingView{}, err
		}
		if after, _ := json.Marshal(m); !bytes.Equal(before, after) {
			m.Sequence++
			m.Updated = s.cfg.Now().UTC()
			cur.Meetings[i] = m
			sortMeetings(cur.Meetings)
			if _, err := tx.UpdateGroup(cur); err != nil {
				return meetingView{}, err
			}
		}
		rs, err := rsvpsOf(tx, g.ID, m.ID)
		return s.viewMeeting(m, g.ID, rs, p), err
	})
}

// deleteMeeting answers DELETE /api/v1/groups/{group}/meetings/{id}: the
// meeting, its RSVPs and its talks, topics, program, check-ins and ratings
// are gone (calendars that had it keep it: cancel a
// meeting people were told of instead).
func (s *Server) deleteMeeting(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsEdit)
	if !ok {
		return
	}
	id := r.PathValue("id")
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		cur, i, err := meetingAt(tx, g.ID, id)
		if err != nil {
			return none{}, err
		}
		cur.Meetings = slices.Delete(cur.Meetings, i, i+1)
		if _, err = tx.UpdateGroup(cur); err != nil {
			return none{}, err
		}
		return none{}, deleteMeetingRecords(tx, g.ID, id)
	})
}

// rsvp answers PUT /api/v1/groups/{group}/meetings/{id}/rsvp {going}:
// the caller's answer, audited. Going to a full meeting is 409 full; to a
// cancelled one 409 cancelled.
func (s *Server) rsvp(w http.ResponseWriter, r *http.Request, p principal) {
	type input struct {
		Going *bool `json:"going"`
	}
	in, ok := personBody(s, w, r, p, func(in input) error {
		if in.Going == nil {
			return badRequest("going (true or false) is required")
		}
		return nil
	})
	if !ok {
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsRead)
	if !ok {
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (meetingView, error) {
		cur, i, err := meetingAt(tx, g.ID, r.PathValue("id"))
		if err != nil {
			return meetingView{}, err
		}
		m := cur.Meetings[i]
		if m.Cancelled {
			return meetingView{}, &Error{Status: http.StatusConflict, Code: "cancelled", Message: "the meeting is cancelled"}
		}
		rs, err := rsvpsOf(tx, g.ID, m.ID)
		if err != nil {
			return meetingView{}, err
		}
		going := 0
		for _, rv := range rs {
			if rv.Going && rv.User != p.user {
				going++
			}
		}
		if *in.Going && m.Capacity > 0 && going >= m.Capacity {
			return meetingView{}, &Error{Status: http.StatusConflict, Code: "full", Message: "the meeting is full"}
		}
		rv := policy.RSVP{Group: g.ID, Meeting: m.ID, User: p.user, Tenant: p.tenant, Going: *in.Going, Updated: s.cfg.Now().UTC()}
		b, err := json.Marshal(rv)
		if err != nil {
			return meetingView{}, err
		}
		if err := tx.PutRecord(nsRSVPs, policy.RSVPKey(g.ID, m.ID, p.user), b); err != nil {
			return meetingView{}, err
		}
		err = tx.Record(p.tenant, policy.OpUpdate, "rsvp/"+policy.RSVPKey(g.ID, m.ID, p.user),
			map[string]any{"action": "rsvp", "group": g.ID, "meeting": m.ID, "title": m.Title, "user": p.user, "going": rv.Going})
		if err != nil {
			return meetingView{}, err
		}
		rs = slices.DeleteFunc(rs, func(x policy.RSVP) bool { return x.User == p.user })
		return s.viewMeeting(m, g.ID, append(rs, rv), p), nil
	})
}

// groupFeed serves GET /groups/{group}/meetings.ics: without sign-in
// only for a public group (policy.Group.Public, not archived; without the
// online link, and naming only speakers who agreed to be shown); for any
// other group, an open one included, only with a bearer token of someone
// who may see its meetings, the rule of the meeting pages (members
// subscribe to their personal feed instead). The online link and every
// speaker are for those who may read the group's meetings.
// Any other caller gets 404, as for a group that does not exist.
func (s *Server) groupFeed(w http.ResponseWriter, r *http.Request) {
	var g policy.Group
	var evs []calEvent
	reader := false
	err := s.view(r, func(tx store.Tx) (err error) {
		if g, err = lookupGroup(tx, r.PathValue("group")); err != nil {
			return err
		}
		p, err := s.authenticate(r)
		signedIn := err == nil
		reader = signedIn && s.can(p, policy.PermMeetingsRead, g.ID)
		if !isPublic(g) && !(signedIn && s.readable(p, g) && s.seesMeetings(p, g)) {
			return errNoGroup
		}
		for _, m := range g.Meetings {
			if !reader {
				// The public feed, like the public pages, does not give
				// away the link to join online: that is for members.
				m.OnlineURL = ""
			}
			agenda := Agenda
			if !reader {
				// Anyone may read this feed: it names only the speakers
				// who agreed to be shown publicly.
				agenda = publicAgenda
			}
			ag, err := agenda(tx, g.ID, m, s.cfg.Now())
			if err != nil {
				return err
			}
			evs = append(evs, calEvent{Meeting: m, Group: g.Name, GroupSlug: g.Slug, Agenda: ag})
		}
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	s.serveCalendar(w, g.Name+" meetings", evs, !reader)
}

func (s *Server) serveCalendar(w http.ResponseWriter, name string, evs []calEvent, public bool) {
	var buf bytes.Buffer
	if err := writeCalendar(&buf, name, evs, s.cfg.Now()); err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	if public {
		w.Header().Set("Cache-Control", "public, max-age=300")
	} else {
		w.Header().Set("Cache-Control", "private, max-age=300")
	}
	_, _ = w.Write(buf.Bytes())
}

// calendarOwner is the record behind a personal feed's secret.
type calendarOwner struct {
	User    policy.UserID   `json:"user"`
	Tenant  policy.TenantID `json:"tenant"`
	Created time.Time       `json:"created"`
}

func feedHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// personalFeed serves GET /calendar/{secret}.ics: the meetings of every
// group whose meetings the secret's owner may read. A wrong secret is
// 404.
func (s *Server) personalFeed(w http.ResponseWriter, r *http.Request) {
	secret, ok := strings.CutSuffix(r.PathValue("secret"), ".ics")
	if !ok || len(secret) < 32 {
		writeErr(w, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such calendar"})
		return
	}
	var evs []calEvent
	var owner calendarOwner
	err := s.view(r, func(tx store.Tx) error {
		b, err := tx.GetRecord(nsCalendarFeeds, feedHash(secret))
		if errors.Is(err, store.ErrNotFound) {
			return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such calendar"}
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &owner); err != nil {
			return err
		}
		seen := map[policy.GroupID]bool{}
		for _, m := range s.cfg.Engine.EffectiveGroups(owner.User) {
			if seen[m.Group] || !s.cfg.Engine.Check(owner.User, policy.PermMeetingsRead, m.Group) {
				continue
			}
			seen[m.Group] = true
			g, err := tx.Group(m.Group)
			if err != nil {
				continue
			}
			for _, mt := range g.Meetings {
				ag, err := Agenda(tx, g.ID, mt, s.cfg.Now())
				if err != nil {
					return err
				}
				evs = append(evs, calEvent{Meeting: mt, Group: g.Name, GroupSlug: g.Slug, Agenda: ag})
			}
		}
		return nil
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Start.Before(evs[j].Start) })
	s.serveCalendar(w, "My user group meetings", evs, false)
}

// calendarInfo answers GET /api/v1/me/calendar: whether the caller has a
// personal feed, and since when (the secret is shown only when made).
func (s *Server) calendarInfo(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	read(s, w, r, func(tx store.Tx) (map[string]any, error) {
		h, err := tx.GetRecord(nsCalendarOwners, string(p.user))
		if errors.Is(err, store.ErrNotFound) {
			return map[string]any{"exists": false}, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := tx.GetRecord(nsCalendarFeeds, string(h))
		if err != nil {
			return map[string]any{"exists": false}, nil
		}
		var o calendarOwner
		_ = json.Unmarshal(b, &o)
		return map[string]any{"exists": true, "created": o.Created}, nil
	})
}

// resetCalendar answers POST /api/v1/me/calendar: a new secret URL for
// the caller's personal feed; the old one stops working. The secret is
// shown once: {"path":"/calendar/SECRET.ics"}.
func (s *Server) resetCalendar(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		writeErr(w, err)
		return
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (map[string]any, error) {
		op := policy.OpCreate
		if err := dropCalendar(tx, p.user); err == nil {
			op = policy.OpUpdate
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		now := s.cfg.Now().UTC()
		v, _ := json.Marshal(calendarOwner{User: p.user, Tenant: p.tenant, Created: now})
		h := feedHash(secret)
		if err := tx.PutRecord(nsCalendarFeeds, h, v); err != nil {
			return nil, err
		}
		if err := tx.PutRecord(nsCalendarOwners, string(p.user), []byte(h)); err != nil {
			return nil, err
		}
		if err := tx.Record(p.tenant, op, "calendar/"+string(p.user), map[string]any{"action": "reset", "user": p.user}); err != nil {
			return nil, err
		}
		return map[string]any{"path": "/calendar/" + secret + ".ics", "created": now}, nil
	})
}

// dropCalendar removes u's personal feed (ErrNotFound when none).
func dropCalendar(tx store.Tx, u policy.UserID) error {
	h, err := tx.GetRecord(nsCalendarOwners, string(u))
	if err != nil {
		return err
	}
	if err := tx.DeleteRecord(nsCalendarFeeds, string(h)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return tx.DeleteRecord(nsCalendarOwners, string(u))
}

// deleteCalendar answers DELETE /api/v1/me/calendar: the personal feed's
// URL stops working.
func (s *Server) deleteCalendar(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusNoContent, func(tx store.Tx) (none, error) {
		if err := dropCalendar(tx, p.user); err != nil {
			return none{}, err
		}
		return none{}, tx.Record(p.tenant, policy.OpDelete, "calendar/"+string(p.user), map[string]any{"action": "delete", "user": p.user})
	})
}
