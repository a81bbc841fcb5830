package admin

// Feedback after a meeting. Those who RSVP'd going or were checked in
// (records "checkins", "<group>/<meeting>/<user>", kept by organizers on
// the check-in list) rate the meeting and each talk on its agenda and may
// leave a comment (records "ratings", same key), while the form is open:
// from the end of the meeting for its program's feedbackDays (default 14).
// Organizers (meetings.edit) see the results per meeting and per talk with
// the comments (without names); speakers see the scores of their own talks.
//
//	GET    /api/v1/groups/{group}/meetings/{id}/feedback           the form, the caller's rating, the results they may see
//	PUT    /api/v1/groups/{group}/meetings/{id}/feedback           {overall, talks, comment}
//	GET    /api/v1/groups/{group}/meetings/{id}/checkins           (meetings.edit) who said they come, who came
//	PUT    /api/v1/groups/{group}/meetings/{id}/checkins/{user}    (meetings.edit) check in
//	DELETE /api/v1/groups/{group}/meetings/{id}/checkins/{user}    (meetings.edit) undo

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/roster-dev/roster/internal/jsonrec"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Record namespaces of meeting feedback.
const (
	nsRatings  = "ratings"
	nsCheckins = "checkins"
)

func (s *Server) meetingFeedbackRoutes() {
	base := "/api/v1/groups/{group}/meetings/{id}"
	s.handle("GET "+base+"/feedback", s.getFeedback)
	s.handle("PUT "+base+"/feedback", s.putFeedback)
	s.handle("GET "+base+"/checkins", s.listCheckins)
	s.handle("PUT "+base+"/checkins/{user}", s.checkIn)
	s.handle("DELETE "+base+"/checkins/{user}", s.checkIn)
}

// Figures are a meeting's attendance and feedback figures: the analytics
// (stats) read them per meeting.
type Figures struct {
	Going    int          `json:"going"`
	NotGoing int          `json:"notGoing"`
	CheckIns int          `json:"checkIns"`
	Ratings  policy.Score `json:"ratings"`
}

// MeetingFigures returns the figures of meeting of group g: RSVPs going
// and not going, check-ins, and the count and mean of its overall
// ratings. It reads only records, so it works for a meeting that was
// deleted since (all zero then).
func MeetingFigures(tx store.Tx, g policy.GroupID, meeting string) (Figures, error) {
	var f Figures
	rs, err := rsvpsOf(tx, g, meeting)
	if err != nil {
		return f, err
	}
	for _, r := range rs {
		if r.Going {
			f.Going++
		} else {
			f.NotGoing++
		}
	}
	if f.CheckIns, err = countRecords(tx, nsCheckins, meetingKey(g, meeting)+"/"); err != nil {
		return f, err
	}
	ratings, err := jsonrec.Scan[policy.Rating](tx, nsRatings, meetingKey(g, meeting)+"/")
	f.Ratings = policy.Summarize(ratings).Overall
	return f, err
}

// attended reports whether u RSVP'd going to the meeting or was checked
// in.
func attended(tx store.Tx, g policy.GroupID, meeting string, u policy.UserID) (bool, error) {
	if _, err := tx.GetRecord(nsCheckins, policy.RSVPKey(g, meeting, u)); err == nil {
		return true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	var rv policy.RSVP
	err := jsonrec.Get(tx, nsRSVPs, policy.RSVPKey(g, meeting, u), &rv)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && rv.Going, err
}

// feedbackView is what GET …/feedback answers.
type feedbackView struct {
	// Open: the form takes ratings now, until Closes; Eligible: the
	// caller went (RSVP'd going or was checked in).
	Open     bool                `json:"open"`
	Opens    time.Time           `json:"opens,omitzero"`
	Closes   time.Time           `json:"closes,omitzero"`
	Eligible bool                `json:"eligible"`
	Agenda   []policy.AgendaItem `json:"agenda"`
	// Own are the talks of the agenda the caller speaks in: not theirs
	// to rate.
	Own  []string       `json:"own,omitempty"`
	Mine *policy.Rating `json:"mine,omitempty"`
	// Results: for organizers the whole; for a speaker only their talks.
	Results  *policy.Results `json:"results,omitempty"`
	Comments []string        `json:"comments,omitempty"`
	Figures  *Figures        `json:"figures,omitempty"`
}

func (s *Server) feedbackOf(tx store.Tx, p principal, g policy.GroupID, m policy.Meeting) (feedbackView, error) {
	now := s.cfg.Now()
	pr, err := programOf(tx, g, m.ID)
	if err != nil {
		return feedbackView{}, err
	}
	v := feedbackView{}
	if from, to, ok := pr.FeedbackWindow(m, now); ok {
		v.Opens, v.Closes, v.Open = from, to, now.Before(to)
	}
	talks, err := talksOf(tx, g, m.ID)
	if err != nil {
		return v, err
	}
	// The agenda of the occurrence the form is about: the one that
	// ended when it opened.
	start := agendaStart(m, now)
	if !v.Opens.IsZero() {
		start = v.Opens.Add(-m.Length())
	}
	v.Agenda = policy.Agenda(start, talks)
	for _, t := range talks {
		if t.Status == policy.TalkAccepted && !p.admin && t.Speaks(p.user) {
			v.Own = append(v.Own, t.ID)
		}
	}
	if !p.admin {
		if v.Eligible, err = attended(tx, g, m.ID, p.user); err != nil {
			return v, err
		}
		var mine policy.Rating
		if err := jsonrec.Get(tx, nsRatings, policy.RatingKey(g, m.ID, p.user), &mine); err == nil {
			v.Mine = &mine
		} else if !errors.Is(err, store.ErrNotFound) {
			return v, err
		}
	}
	ratings, err := jsonrec.Scan[policy.Rating](tx, nsRatings, meetingKey(g, m.ID)+"/")
	if err != nil {
		return v, err
	}
	res := policy.Summarize(ratings)
	switch {
	case s.reviews(p, g):
		v.Results = &res
		for _, r := range ratings {
			if r.Comment != "" {
				v.Comments = append(v.Comments, r.Comment)
			}
		}
		f, err := MeetingFigures(tx, g, m.ID)
		if err != nil {
			return v, err
		}
		v.Figures = &f
	case !p.admin:
		// A speaker sees the scores of their own talks, nothing else.
		own := policy.Results{Talks: map[string]policy.Score{}}
		for _, t := range talks {
			if t.Speaks(p.user) {
				own.Talks[t.ID] = res.Talks[t.ID]
			}
		}
		if len(own.Talks) > 0 {
			v.Results = &own
		}
	}
	return v, nil
}

// getFeedback answers GET …/meetings/{id}/feedback.
func (s *Server) getFeedback(w http.ResponseWriter, r *http.Request, p principal) {
	g, m, ok := s.withMeeting(w, r, p)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (feedbackView, error) { return s.feedbackOf(tx, p, g.ID, m) })
}

// putFeedback answers PUT …/meetings/{id}/feedback {overall, talks,
// comment}: the caller's rating, replacing an earlier one. 403
// not_attended for someone who neither RSVP'd going nor was checked in;
// 409 feedback_closed outside the form's window.
func (s *Server) putFeedback(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	g, m, ok := s.withMeeting(w, r, p)
	if !ok {
		return
	}
	var in struct {
		Overall int            `json:"overall"`
		Talks   map[string]int `json:"talks"`
		Comment string         `json:"comment"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (feedbackView, error) {
		v, err := s.feedbackOf(tx, p, g.ID, m)
		if err != nil {
			return v, err
		}
		if !v.Eligible {
			return v, &Error{Status: http.StatusForbidden, Code: "not_attended", Message: "only those who said they would come, or were checked in, rate a meeting"}
		}
		if !v.Open || s.cfg.Now().Before(v.Opens) {
			return v, &Error{Status: http.StatusConflict, Code: "feedback_closed", Message: "the feedback form of this meeting is not open"}
		}
		// The talks one may rate: those on the agenda, but one's own.
		var ids []string
		for _, it := range v.Agenda {
			if !slices.Contains(v.Own, it.Talk) {
				ids = append(ids, it.Talk)
			}
		}
		for id := range in.Talks {
			if slices.Contains(v.Own, id) {
				return v, &policy.FieldError{Field: "talks", Message: "speakers do not rate their own talk"}
			}
		}
		rt := policy.Rating{Group: g.ID, Meeting: m.ID, User: p.user, Tenant: p.tenant, Overall: in.Overall, Talks: in.Talks,
			Comment: strings.TrimSpace(in.Comment), Updated: s.cfg.Now().UTC()}
		if err := policy.ValidateRating(rt, ids); err != nil {
			return v, err
		}
		op := policy.OpCreate
		if v.Mine != nil {
			op = policy.OpUpdate
		}
		if err := jsonrec.Put(tx, nsRatings, policy.RatingKey(g.ID, m.ID, p.user), rt); err != nil {
			return v, err
		}
		// The audit entry says that a rating was given, not what it was.
		if err := tx.Record(p.tenant, op, "rating/"+policy.RatingKey(g.ID, m.ID, p.user),
			map[string]any{"action": "rate", "group": g.ID, "meeting": m.ID, "user": p.user}); err != nil {
			return v, err
		}
		return s.feedbackOf(tx, p, g.ID, m)
	})
}

// checkinRow is one line of the check-in list.
type checkinRow struct {
	User        policy.UserID   `json:"user"`
	Tenant      policy.TenantID `json:"tenant"`
	UserName    string          `json:"userName"`
	DisplayName string          `json:"displayName,omitempty"`
	Going       bool            `json:"going"`
	CheckedIn   bool            `json:"checkedIn"`
}

// listCheckins answers GET …/meetings/{id}/checkins: those who RSVP'd
// going and those checked in, by name.
func (s *Server) listCheckins(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsEdit)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (list[checkinRow], error) {
		_, m, err := meetingOf(tx, g.ID, r.PathValue("id"))
		if err != nil {
			return list[checkinRow]{}, err
		}
		rows := map[policy.UserID]*checkinRow{}
		rs, err := rsvpsOf(tx, g.ID, m.ID)
		if err != nil {
			return list[checkinRow]{}, err
		}
		for _, rv := range rs {
			if rv.Going {
				rows[rv.User] = &checkinRow{User: rv.User, Tenant: rv.Tenant, Going: true}
			}
		}
		cs, err := jsonrec.Scan[policy.CheckIn](tx, nsCheckins, meetingKey(g.ID, m.ID)+"/")
		if err != nil {
			return list[checkinRow]{}, err
		}
		for _, c := range cs {
			if rows[c.User] == nil {
				rows[c.User] = &checkinRow{User: c.User, Tenant: c.Tenant}
			}
			rows[c.User].CheckedIn = true
		}
		out := []checkinRow{}
		for _, row := range rows {
			if u, err := tx.User(row.Tenant, row.User); err == nil {
				row.UserName, row.DisplayName = u.UserName, u.DisplayName
			}
			out = append(out, *row)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].UserName < out[j].UserName })
		return list[checkinRow]{Items: out}, nil
	})
}

// checkIn answers PUT (check in) and DELETE (undo) …/checkins/{user}: the
// person must be able to read the group's meetings (a member).
func (s *Server) checkIn(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermMeetingsEdit)
	if !ok {
		return
	}
	u := policy.UserID(r.PathValue("user"))
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (checkinRow, error) {
		_, m, err := meetingOf(tx, g.ID, r.PathValue("id"))
		if err != nil {
			return checkinRow{}, err
		}
		noOne := &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such member of the group"}
		if !s.cfg.Engine.Check(u, policy.PermMeetingsRead, g.ID) {
			return checkinRow{}, noOne
		}
		tenants, err := tx.Tenants()
		if err != nil {
			return checkinRow{}, err
		}
		var usr policy.User
		var tenant policy.TenantID
		for _, t := range tenants {
			if x, err := tx.User(t.ID, u); err == nil {
				usr, tenant = x, t.ID
				break
			}
		}
		if tenant == "" {
			return checkinRow{}, noOne
		}
		key := policy.RSVPKey(g.ID, m.ID, u)
		row := checkinRow{User: u, Tenant: tenant, UserName: usr.UserName, DisplayName: usr.DisplayName}
		if r.Method == http.MethodDelete {
			if err := tx.DeleteRecord(nsCheckins, key); err != nil && !errors.Is(err, store.ErrNotFound) {
				return row, err
			}
		} else {
			if err := jsonrec.Put(tx, nsCheckins, key, policy.CheckIn{Group: g.ID, Meeting: m.ID, User: u, Tenant: tenant, At: s.cfg.Now().UTC(), By: p.actor()}); err != nil {
				return row, err
			}
			row.CheckedIn = true
		}
		var rv policy.RSVP
		if jsonrec.Get(tx, nsRSVPs, key, &rv) == nil {
			row.Going = rv.Going
		}
		err = tx.Record(p.tenant, policy.OpUpdate, "checkin/"+key,
			map[string]any{"action": "checkin", "group": g.ID, "meeting": m.ID, "user": u, "checkedIn": row.CheckedIn})
		return row, err
	})
}

// LoadMeetingActivity writes a's programs, talks, topics, RSVPs,
// check-ins and ratings as the admin API keeps them, inside tx (the demo
// world's, when it is loaded). Each is validated as the API would; the
// meetings they refer to must be in the store already.
func LoadMeetingActivity(tx store.Tx, a policy.MeetingActivity) error {
	for _, p := range a.Programs {
		if err := policy.ValidateProgram(p); err != nil {
			return err
		}
		if err := jsonrec.Put(tx, nsPrograms, meetingKey(p.Group, p.Meeting), p); err != nil {
			return err
		}
	}
	for _, t := range a.Talks {
		if err := putTalk(tx, nil, t); err != nil {
			return err
		}
	}
	for _, t := range a.Topics {
		if err := policy.ValidateTopic(t); err != nil {
			return err
		}
		if err := jsonrec.Put(tx, nsTopics, meetingKey(t.Group, t.Meeting)+"/"+t.ID, t); err != nil {
			return err
		}
	}
	for _, r := range a.RSVPs {
		if err := jsonrec.Put(tx, nsRSVPs, policy.RSVPKey(r.Group, r.Meeting, r.User), r); err != nil {
			return err
		}
	}
	for _, c := range a.CheckIns {
		if err := jsonrec.Put(tx, nsCheckins, policy.RSVPKey(c.Group, c.Meeting, c.User), c); err != nil {
			return err
		}
	}
	for _, r := range a.Ratings {
		if err := jsonrec.Put(tx, nsRatings, policy.RatingKey(r.Group, r.Meeting, r.User), r); err != nil {
			return err
		}
	}
	return nil
}
