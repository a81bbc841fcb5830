package portal

// Reaching members and visitors: the "Send an announcement" form of a
// group (through the admin API, like every other change), public group
// pages at /portal/g/{slug} and the LUG finder at /portal/find, which
// need no sign-in and read only the admin API's public endpoints (open
// and on-request groups, never their members).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

func (p *Portal) reachRoutes() {
	for _, n := range []string{"announce", "public", "find"} {
		p.pages[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	p.mux.HandleFunc("GET /portal/groups/{slug}/announce", p.guard(p.announcePage))
	p.mux.HandleFunc("POST /portal/groups/{slug}/announce", p.guard(p.sendAnnouncement))
	p.mux.HandleFunc("GET /portal/g/{slug}", p.publicPage)
	p.mux.HandleFunc("GET /portal/find", p.findPage)
}

// announcement is one entry of a group's archive.
type announcement struct {
	ID         string   `json:"id"`
	Subject    string   `json:"subject"`
	Body       string   `json:"body"`
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
	var arch struct {
		Items []announcement `json:"items"`
	}
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
	in := map[string]any{"subject": strings.TrimSpace(f.Get("subject")), "body": f.Get("body"), "subgroups": f.Get("subgroups") == "on"}
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

// publicGroup is a group as the admin API shows it to everyone.
type publicGroup struct {
	Slug        string          `json:"slug"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Kind        string          `json:"kind"`
	Join        string          `json:"join"`
	Parent      string          `json:"parent"`
	Location    json.RawMessage `json:"location"`
	Next        []struct {
		Title    string    `json:"title"`
		Start    time.Time `json:"start"`
		TimeZone string    `json:"timeZone"`
		Location string    `json:"location"`
		Address  string    `json:"address"`
		Online   bool      `json:"online"`
		Repeats  bool      `json:"repeats"`
	} `json:"next"`
}

// LocalStart formats a meeting's start in its own zone.
func localStart(t time.Time, zone string) string {
	if l, err := time.LoadLocation(zone); err == nil && zone != "" {
		return t.In(l).Format("Mon 2 Jan 2006, 15:04 MST")
	}
	return t.UTC().Format("Mon 2 Jan 2006, 15:04 MST")
}

// public reads a public endpoint of the admin API, without a token.
func (p *Portal) public(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.API+"/api/v1/public"+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("portal: admin API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return &apiError{Status: resp.StatusCode, Code: "public", Message: resp.Status}
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out)
}

type publicData struct {
	G      publicGroup
	Starts []string
	Where  string
}

func (p *Portal) publicPage(w http.ResponseWriter, r *http.Request) {
	var g publicGroup
	if err := p.public(r.Context(), "/groups/"+url.PathEscape(r.PathValue("slug")), &g); err != nil {
		p.fail(w, r, http.StatusNotFound, "There is no public group at this address.")
		return
	}
	d := publicData{G: g, Where: locationText(g.Location)}
	for _, m := range g.Next {
		d.Starts = append(d.Starts, localStart(m.Start, m.TimeZone))
	}
	p.render(w, r, p.signedIn(r), http.StatusOK, "public", view{Title: g.Name, D: d})
}

type findData struct {
	Q       string
	Results []publicGroup
	Where   map[string]string
}

func (p *Portal) findPage(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	var res struct {
		Items []publicGroup `json:"items"`
	}
	if err := p.public(r.Context(), "/groups?q="+url.QueryEscape(q), &res); err != nil {
		p.fail(w, r, http.StatusBadGateway, "The group finder is unavailable; try again in a moment.")
		return
	}
	d := findData{Q: q, Where: map[string]string{}}
	for _, g := range res.Items {
		if q == "" && g.Kind != "local" {
			continue // with no search, the local groups
		}
		d.Results = append(d.Results, g)
		d.Where[g.Slug] = locationText(g.Location)
	}
	p.render(w, r, p.signedIn(r), http.StatusOK, "find", view{Title: "Find a group near you", D: d})
}

// signedIn returns the request's session when someone is signed in.
func (p *Portal) signedIn(r *http.Request) *session {
	if s := p.session(r); s != nil && s.user != nil {
		return s
	}
	return nil
}

// locationText renders a group's location, whatever its shape: a string,
// or an object whose city, region and country (or name, address) are
// joined.
func locationText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"name", "city", "region", "country"} {
		if v, ok := m[k].(string); ok && v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, ", ")
}
