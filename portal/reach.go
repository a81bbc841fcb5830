package portal

// Reaching members: the "Send an announcement" form of a group (through
// the admin API, like every other change). The public pages and the LUG
// finder are in public.go and finder.go.

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

func (p *Portal) reachRoutes() {
	p.mustPages([]string{"announce", "announcement"})
	p.mux.HandleFunc("GET /portal/groups/{slug}/announce", p.guard(p.announcePage))
	p.mux.HandleFunc("POST /portal/groups/{slug}/announce", p.guard(p.sendAnnouncement))
	p.mux.HandleFunc("GET /portal/groups/{slug}/announcements/{id}", p.guard(p.announcementPage))
}

// announcement is one entry of a group's archive.
type announcement struct {
	ID         string   `json:"id"`
	Subject    string   `json:"subject"`
	Body       string   `json:"body"`
	BodyHTML   string   `json:"bodyHTML"` // sanitised by the admin API (goldmark, bluemonday)
	ToName     string   `json:"toName"`
	Author     string   `json:"author"`
	Created    string   `json:"created"`
	Groups     []string `json:"groups"`
	Queued     bool     `json:"queued"`
	Recipients int      `json:"recipients"`
}

type announceData struct {
	Slug, Name string
	Archive    []announcement
}

func (p *Portal) announceView(ctx context.Context, s *session, slug string) (announceData, error) {
	a := api{p, s}
	var g struct {
		Slug string `json:"slug"`
		Name string `json:"name"`
	}
	if err := a.do(ctx, "GET", "/groups/"+url.PathEscape(slug), nil, &g); err != nil {
		return announceData{}, err
	}
	var arch listOf[announcement]
	if err := a.do(ctx, "GET", "/groups/"+url.PathEscape(slug)+"/announcements", nil, &arch); err != nil {
		return announceData{}, err
	}
	return announceData{Slug: g.Slug, Name: g.Name, Archive: arch.Items}, nil
}

func (p *Portal) announcePage(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := p.announceView(r.Context(), s, r.PathValue("slug"))
	if err != nil {
		p.apiFail(w, r, err, "this group")
		return
	}
	p.render(w, r, s, http.StatusOK, "announce", view{Title: "Send an announcement to " + d.Name, Nav: "groups", D: d})
}

func (p *Portal) sendAnnouncement(w http.ResponseWriter, r *http.Request, s *session) {
	slug := r.PathValue("slug")
	f := r.PostForm
	in := map[string]any{"subject": strings.TrimSpace(f.Get("subject")), "body": f.Get("body"), "to": f.Get("to")}
	fs := &formState{Form: "announce", Values: f, Errors: map[string]string{}}
	if in["subject"] == "" {
		fs.Errors["subject"] = "Write a subject."
	}
	if strings.TrimSpace(f.Get("body")) == "" {
		fs.Errors["body"] = "Write the message."
	}
	var out announcement
	var err error
	if len(fs.Errors) == 0 {
		err = api{p, s}.do(r.Context(), "POST", "/groups/"+url.PathEscape(slug)+"/announcements", in, &out)
	}
	if len(fs.Errors) > 0 || err != nil {
		d, derr := p.announceView(r.Context(), s, slug)
		if derr != nil {
			p.apiFail(w, r, derr, "this group")
			return
		}
		v := view{Title: "Send an announcement to " + d.Name, Nav: "groups", D: d, F: fs}
		status := http.StatusUnprocessableEntity
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				p.apiFail(w, r, err, "this group")
				return
			}
			v.Alert, status = "Refused: "+ae.Message+". Nothing was sent.", ae.Status
		}
		p.render(w, r, s, status, "announce", v)
		return
	}
	s.setFlash(fmt.Sprintf("Your announcement “%s” is on its way to %d members.", out.Subject, out.Recipients))
	http.Redirect(w, r, "/portal/groups/"+url.PathEscape(slug)+"/announce", http.StatusSeeOther)
}

// HTML is the announcement's sanitised HTML (the admin API renders the
// Markdown with goldmark and cleans it with bluemonday's user-content
// policy before it leaves the store).
func (a announcement) HTML() template.HTML { return template.HTML(a.BodyHTML) } //nolint:gosec // sanitised by the admin API

// announcementData is one announcement's archive page.
type announcementData struct {
	Slug, Name string
	A          announcement
	// Delivery: the counts by state and the failures, for those who may
	// send announcements (GET /api/v1/announcements/{id}); nil otherwise.
	Delivery *struct {
		Counts   map[string]int `json:"counts"`
		Failures []string       `json:"failures"`
	}
}

// announcementPage shows one announcement of a group's archive to whoever
// may read the group.
func (p *Portal) announcementPage(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := p.announceView(r.Context(), s, r.PathValue("slug"))
	if err != nil {
		p.apiFail(w, r, err, "this group")
		return
	}
	for _, a := range d.Archive {
		if a.ID == r.PathValue("id") {
			ad := announcementData{Slug: d.Slug, Name: d.Name, A: a}
			if err := (api{p, s}).do(r.Context(), "GET", "/announcements/"+url.PathEscape(a.ID), nil, &ad.Delivery); err != nil {
				ad.Delivery = nil // not an organizer of the group: no figures
			}
			p.render(w, r, s, http.StatusOK, "announcement", view{Title: a.Subject, Nav: "groups", D: ad})
			return
		}
	}
	p.fail(w, r, http.StatusNotFound, "No such announcement in this group.")
}
