package admin

// Public group pages and the LUG finder read these endpoints, which need
// no bearer token: only groups anyone may join or ask to join (open,
// request) are listed, with their name, description, kind, location (when
// the group record has one) and next meetings. Never members, organizers
// or anything else about people.
//
//	GET /api/v1/public/groups?q=       search by name, description, slug or location text
//	GET /api/v1/public/groups/{slug}   one group

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) publicRoutes() {
	s.mux.HandleFunc("GET /api/v1/public/groups", s.publicGroups)
	s.mux.HandleFunc("GET /api/v1/public/groups/{slug}", s.publicGroup)
}

// publicMeeting is a meeting as a visitor sees it.
type publicMeeting struct {
	Title    string    `json:"title"`
	Start    time.Time `json:"start"`
	TimeZone string    `json:"timeZone,omitempty"`
	Location string    `json:"location,omitempty"`
	Address  string    `json:"address,omitempty"`
	Online   bool      `json:"online,omitempty"`
	Repeats  bool      `json:"repeats,omitempty"`
}

// publicGroup is a group as a visitor sees it.
type publicGroupView struct {
	Slug        string            `json:"slug"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Kind        policy.GroupKind  `json:"kind"`
	Join        policy.JoinPolicy `json:"join"`
	Parent      string            `json:"parent,omitempty"` // the parent's name
	// Location is the group record's location, as it stores it, when it
	// has one.
	Location json.RawMessage `json:"location,omitempty"`
	Next     []publicMeeting `json:"next"`
}

func (s *Server) publicView(g policy.Group, names map[policy.GroupID]string) publicGroupView {
	v := publicGroupView{Slug: g.Slug, Name: g.Name, Description: g.Description, Kind: g.Kind, Join: g.Join, Parent: names[g.Parent], Next: []publicMeeting{}}
	// The location fields are read from the record's JSON, so this
	// keeps working whatever shape the group's location takes.
	if b, err := json.Marshal(g); err == nil {
		var rec map[string]json.RawMessage
		if json.Unmarshal(b, &rec) == nil {
			if l, ok := rec["location"]; ok && string(l) != "null" {
				v.Location = l
			}
		}
	}
	now := s.cfg.Now()
	for _, m := range g.Meetings {
		if m.Cancelled {
			continue
		}
		for _, t := range m.Occurrences(now, now.AddDate(100, 0, 0), 3) {
			v.Next = append(v.Next, publicMeeting{Title: m.Title, Start: t, TimeZone: m.TimeZone, Location: m.Location, Address: m.Address, Online: m.OnlineURL != "", Repeats: m.RRule != ""})
		}
	}
	sort.Slice(v.Next, func(i, j int) bool { return v.Next[i].Start.Before(v.Next[j].Start) })
	if len(v.Next) > 3 {
		v.Next = v.Next[:3]
	}
	return v
}

func (s *Server) discoverable(r *http.Request) ([]policy.Group, map[policy.GroupID]string, error) {
	var gs []policy.Group
	if err := s.view(r, func(tx store.Tx) (err error) { gs, err = tx.Groups(); return }); err != nil {
		return nil, nil, err
	}
	names := map[policy.GroupID]string{} // a parent is named, open or not: where a group sits is no secret
	var out []policy.Group
	for _, g := range gs {
		names[g.ID] = g.Name
		if g.Join.Discoverable() {
			out = append(out, g)
		}
	}
	return out, names, nil
}

func (s *Server) publicGroups(w http.ResponseWriter, r *http.Request) {
	gs, names, err := s.discoverable(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	terms := strings.Fields(strings.ToLower(r.URL.Query().Get("q")))
	out := []publicGroupView{}
	for _, g := range gs {
		v := s.publicView(g, names)
		hay := strings.ToLower(strings.Join([]string{v.Name, v.Slug, v.Description, v.Parent, string(v.Location)}, " "))
		match := true
		for _, t := range terms {
			if !strings.Contains(hay, t) {
				match = false
			}
		}
		if match {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, list[publicGroupView]{Items: out})
}

func (s *Server) publicGroup(w http.ResponseWriter, r *http.Request) {
	gs, names, err := s.discoverable(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	for _, g := range gs {
		if g.Slug == r.PathValue("slug") {
			writeJSON(w, http.StatusOK, s.publicView(g, names))
			return
		}
	}
	writeErr(w, errNoGroup)
}
