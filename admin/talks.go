package admin

// Talks and agendas. A meeting's program (record "programs",
// "<group>/<meeting>") opens its call for talks with a deadline and the
// formats offered, and sets how long its feedback form stays open.
// Members with talks.submit propose talks (records "talks",
// "<group>/<meeting>/<talk>") with co-speakers from any company; those with
// meetings.edit review them, comment among themselves, accept or decline;
// the speakers are told by mail (the outbox, mail.KindDirect) and see the
// decision on /api/v1/me/talks. Accepted talks form the agenda, in order
// with times, shown with the meeting and in its iCalendar DESCRIPTION.
// Members suggest topics (records "topics") and vote them up; organizers
// pick from the top. Records "talks-by-speaker" ("<user>/<group>/<meeting>/
// <talk>") index the talks by speaker and co-speaker for /api/v1/me/talks.
// Deleting a meeting (or its group) deletes all of these with it.
//
//	GET    /api/v1/groups/{group}/meetings/{id}/program            the call for talks
//	PUT    /api/v1/groups/{group}/meetings/{id}/program            (meetings.edit)
//	GET    /api/v1/groups/{group}/meetings/{id}/talks              organizers: all; others: accepted and their own
//	POST   /api/v1/groups/{group}/meetings/{id}/talks              propose (talks.submit, call open)
//	GET    /api/v1/groups/{group}/meetings/{id}/talks/{talk}
//	PATCH  /api/v1/groups/{group}/meetings/{id}/talks/{talk}       status accepted|declined, order (meetings.edit); withdrawn, text (speaker)
//	POST   /api/v1/groups/{group}/meetings/{id}/talks/{talk}/comments  (meetings.edit)
//	GET    /api/v1/groups/{group}/meetings/{id}/agenda
//	GET    /api/v1/groups/{group}/meetings/{id}/topics
//	POST   /api/v1/groups/{group}/meetings/{id}/topics             suggest (meetings.read)
//	PUT    /api/v1/groups/{group}/meetings/{id}/topics/{topic}/vote {vote}
//	PATCH  /api/v1/groups/{group}/meetings/{id}/topics/{topic}     {picked} (meetings.edit)
//	GET    /api/v1/me/talks                                         the caller's talks, everywhere

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Record namespaces of talks.
const (
	nsPrograms = "programs"
	nsTalks    = "talks"
	nsTopics   = "topics"
	// nsTalksBySpeaker indexes talks by speaker and co-speakers.
	nsTalksBySpeaker = "talks-by-speaker"
)

func (s *Server) talkRoutes() {
	base := "/api/v1/groups/{group}/meetings/{id}"
	s.handle("GET "+base+"/program", s.getProgram)
	s.handle("PUT "+base+"/program", s.putProgram)
	s.handle("GET "+base+"/talks", s.listTalks)
	s.handle("POST "+base+"/talks", s.proposeTalk)
	s.handle("GET "+base+"/talks/{talk}", s.getTalk)
	s.handle("PATCH "+base+"/talks/{talk}", s.patchTalk)
	s.handle("POST "+base+"/talks/{talk}/comments", s.commentTalk)
	s.handle("GET "+base+"/agenda", s.getAgenda)
	s.handle("GET "+base+"/topics", s.listTopics)
	s.handle("POST "+base+"/topics", s.addTopic)
	s.handle("PUT "+base+"/topics/{topic}/vote", s.voteTopic)
	s.handle("PATCH "+base+"/topics/{topic}", s.patchTopic)
	s.handle("GET /api/v1/me/talks", s.myTalks)
}

func meetingKey(g policy.GroupID, meeting string) string { return string(g) + "/" + meeting }

// deleteMeetingRecords deletes a meeting's RSVPs, talks (and their
// entries in the speakers' index), topics, program, check-ins and ratings.
func deleteMeetingRecords(tx store.Tx, g policy.GroupID, meeting string) error {
	ts, err := talksOf(tx, g, meeting)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := indexSpeakers(tx, &t, nil); err != nil {
			return err
		}
	}
	if err := tx.DeleteRecord(nsPrograms, meetingKey(g, meeting)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return deleteRecordsUnder(tx, meetingKey(g, meeting)+"/", nsRSVPs, nsTalks, nsTopics, nsCheckins, nsRatings)
}

// speakersOf are the users who give t.
func speakersOf(t *policy.Talk) []policy.UserID {
	if t == nil {
		return nil
	}
	out := []policy.UserID{t.Speaker.User}
	for _, c := range t.Co {
		out = append(out, c.User)
	}
	return out
}

// indexSpeakers moves the speakers' index (records "talks-by-speaker",
// "<user>/<group>/<meeting>/<talk>") from the speakers of before to those
// of after (either may be nil).
func indexSpeakers(tx store.Tx, before, after *policy.Talk) error {
	was, now := speakersOf(before), speakersOf(after)
	for _, u := range was {
		if !slices.Contains(now, u) {
			if err := tx.DeleteRecord(nsTalksBySpeaker, string(u)+"/"+policy.TalkKey(before.Group, before.Meeting, before.ID)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	for _, u := range now {
		if !slices.Contains(was, u) {
			if err := tx.PutRecord(nsTalksBySpeaker, string(u)+"/"+policy.TalkKey(after.Group, after.Meeting, after.ID), []byte{1}); err != nil {
				return err
			}
		}
	}
	return nil
}

// putTalk writes t, keeping the speakers' index in step with before (the
// talk as it was; nil for a new one).
func putTalk(tx store.Tx, before *policy.Talk, t policy.Talk) error {
	if err := jsonrec.Put(tx, nsTalks, policy.TalkKey(t.Group, t.Meeting, t.ID), t); err != nil {
		return err
	}
	return indexSpeakers(tx, before, &t)
}

// countRecords counts the records of ns under prefix.
func countRecords(tx store.Tx, ns, prefix string) (int, error) {
	n := 0
	err := tx.ScanRecords(ns, prefix, func(string, []byte) error { n++; return nil })
	return n, err
}

// programOf reads a meeting's program (the zero program, call closed,
// when none was set).
func programOf(tx store.Tx, g policy.GroupID, meeting string) (policy.Program, error) {
	p := policy.Program{Group: g, Meeting: meeting}
	err := jsonrec.Get(tx, nsPrograms, meetingKey(g, meeting), &p)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return p, err
}

// talksOf reads the talks proposed to a meeting, oldest first.
func talksOf(tx store.Tx, g policy.GroupID, meeting string) ([]policy.Talk, error) {
	ts, err := jsonrec.Scan[policy.Talk](tx, nsTalks, meetingKey(g, meeting)+"/")
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Proposed.Before(ts[j].Proposed) })
	return ts, err
}

// agendaStart is the start of the occurrence an agenda is for: the next
// one, or the last one of a meeting that is over.
func agendaStart(m policy.Meeting, now time.Time) time.Time {
	if next, ok := m.Next(now); ok {
		return next
	}
	if last, ok := m.Last(); ok {
		return last
	}
	return m.Start
}

// Agenda returns the agenda of meeting m of group g: its accepted talks
// in order with their times, speakers by name. It is what the meeting
// page and members' iCalendar feeds show. Public pages and anonymous
// feeds show publicAgenda instead, which names only the speakers who
// agreed to be shown publicly (admin/public.go).
func Agenda(tx store.Tx, g policy.GroupID, m policy.Meeting, now time.Time) ([]policy.AgendaItem, error) {
	ts, err := talksOf(tx, g, m.ID)
	if err != nil {
		return nil, err
	}
	return policy.Agenda(agendaStart(m, now), ts), nil
}

// meetingOf resolves {id} in g (read from tx, so a write sees the latest).
func meetingOf(tx store.Tx, g policy.GroupID, id string) (policy.Group, policy.Meeting, error) {
	cur, i, err := meetingAt(tx, g, id)
	if err != nil {
		return cur, policy.Meeting{}, err
	}
	return cur, cur.Meetings[i], nil
}

// speakerOf names user u of tenant t, or fails with a field error when
// there is no such active person.
func speakerOf(tx store.Tx, t policy.TenantID, u policy.UserID, field string) (policy.Speaker, error) {
	usr, err := tx.User(t, u)
	if err != nil || !usr.Active {
		return policy.Speaker{}, &policy.FieldError{Field: field, Message: "no such person (use company/user name, e.g. acme/carol)"}
	}
	name := usr.DisplayName
	if name == "" {
		name = strings.TrimSpace(usr.GivenName + " " + usr.FamilyName)
	}
	if name == "" {
		name = usr.UserName
	}
	return policy.Speaker{User: usr.ID, Tenant: t, Name: name}, nil
}

// coSpeaker resolves "company/userName" (any company) to a speaker.
func coSpeaker(tx store.Tx, ref string) (policy.Speaker, error) {
	t, name, ok := strings.Cut(strings.TrimSpace(ref), "/")
	bad := &policy.FieldError{Field: "coSpeakers", Message: fmt.Sprintf("no such person %q (use company/user name, e.g. acme/carol)", ref)}
	if !ok || t == "" || name == "" {
		return policy.Speaker{}, bad
	}
	u, err := tx.UserByUserName(policy.TenantID(t), name)
	if err != nil {
		return policy.Speaker{}, bad
	}
	sp, err := speakerOf(tx, policy.TenantID(t), u.ID, "coSpeakers")
	if err != nil {
		return sp, bad
	}
	return sp, nil
}

// withMeeting resolves {group} for a caller who sees its meetings, and
// checks {id} is one of them.
func (s *Server) withMeeting(w http.ResponseWriter, r *http.Request, p principal) (policy.Group, policy.Meeting, bool) {
	g, ok := s.withMeetingsGroup(w, r, p)
	if !ok {
		return g, policy.Meeting{}, false
	}
	i, err := findMeeting(g, r.PathValue("id"))
	if err != nil {
		writeErr(w, err)
		return g, policy.Meeting{}, false
	}
	return g, g.Meetings[i], true
}

// programView is a program with what the caller may do with it.
type programView struct {
	policy.Program
	Formats   []policy.TalkFormat `json:"formats"`
	Accepting bool                `json:"accepting"`
	// FeedbackOpen and FeedbackCloses: the feedback form's window now.
	FeedbackOpen   bool      `json:"feedbackOpen"`
	FeedbackCloses time.Time `json:"feedbackCloses,omitzero"`
}

func (s *Server) viewProgram(pr policy.Program, m policy.Meeting) programView {
	now := s.cfg.Now()
	v := programView{Program: pr, Formats: pr.FormatsOf(), Accepting: pr.Accepting(m, now)}
	if from, to, ok := pr.FeedbackWindow(m, now); ok && !now.Before(from) && now.Before(to) {
		v.FeedbackOpen, v.FeedbackCloses = true, to
	}
	return v
}

// getProgram answers GET …/meetings/{id}/program.
func (s *Server) getProgram(w http.ResponseWriter, r *http.Request, p principal) {
	g, m, ok := s.withMeeting(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (programView, error) {
		pr, err := programOf(tx, g.ID, m.ID)
		return s.viewProgram(pr, m), err
	})
}

// putProgram answers PUT …/meetings/{id}/program {callOpen, deadline,
// formats, feedbackDays}: replaces the program, audited.
func (s *Server) putProgram(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsEdit)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	var in struct {
		CallOpen     bool                `json:"callOpen"`
		Deadline     string              `json:"deadline"`
		Formats      []policy.TalkFormat `json:"formats"`
		FeedbackDays int                 `json:"feedbackDays"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (programView, error) {
		_, m, err := meetingOf(tx, g.ID, r.PathValue("id"))
		if err != nil {
			return programView{}, err
		}
		pr := policy.Program{Group: g.ID, Meeting: m.ID, CallOpen: in.CallOpen, Formats: in.Formats, FeedbackDays: in.FeedbackDays, Updated: s.cfg.Now().UTC()}
		if in.Deadline != "" {
			t, err := parseWhen(in.Deadline, m.Zone())
			if err != nil {
				return programView{}, &policy.FieldError{Field: "deadline", Message: "a deadline is a date and time, e.g. 2031-03-01T18:00"}
			}
			pr.Deadline = t.UTC()
		}
		if err := policy.ValidateProgram(pr); err != nil {
			return programView{}, err
		}
		if err := jsonrec.Put(tx, nsPrograms, meetingKey(g.ID, m.ID), pr); err != nil {
			return programView{}, err
		}
		err = tx.Record(p.tenant, policy.OpUpdate, "program/"+meetingKey(g.ID, m.ID),
			map[string]any{"action": "program", "group": g.ID, "meeting": m.ID, "callOpen": pr.CallOpen, "deadline": pr.Deadline, "formats": pr.Formats, "feedbackDays": pr.FeedbackDays})
		return s.viewProgram(pr, m), err
	})
}

// talkView is a talk as the caller may see it: comments only for those
// who review the meeting's talks.
type talkView struct {
	policy.Talk
	GroupSlug    string `json:"groupSlug,omitempty"`
	MeetingTitle string `json:"meetingTitle,omitempty"`
}

func (s *Server) reviews(p principal, g policy.GroupID) bool {
	return s.can(p, policy.PermMeetingsEdit, g)
}

// visibleTalk reports whether p may see t: reviewers see all, speakers
// their own, everyone who sees the meeting its accepted talks.
func (s *Server) visibleTalk(p principal, t policy.Talk) bool {
	return t.Status == policy.TalkAccepted || s.reviews(p, t.Group) || !p.admin && t.Speaks(p.user)
}

func (s *Server) viewTalk(p principal, t policy.Talk) talkView {
	if !s.reviews(p, t.Group) {
		t.Comments = nil
	}
	return talkView{Talk: t}
}

// listTalks answers GET …/meetings/{id}/talks: reviewers see every talk
// with the organizers' comments; others the accepted ones and their own.
func (s *Server) listTalks(w http.ResponseWriter, r *http.Request, p principal) {
	g, m, ok := s.withMeeting(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (list[talkView], error) {
		ts, err := talksOf(tx, g.ID, m.ID)
		out := []talkView{}
		for _, t := range ts {
			if s.visibleTalk(p, t) {
				out = append(out, s.viewTalk(p, t))
			}
		}
		return list[talkView]{Items: out}, err
	})
}

var errNoTalk = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such talk"}

// talkOf reads talk {talk} of the meeting; one the caller may not see is
// not found.
func (s *Server) talkOf(tx store.Tx, p principal, g policy.GroupID, meeting, id string) (policy.Talk, error) {
	var t policy.Talk
	err := jsonrec.Get(tx, nsTalks, policy.TalkKey(g, meeting, id), &t)
	if errors.Is(err, store.ErrNotFound) || err == nil && !s.visibleTalk(p, t) {
		return t, errNoTalk
	}
	return t, err
}

// getTalk answers GET …/talks/{talk}.
func (s *Server) getTalk(w http.ResponseWriter, r *http.Request, p principal) {
	g, m, ok := s.withMeeting(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (talkView, error) {
		t, err := s.talkOf(tx, p, g.ID, m.ID, r.PathValue("talk"))
		return s.viewTalk(p, t), err
	})
}

// talkInput is the body of a proposal or a speaker's edit.
type talkInput struct {
	Title      *string   `json:"title"`
	Abstract   *string   `json:"abstract"`
	Format     *string   `json:"format"`
	CoSpeakers *[]string `json:"coSpeakers"` // "company/userName"
}

func (in talkInput) apply(tx store.Tx, t *policy.Talk, pr policy.Program) error {
	if in.Title != nil {
		t.Title = strings.TrimSpace(*in.Title)
	}
	if in.Abstract != nil {
		t.Abstract = strings.TrimSpace(*in.Abstract)
	}
	if in.Format != nil {
		t.Format = strings.TrimSpace(*in.Format)
	}
	if in.CoSpeakers != nil {
		if len(*in.CoSpeakers) > policy.MaxCoSpeakers {
			return &policy.FieldError{Field: "coSpeakers", Message: fmt.Sprintf("at most %d co-speakers", policy.MaxCoSpeakers)}
		}
		t.Co = nil
		for _, ref := range *in.CoSpeakers {
			if strings.TrimSpace(ref) == "" {
				continue
			}
			sp, err := coSpeaker(tx, ref)
			if err != nil {
				return err
			}
			t.Co = append(t.Co, sp)
		}
	}
	if f, ok := pr.Format(t.Format); ok {
		t.Minutes = f.Minutes
	}
	return policy.ValidateTalk(*t, pr)
}

// proposeTalk answers POST …/meetings/{id}/talks {title, abstract, format,
// coSpeakers}: the caller (talks.submit) proposes a talk while the call is
// open. 409 call_closed otherwise.
func (s *Server) proposeTalk(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermTalksSubmit)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	var in talkInput
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (talkView, error) {
		_, m, err := meetingOf(tx, g.ID, r.PathValue("id"))
		if err != nil {
			return talkView{}, err
		}
		pr, err := programOf(tx, g.ID, m.ID)
		if err != nil {
			return talkView{}, err
		}
		if !pr.Accepting(m, s.cfg.Now()) {
			return talkView{}, &Error{Status: http.StatusConflict, Code: "call_closed", Message: "the meeting's call for talks is not open"}
		}
		if n, err := countRecords(tx, nsTalks, meetingKey(g.ID, m.ID)+"/"); err != nil || n >= policy.MaxTalks {
			if err != nil {
				return talkView{}, err
			}
			return talkView{}, &Error{Status: http.StatusConflict, Code: "too_many", Message: fmt.Sprintf("the meeting has %d proposals, as many as it takes", n)}
		}
		sp, err := speakerOf(tx, p.tenant, p.user, "speaker")
		if err != nil {
			return talkView{}, err
		}
		t := policy.Talk{ID: uuid.NewString(), Group: g.ID, Meeting: m.ID, Speaker: sp, Status: policy.TalkProposed, Proposed: s.cfg.Now().UTC()}
		if in.Title == nil {
			in.Title = new(string)
		}
		if in.Abstract == nil {
			in.Abstract = new(string)
		}
		if in.Format == nil {
			in.Format = new(string)
		}
		if err := in.apply(tx, &t, pr); err != nil {
			return talkView{}, err
		}
		if err := putTalk(tx, nil, t); err != nil {
			return talkView{}, err
		}
		err = tx.Record(p.tenant, policy.OpCreate, "talk/"+policy.TalkKey(g.ID, m.ID, t.ID),
			map[string]any{"action": "propose", "group": g.ID, "meeting": m.ID, "talk": t.ID, "title": t.Title, "speaker": p.user})
		return s.viewTalk(p, t), err
	})
}

// patchTalk answers PATCH …/talks/{talk}. Reviewers set status accepted
// or declined (the speakers are told by mail) and order (the place on the
// agenda); the speaker may change the text of a proposed talk or set
// status withdrawn.
func (s *Server) patchTalk(w http.ResponseWriter, r *http.Request, p principal) {
	g, m, ok := s.withMeeting(w, r, p)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	var in struct {
		talkInput
		Status *policy.TalkStatus `json:"status"`
		Order  *int               `json:"order"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (talkView, error) {
		t, err := s.talkOf(tx, p, g.ID, m.ID, r.PathValue("talk"))
		if err != nil {
			return talkView{}, err
		}
		reviewer, speaker := s.reviews(p, g.ID), !p.admin && t.Speaks(p.user)
		orig := t
		before := t.Status
		textChange := in.Title != nil || in.Abstract != nil || in.Format != nil || in.CoSpeakers != nil
		switch {
		case in.Status != nil && (*in.Status == policy.TalkAccepted || *in.Status == policy.TalkDeclined):
			if !reviewer {
				return talkView{}, errForbidden
			}
		case in.Status != nil && *in.Status == policy.TalkWithdrawn:
			if !speaker {
				return talkView{}, errForbidden
			}
		case in.Status != nil:
			return talkView{}, &policy.FieldError{Field: "status", Message: "status is accepted or declined (organizers) or withdrawn (the speaker)"}
		}
		if in.Order != nil && !reviewer || textChange && !speaker {
			return talkView{}, errForbidden
		}
		if textChange {
			if t.Status != policy.TalkProposed {
				return talkView{}, &Error{Status: http.StatusConflict, Code: "decided", Message: "only a talk still proposed can be changed"}
			}
			pr, err := programOf(tx, g.ID, m.ID)
			if err != nil {
				return talkView{}, err
			}
			if err := in.apply(tx, &t, pr); err != nil {
				return talkView{}, err
			}
		}
		if in.Status != nil && *in.Status != t.Status {
			if t.Status == policy.TalkWithdrawn {
				return talkView{}, &Error{Status: http.StatusConflict, Code: "withdrawn", Message: "the speaker withdrew this talk"}
			}
			t.Status, t.Decided = *in.Status, s.cfg.Now().UTC()
		}
		if in.Order != nil {
			t.Order = *in.Order
		}
		if err := putTalk(tx, &orig, t); err != nil {
			return talkView{}, err
		}
		err = tx.Record(p.tenant, policy.OpUpdate, "talk/"+policy.TalkKey(g.ID, m.ID, t.ID),
			map[string]any{"action": "talk", "group": g.ID, "meeting": m.ID, "talk": t.ID, "title": t.Title, "status": t.Status, "was": before, "order": t.Order})
		if err != nil {
			return talkView{}, err
		}
		if t.Status != before && (t.Status == policy.TalkAccepted || t.Status == policy.TalkDeclined) {
			if err := s.tellSpeakers(tx, p, g, m, t); err != nil {
				return talkView{}, err
			}
		}
		return s.viewTalk(p, t), nil
	})
}

// tellSpeakers queues a mail to the speakers of t about its decision, in
// the same transaction (the outbox sends it when it runs).
func (s *Server) tellSpeakers(tx store.Tx, p principal, g policy.Group, m policy.Meeting, t policy.Talk) error {
	users := []policy.UserID{t.Speaker.User}
	for _, c := range t.Co {
		users = append(users, c.User)
	}
	when := agendaStart(m, s.cfg.Now()).In(m.Zone()).Format("Monday 2 January 2006, 15:04")
	var subj, body string
	if t.Status == policy.TalkAccepted {
		subj = "Your talk “" + t.Title + "” is accepted"
		body = fmt.Sprintf("Your talk “%s” is on the agenda of %s (%s, %s).\n\nThank you for speaking; the agenda is on the meeting's page in the portal.", t.Title, m.Title, g.Name, when)
	} else {
		subj = "Your talk “" + t.Title + "” was not accepted"
		body = fmt.Sprintf("Thank you for proposing “%s” to %s (%s, %s). The organizers could not fit it on this agenda; do propose it again.", t.Title, m.Title, g.Name, when)
	}
	_, err := mail.QueueDirect(tx, mail.Direct{Group: g, Users: users, Subject: mail.Subject(subj), Body: body, Author: p.actor()}, s.cfg.Now())
	return err
}

// commentTalk answers POST …/talks/{talk}/comments {text}: a reviewer's
// remark, seen only by the meeting's reviewers.
func (s *Server) commentTalk(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsEdit)
	if !ok {
		return
	}
	text, ok := s.textBody(w, r, "comment", policy.MaxCommentBytes)
	if !ok {
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (talkView, error) {
		_, m, err := meetingOf(tx, g.ID, r.PathValue("id"))
		if err != nil {
			return talkView{}, err
		}
		t, err := s.talkOf(tx, p, g.ID, m.ID, r.PathValue("talk"))
		if err != nil {
			return talkView{}, err
		}
		if len(t.Comments) >= policy.MaxTalkComments {
			return talkView{}, &Error{Status: http.StatusConflict, Code: "too_many", Message: "this talk has as many comments as it may"}
		}
		c := policy.TalkComment{Author: p.actor(), Text: text, At: s.cfg.Now().UTC()}
		if !p.admin {
			if sp, err := speakerOf(tx, p.tenant, p.user, "author"); err == nil {
				c.AuthorName = sp.Name
			}
		}
		t.Comments = append(t.Comments, c)
		if err := putTalk(tx, &t, t); err != nil {
			return talkView{}, err
		}
		err = tx.Record(p.tenant, policy.OpUpdate, "talk/"+policy.TalkKey(g.ID, m.ID, t.ID),
			map[string]any{"action": "comment", "group": g.ID, "meeting": m.ID, "talk": t.ID})
		return s.viewTalk(p, t), err
	})
}

// agendaView is a meeting's agenda.
type agendaView struct {
	Meeting string              `json:"meeting"`
	Start   time.Time           `json:"start"`
	Items   []policy.AgendaItem `json:"items"`
}

// getAgenda answers GET …/meetings/{id}/agenda.
func (s *Server) getAgenda(w http.ResponseWriter, r *http.Request, p principal) {
	g, m, ok := s.withMeeting(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (agendaView, error) {
		items, err := Agenda(tx, g.ID, m, s.cfg.Now())
		if items == nil {
			items = []policy.AgendaItem{}
		}
		return agendaView{Meeting: m.ID, Start: agendaStart(m, s.cfg.Now()), Items: items}, err
	})
}

// myTalks answers GET /api/v1/me/talks: every talk the caller proposed or
// co-speaks, with its status, in every group whose meetings they still
// see.
func (s *Server) myTalks(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	read(s, w, r, func(tx store.Tx) (list[talkView], error) {
		// The keys first: a backend may not read while it scans.
		var keys []string
		prefix := string(p.user) + "/"
		err := tx.ScanRecords(nsTalksBySpeaker, prefix, func(k string, _ []byte) error {
			keys = append(keys, strings.TrimPrefix(k, prefix))
			return nil
		})
		if err != nil {
			return list[talkView]{}, err
		}
		var all []policy.Talk
		for _, k := range keys {
			var t policy.Talk
			err := jsonrec.Get(tx, nsTalks, k, &t)
			if errors.Is(err, store.ErrNotFound) {
				continue // its group went since
			}
			if err != nil {
				return list[talkView]{}, err
			}
			all = append(all, t)
		}
		out := []talkView{}
		groups := map[policy.GroupID]policy.Group{}
		for _, t := range all {
			if !t.Speaks(p.user) {
				continue
			}
			g, ok := groups[t.Group]
			if !ok {
				if g, err = tx.Group(t.Group); err != nil {
					continue
				}
				groups[t.Group] = g
			}
			if !s.seesMeetings(p, g) {
				continue
			}
			v := s.viewTalk(p, t)
			v.GroupSlug = g.Slug
			if i, err := findMeeting(g, t.Meeting); err == nil {
				v.MeetingTitle = g.Meetings[i].Title
			}
			out = append(out, v)
		}
		sort.SliceStable(out, func(i, j int) bool { return out[i].Proposed.After(out[j].Proposed) })
		return list[talkView]{Items: out}, nil
	})
}

// topicView is a topic with its vote count and the caller's vote.
type topicView struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Votes   int       `json:"votes"`
	Mine    bool      `json:"mine"`
	Voted   bool      `json:"voted"`
	Picked  bool      `json:"picked"`
	Created time.Time `json:"created"`
}

func viewTopic(p principal, t policy.Topic) topicView {
	return topicView{ID: t.ID, Title: t.Title, Votes: len(t.Voters), Mine: !p.admin && t.Author == p.user,
		Voted: !p.admin && slices.Contains(t.Voters, p.user), Picked: t.Picked, Created: t.Created}
}

// listTopics answers GET …/meetings/{id}/topics: most votes first.
func (s *Server) listTopics(w http.ResponseWriter, r *http.Request, p principal) {
	g, m, ok := s.withMeeting(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (list[topicView], error) {
		ts, err := jsonrec.Scan[policy.Topic](tx, nsTopics, meetingKey(g.ID, m.ID)+"/")
		policy.SortTopics(ts)
		out := []topicView{}
		for _, t := range ts {
			out = append(out, viewTopic(p, t))
		}
		return list[topicView]{Items: out}, err
	})
}

// addTopic answers POST …/meetings/{id}/topics {title}: a member
// (meetings.read) suggests a topic, with their own vote.
func (s *Server) addTopic(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsRead)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	var in struct {
		Title string `json:"title"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (topicView, error) {
		_, m, err := meetingOf(tx, g.ID, r.PathValue("id"))
		if err != nil {
			return topicView{}, err
		}
		if n, err := countRecords(tx, nsTopics, meetingKey(g.ID, m.ID)+"/"); err != nil || n >= policy.MaxTopics {
			if err != nil {
				return topicView{}, err
			}
			return topicView{}, &Error{Status: http.StatusConflict, Code: "too_many", Message: fmt.Sprintf("the meeting has %d topics, as many as it takes", n)}
		}
		t := policy.Topic{ID: uuid.NewString(), Group: g.ID, Meeting: m.ID, Title: strings.TrimSpace(in.Title), Author: p.user,
			Voters: []policy.UserID{p.user}, Created: s.cfg.Now().UTC()}
		if err := policy.ValidateTopic(t); err != nil {
			return topicView{}, err
		}
		if err := jsonrec.Put(tx, nsTopics, meetingKey(g.ID, m.ID)+"/"+t.ID, t); err != nil {
			return topicView{}, err
		}
		err = tx.Record(p.tenant, policy.OpCreate, "topic/"+meetingKey(g.ID, m.ID)+"/"+t.ID,
			map[string]any{"action": "topic", "group": g.ID, "meeting": m.ID, "title": t.Title, "user": p.user})
		return viewTopic(p, t), err
	})
}

// changeTopic reads topic {topic}, lets fn change it and writes it back.
func (s *Server) changeTopic(w http.ResponseWriter, r *http.Request, p principal, perm policy.Permission, fn func(*policy.Topic) error) {
	g, ok := s.withGroup(w, r, p, perm)
	if !ok || s.refuseArchived(w, g) {
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (topicView, error) {
		key := meetingKey(g.ID, r.PathValue("id")) + "/" + r.PathValue("topic")
		var t policy.Topic
		if err := jsonrec.Get(tx, nsTopics, key, &t); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return topicView{}, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such topic"}
			}
			return topicView{}, err
		}
		if err := fn(&t); err != nil {
			return topicView{}, err
		}
		if err := jsonrec.Put(tx, nsTopics, key, t); err != nil {
			return topicView{}, err
		}
		err := tx.Record(p.tenant, policy.OpUpdate, "topic/"+key,
			map[string]any{"action": "topic", "group": g.ID, "meeting": t.Meeting, "title": t.Title, "votes": len(t.Voters), "picked": t.Picked})
		return viewTopic(p, t), err
	})
}

// voteTopic answers PUT …/topics/{topic}/vote {vote}: the caller's vote
// for (true) or no longer for (false) the topic.
func (s *Server) voteTopic(w http.ResponseWriter, r *http.Request, p principal) {
	type input struct {
		Vote *bool `json:"vote"`
	}
	in, ok := personBody(s, w, r, p, func(in input) error {
		if in.Vote == nil {
			return &policy.FieldError{Field: "vote", Message: "vote is true or false"}
		}
		return nil
	})
	if !ok {
		return
	}
	s.changeTopic(w, r, p, policy.PermMeetingsRead, func(t *policy.Topic) error {
		t.Voters = slices.DeleteFunc(t.Voters, func(u policy.UserID) bool { return u == p.user })
		if *in.Vote {
			t.Voters = append(t.Voters, p.user)
		}
		return nil
	})
}

// patchTopic answers PATCH …/topics/{topic} {picked}: an organizer picks
// the topic for the meeting (or drops it).
func (s *Server) patchTopic(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Picked *bool `json:"picked"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	if in.Picked == nil {
		writeErr(w, &policy.FieldError{Field: "picked", Message: "picked is true or false"})
		return
	}
	s.changeTopic(w, r, p, policy.PermMeetingsEdit, func(t *policy.Topic) error { t.Picked = *in.Picked; return nil })
}
