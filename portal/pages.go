package portal

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

func (p *Portal) routes() {
	m := p.mux
	m.Handle("GET /portal/static/", p.static())
	m.HandleFunc("GET /portal/theme.css", p.theme)
	m.HandleFunc("GET /portal/login", p.login)
	m.HandleFunc("GET /portal/callback", p.callback)
	m.HandleFunc("POST /portal/logout", p.guard(p.logout))
	m.HandleFunc("GET /portal/{$}", p.guard(p.treePage))
	m.HandleFunc("POST /portal/groups", p.guard(p.createGroup))
	m.HandleFunc("GET /portal/groups/{slug}", p.guard(p.groupPage))
	m.HandleFunc("GET /portal/groups/{slug}/members.csv", p.guard(p.membersCSV))
	m.HandleFunc("POST /portal/groups/{slug}/{action}", p.guard(p.groupAction))
	m.HandleFunc("GET /portal/groups/{slug}/meetings/{id}", p.guard(p.meetingPage)) // portal/meeting.go
	m.HandleFunc("POST /portal/groups/{slug}/meetings/{id}", p.guard(p.saveMeeting))
	m.HandleFunc("GET /portal/me", p.guard(p.me))
	m.HandleFunc("POST /portal/calendar", p.guard(p.resetCalendar))
	m.HandleFunc("POST /portal/me/public", p.guard(p.setPublicConsent)) // portal/public.go
	p.mailPrefsRoutes()                                                 // portal/mailprefs.go
	m.HandleFunc("GET /portal/people/{tenant}/{user}", p.guard(p.personPage))
	m.HandleFunc("GET /portal/explain", p.guard(p.explainPage))
	m.HandleFunc("GET /portal/audit", p.guard(p.auditPage))
	m.HandleFunc("GET /portal/sync", p.guard(p.syncPage))
	p.reachRoutes()  // portal/reach.go: announcements
	p.publicRoutes() // portal/public.go, portal/finder.go: public pages, the finder
	p.talkRoutes()   // portal/talks.go: talks, agendas, meeting feedback
	p.statsRoutes()  // portal/stats.go: analytics
	p.voiceRoutes()  // portal/voice.go: product feedback, founding a group
	m.HandleFunc("POST /portal/sync/{tenant}/{dir}/approve", p.guard(p.approveSync))
	m.HandleFunc("GET /portal/admin", p.guard(p.adminPage)) // portal/admin.go
	m.HandleFunc("POST /portal/admin/{action}", p.guard(p.adminAction))
	m.HandleFunc("/portal/", func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, http.StatusNotFound, "There is no such page in the portal.")
	})
}

// view is what every page template receives.
type view struct {
	UI    UI
	Title string
	Nav   string
	User  *user
	CSRF  string
	Flash string
	Alert string
	F     *formState
	D     any
	// OG are the Open Graph properties of a public page, so that a link
	// to it unfurls in chat tools (https://ogp.me).
	OG *openGraph
	// Scripts are the portal's own scripts the page loads (the finder's
	// map); the page's Content-Security-Policy allows them.
	Scripts []string
}

// formState is a posted form shown again: its values and what is wrong.
type formState struct {
	Form   string
	Values url.Values
	Errors map[string]string
	Alert  string
}

// Err is the message for field of form, if that form was posted.
func (f *formState) Err(form, field string) string {
	if f == nil || f.Form != form {
		return ""
	}
	return f.Errors[field]
}

// Val is the posted value of field of form, or def.
func (f *formState) Val(form, field, def string) string {
	if f == nil || f.Form != form || !f.Values.Has(field) {
		return def
	}
	return f.Values.Get(field)
}

// Is reports whether form is the one posted.
func (f *formState) Is(form string) bool { return f != nil && f.Form == form }

// AlertFor is the message about the whole of form.
func (f *formState) AlertFor(form string) string {
	if f == nil || f.Form != form {
		return ""
	}
	return f.Alert
}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("Mon 2 Jan 2006, 15:04 MST")
	},
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"pct":  func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"join": strings.Join,
	"q":    url.QueryEscape,
	"path": url.PathEscape,
	"add":  func(a, b int) int { return a + b },
	"last": func(s []string) string {
		if len(s) == 0 {
			return ""
		}
		return s[len(s)-1]
	},
	"originText": func(o string, rs []rule) string {
		m := map[string]rule{}
		for _, r := range rs {
			m[r.ID] = r
		}
		return describeOrigin(o, m)
	},
	"fieldOf": fieldOf,
	// pairs makes select options of values shown as themselves.
	"pairs": func(vs []string) [][2]string {
		out := make([][2]string, len(vs))
		for i, v := range vs {
			out[i] = [2]string{v, v}
		}
		return out
	},
	// groupOptions makes select options of groups (slug, name).
	"groupOptions": func(gs []group) [][2]string {
		out := make([][2]string, len(gs))
		for i, g := range gs {
			out[i] = [2]string{g.Slug, g.Name}
		}
		return out
	},
	// repeatChoices are the options of a meeting form's "Repeats".
	"repeatChoices": repeatChoices,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	// modeLabels are the mail choices per group, in key order.
	"modeLabels": func() map[string]string {
		return map[string]string{"all": "Every message", "digest": "A weekly digest", "none": "Nothing"}
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 Jan 2006")
	},
	"meetingOf": func(m meeting, slug, csrf string, edit, rsvp bool) meetingView {
		return meetingView{M: m, Slug: slug, CSRF: csrf, Edit: edit, RSVP: rsvp}
	},
	"local": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("Mon 2 Jan 2006, 15:04 MST")
	},
}

// meetingView is one meeting line of the group page.
type meetingView struct {
	M          meeting
	Slug, CSRF string
	Edit, RSVP bool
}

// describeRRule says a recurrence rule in words ("monthly on the 2nd
// Tuesday"), or returns it as it is.
func describeRRule(rule string) string {
	if rule == "" {
		return ""
	}
	parts := map[string]string{}
	for _, kv := range strings.Split(rule, ";") {
		k, v, _ := strings.Cut(kv, "=")
		parts[k] = v
	}
	days := map[string]string{"MO": "Monday", "TU": "Tuesday", "WE": "Wednesday", "TH": "Thursday", "FR": "Friday", "SA": "Saturday", "SU": "Sunday"}
	ord := map[string]string{"1": "1st", "2": "2nd", "3": "3rd", "4": "4th", "5": "5th", "-1": "last", "-2": "second to last"}
	every := map[string]string{"DAILY": "daily", "WEEKLY": "weekly", "MONTHLY": "monthly", "YEARLY": "yearly"}[parts["FREQ"]]
	if n := parts["INTERVAL"]; n != "" {
		unit := map[string]string{"DAILY": "days", "WEEKLY": "weeks", "MONTHLY": "months", "YEARLY": "years"}[parts["FREQ"]]
		every = "every " + n + " " + unit
	}
	var on []string
	for _, d := range strings.Split(parts["BYDAY"], ",") {
		if len(d) < 2 {
			continue
		}
		n, code := d[:len(d)-2], d[len(d)-2:]
		name, ok := days[code]
		if !ok {
			return rule
		}
		if n != "" {
			o, ok := ord[n]
			if !ok {
				return rule
			}
			name = "the " + o + " " + name
		} else {
			name += "s"
		}
		on = append(on, name)
	}
	if md := parts["BYMONTHDAY"]; md != "" {
		on = append(on, "day "+md)
	}
	out := every
	if len(on) > 0 {
		out += " on " + strings.Join(on, " and ")
	}
	if c := parts["COUNT"]; c != "" {
		out += ", " + c + " times"
	}
	if u := parts["UNTIL"]; len(u) >= 8 {
		if t, err := time.Parse("20060102", u[:8]); err == nil {
			out += ", until " + t.Format("2 Jan 2006")
		}
	}
	return out
}

// field is one labelled input of a form, with its help and error.
type field struct {
	ID, Name, Label, Type, Value, Help, Error string
}

// Describe is the value of aria-describedby: the help and the error.
func (f field) Describe() string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, f.ID+"-help")
	}
	if f.Error != "" {
		ids = append(ids, f.ID+"-error")
	}
	return strings.Join(ids, " ")
}

func fieldOf(f *formState, form, name, label, typ, def, help string) field {
	return field{ID: form + "-" + name, Name: name, Label: label, Type: typ, Value: f.Val(form, name, def), Help: help, Error: f.Err(form, name)}
}

// parsePage parses the page name (templates/name.html) into the layout,
// with the partial templates named by partials.
func parsePage(name string, partials ...string) (*template.Template, error) {
	files := []string{"templates/layout.html"}
	for _, f := range append(partials, name) {
		files = append(files, "templates/"+f+".html")
	}
	return template.New("layout.html").Funcs(funcs).ParseFS(templateFS, files...)
}

// mustPages adds the pages names, each with partials, to p.pages. The
// templates are embedded, so one that does not parse is a programming
// error: it panics.
func (p *Portal) mustPages(names []string, partials ...string) {
	for _, n := range names {
		p.pages[n] = template.Must(parsePage(n, partials...))
	}
}

func parsePages() (map[string]*template.Template, error) {
	names := []string{"error", "tree", "group", "person", "explain", "audit", "sync", "admin", "meeting", "public", "publicmeeting", "publichome", "find"}
	out := map[string]*template.Template{}
	for _, n := range names {
		t, err := parsePage(n)
		if err != nil {
			return nil, fmt.Errorf("portal: template %s: %w", n, err)
		}
		out[n] = t
	}
	return out, nil
}

func (p *Portal) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, v view) {
	v.UI = p.cfg.UI
	if s != nil {
		v.User, v.CSRF = s.user, s.csrf
		if v.Flash == "" {
			v.Flash = s.takeFlash()
		}
	}
	var buf bytes.Buffer
	if err := p.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.cfg.Logger.Error("portal render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error page.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s := p.session(r)
	if s != nil && s.user == nil {
		s = nil
	}
	title := http.StatusText(status)
	switch status {
	case http.StatusForbidden:
		title = "Refused"
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		title = "Not done"
	}
	p.render(w, r, s, status, "error", view{Title: title, D: msg})
}

// apiFail shows the error page for a failed read of the admin API; a
// session whose tokens stopped working is sent to sign in again.
func (p *Portal) apiFail(w http.ResponseWriter, r *http.Request, err error, what string) {
	var ae *apiError
	switch {
	case errors.Is(err, errSignedOut):
		http.Redirect(w, r, "/portal/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		p.fail(w, r, http.StatusForbidden, "You may not see "+what+". "+ae.Message+".")
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		p.fail(w, r, http.StatusNotFound, "Not found, or not yours to see: "+what+".")
	case errors.As(err, &ae) && ae.Status < 500:
		p.fail(w, r, http.StatusBadRequest, ae.Message)
	default:
		p.cfg.Logger.Error("portal: admin API", "err", err)
		p.fail(w, r, http.StatusBadGateway, "Roster did not answer as expected; try again in a moment.")
	}
}

func (p *Portal) api(s *session) api { return api{p: p, s: s} }

// treeNode is a group placed in the tree.
type treeNode struct {
	group
	Depth    int
	Children []*treeNode
}

type treeData struct {
	Q       string
	Roots   []*treeNode
	Matches []group
	All     []group
	Kinds   []string
	// ShowArchived: archived groups are listed too (?archived=1);
	// Archived counts them.
	ShowArchived bool
	Archived     int
}

func buildTree(gs []group) []*treeNode {
	nodes := map[string]*treeNode{}
	for _, g := range gs {
		nodes[g.ID] = &treeNode{group: g}
	}
	var roots []*treeNode
	for _, g := range gs {
		n := nodes[g.ID]
		if par, ok := nodes[g.Parent]; ok {
			par.Children = append(par.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	// Within a level: kind order (regional before local before SIGs), then name.
	rank := map[string]int{"international": 0, "regional": 1, "local": 2, "special-interest": 3}
	var sortLevel func([]*treeNode, int)
	sortLevel = func(ns []*treeNode, depth int) {
		sort.SliceStable(ns, func(i, j int) bool {
			ri, rj := rank[ns[i].Kind], rank[ns[j].Kind]
			if ri != rj {
				return ri < rj
			}
			return ns[i].Name < ns[j].Name
		})
		for _, n := range ns {
			n.Depth = depth
			sortLevel(n.Children, depth+1)
		}
	}
	sortLevel(roots, 0)
	return roots
}

func (p *Portal) loadTree(ctx context.Context, s *session) ([]group, error) {
	var l listOf[group]
	err := p.api(s).get(ctx, "/grouptree", &l)
	return l.Items, err
}

func (p *Portal) treePage(w http.ResponseWriter, r *http.Request, s *session) {
	p.showTree(w, r, s, http.StatusOK, nil)
}

func (p *Portal) showTree(w http.ResponseWriter, r *http.Request, s *session, status int, f *formState) {
	gs, err := p.loadTree(r.Context(), s)
	if err != nil {
		p.apiFail(w, r, err, "the groups")
		return
	}
	d := treeData{Q: strings.TrimSpace(r.URL.Query().Get("q")), Kinds: []string{"international", "regional", "local", "special-interest"},
		ShowArchived: r.URL.Query().Get("archived") == "1"}
	// Archived groups are hidden unless asked for; an archived group's
	// subgroups are archived too (the admin API keeps it so).
	shown := gs[:0:0]
	for _, g := range gs {
		if g.Archived {
			d.Archived++
			if !d.ShowArchived {
				continue
			}
		}
		shown = append(shown, g)
	}
	gs = shown
	for _, g := range gs {
		if !g.Archived {
			d.All = append(d.All, g) // a new group's possible parents
		}
	}
	if d.Q != "" {
		q := strings.ToLower(d.Q)
		for _, g := range gs {
			if strings.Contains(strings.ToLower(g.Name), q) || strings.Contains(g.Slug, q) || strings.Contains(strings.ToLower(g.Description), q) {
				d.Matches = append(d.Matches, g)
			}
		}
	} else {
		d.Roots = buildTree(gs)
	}
	p.render(w, r, s, status, "tree", view{Title: "Groups", Nav: "groups", F: f, D: d})
}

// groupData is what the group page shows.
type groupData struct {
	G           group
	Ancestors   []group
	Children    []group
	All         []group
	Members     []memberRow
	Upcoming    []meeting
	Past        []meeting
	Roles       []role
	Rules       []rule
	Can         map[string]bool
	Q           string
	People      []personHit
	PeopleError string
	// Me is where the signed-in person stands with the group; Requests
	// are its membership requests, for those who decide them.
	Me            joinState
	Requests      []joinRequest
	MembersHidden bool
	// Feed is the group's iCalendar feed (public for an open group).
	Feed string
}

type personHit struct {
	ID          string `json:"id"`
	Tenant      string `json:"tenant"`
	UserName    string `json:"userName"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email"`
}

type memberRow struct {
	member
	Name    string
	Origins []string
	Manual  bool
	Why     string // the permission the "why" link explains
}

// whyPermission picks the permission that best shows why a role is held:
// its last (most specific) one.
func whyPermission(roles map[string]role, name string) string {
	if r, ok := roles[name]; ok && len(r.Permissions) > 0 {
		return r.Permissions[len(r.Permissions)-1]
	}
	return "group.read"
}

// describeOrigin says in words where a role comes from.
func describeOrigin(o string, rules map[string]rule) string {
	if o == "manual" {
		return "added by hand"
	}
	if id, ok := strings.CutPrefix(o, "rule:"); ok {
		ru, ok := rules[id]
		if !ok {
			return "a binding rule"
		}
		src := ru.DirGroupSource
		switch {
		case strings.HasPrefix(src, "ldap:"):
			src = "LDAP directory " + strings.TrimPrefix(src, "ldap:")
		case strings.HasPrefix(src, "scim:"):
			src = "SCIM from " + strings.TrimPrefix(src, "scim:")
		case src == "":
			src = ru.Tenant
		}
		return fmt.Sprintf("directory group “%s” (%s)", ru.DirGroupName, src)
	}
	return o
}

func (p *Portal) groupPage(w http.ResponseWriter, r *http.Request, s *session) {
	p.showGroup(w, r, s, http.StatusOK, nil)
}

func (p *Portal) showGroup(w http.ResponseWriter, r *http.Request, s *session, status int, f *formState) {
	ctx, a, slug := r.Context(), p.api(s), r.PathValue("slug")
	var d groupData
	if err := a.get(ctx, "/groups/"+esc(slug), &d.G); err != nil {
		p.apiFail(w, r, err, "this group")
		return
	}
	// Only this group's part of the tree: its ancestors and children.
	var near listOf[group]
	if err := a.get(ctx, "/grouptree?around="+url.QueryEscape(d.G.ID), &near); err != nil {
		p.apiFail(w, r, err, "the groups")
		return
	}
	all := near.Items
	d.All = all
	byID := map[string]group{}
	for _, g := range all {
		byID[g.ID] = g
		if g.Parent == d.G.ID {
			d.Children = append(d.Children, g)
		}
	}
	if g, ok := byID[d.G.ID]; ok {
		d.G.MemberCount = g.MemberCount
	}
	for par := d.G.Parent; par != ""; {
		g, ok := byID[par]
		if !ok || len(d.Ancestors) > 64 {
			break
		}
		d.Ancestors = append([]group{g}, d.Ancestors...)
		par = g.Parent
	}
	d.Can = map[string]bool{}
	for _, perm := range []string{"members.manage", "meetings.read", "meetings.edit", "groups.manage", "roles.assign", "announcements.send"} {
		var e explanation
		if err := a.get(ctx, "/groups/"+esc(slug)+"/explain?user="+url.QueryEscape(s.user.ID)+"&permission="+perm, &e); err == nil {
			d.Can[perm] = e.Allowed
		}
	}
	// Archiving is also the parent's decision (admin/archive.go).
	d.Can["archive"] = d.Can["groups.manage"]
	if !d.Can["archive"] && d.G.Parent != "" {
		var e explanation
		if err := a.get(ctx, "/groups/"+esc(d.G.Parent)+"/explain?user="+url.QueryEscape(s.user.ID)+"&permission=groups.manage", &e); err == nil {
			d.Can["archive"] = e.Allowed
		}
	}
	var roles listOf[role]
	if err := a.get(ctx, "/roles", &roles); err != nil {
		p.apiFail(w, r, err, "the roles")
		return
	}
	d.Roles = roles.Items
	roleMap := map[string]role{}
	for _, ro := range roles.Items {
		roleMap[ro.Name] = ro
	}
	rules := map[string]rule{}
	if d.Can["members.manage"] {
		var rl listOf[rule]
		if err := a.get(ctx, "/groups/"+esc(slug)+"/rules", &rl); err == nil {
			d.Rules = rl.Items
			for _, ru := range rl.Items {
				rules[ru.ID] = ru
			}
		}
	}
	if err := a.get(ctx, "/groups/"+esc(slug)+"/join", &d.Me); err != nil {
		p.apiFail(w, r, err, "your membership")
		return
	}
	if d.Can["members.manage"] {
		var jl listOf[joinRequest]
		if err := a.get(ctx, "/groups/"+esc(slug)+"/join-requests", &jl); err == nil {
			d.Requests = jl.Items
		}
	}
	var ms struct {
		Members []member `json:"members"`
	}
	// Someone who sees an open or request-only group from outside may not
	// see who is in it.
	if err := a.get(ctx, "/groups/"+esc(slug)+"/members", &ms); statusOf(err) == http.StatusForbidden {
		d.MembersHidden = true
	} else if err != nil {
		p.apiFail(w, r, err, "this group's members")
		return
	}
	for _, m := range ms.Members {
		row := memberRow{member: m, Name: m.DisplayName, Manual: slices.Contains(m.Origins, "manual"), Why: whyPermission(roleMap, m.Role)}
		if row.Name == "" {
			row.Name = m.UserName
		}
		for _, o := range m.Origins {
			row.Origins = append(row.Origins, describeOrigin(o, rules))
		}
		d.Members = append(d.Members, row)
	}
	sort.SliceStable(d.Members, func(i, j int) bool {
		if d.Members[i].Name != d.Members[j].Name {
			return d.Members[i].Name < d.Members[j].Name
		}
		return d.Members[i].Role < d.Members[j].Role
	})
	var ml listOf[meeting]
	if err := a.get(ctx, "/groups/"+esc(slug)+"/meetings", &ml); err == nil {
		d.G.Meetings = ml.Items
	}
	now := p.cfg.Now()
	for _, m := range d.G.Meetings {
		if m.Next != nil || m.Start.After(now) {
			d.Upcoming = append(d.Upcoming, m)
		} else {
			d.Past = append([]meeting{m}, d.Past...)
		}
	}
	sort.SliceStable(d.Upcoming, func(i, j int) bool { return d.Upcoming[i].When().Before(d.Upcoming[j].When()) })
	d.Feed = p.cfg.Issuer + "/groups/" + url.PathEscape(d.G.Slug) + "/meetings.ics"
	d.Q = strings.TrimSpace(r.URL.Query().Get("q"))
	if r.Method == http.MethodPost {
		d.Q = strings.TrimSpace(r.PostForm.Get("q"))
	}
	if d.Q != "" {
		var hits listOf[personHit]
		err := a.get(ctx, "/people?q="+url.QueryEscape(d.Q), &hits)
		switch {
		case err == nil:
			d.People = hits.Items
			if len(d.People) == 0 {
				d.PeopleError = "Nobody matches “" + d.Q + "”."
			}
		case statusOf(err) == http.StatusForbidden:
			d.PeopleError = "Refused: only those who manage a group's members may search people."
		case statusOf(err) == http.StatusBadRequest:
			d.PeopleError = "Type at least 2 characters."
		default:
			d.PeopleError = "The search failed; try again."
		}
	}
	v := view{Title: d.G.Name, Nav: "groups", F: f, D: d}
	if f != nil && (f.Form == "approve" || f.Form == "decline") && !d.Can["members.manage"] ||
		f != nil && (f.Form == "archive" || f.Form == "unarchive") && !d.Can["archive"] {
		v.Alert = f.Alert // the section, where it belongs, is not shown
	}
	p.render(w, r, s, status, "group", v)
}

// membersCSV exports the group's members as CSV (RFC 4180).
func (p *Portal) membersCSV(w http.ResponseWriter, r *http.Request, s *session) {
	slug := r.PathValue("slug")
	var ms struct {
		Members []member `json:"members"`
	}
	if err := p.api(s).get(r.Context(), "/groups/"+esc(slug)+"/members", &ms); err != nil {
		p.apiFail(w, r, err, "this group's members")
		return
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write([]string{"user", "tenant", "userName", "displayName", "role", "origins"})
	for _, m := range ms.Members {
		_ = cw.Write(csvRow([]string{m.User, m.Tenant, m.UserName, m.DisplayName, m.Role, strings.Join(m.Origins, " ")}))
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' {
			return -1
		}
		return r
	}, slug)+`-members.csv"`)
	_, _ = w.Write(buf.Bytes())
}

func (p *Portal) me(w http.ResponseWriter, r *http.Request, s *session) {
	http.Redirect(w, r, "/portal/people/"+url.PathEscape(s.user.Tenant)+"/"+url.PathEscape(s.user.ID), http.StatusFound)
}

type personData struct {
	P     person
	Self  bool
	Roles map[string]role
	// Calendar: whether the person has a personal feed (their own page).
	Calendar struct {
		Exists  bool      `json:"exists"`
		Created time.Time `json:"created"`
	}
	// Public: the person agreed to be named on public pages (their own
	// page only; portal/public.go).
	Public bool
	// Mail: what the person gets from each group (own page only).
	Mail mailPrefs
}

// resetCalendar makes a new secret URL for the signed-in person's
// calendar feed and shows it once.
func (p *Portal) resetCalendar(w http.ResponseWriter, r *http.Request, s *session) {
	var out struct {
		Path string `json:"path"`
	}
	back := "/portal/me#calendar"
	err := p.api(s).do(r.Context(), http.MethodPost, "/me/calendar", nil, &out)
	switch {
	case err == nil:
		s.setFlash("Your calendar link (keep it to yourself; it is shown only now): " + p.cfg.Issuer + out.Path)
	case errors.Is(err, errSignedOut):
		p.apiFail(w, r, err, "")
		return
	default:
		s.setFlash("Not done: the calendar link could not be made.")
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

func (p *Portal) personPage(w http.ResponseWriter, r *http.Request, s *session) {
	var d personData
	a := p.api(s)
	if err := a.get(r.Context(), "/people/"+esc(r.PathValue("tenant"))+"/"+esc(r.PathValue("user")), &d.P); err != nil {
		p.apiFail(w, r, err, "this person")
		return
	}
	d.Self = d.P.ID == s.user.ID
	if d.Self {
		_ = a.get(r.Context(), "/me/calendar", &d.Calendar)
		var pr profileInput
		_ = a.get(r.Context(), "/me/profile", &pr)
		d.Public = pr.Public
		_ = a.get(r.Context(), "/me/mail", &d.Mail)
	}
	title := d.P.DisplayName
	if title == "" {
		title = d.P.UserName
	}
	nav := ""
	if d.Self {
		nav = "me"
	}
	p.render(w, r, s, http.StatusOK, "person", view{Title: title, Nav: nav, D: d})
}

type explainData struct {
	Group      group
	User       string
	Person     string
	Permission string
	Perms      []string
	E          *explanation
}

func (p *Portal) explainPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	d := explainData{User: q.Get("user"), Permission: q.Get("permission"), Person: q.Get("name")}
	a := p.api(s)
	if err := a.get(r.Context(), "/groups/"+esc(q.Get("group")), &d.Group); err != nil {
		p.apiFail(w, r, err, "this group")
		return
	}
	var roles listOf[role]
	_ = a.get(r.Context(), "/roles", &roles)
	seen := map[string]bool{}
	for _, ro := range roles.Items {
		for _, pe := range ro.Permissions {
			if !seen[pe] {
				seen[pe] = true
				d.Perms = append(d.Perms, pe)
			}
		}
	}
	sort.Strings(d.Perms)
	if d.User == "" || d.Permission == "" {
		p.fail(w, r, http.StatusBadRequest, "Say whom and which permission to explain.")
		return
	}
	var e explanation
	if err := a.get(r.Context(), "/groups/"+esc(q.Get("group"))+"/explain?user="+url.QueryEscape(d.User)+"&permission="+url.QueryEscape(d.Permission), &e); err != nil {
		p.apiFail(w, r, err, "why this person holds this")
		return
	}
	d.E = &e
	if d.Person == "" {
		d.Person = d.User
	}
	p.render(w, r, s, http.StatusOK, "explain", view{Title: "Why", D: d})
}

type auditRow struct {
	change
	Group     string
	What      string
	ActorName string
}

type auditData struct {
	Groups                              []group
	Group, Person, Source, Since, Until string
	Rows                                []auditRow
	Next                                string
	After                               string
	Sources                             []string
	Error                               string
	FieldErrors                         map[string]string
}

func (p *Portal) auditPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	a := p.api(s)
	all, err := p.loadTree(r.Context(), s)
	if err != nil {
		p.apiFail(w, r, err, "the groups")
		return
	}
	d := auditData{Groups: all, Group: q.Get("group"), Person: strings.TrimSpace(q.Get("person")), Source: q.Get("source"),
		Since: q.Get("since"), Until: q.Get("until"), After: q.Get("after"),
		Sources: []string{"user", "admin", "ldap", "scim", "oidc", "config", "demo"}, FieldErrors: map[string]string{}}
	byID := map[string]group{}
	for _, g := range all {
		byID[g.ID] = g
	}
	if d.Group == "" {
		for _, g := range all {
			if _, ok := byID[g.Parent]; !ok {
				d.Group = g.Slug // the first root the caller sees
				break
			}
		}
	}
	if d.Source != "" && !slices.Contains(d.Sources, d.Source) {
		d.FieldErrors["source"] = "Choose one of the listed sources."
	}
	for _, f := range []struct{ name, v string }{{"since", d.Since}, {"until", d.Until}} {
		if f.v == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, f.v); err != nil {
			d.FieldErrors[f.name] = "Enter a date as YYYY-MM-DD."
		}
	}
	who := d.Person
	if t, u, ok := strings.Cut(who, "/"); ok && len(d.FieldErrors) == 0 {
		var pr person
		if err := a.get(r.Context(), "/people/"+esc(t)+"/"+esc(u), &pr); err != nil {
			d.FieldErrors["person"] = "No such person you may see (use company/user name, e.g. vendor/alice)."
		}
		who = pr.ID
	}
	status := http.StatusOK
	if len(d.FieldErrors) > 0 {
		status = http.StatusUnprocessableEntity
	} else if d.Group != "" {
		v := url.Values{}
		for k, val := range map[string]string{"person": who, "source": d.Source, "since": d.Since, "until": d.Until, "after": d.After} {
			if val != "" {
				v.Set(k, val)
			}
		}
		var l listOf[change]
		err := a.get(r.Context(), "/groups/"+esc(d.Group)+"/audit?"+v.Encode(), &l)
		switch {
		case err == nil:
			names := map[string]string{} // actor → name, looked up once a page
			for _, c := range l.Items {
				row := describeChange(c, byID)
				if t, id, ok := strings.Cut(strings.TrimPrefix(c.Actor, "user:"), "/"); ok && strings.HasPrefix(c.Actor, "user:") {
					n, seen := names[c.Actor]
					if !seen {
						var pr person
						if a.get(r.Context(), "/people/"+esc(t)+"/"+esc(id), &pr) == nil {
							n = pr.DisplayName
							if n == "" {
								n = pr.UserName
							}
							n += " (" + t + "/" + pr.UserName + ")"
						}
						names[c.Actor] = n
					}
					if n != "" {
						row.ActorName = n
					}
				}
				d.Rows = append(d.Rows, row)
			}
			d.Next = l.Next
		case errors.Is(err, errSignedOut):
			p.apiFail(w, r, err, "")
			return
		case statusOf(err) == http.StatusForbidden || statusOf(err) == http.StatusNotFound:
			status = http.StatusForbidden
			d.Error = "Refused: the audit trail of a group is for those who manage it, and you do not manage " + d.Group + "."
		default:
			status = http.StatusBadRequest
			d.Error = err.Error()
		}
	}
	p.render(w, r, s, status, "audit", view{Title: "Audit trail", Nav: "audit", D: d})
}

// describeChange names an audit entry's group and says what it did.
func describeChange(c change, groups map[string]group) auditRow {
	row := auditRow{change: c}
	gid := c.ID
	if c.Kind == "membership" {
		parts := strings.SplitN(c.ID, "/", 3)
		gid = parts[0]
		if len(parts) == 3 {
			row.What = fmt.Sprintf("role %s of user %s", parts[2], parts[1])
		}
	}
	if c.Kind == "event" {
		if ns, rest, ok := strings.Cut(c.ID, "/"); ok && (ns == "join" || ns == "meeting" || ns == "rsvp") {
			gid, _, _ = strings.Cut(rest, "/")
			row.What = describeEvent(ns, c.After)
		}
	}
	if g, ok := groups[gid]; ok {
		row.Group = g.Slug
	}
	if c.Kind == "group" {
		row.What = "group " + row.Group + groupDiff(c.Before, c.After)
	}
	if row.What == "" {
		row.What = c.Kind + " " + c.ID
	}
	return row
}

// describeEvent says what a membership-request, meeting or RSVP event
// did.
func describeEvent(ns string, detail json.RawMessage) string {
	var ev struct {
		Action, User, State, Reason, Title string
		Meeting                            string
		Going                              *bool
	}
	if json.Unmarshal(detail, &ev) != nil {
		return ""
	}
	switch ns + " " + ev.Action {
	case "join join":
		return "joined (open group)"
	case "join ask":
		return "asked to join"
	case "join approve":
		return "approved the request of user " + ev.User
	case "join decline":
		return "declined the request of user " + ev.User + reasonText(ev.Reason)
	case "join withdraw":
		return "withdrew the request to join"
	case "join leave":
		return "left the group"
	case "rsvp rsvp":
		if ev.Going != nil && *ev.Going {
			return "RSVP going to “" + ev.Title + "”"
		}
		return "RSVP not going to “" + ev.Title + "”"
	}
	return ""
}

func reasonText(r string) string {
	if r == "" {
		return ""
	}
	return ": “" + r + "”"
}

// groupDiff says what an update of a group record changed.
func groupDiff(before, after json.RawMessage) string {
	var b, a group
	if json.Unmarshal(before, &b) != nil || json.Unmarshal(after, &a) != nil {
		return ""
	}
	var out []string
	if a.Name != b.Name {
		out = append(out, fmt.Sprintf("renamed “%s” → “%s”", b.Name, a.Name))
	}
	if a.Description != b.Description {
		out = append(out, "new description")
	}
	if a.Parent != b.Parent {
		out = append(out, "moved")
	}
	if a.Archived != b.Archived {
		out = append(out, map[bool]string{true: "archived", false: "unarchived"}[a.Archived])
	}
	had := map[string]bool{}
	for _, m := range b.Meetings {
		had[m.ID] = true
	}
	has := map[string]bool{}
	for _, m := range a.Meetings {
		has[m.ID] = true
		if !had[m.ID] {
			out = append(out, "meeting “"+m.Title+"” added")
		}
	}
	for _, m := range b.Meetings {
		if !has[m.ID] {
			out = append(out, "meeting “"+m.Title+"” removed")
		}
	}
	if len(out) == 0 {
		return ""
	}
	return ": " + strings.Join(out, ", ")
}

type syncData struct {
	Items []syncStatus
	Error string
}

func (p *Portal) syncPage(w http.ResponseWriter, r *http.Request, s *session) {
	var l listOf[syncStatus]
	var d syncData
	status := http.StatusOK
	err := p.api(s).get(r.Context(), "/sync", &l)
	switch {
	case err == nil:
		d.Items = l.Items
	case errors.Is(err, errSignedOut):
		p.apiFail(w, r, err, "")
		return
	case statusOf(err) == http.StatusForbidden:
		status = http.StatusForbidden
		d.Error = "Refused: directory status is for Roster administrators: an admin token, or the permission directories.manage on every top-level group (the admin role of the international group carries it)."
	default:
		p.apiFail(w, r, err, "directory status")
		return
	}
	p.render(w, r, s, status, "sync", view{Title: "Directories", Nav: "sync", D: d})
}

func (p *Portal) approveSync(w http.ResponseWriter, r *http.Request, s *session) {
	t, dir := r.PathValue("tenant"), r.PathValue("dir")
	err := p.api(s).do(r.Context(), http.MethodPost, "/sync/"+esc(t)+"/"+esc(dir)+"/approve", nil, nil)
	switch {
	case err == nil:
		s.setFlash("Approved: the held change of " + t + "/" + dir + " is applied.")
	case errors.Is(err, errSignedOut):
		p.apiFail(w, r, err, "")
		return
	case statusOf(err) == http.StatusForbidden:
		s.setFlash("Refused: approving a held sync needs the permission directories.manage on every top-level group.")
	default:
		var ae *apiError
		if errors.As(err, &ae) {
			s.setFlash("Not approved: " + ae.Message)
		} else {
			s.setFlash("Not approved: Roster did not answer.")
		}
	}
	http.Redirect(w, r, "/portal/sync", http.StatusSeeOther)
}
