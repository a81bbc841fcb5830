package portal

// A meeting's talks and agenda, and its feedback, on two pages over the
// admin API (admin/talks.go, admin/meetingfeedback.go):
//
//	/portal/groups/{slug}/meetings/{id}/talks     the agenda, the call for talks, proposals, review, topics
//	/portal/groups/{slug}/meetings/{id}/feedback  the feedback form, the results, the check-in list
//	/portal/me/talks                              the caller's talks everywhere, with the decisions
//
// Every form posts to …/{page}/{action}; a refusal shows the page again
// with the message next to the field the admin API named.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (p *Portal) talkRoutes() {
	p.mustPages([]string{"talks", "feedback", "mytalks"}, "partial-agenda")
	p.mux.HandleFunc("GET /portal/me/talks", p.guard(p.myTalksPage))
	p.mux.HandleFunc("GET /portal/groups/{slug}/meetings/{id}/talks", p.guard(p.talksPage))
	p.mux.HandleFunc("POST /portal/groups/{slug}/meetings/{id}/talks/{action}", p.guard(p.talksAction))
	p.mux.HandleFunc("GET /portal/groups/{slug}/meetings/{id}/feedback", p.guard(p.feedbackPage))
	p.mux.HandleFunc("POST /portal/groups/{slug}/meetings/{id}/feedback/{action}", p.guard(p.feedbackAction))
}

type talkFormat struct {
	Name    string `json:"name"`
	Minutes int    `json:"minutes"`
}

type program struct {
	CallOpen       bool         `json:"callOpen"`
	Deadline       time.Time    `json:"deadline"`
	Formats        []talkFormat `json:"formats"`
	FeedbackDays   int          `json:"feedbackDays"`
	Accepting      bool         `json:"accepting"`
	FeedbackOpen   bool         `json:"feedbackOpen"`
	FeedbackCloses time.Time    `json:"feedbackCloses"`
}

type speaker struct {
	User   string `json:"user"`
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
}

type talkComment struct {
	AuthorName string    `json:"authorName"`
	Author     string    `json:"author"`
	Text       string    `json:"text"`
	At         time.Time `json:"at"`
}

type talk struct {
	ID           string        `json:"id"`
	Speaker      speaker       `json:"speaker"`
	Co           []speaker     `json:"coSpeakers"`
	Title        string        `json:"title"`
	Abstract     string        `json:"abstract"`
	Format       string        `json:"format"`
	Minutes      int           `json:"minutes"`
	Status       string        `json:"status"`
	Order        int           `json:"order"`
	Comments     []talkComment `json:"comments"`
	GroupSlug    string        `json:"groupSlug"`
	MeetingTitle string        `json:"meetingTitle"`
	Meeting      string        `json:"meeting"`
}

// Speakers is "A, B and C".
func (t talk) Speakers() string {
	names := []string{t.Speaker.Name}
	for _, c := range t.Co {
		names = append(names, c.Name)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

type agendaItem struct {
	Talk     string    `json:"talk"`
	Title    string    `json:"title"`
	Speakers string    `json:"speakers"`
	Format   string    `json:"format"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
}

type topic struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Votes  int    `json:"votes"`
	Voted  bool   `json:"voted"`
	Picked bool   `json:"picked"`
}

// agendaData is what the "agenda" partial shows: items in a zone.
type agendaData struct {
	Items []agendaItem
	Zone  *time.Location
}

// At formats t in the agenda's zone.
func (a agendaData) At(t time.Time) string { return t.In(a.Zone).Format("15:04") }

type talksData struct {
	G       group
	M       meeting
	Program program
	Agenda  agendaData
	Talks   []talk
	Topics  []topic
	// What the caller may do.
	Review, Submit, Read bool
	// The program form's starting values.
	Deadline, FormatLines string
	// Alert is the outcome of a form that has no place of its own for it
	// on the page (a button, or a form the caller is not shown).
	Alert string
}

// pageAlert is f's alert when the page shows none next to the form: the
// forms in placed have their own.
func pageAlert(f *formState, placed ...string) string {
	if f == nil {
		return ""
	}
	for _, p := range placed {
		if f.Form == p {
			return ""
		}
	}
	return f.Alert
}

// meetingBase reads the group, the meeting and the caller's rights.
func (p *Portal) meetingBase(ctx context.Context, s *session, slug, id string, perms ...string) (group, meeting, map[string]bool, error) {
	a := p.api(s)
	var g group
	var m meeting
	if err := a.get(ctx, "/groups/"+esc(slug), &g); err != nil {
		return g, m, nil, err
	}
	if err := a.get(ctx, "/groups/"+esc(slug)+"/meetings/"+esc(id), &m); err != nil {
		return g, m, nil, err
	}
	can := map[string]bool{}
	for _, perm := range perms {
		var e explanation
		if err := a.get(ctx, "/groups/"+esc(slug)+"/explain?user="+url.QueryEscape(s.user.ID)+"&permission="+perm, &e); err == nil {
			can[perm] = e.Allowed
		}
	}
	return g, m, can, nil
}

func (p *Portal) talksPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.showTalks(w, r, s, http.StatusOK, nil)
}

func (p *Portal) showTalks(w http.ResponseWriter, r *http.Request, s *session, status int, f *formState) {
	ctx, a, slug, id := r.Context(), p.api(s), r.PathValue("slug"), r.PathValue("id")
	g, m, can, err := p.meetingBase(ctx, s, slug, id, "meetings.edit", "talks.submit", "meetings.read")
	if err != nil {
		p.apiFail(w, r, err, "this meeting")
		return
	}
	d := talksData{G: g, M: m, Review: can["meetings.edit"], Submit: can["talks.submit"], Read: can["meetings.read"]}
	mpath := "/groups/" + esc(slug) + "/meetings/" + esc(id)
	var ag listOf[agendaItem]
	var ts listOf[talk]
	var tp listOf[topic]
	for _, rd := range []struct {
		path string
		out  any
	}{{mpath + "/program", &d.Program}, {mpath + "/agenda", &ag}, {mpath + "/talks", &ts}, {mpath + "/topics", &tp}} {
		if err := a.get(ctx, rd.path, rd.out); err != nil {
			p.apiFail(w, r, err, "this meeting's talks")
			return
		}
	}
	d.Agenda = agendaData{Items: ag.Items, Zone: m.Zone()}
	d.Talks, d.Topics = ts.Items, tp.Items
	for _, f := range d.Program.Formats {
		d.FormatLines += fmt.Sprintf("%s: %d\n", f.Name, f.Minutes)
	}
	if !d.Program.Deadline.IsZero() {
		d.Deadline = d.Program.Deadline.In(m.Zone()).Format("2006-01-02T15:04")
	}
	placed := []string{"topic"}
	if d.Program.Accepting && d.Submit {
		placed = append(placed, "propose")
	}
	if d.Review {
		placed = append(placed, "program")
		for _, t := range d.Talks {
			placed = append(placed, "comment-"+t.ID)
		}
	}
	d.Alert = pageAlert(f, placed...)
	p.render(w, r, s, status, "talks", view{Title: "Talks · " + m.Title, Nav: "groups", F: f, D: d})
}

// meetingAction starts on a form posted to page (talks, feedback) of a
// meeting: the meeting's admin API path, and the outcome that goes back
// to the page or shows it again with show. doing names the action in a
// refusal until the form says more.
func (p *Portal) meetingAction(w http.ResponseWriter, r *http.Request, s *session, page, doing string,
	show func(http.ResponseWriter, *http.Request, *session, int, *formState)) (mpath string, o outcome) {
	slug, id := r.PathValue("slug"), r.PathValue("id")
	mpath = "/groups/" + esc(slug) + "/meetings/" + esc(id)
	return mpath, outcome{p: p, w: w, r: r, s: s, form: r.PathValue("action"), back: "/portal/groups/" + url.PathEscape(slug) + "/meetings/" + url.PathEscape(id) + "/" + page,
		doing: doing, show: func(st int, f *formState) { show(w, r, s, st, f) }}
}

// talksAction handles the forms of the talks page.
func (p *Portal) talksAction(w http.ResponseWriter, r *http.Request, s *session) {
	mpath, o := p.meetingAction(w, r, s, "talks", "do that for the talks of this meeting", p.showTalks)
	ctx, a, action := r.Context(), p.api(s), o.form
	c := newChecker(r.PostForm)
	talkID := c.text("talk", "Talk", false, 64)
	switch action {
	case "propose":
		title := c.text("title", "Title", true, 200)
		abstract := c.text("abstract", "Abstract", true, 4000)
		format := c.text("format", "Format", true, 50)
		co := c.text("coSpeakers", "Co-speakers", false, 1000)
		if !c.ok() {
			o.invalid(c.errors)
			return
		}
		var cos []string
		for _, ref := range strings.FieldsFunc(co, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
			cos = append(cos, ref)
		}
		o.doing, o.back = "propose a talk to this meeting", o.back+"#mine"
		o.done(a.do(ctx, http.MethodPost, mpath+"/talks", map[string]any{"title": title, "abstract": abstract, "format": format, "coSpeakers": cos}, nil),
			"Proposed “"+title+"”. The organizers will tell you what they decide.")
	case "accept", "decline", "withdraw":
		status := map[string]string{"accept": "accepted", "decline": "declined", "withdraw": "withdrawn"}[action]
		o.doing, o.back = action+" this talk", o.back+"#proposals"
		o.done(a.do(ctx, http.MethodPatch, mpath+"/talks/"+esc(talkID), map[string]any{"status": status}, nil),
			"The talk is "+status+map[bool]string{true: "; its speakers are told by mail.", false: "."}[action != "withdraw"])
	case "order":
		n, err := strconv.Atoi(c.text("order", "Place", true, 6))
		if err != nil {
			c.errors["order"] = "Enter a whole number (lower comes first)."
		}
		if !o.ready(c, "order the agenda", "#agenda") {
			return
		}
		o.done(a.do(ctx, http.MethodPatch, mpath+"/talks/"+esc(talkID), map[string]any{"order": n}, nil), "Moved the talk on the agenda.")
	case "comment":
		o.form = "comment-" + talkID
		text := c.text("text", "Comment", true, 2000)
		if !o.ready(c, "comment on this talk", "#proposals") {
			return
		}
		o.done(a.do(ctx, http.MethodPost, mpath+"/talks/"+esc(talkID)+"/comments", map[string]any{"text": text}, nil), "Comment added; only the organizers see it.")
	case "program":
		in := map[string]any{"callOpen": r.PostForm.Get("callOpen") == "on"}
		if dl := c.text("deadline", "Deadline", false, 40); dl != "" {
			in["deadline"] = dl
		}
		var formats []map[string]any
		for _, line := range strings.Split(c.text("formats", "Formats", false, 1000), "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			name, mins, ok := strings.Cut(line, ":")
			n, err := strconv.Atoi(strings.TrimSpace(mins))
			if !ok || err != nil {
				c.errors["formats"] = "Write one format a line as name: minutes (e.g. lightning: 5)."
				break
			}
			formats = append(formats, map[string]any{"name": strings.TrimSpace(name), "minutes": n})
		}
		in["formats"] = formats
		if fd := c.text("feedbackDays", "Feedback days", false, 6); fd != "" {
			n, err := strconv.Atoi(fd)
			if err != nil {
				c.errors["feedbackDays"] = "Enter a number of days."
			}
			in["feedbackDays"] = n
		}
		if !o.ready(c, "run the call for talks of this meeting", "#call") {
			return
		}
		o.done(a.do(ctx, http.MethodPut, mpath+"/program", in, nil), "Saved the call for talks.")
	case "topic":
		title := c.text("title", "Topic", true, 200)
		if !o.ready(c, "suggest topics for this meeting", "#topics") {
			return
		}
		o.done(a.do(ctx, http.MethodPost, mpath+"/topics", map[string]any{"title": title}, nil), "Suggested “"+title+"”.")
	case "vote", "unvote", "pick", "unpick":
		topicID := c.text("topic", "Topic", true, 64)
		o.doing, o.back = action+" topics of this meeting", o.back+"#topics"
		var err error
		if action == "vote" || action == "unvote" {
			err = a.do(ctx, http.MethodPut, mpath+"/topics/"+esc(topicID)+"/vote", map[string]any{"vote": action == "vote"}, nil)
		} else {
			err = a.do(ctx, http.MethodPatch, mpath+"/topics/"+esc(topicID), map[string]any{"picked": action == "pick"}, nil)
		}
		o.done(err, map[string]string{"vote": "Voted.", "unvote": "Vote taken back.", "pick": "Picked for the meeting.", "unpick": "No longer picked."}[action])
	default:
		p.fail(w, r, http.StatusNotFound, "No such action.")
	}
}

type score struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
}

// Stars is the mean with one decimal.
func (s score) Stars() string { return fmt.Sprintf("%.1f", s.Mean) }

type feedbackData struct {
	G    group
	M    meeting
	Form struct {
		Open     bool         `json:"open"`
		Opens    time.Time    `json:"opens"`
		Closes   time.Time    `json:"closes"`
		Eligible bool         `json:"eligible"`
		Agenda   []agendaItem `json:"agenda"`
		Own      []string     `json:"own"`
		Mine     *struct {
			Overall int            `json:"overall"`
			Talks   map[string]int `json:"talks"`
			Comment string         `json:"comment"`
		} `json:"mine"`
		Results *struct {
			Overall score            `json:"overall"`
			Talks   map[string]score `json:"talks"`
		} `json:"results"`
		Comments []string `json:"comments"`
		Figures  *struct {
			Going    int   `json:"going"`
			CheckIns int   `json:"checkIns"`
			Ratings  score `json:"ratings"`
		} `json:"figures"`
	}
	Agenda agendaData
	// Rate are the agenda's talks the caller may rate (not their own).
	Rate     []agendaItem
	Review   bool
	Checkins []struct {
		User        string `json:"user"`
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
		Going       bool   `json:"going"`
		CheckedIn   bool   `json:"checkedIn"`
	}
	// Mine are the caller's ratings as form values, by field name.
	Mine map[string]string
	// Rows are the talks' results the caller may see.
	Rows []resultRow
	// Alert: see talksData.
	Alert string
}

type resultRow struct {
	Title, Speakers string
	Score           score
}

// Stars are the choices of a rating.
func (feedbackData) Stars() []string { return []string{"1", "2", "3", "4", "5"} }

func (p *Portal) feedbackPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.showFeedback(w, r, s, http.StatusOK, nil)
}

func (p *Portal) showFeedback(w http.ResponseWriter, r *http.Request, s *session, status int, f *formState) {
	ctx, a, slug, id := r.Context(), p.api(s), r.PathValue("slug"), r.PathValue("id")
	g, m, can, err := p.meetingBase(ctx, s, slug, id, "meetings.edit")
	if err != nil {
		p.apiFail(w, r, err, "this meeting")
		return
	}
	d := feedbackData{G: g, M: m, Review: can["meetings.edit"], Mine: map[string]string{}}
	mpath := "/groups/" + esc(slug) + "/meetings/" + esc(id)
	if err := a.get(ctx, mpath+"/feedback", &d.Form); err != nil {
		p.apiFail(w, r, err, "this meeting's feedback")
		return
	}
	d.Agenda = agendaData{Items: d.Form.Agenda, Zone: m.Zone()}
	for _, it := range d.Form.Agenda {
		if !slices.Contains(d.Form.Own, it.Talk) {
			d.Rate = append(d.Rate, it)
		}
	}
	if mine := d.Form.Mine; mine != nil {
		d.Mine["overall"], d.Mine["comment"] = strconv.Itoa(mine.Overall), mine.Comment
		for t, v := range mine.Talks {
			d.Mine["talk-"+t] = strconv.Itoa(v)
		}
	}
	if res := d.Form.Results; res != nil {
		for _, it := range d.Form.Agenda {
			if sc, ok := res.Talks[it.Talk]; ok {
				d.Rows = append(d.Rows, resultRow{Title: it.Title, Speakers: it.Speakers, Score: sc})
			}
		}
	}
	if d.Review {
		var cl struct {
			Items []struct {
				User        string `json:"user"`
				UserName    string `json:"userName"`
				DisplayName string `json:"displayName"`
				Going       bool   `json:"going"`
				CheckedIn   bool   `json:"checkedIn"`
			} `json:"items"`
		}
		if err := a.get(ctx, mpath+"/checkins", &cl); err != nil {
			p.apiFail(w, r, err, "this meeting's check-in list")
			return
		}
		d.Checkins = cl.Items
	}
	if d.Form.Open && d.Form.Eligible {
		d.Alert = pageAlert(f, "rate")
	} else {
		d.Alert = pageAlert(f)
	}
	p.render(w, r, s, status, "feedback", view{Title: "Feedback · " + m.Title, Nav: "groups", F: f, D: d})
}

// feedbackAction handles the rating form and the check-in list.
func (p *Portal) feedbackAction(w http.ResponseWriter, r *http.Request, s *session) {
	mpath, o := p.meetingAction(w, r, s, "feedback", "do that for this meeting", p.showFeedback)
	ctx, a, action := r.Context(), p.api(s), o.form
	c := newChecker(r.PostForm)
	switch action {
	case "rate":
		rating := func(field, label string, required bool) int {
			v := c.text(field, label, required, 1)
			if v == "" {
				return 0
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 5 {
				c.errors[field] = "Choose from 1 to 5 stars."
			}
			return n
		}
		in := map[string]any{"overall": rating("overall", "Your overall rating", true)}
		talks := map[string]int{}
		var keys []string
		for k := range r.PostForm {
			if strings.HasPrefix(k, "talk-") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if n := rating(k, "The talk's rating", false); n > 0 {
				talks[strings.TrimPrefix(k, "talk-")] = n
			}
		}
		in["talks"] = talks
		in["comment"] = c.text("comment", "Comment", false, 2000)
		if !o.ready(c, "rate this meeting", "") {
			return
		}
		o.done(a.do(ctx, http.MethodPut, mpath+"/feedback", in, nil), "Thank you: your feedback is saved (you may change it while the form is open).")
	case "checkin", "uncheck":
		user := c.text("user", "Person", true, 64)
		if !o.ready(c, "keep the check-in list", "#checkins") {
			return
		}
		method := http.MethodPut
		if action == "uncheck" {
			method = http.MethodDelete
		}
		o.done(a.do(ctx, method, mpath+"/checkins/"+esc(user), nil, nil), map[string]string{"checkin": "Checked in.", "uncheck": "No longer checked in."}[action])
	default:
		p.fail(w, r, http.StatusNotFound, "No such action.")
	}
}

// myTalksPage lists the caller's talks (GET /api/v1/me/talks): where the
// speaker learns in the portal what the organizers decided.
func (p *Portal) myTalksPage(w http.ResponseWriter, r *http.Request, s *session) {
	var ts listOf[talk]
	if err := p.api(s).get(r.Context(), "/me/talks", &ts); err != nil {
		p.apiFail(w, r, err, "your talks")
		return
	}
	p.render(w, r, s, http.StatusOK, "mytalks", view{Title: "My talks", Nav: "me", D: ts.Items})
}
