package portal

// Public pages, which need no sign-in and read only the admin API's public
// endpoints (groups marked public, never their members): a group's page at
// /g/{slug} (also /portal/g/{slug}), a meeting's page with its .ics, and
// the public home at /portal/public listing regions and upcoming meetings.
// Each carries Open Graph tags so that a link unfurls in chat tools.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// PublicPatterns are the patterns outside /portal/ that the portal serves
// (the short address of a public group page); cmd mounts them.
var PublicPatterns = []string{"GET /g/{slug}"}

func (p *Portal) publicRoutes() {
	m := p.mux
	m.HandleFunc("GET /g/{slug}", p.publicPage)
	m.HandleFunc("GET /portal/g/{slug}", p.publicPage)
	m.HandleFunc("GET /portal/g/{slug}/meetings/{id}", p.publicMeetingPage)
	m.HandleFunc("GET /portal/public", p.publicHome)
	m.HandleFunc("GET /portal/find", p.findPage) // portal/finder.go
}

// openGraph is what a page says of itself to link previews (ogp.me).
type openGraph struct {
	Title, Description, URL, Type string
}

// publicMeeting is one occurrence of a meeting as the public API shows it.
type publicMeeting struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	TimeZone    string    `json:"timeZone"`
	Location    string    `json:"location"`
	Address     string    `json:"address"`
	Online      bool      `json:"online"`
	Repeats     bool      `json:"repeats"`
}

// Where is the meeting's place in one line.
func (m publicMeeting) Where() string {
	return strings.Join(nonEmpty(m.Location, m.Address), ", ")
}

// When is the meeting's start in its own time zone.
func (m publicMeeting) When() string { return localStart(m.Start, m.TimeZone) }

// place is a group's location as the public API shows it.
type place struct {
	City     string `json:"city"`
	Region   string `json:"region"`
	Country  string `json:"country"`
	TimeZone string `json:"timeZone"`
}

type point struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// publicGroup is a group as the admin API shows it to everyone.
type publicGroup struct {
	Slug        string          `json:"slug"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Kind        string          `json:"kind"`
	Type        string          `json:"type"`
	Join        string          `json:"join"`
	Parent      string          `json:"parent"`
	ParentSlug  string          `json:"parentSlug"`
	Location    *place          `json:"location"`
	Point       *point          `json:"point"`
	Topics      []string        `json:"topics"`
	Products    []string        `json:"products"`
	Next        []publicMeeting `json:"next"`
	Organizers  []string        `json:"organizers"`
	// DistanceKm is set by the finder when it searched from a place.
	DistanceKm *float64 `json:"distanceKm"`
}

// Km is the finder's distance to the group, "12 km", or "".
func (g publicGroup) Km() string {
	if g.DistanceKm == nil {
		return ""
	}
	return fmt.Sprintf("%.0f km", *g.DistanceKm)
}

// Where is the group's place in one line: city, region, country.
func (g publicGroup) Where() string {
	if g.Location == nil {
		return ""
	}
	l := g.Location
	region := l.Region
	if region == l.City {
		region = ""
	}
	return strings.Join(nonEmpty(l.City, region, l.Country), ", ")
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// localStart formats a meeting's start in its own zone.
func localStart(t time.Time, zone string) string {
	if l, err := time.LoadLocation(zone); err == nil && zone != "" {
		return t.In(l).Format("Mon 2 Jan 2006, 15:04 MST")
	}
	return t.UTC().Format("Mon 2 Jan 2006, 15:04 MST")
}

// anon calls the admin API without a token (its public endpoints); path
// is below /api/v1.
func (p *Portal) anon(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.API+"/api/v1"+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("portal: admin API: %w", err)
	}
	defer resp.Body.Close()
	return readAnswer(resp, http.MethodGet, path, out)
}

// publicFail shows the error page for a failed public read: 404 for what
// is not public (or not there), 502 for the rest.
func (p *Portal) publicFail(w http.ResponseWriter, r *http.Request, err error, what string) {
	if statusOf(err) == http.StatusNotFound {
		p.fail(w, r, http.StatusNotFound, "There is no public "+what+" at this address.")
		return
	}
	p.cfg.Logger.Error("portal: public read", "err", err)
	p.fail(w, r, http.StatusBadGateway, "Roster did not answer as expected; try again in a moment.")
}

// signedIn returns the request's session when someone is signed in.
func (p *Portal) signedIn(r *http.Request) *session {
	if s := p.session(r); s != nil && s.user != nil {
		return s
	}
	return nil
}

// publicURL is the absolute address of a public page.
func (p *Portal) publicURL(path string) string { return p.cfg.Issuer + path }

type publicData struct {
	G        publicGroup
	Children []publicGroup
	// Join is where the join button leads: sign-in, then the group's
	// page in the portal, where the visitor joins or asks.
	Join string
}

func (p *Portal) publicPage(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	var g publicGroup
	if err := p.anon(r.Context(), "/public/groups/"+url.PathEscape(slug), &g); err != nil {
		p.publicFail(w, r, err, "group")
		return
	}
	var all listOf[publicGroup]
	if err := p.anon(r.Context(), "/public/groups", &all); err != nil {
		p.publicFail(w, r, err, "group")
		return
	}
	d := publicData{G: g, Join: "/portal/login?next=" + url.QueryEscape("/portal/groups/"+g.Slug+"#membership")}
	for _, c := range all.Items {
		if c.ParentSlug == g.Slug {
			d.Children = append(d.Children, c)
		}
	}
	desc := g.Description
	if w := g.Where(); w != "" {
		desc = strings.TrimSpace(w + ". " + desc)
	}
	og := &openGraph{Title: g.Name, Description: desc, URL: p.publicURL("/g/" + url.PathEscape(g.Slug)), Type: "website"}
	p.render(w, r, p.signedIn(r), http.StatusOK, "public", view{Title: g.Name, D: d, OG: og})
}

type publicMeetingData struct {
	G         publicGroup
	M         publicMeeting
	Cancelled bool
	Upcoming  []publicMeeting
	// Agenda: the accepted talks; on a public page Speakers names only
	// those who agreed to be shown (the admin API leaves out the rest).
	Agenda []agendaItem
	ICS    string
}

// Clock is t's time of day in the meeting's zone ("18:30").
func (d publicMeetingData) Clock(t time.Time) string {
	if l, err := time.LoadLocation(d.M.TimeZone); err == nil && d.M.TimeZone != "" {
		return t.In(l).Format("15:04")
	}
	return t.UTC().Format("15:04")
}

// publicMeetingPage serves a public meeting's page, or with {id}.ics its
// iCalendar file (relayed from the admin API).
func (p *Portal) publicMeetingPage(w http.ResponseWriter, r *http.Request) {
	slug, id := r.PathValue("slug"), r.PathValue("id")
	path := "/public/groups/" + url.PathEscape(slug) + "/meetings/" + url.PathEscape(id)
	if strings.HasSuffix(id, ".ics") {
		p.relayICS(w, r, path)
		return
	}
	var out struct {
		Group     publicGroup     `json:"group"`
		Meeting   publicMeeting   `json:"meeting"`
		Cancelled bool            `json:"cancelled"`
		Upcoming  []publicMeeting `json:"upcoming"`
		Agenda    []agendaItem    `json:"agenda"`
	}
	if err := p.anon(r.Context(), path, &out); err != nil {
		p.publicFail(w, r, err, "meeting")
		return
	}
	d := publicMeetingData{G: out.Group, M: out.Meeting, Cancelled: out.Cancelled, Upcoming: out.Upcoming, Agenda: out.Agenda,
		ICS: "/portal/g/" + url.PathEscape(slug) + "/meetings/" + url.PathEscape(id) + ".ics"}
	desc := out.Meeting.When()
	if wh := out.Meeting.Where(); wh != "" {
		desc += " · " + wh
	}
	og := &openGraph{Title: out.Meeting.Title + " · " + out.Group.Name, Description: desc, URL: p.publicURL("/portal/g/" + url.PathEscape(slug) + "/meetings/" + url.PathEscape(id)), Type: "website"}
	p.render(w, r, p.signedIn(r), http.StatusOK, "publicmeeting", view{Title: out.Meeting.Title + " · " + out.Group.Name, D: d, OG: og})
}

// relayICS passes the admin API's .ics of a public meeting on.
func (p *Portal) relayICS(w http.ResponseWriter, r *http.Request, path string) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, p.cfg.API+"/api/v1"+path, nil)
	if err != nil {
		p.publicFail(w, r, err, "meeting")
		return
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		p.publicFail(w, r, err, "meeting")
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		p.publicFail(w, r, readAnswer(resp, http.MethodGet, path, nil), "meeting")
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="meeting.ics"`)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 4<<20))
}

// upcoming is one meeting of the public home, with its group.
type upcoming struct {
	G publicGroup
	M publicMeeting
}

type region struct {
	G      publicGroup
	Groups []publicGroup
}

type publicHomeData struct {
	Top      []publicGroup // public groups without a public parent that are not in a region
	Regions  []region
	Upcoming []upcoming
}

// publicHome serves /portal/public: the regions with their public groups,
// and the next meetings of them all.
func (p *Portal) publicHome(w http.ResponseWriter, r *http.Request) {
	var all listOf[publicGroup]
	if err := p.anon(r.Context(), "/public/groups", &all); err != nil {
		p.publicFail(w, r, err, "group")
		return
	}
	var d publicHomeData
	children := map[string][]publicGroup{}
	for _, g := range all.Items {
		children[g.ParentSlug] = append(children[g.ParentSlug], g)
		for _, m := range g.Next {
			d.Upcoming = append(d.Upcoming, upcoming{G: g, M: m})
		}
	}
	for _, g := range all.Items {
		switch {
		case g.Kind == "regional":
			d.Regions = append(d.Regions, region{G: g, Groups: children[g.Slug]})
		case g.ParentSlug == "":
			d.Top = append(d.Top, g)
		}
	}
	sort.SliceStable(d.Upcoming, func(i, j int) bool { return d.Upcoming[i].M.Start.Before(d.Upcoming[j].M.Start) })
	if len(d.Upcoming) > 10 {
		d.Upcoming = d.Upcoming[:10]
	}
	og := &openGraph{Title: "User groups", Description: "Find a user group near you, its next meetings and how to join.", URL: p.publicURL("/portal/public"), Type: "website"}
	p.render(w, r, p.signedIn(r), http.StatusOK, "publichome", view{Title: "User groups", D: d, OG: og})
}

// profileInput is the caller's profile as PUT /api/v1/me/profile takes it.
type profileInput struct {
	Share  []string `json:"share"`
	Email  string   `json:"email"`
	Phone  string   `json:"phone"`
	Public bool     `json:"public"`
}

// setPublicConsent saves whether the signed-in person agrees to be named
// on the public pages of the groups they organize, keeping the rest of
// their profile.
func (p *Portal) setPublicConsent(w http.ResponseWriter, r *http.Request, s *session) {
	a := p.api(s)
	var pr profileInput
	err := a.get(r.Context(), "/me/profile", &pr)
	if err == nil {
		pr.Public = r.PostForm.Get("public") == "on"
		err = a.do(r.Context(), http.MethodPut, "/me/profile", pr, nil)
	}
	switch {
	case err == nil && pr.Public:
		s.setFlash("Saved: your name is shown on the public pages of the groups you organize.")
	case err == nil:
		s.setFlash("Saved: your name is not shown on any public page.")
	case errors.Is(err, errSignedOut):
		p.apiFail(w, r, err, "")
		return
	default:
		s.setFlash("Not saved: your profile could not be changed.")
	}
	http.Redirect(w, r, "/portal/me#public", http.StatusSeeOther)
}
