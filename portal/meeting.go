package portal

import (
	"net/http"
	"net/url"
	"strconv"
)

// The meeting page: edit one meeting's fields (PATCH
// /api/v1/groups/{g}/meetings/{id}, which bumps the meeting's iCalendar
// SEQUENCE so subscribed calendars take the change).

type meetingEdit struct {
	G group
	M meeting
	// The form's starting values, from the meeting.
	Start, End, TZ, Repeat, RRule, Capacity string
}

func (p *Portal) meetingPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.showMeeting(w, r, s, http.StatusOK, nil)
}

func (p *Portal) showMeeting(w http.ResponseWriter, r *http.Request, s *session, status int, f *formState) {
	ctx, a, slug, id := r.Context(), p.api(s), r.PathValue("slug"), r.PathValue("id")
	var d meetingEdit
	if err := a.get(ctx, "/groups/"+esc(slug), &d.G); err != nil {
		p.apiFail(w, r, err, "this group")
		return
	}
	var e explanation
	if err := a.get(ctx, "/groups/"+esc(slug)+"/explain?user="+url.QueryEscape(s.user.ID)+"&permission=meetings.edit", &e); err != nil || !e.Allowed {
		p.fail(w, r, http.StatusForbidden, "Refused: you may not edit the meetings of "+d.G.Name+".")
		return
	}
	if err := a.get(ctx, "/groups/"+esc(slug)+"/meetings/"+esc(id), &d.M); err != nil {
		p.apiFail(w, r, err, "this meeting")
		return
	}
	zone := d.M.Zone()
	d.Start = d.M.Start.In(zone).Format("2006-01-02T15:04")
	if !d.M.End.IsZero() {
		d.End = d.M.End.In(zone).Format("2006-01-02T15:04")
	}
	d.TZ = d.M.TimeZone
	if d.TZ == "" {
		d.TZ = "UTC"
	}
	if d.M.RRule != "" {
		d.Repeat, d.RRule = "custom", d.M.RRule
	}
	if d.M.Capacity > 0 {
		d.Capacity = strconv.Itoa(d.M.Capacity)
	}
	p.render(w, r, s, status, "meeting", view{Title: "Edit “" + d.M.Title + "”", Nav: "groups", F: f, D: d})
}

// saveMeeting changes the meeting's fields to the posted ones.
func (p *Portal) saveMeeting(w http.ResponseWriter, r *http.Request, s *session) {
	slug, id := r.PathValue("slug"), r.PathValue("id")
	o := outcome{p: p, w: w, r: r, s: s, form: "edit-meeting", back: "/portal/groups/" + url.PathEscape(slug) + "#meetings",
		doing: "edit the meetings of " + slug,
		show:  func(st int, f *formState) { p.showMeeting(w, r, s, st, f) }}
	c := newChecker(r.PostForm)
	in, ok := meetingForm(c)
	if !ok {
		o.invalid(c.errors)
		return
	}
	err := p.api(s).do(r.Context(), http.MethodPatch, "/groups/"+esc(slug)+"/meetings/"+esc(id), in, nil)
	if rruleRefused(o, err, in) {
		return
	}
	o.done(err, "Saved the meeting “"+in["title"].(string)+"”; calendars that subscribed will show the change.")
}
