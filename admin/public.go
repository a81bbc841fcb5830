package admin

// Public group pages, the public home and the LUG finder read these
// endpoints, which need no bearer token. Only groups marked public
// (policy.Group.Public) and not archived are listed, with what the group
// is: name, remit, kind, place, topics, products, next meetings (without
// the link to join online) and those of its organizers who agreed to be
// named publicly (policy.Profile.Public), by display name only. Never its
// members, and never anything else about people.
//
//	GET /api/v1/public/groups?q=                      search by name, remit, slug, place or topic
//	GET /api/v1/public/groups/{slug}                  one group, with its consenting organizers
//	GET /api/v1/public/groups/{slug}/meetings/{id}    one meeting ({id}.ics: as iCalendar)
//	GET /api/v1/finder?place=&lat=&lon=&radius=&topic=&product=
//	                                                  the LUG finder (see finder.go)

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/roster-dev/roster/geo"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) publicRoutes() {
	s.mux.HandleFunc("GET /api/v1/public/groups", s.publicGroups)
	s.mux.HandleFunc("GET /api/v1/public/groups/{slug}", s.publicGroup)
	s.mux.HandleFunc("GET /api/v1/public/groups/{slug}/meetings/{id}", s.publicMeeting)
	s.mux.HandleFunc("GET /api/v1/finder", s.finder)
}

// publicMeeting is one occurrence of a meeting as a visitor sees it.
type publicMeetingView struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end,omitzero"`
	TimeZone    string    `json:"timeZone,omitempty"`
	Location    string    `json:"location,omitempty"`
	Address     string    `json:"address,omitempty"`
	Online      bool      `json:"online,omitempty"`
	Repeats     bool      `json:"repeats,omitempty"`
}

// publicGroupView is a group as a visitor sees it.
type publicGroupView struct {
	Slug        string            `json:"slug"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Kind        policy.GroupKind  `json:"kind"`
	Type        policy.GroupType  `json:"type,omitempty"`
	Join        policy.JoinPolicy `json:"join"`
	// Parent is the parent's name (where a group sits is no secret);
	// ParentSlug its slug when the parent is public too.
	Parent     string           `json:"parent,omitempty"`
	ParentSlug string           `json:"parentSlug,omitempty"`
	Location   *policy.Location `json:"location,omitempty"`
	// Point is where the group meets: its coordinates, else its city's
	// from the gazetteer; absent when neither is known.
	Point    *geo.Point          `json:"point,omitempty"`
	Topics   []string            `json:"topics,omitempty"`
	Products []string            `json:"products,omitempty"`
	Next     []publicMeetingView `json:"next"`
	// Organizers are the display names of the group's organizers who
	// agreed to be shown publicly; only in the one-group answer.
	Organizers []string `json:"organizers,omitempty"`
}

// publicSet is the public groups, with every group's name and slug for
// their parents.
type publicSet struct {
	groups []policy.Group
	byID   map[policy.GroupID]policy.Group
}

func (s *Server) publicSet(r *http.Request) (publicSet, error) {
	var gs []policy.Group
	if err := s.view(r, func(tx store.Tx) (err error) { gs, err = tx.Groups(); return }); err != nil {
		return publicSet{}, err
	}
	ps := publicSet{byID: map[policy.GroupID]policy.Group{}}
	for _, g := range gs {
		ps.byID[g.ID] = g
		if isPublic(g) {
			ps.groups = append(ps.groups, g)
		}
	}
	return ps, nil
}

// isPublic reports whether g has a public page.
func isPublic(g policy.Group) bool { return g.Public && !g.Archived }

func (ps publicSet) bySlug(slug string) (policy.Group, bool) {
	for _, g := range ps.groups {
		if g.Slug == slug {
			return g, true
		}
	}
	return policy.Group{}, false
}

// publicMeetingOf is meeting m's occurrence at t as a visitor sees it:
// no link to join online, no capacity, no RSVPs.
func publicMeetingOf(m policy.Meeting, t time.Time) publicMeetingView {
	v := publicMeetingView{ID: m.ID, Title: m.Title, Description: m.Description, Start: t, TimeZone: m.TimeZone, Location: m.Location, Address: m.Address, Online: m.OnlineURL != "", Repeats: m.RRule != ""}
	if !m.End.IsZero() {
		v.End = t.Add(m.End.Sub(m.Start))
	}
	return v
}

func (s *Server) publicView(g policy.Group, ps publicSet) publicGroupView {
	v := publicGroupView{Slug: g.Slug, Name: g.Name, Description: g.Description, Kind: g.Kind, Type: g.Type, Join: g.Join, Location: g.Location, Topics: g.Topics, Products: g.Products, Next: []publicMeetingView{}}
	if par, ok := ps.byID[g.Parent]; ok {
		v.Parent = par.Name
		if isPublic(par) {
			v.ParentSlug = par.Slug
		}
	}
	if pt, ok := s.groupPoint(g); ok {
		v.Point = &pt
	}
	now := s.cfg.Now()
	for _, m := range g.Meetings {
		if m.Cancelled {
			continue
		}
		for _, t := range m.Occurrences(now, now.AddDate(100, 0, 0), 3) {
			v.Next = append(v.Next, publicMeetingOf(m, t))
		}
	}
	sort.SliceStable(v.Next, func(i, j int) bool { return v.Next[i].Start.Before(v.Next[j].Start) })
	if len(v.Next) > 3 {
		v.Next = v.Next[:3]
	}
	return v
}

// matches reports whether every search term is in the group's name,
// slug, remit, parent, place or topics.
func (v publicGroupView) matches(terms []string) bool {
	hay := []string{v.Name, v.Slug, v.Description, v.Parent}
	if l := v.Location; l != nil {
		hay = append(hay, l.City, l.Region, l.Country)
	}
	hay = append(hay, v.Topics...)
	s := strings.ToLower(strings.Join(hay, " "))
	for _, t := range terms {
		if !strings.Contains(s, t) {
			return false
		}
	}
	return true
}

func (s *Server) publicGroups(w http.ResponseWriter, r *http.Request) {
	ps, err := s.publicSet(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	terms := strings.Fields(strings.ToLower(r.URL.Query().Get("q")))
	out := []publicGroupView{}
	for _, g := range ps.groups {
		if v := s.publicView(g, ps); v.matches(terms) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, list[publicGroupView]{Items: out})
}

// publicGroupAt resolves the {slug} path value to a public group; it
// answers 404 itself when there is none.
func (s *Server) publicGroupAt(w http.ResponseWriter, r *http.Request) (publicSet, policy.Group, bool) {
	ps, err := s.publicSet(r)
	if err != nil {
		writeErr(w, err)
		return ps, policy.Group{}, false
	}
	g, ok := ps.bySlug(r.PathValue("slug"))
	if !ok {
		writeErr(w, errNoGroup)
	}
	return ps, g, ok
}

func (s *Server) publicGroup(w http.ResponseWriter, r *http.Request) {
	ps, g, ok := s.publicGroupAt(w, r)
	if !ok {
		return
	}
	v := s.publicView(g, ps)
	if err := s.view(r, func(tx store.Tx) (err error) { v.Organizers, err = s.publicOrganizers(tx, g.ID); return }); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// publicOrganizers returns the display names of those who run group g
// (hold a role in it that manages its members) and agreed to be shown
// publicly, sorted.
func (s *Server) publicOrganizers(tx store.Tx, g policy.GroupID) ([]string, error) {
	roles, err := tx.Roles()
	if err != nil {
		return nil, err
	}
	runs := map[policy.RoleName]bool{}
	for _, ro := range roles {
		runs[ro.Name] = slices.Contains(ro.Permissions, policy.PermMembersManage)
	}
	ts, err := tx.Tenants()
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[policy.UserID]bool{}
	for _, m := range s.cfg.Engine.Members(g) {
		if !runs[m.Role] || seen[m.User] {
			continue
		}
		seen[m.User] = true
		pr, err := getProfile(tx, m.User)
		if err != nil {
			return nil, err
		}
		if !pr.Public {
			continue
		}
		if u, _, ok := userInAnyTenant(tx, ts, m.User); ok {
			if n := displayName(u); n != "" {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// publicAgenda is meeting m's agenda as a visitor sees it: the accepted
// talks in order with their times, each naming only those of its speakers
// who agreed to be shown publicly (policy.Profile.Public); a talk none of
// whose speakers agreed names nobody.
func publicAgenda(tx store.Tx, g policy.GroupID, m policy.Meeting, now time.Time) ([]policy.AgendaItem, error) {
	ts, err := talksOf(tx, g, m.ID)
	if err != nil {
		return nil, err
	}
	consent := map[policy.UserID]bool{}
	shown := func(sp policy.Speaker) (bool, error) {
		if v, ok := consent[sp.User]; ok {
			return v, nil
		}
		pr, err := getProfile(tx, sp.User)
		consent[sp.User] = err == nil && pr.Public
		return consent[sp.User], err
	}
	names := map[string]string{} // talk id → the speakers shown
	for _, t := range ts {
		var keep []policy.Speaker
		for _, sp := range append([]policy.Speaker{t.Speaker}, t.Co...) {
			ok, err := shown(sp)
			if err != nil {
				return nil, err
			}
			if ok && sp.Name != "" {
				keep = append(keep, sp)
			}
		}
		if len(keep) > 0 {
			names[t.ID] = policy.Talk{Speaker: keep[0], Co: keep[1:]}.SpeakerNames()
		}
	}
	items := policy.Agenda(agendaStart(m, now), ts)
	for i := range items {
		items[i].Speakers = names[items[i].Talk]
	}
	return items, nil
}

// userInAnyTenant finds user id in whichever tenant holds it: the engine
// does not say which, so each is tried (there are few).
func userInAnyTenant(tx store.Tx, ts []policy.Tenant, id policy.UserID) (policy.User, policy.Tenant, bool) {
	for _, t := range ts {
		if u, err := tx.User(t.ID, id); err == nil {
			return u, t, true
		}
	}
	return policy.User{}, policy.Tenant{}, false
}

// displayName is how a user is named: their display name, else their
// given and family names.
func displayName(u policy.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return strings.TrimSpace(u.GivenName + " " + u.FamilyName)
}

// publicMeeting answers GET /api/v1/public/groups/{slug}/meetings/{id}:
// the meeting with its next occurrences as JSON, or with {id}.ics as an
// iCalendar file of that one meeting.
func (s *Server) publicMeeting(w http.ResponseWriter, r *http.Request) {
	ps, g, ok := s.publicGroupAt(w, r)
	if !ok {
		return
	}
	id, ics := strings.CutSuffix(r.PathValue("id"), ".ics")
	i := slices.IndexFunc(g.Meetings, func(m policy.Meeting) bool { return m.ID == id })
	if i < 0 {
		writeErr(w, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such meeting"})
		return
	}
	m := g.Meetings[i]
	now := s.cfg.Now()
	var agenda []policy.AgendaItem
	if err := s.view(r, func(tx store.Tx) (err error) { agenda, err = publicAgenda(tx, g.ID, m, now); return }); err != nil {
		writeErr(w, err)
		return
	}
	if ics {
		m.OnlineURL = "" // for members only, as in the public feed
		s.serveCalendar(w, g.Name+": "+m.Title, []calEvent{{Meeting: m, Group: g.Name, GroupSlug: g.Slug, Agenda: agenda}}, true)
		return
	}
	if agenda == nil {
		agenda = []policy.AgendaItem{}
	}
	out := struct {
		Group     publicGroupView     `json:"group"`
		Meeting   publicMeetingView   `json:"meeting"`
		Cancelled bool                `json:"cancelled,omitempty"`
		Upcoming  []publicMeetingView `json:"upcoming"`
		// Agenda is the accepted talks of the next occurrence (see
		// publicAgenda).
		Agenda []policy.AgendaItem `json:"agenda"`
	}{Group: s.publicView(g, ps), Meeting: publicMeetingOf(m, m.Start), Cancelled: m.Cancelled, Upcoming: []publicMeetingView{}, Agenda: agenda}
	if !m.Cancelled {
		for _, t := range m.Occurrences(now, now.AddDate(100, 0, 0), 6) {
			out.Upcoming = append(out.Upcoming, publicMeetingOf(m, t))
		}
	}
	if len(out.Upcoming) > 0 {
		out.Meeting = out.Upcoming[0]
	}
	writeJSON(w, http.StatusOK, out)
}
