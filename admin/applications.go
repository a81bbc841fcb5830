package admin

// Founding a LUG: a member applies (policy.Application), naming
// co-founders, who are told by mail and each accept or decline their place
// (until the application is decided); the reviewers of the group it will
// sit under (applications.review there, e.g. the RUG's admins) see who
// accepted, ask questions and approve or decline; approval creates the
// group with the applicant and the co-founders who accepted as organizers
// (policy.Application.Organizers), its location and remit set, and
// announces it to the members of the group above. Applications are
// records (namespace "applications", key: a UUIDv7); every step is an
// audit entry "application/<id>" (and so an outbound event), and the
// founders are told of each reviewer's step by mail.
//
//	GET  /api/v1/applications/nearby?city=&country=   existing groups within travel distance
//	GET  /api/v1/applications/parents                the groups a new local group may sit under
//	POST /api/v1/applications                        apply
//	GET  /api/v1/applications                        ?status=  the caller's own and those they review
//	GET  /api/v1/applications/{id}
//	POST /api/v1/applications/{id}/messages          {text}: a question, or the founders' answer
//	PUT  /api/v1/applications/{id}/confirmation      {answer: accepted|declined}: a co-founder's own answer
//	PATCH /api/v1/applications/{id}                  {status: approved|declined, reason}
//
// Nobody else sees an application: it answers 404, as one that does not
// exist.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/roster-dev/roster/geo"
	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// nsApplications is the record namespace of applications.
const nsApplications = "applications"

// DefaultTravelKm is how far the "is there a group already?" check looks
// when Config.TravelKm is not set.
const DefaultTravelKm = 150

func (s *Server) applicationRoutes() {
	s.handle("GET /api/v1/applications/nearby", s.nearbyGroups)
	s.handle("GET /api/v1/applications/parents", s.applicationParents)
	s.handle("POST /api/v1/applications", s.apply)
	s.handle("GET /api/v1/applications", s.listApplications)
	s.handle("GET /api/v1/applications/{id}", s.getApplication)
	s.handle("POST /api/v1/applications/{id}/messages", s.applicationMessage)
	s.handle("PUT /api/v1/applications/{id}/confirmation", s.confirmCoFounder)
	s.handle("PATCH /api/v1/applications/{id}", s.decideApplication)
}

var errNoApplication = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such application"}

// applicationView is an application with the groups near its city.
type applicationView struct {
	policy.Application
	Nearby []policy.NearbyGroup `json:"nearby"`
	// Reviewer: the caller may ask, approve and decline.
	Reviewer bool `json:"reviewer"`
	// MyAnswer is the caller's answer when they are a named co-founder
	// (pending until they answer); empty otherwise.
	MyAnswer policy.CoFounderAnswer `json:"myAnswer,omitempty"`
}

// viewFor is a as p sees it in a list (without the nearby groups).
func (s *Server) viewFor(p principal, a policy.Application) applicationView {
	v := applicationView{Application: a, Reviewer: s.reviewsUnder(p, a.Parent), Nearby: []policy.NearbyGroup{}}
	if i := a.CoFounder(p.user); i >= 0 && !p.admin {
		v.MyAnswer = a.CoFounders[i].Answer
	}
	return v
}

func (s *Server) travelKm() float64 {
	if s.cfg.TravelKm > 0 {
		return s.cfg.TravelKm
	}
	return DefaultTravelKm
}

// placeCity finds city (in country) in the gazetteer.
func (s *Server) placeCity(city, country string) (geo.City, error) {
	gz, err := s.gazetteer()
	if err != nil {
		return geo.City{}, err
	}
	q := strings.TrimSpace(city)
	if country != "" {
		q += ", " + country
	}
	cs := gz.Lookup(q)
	if strings.TrimSpace(city) == "" || len(cs) == 0 {
		return geo.City{}, &policy.FieldError{Field: "city", Message: fmt.Sprintf("no city called %q in the gazetteer (cities of at least 15,000 people); try the nearest larger city", q)}
	}
	return cs[0], nil
}

// nearby lists the groups p may know of that meet within travel distance of
// at.
func (s *Server) nearby(tx store.Tx, p principal, at geo.Point) ([]policy.NearbyGroup, error) {
	gs, err := tx.Groups()
	if err != nil {
		return nil, err
	}
	var placed []policy.Group
	for _, g := range gs {
		if !s.knowable(p, g) {
			continue
		}
		if pt, ok := s.groupPoint(g); ok {
			l := *g.Location
			l.Coordinates = &policy.Coordinates{Lat: pt.Lat, Lon: pt.Lon}
			g.Location = &l
			placed = append(placed, g)
		}
	}
	dist := func(a, b policy.Coordinates) float64 {
		return geo.DistanceKm(geo.Point{Lat: a.Lat, Lon: a.Lon}, geo.Point{Lat: b.Lat, Lon: b.Lon})
	}
	out := policy.NearbyGroups(placed, policy.Coordinates{Lat: at.Lat, Lon: at.Lon}, s.travelKm(), dist)
	for i := range out {
		out[i].Km = float64(int(out[i].Km*10+0.5)) / 10
	}
	return nonNil(out), nil
}

// knowable reports whether p may learn that g exists: a public group, or
// one they may read.
func (s *Server) knowable(p principal, g policy.Group) bool {
	return g.Public || s.readable(p, g)
}

// applicationParents answers GET /api/v1/applications/parents: the live
// groups the caller knows of under which a local group may sit, by name.
func (s *Server) applicationParents(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (list[groupRef], error) {
		gs, err := tx.Groups()
		out := list[groupRef]{Items: []groupRef{}}
		for _, g := range gs {
			if !g.Archived && s.knowable(p, g) && slices.Contains(s.cfg.Hierarchy.Parents[policy.GroupLocal], g.Kind) {
				out.Items = append(out.Items, groupRef{ID: g.ID, Slug: g.Slug, Name: g.Name})
			}
		}
		slices.SortFunc(out.Items, func(a, b groupRef) int { return strings.Compare(a.Name, b.Name) })
		return out, err
	})
}

// nearbyGroups answers GET /api/v1/applications/nearby?city=&country=:
// the groups the caller may know of (public or readable) within travel
// distance of the city.
func (s *Server) nearbyGroups(w http.ResponseWriter, r *http.Request, p principal) {
	c, err := s.placeCity(r.URL.Query().Get("city"), strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("country"))))
	if err != nil {
		writeErr(w, err)
		return
	}
	read(s, w, r, func(tx store.Tx) (any, error) {
		items, err := s.nearby(tx, p, c.Point)
		return map[string]any{"place": c, "radiusKm": s.travelKm(), "items": items}, err
	})
}

// reviewsUnder reports whether p may review applications under parent.
func (s *Server) reviewsUnder(p principal, parent policy.GroupID) bool {
	return s.can(p, policy.PermApplicationsReview, parent)
}

func (s *Server) seesApplication(p principal, a policy.Application) bool {
	return !p.admin && a.HasFounder(p.user) || s.reviewsUnder(p, a.Parent)
}

func applicationRecord(tx store.Tx, id string) (policy.Application, error) {
	b, err := tx.GetRecord(nsApplications, id)
	if errors.Is(err, store.ErrNotFound) {
		return policy.Application{}, errNoApplication
	}
	if err != nil {
		return policy.Application{}, err
	}
	return decodeApplication(b)
}

// decodeApplication reads a stored application; a co-founder of a record
// written before co-founders answered is pending.
func decodeApplication(b []byte) (policy.Application, error) {
	var a policy.Application
	if err := json.Unmarshal(b, &a); err != nil {
		return a, err
	}
	for i := range a.CoFounders {
		if a.CoFounders[i].Answer == "" {
			a.CoFounders[i].Answer = policy.CoFounderPending
		}
	}
	return a, nil
}

// storeApplication writes a and its audit entry (step names what
// happened: applied, asked, answered, co-founder accepted, co-founder
// declined, approved, declined; the entry counts the co-founders and
// those who accepted).
func storeApplication(tx store.Tx, a policy.Application, p principal, op policy.Op, step string) error {
	if err := policy.ValidateApplication(a); err != nil {
		return err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := tx.PutRecord(nsApplications, a.ID, b); err != nil {
		return err
	}
	return tx.Record(p.tenant, op, "application/"+a.ID, map[string]any{
		"step": step, "id": a.ID, "name": a.Name, "slug": a.Slug, "parent": a.Parent, "city": a.Location.City,
		"country": a.Location.Country, "status": a.Status, "group": a.Group, "founders": len(a.Founders()),
		"coFounders": len(a.CoFounders), "accepted": len(a.Organizers()) - 1,
	})
}

func (s *Server) viewApplication(tx store.Tx, p principal, a policy.Application) (applicationView, error) {
	v := s.viewFor(p, a)
	if c := a.Location.Coordinates; c != nil && !a.Status.Final() {
		var err error
		v.Nearby, err = s.nearby(tx, p, geo.Point{Lat: c.Lat, Lon: c.Lon})
		if err != nil {
			return v, err
		}
	}
	return v, nil
}

// applicationInput is the body of POST /api/v1/applications.
type applicationInput struct {
	Name    string `json:"name"`
	Slug    string `json:"slug"`
	Parent  string `json:"parent"`
	City    string `json:"city"`
	Country string `json:"country"`
	Remit   string `json:"remit"`
	// CoFounders are user names ("carol@acme.example"), or
	// "tenant/userName" where one name is taken in several companies.
	CoFounders []string `json:"coFounders"`
}

// founderOf resolves a co-founder reference.
func founderOf(tx store.Tx, ref string) (policy.Founder, error) {
	ref = strings.TrimSpace(ref)
	bad := &policy.FieldError{Field: "coFounders", Message: fmt.Sprintf("no member called %q", ref)}
	if t, name, ok := strings.Cut(ref, "/"); ok {
		u, err := tx.UserByUserName(policy.TenantID(t), name)
		if err != nil || !u.Active {
			return policy.Founder{}, bad
		}
		return policy.Founder{Tenant: u.Tenant, User: u.ID, UserName: u.UserName}, nil
	}
	ts, err := tx.Tenants()
	if err != nil {
		return policy.Founder{}, err
	}
	var found []policy.Founder
	for _, t := range ts {
		if u, err := tx.UserByUserName(t.ID, ref); err == nil && u.Active {
			found = append(found, policy.Founder{Tenant: t.ID, User: u.ID, UserName: u.UserName})
		}
	}
	switch len(found) {
	case 0:
		return policy.Founder{}, bad
	case 1:
		return found[0], nil
	}
	return policy.Founder{}, &policy.FieldError{Field: "coFounders", Message: fmt.Sprintf("%q names people in several companies: write company/name", ref)}
}

// apply answers POST /api/v1/applications: a member applies; the answer
// carries the groups already meeting nearby.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, p principal) {
	if err := p.person(); err != nil {
		writeErr(w, err)
		return
	}
	var in applicationInput
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	now := s.cfg.Now().UTC()
	a := policy.Application{
		ID: uuid.Must(uuid.NewV7()).String(), Name: strings.TrimSpace(in.Name), Slug: strings.TrimSpace(in.Slug),
		Location: policy.Location{City: strings.TrimSpace(in.City), Country: strings.ToUpper(strings.TrimSpace(in.Country))},
		Remit:    strings.TrimSpace(in.Remit), Founder: policy.Founder{Tenant: p.tenant, User: p.user},
		Status: policy.ApplicationPending, Created: now, Updated: now, Version: 1,
	}
	if in.Parent == "" {
		writeErr(w, &policy.FieldError{Field: "parent", Message: "say which region the group belongs to"})
		return
	}
	a.Parent = "?" // checked below, inside the transaction
	if err := policy.ValidateApplication(a); err != nil {
		writeErr(w, err)
		return
	}
	c, err := s.placeCity(a.Location.City, a.Location.Country)
	if err != nil {
		writeErr(w, err)
		return
	}
	a.Location.Coordinates = &policy.Coordinates{Lat: c.Lat, Lon: c.Lon}
	write(s, w, r, p, http.StatusCreated, func(tx store.Tx) (applicationView, error) {
		a := a
		a.CoFounders = nil
		parent, err := lookupGroup(tx, in.Parent)
		if err != nil || !s.knowable(p, parent) {
			return applicationView{}, &policy.FieldError{Field: "parent", Message: "no such group"}
		}
		if !slices.Contains(s.cfg.Hierarchy.Parents[policy.GroupLocal], parent.Kind) || parent.Archived {
			return applicationView{}, &policy.FieldError{Field: "parent", Message: fmt.Sprintf("a local group cannot sit under %s (%s)", parent.Name, parent.Kind)}
		}
		a.Parent = parent.ID
		if _, err := tx.GroupBySlug(a.Slug); err == nil {
			return applicationView{}, &policy.FieldError{Field: "slug", Message: fmt.Sprintf("%q is taken", a.Slug)}
		}
		me, err := tx.User(p.tenant, p.user)
		if err != nil {
			return applicationView{}, err
		}
		a.Founder.UserName = me.UserName
		for _, ref := range in.CoFounders {
			if strings.TrimSpace(ref) == "" {
				continue
			}
			f, err := founderOf(tx, ref)
			if err != nil {
				return applicationView{}, err
			}
			f.Answer = policy.CoFounderPending
			a.CoFounders = append(a.CoFounders, f)
		}
		if err := storeApplication(tx, a, p, policy.OpCreate, "applied"); err != nil {
			return applicationView{}, err
		}
		if err := s.askCoFounders(tx, p, parent, a); err != nil {
			return applicationView{}, err
		}
		return s.viewApplication(tx, p, a)
	})
}

// listApplications answers GET /api/v1/applications (?status=): the
// caller's own applications and those they review, newest first.
func (s *Server) listApplications(w http.ResponseWriter, r *http.Request, p principal) {
	status := policy.ApplicationStatus(r.URL.Query().Get("status"))
	if status != "" && !slices.Contains([]policy.ApplicationStatus{policy.ApplicationPending, policy.ApplicationQuestions, policy.ApplicationApproved, policy.ApplicationDeclined}, status) {
		writeErr(w, &policy.FieldError{Field: "status", Message: "not one of pending, questions, approved, declined"})
		return
	}
	read(s, w, r, func(tx store.Tx) (list[applicationView], error) {
		out := list[applicationView]{Items: []applicationView{}}
		err := tx.ScanRecords(nsApplications, "", func(_ string, b []byte) error {
			a, err := decodeApplication(b)
			if err != nil {
				return err
			}
			if (status == "" || a.Status == status) && s.seesApplication(p, a) {
				out.Items = append(out.Items, s.viewFor(p, a))
			}
			return nil
		})
		slices.SortStableFunc(out.Items, func(a, b applicationView) int { return b.Created.Compare(a.Created) })
		return out, err
	})
}

// withApplication reads {id} for a caller who may see it.
func (s *Server) withApplication(tx store.Tx, r *http.Request, p principal) (policy.Application, error) {
	a, err := applicationRecord(tx, r.PathValue("id"))
	if err == nil && !s.seesApplication(p, a) {
		return policy.Application{}, errNoApplication
	}
	return a, err
}

// getApplication answers GET /api/v1/applications/{id}.
func (s *Server) getApplication(w http.ResponseWriter, r *http.Request, p principal) {
	read(s, w, r, func(tx store.Tx) (applicationView, error) {
		a, err := s.withApplication(tx, r, p)
		if err != nil {
			return applicationView{}, err
		}
		return s.viewApplication(tx, p, a)
	})
}

var errDecided = &Error{Status: http.StatusConflict, Code: "decided", Message: "the application has been decided"}

// tellFounders queues a mail to the founders (the applicant and the
// co-founders who accepted) about a reviewer's step.
func (s *Server) tellFounders(tx store.Tx, p principal, a policy.Application, subject, body string) error {
	parent, err := tx.Group(a.Parent)
	if err != nil {
		return err
	}
	var users []policy.UserID
	for _, f := range a.Organizers() {
		users = append(users, f.User)
	}
	_, err = mail.QueueDirect(tx, mail.Direct{Group: parent, Users: users, Subject: mail.Subject(subject), Body: body, Author: p.actor(), AuthorName: s.displayName(tx, p)}, s.cfg.Now())
	return err
}

// askCoFounders queues a mail to the co-founders a new application names,
// asking each to accept or decline their place.
func (s *Server) askCoFounders(tx store.Tx, p principal, parent policy.Group, a policy.Application) error {
	if len(a.CoFounders) == 0 {
		return nil
	}
	var users []policy.UserID
	for _, f := range a.CoFounders {
		users = append(users, f.User)
	}
	name := s.displayName(tx, p)
	body := fmt.Sprintf("%s applies to found %s in %s and names you as a co-founder. You become one of its organizers only if you accept: "+
		"answer at /portal/applications/%s.", name, a.Name, a.Location.City, a.ID)
	_, err := mail.QueueDirect(tx, mail.Direct{Group: parent, Users: users, Subject: mail.Subject("Will you co-found " + a.Name + "?"),
		Body: body, Author: p.actor(), AuthorName: name}, s.cfg.Now())
	return err
}

// confirmCoFounder answers PUT /api/v1/applications/{id}/confirmation
// {answer: accepted|declined, version?}: a named co-founder accepts or
// declines their place, until the application is decided. Only they may
// answer for themselves; anyone else who sees the application gets 403.
func (s *Server) confirmCoFounder(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Answer  string `json:"answer"`
		Version uint64 `json:"version"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	answer := policy.CoFounderAnswer(in.Answer)
	if answer != policy.CoFounderAccepted && answer != policy.CoFounderDeclined {
		writeErr(w, &policy.FieldError{Field: "answer", Message: "accepted or declined"})
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (applicationView, error) {
		a, err := s.withApplication(tx, r, p)
		if err != nil {
			return applicationView{}, err
		}
		i := a.CoFounder(p.user)
		switch {
		case i < 0 || p.admin || a.CoFounders[i].Tenant != p.tenant:
			return applicationView{}, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "only a named co-founder answers for themselves", Field: "answer"}
		case a.Status.Final():
			return applicationView{}, errDecided
		case in.Version != 0 && in.Version != a.Version:
			return applicationView{}, store.ErrVersion
		}
		now := s.cfg.Now().UTC()
		a.CoFounders[i].Answer, a.CoFounders[i].Answered = answer, now
		a.Updated = now
		a.Version++
		if err := storeApplication(tx, a, p, policy.OpUpdate, "co-founder "+string(answer)); err != nil {
			return applicationView{}, err
		}
		return s.viewApplication(tx, p, a)
	})
}

// applicationMessage answers POST /api/v1/applications/{id}/messages
// {text}: a reviewer's question (the status becomes questions, the
// founders are told) or a founder's answer (pending again); a co-founder
// answers only once they accepted their place.
func (s *Server) applicationMessage(w http.ResponseWriter, r *http.Request, p principal) {
	text, ok := s.textBody(w, r, "message", policy.MaxTextBytes)
	if !ok {
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (applicationView, error) {
		a, err := s.withApplication(tx, r, p)
		if err != nil {
			return applicationView{}, err
		}
		if a.Status.Final() {
			return applicationView{}, errDecided
		}
		reviewer := s.reviewsUnder(p, a.Parent) && !a.HasFounder(p.user)
		if i := a.CoFounder(p.user); !reviewer && i >= 0 && a.CoFounders[i].Answer != policy.CoFounderAccepted {
			// Only founders who agreed answer for the application.
			return applicationView{}, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "accept your place as co-founder before answering for the application"}
		}
		now := s.cfg.Now().UTC()
		a.Messages = append(a.Messages, policy.ApplicationMessage{Author: p.user, Name: s.displayName(tx, p), Reviewer: reviewer, Text: text, Time: now})
		step := "answered"
		a.Status = policy.ApplicationPending
		if reviewer {
			step, a.Status = "asked", policy.ApplicationQuestions
			if err := s.tellFounders(tx, p, a, "A question about your application for "+a.Name, text); err != nil {
				return applicationView{}, err
			}
		}
		a.Updated = now
		a.Version++
		if err := storeApplication(tx, a, p, policy.OpUpdate, step); err != nil {
			return applicationView{}, err
		}
		return s.viewApplication(tx, p, a)
	})
}

// textBody reads a body {"text"}: trimmed, not empty, at most max bytes
// (what names it in the refusal: "comment", "message"). On false the
// refusal is written.
func (s *Server) textBody(w http.ResponseWriter, r *http.Request, what string, max int) (string, bool) {
	var in struct {
		Text string `json:"text"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return "", false
	}
	text := strings.TrimSpace(in.Text)
	if text == "" || len(text) > max {
		writeErr(w, &policy.FieldError{Field: "text", Message: fmt.Sprintf("write a %s of at most %d bytes", what, max)})
		return "", false
	}
	return text, true
}

// founderRole is the role founders get in the group an approval creates
// (Config.FounderRole; default "organizer").
func (s *Server) founderRole() policy.RoleName {
	if s.cfg.FounderRole != "" {
		return s.cfg.FounderRole
	}
	return "organizer"
}

// decideApplication answers PATCH /api/v1/applications/{id} {status,
// reason}: a reviewer approves (the group is created with the applicant
// and the co-founders who accepted as organizers and announced to the members of the group above) or
// declines.
func (s *Server) decideApplication(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Version uint64 `json:"version"`
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	status := policy.ApplicationStatus(in.Status)
	if status != policy.ApplicationApproved && status != policy.ApplicationDeclined {
		writeErr(w, &policy.FieldError{Field: "status", Message: "approved or declined"})
		return
	}
	write(s, w, r, p, http.StatusOK, func(tx store.Tx) (applicationView, error) {
		a, err := s.withApplication(tx, r, p)
		switch {
		case err != nil:
			return applicationView{}, err
		case !s.reviewsUnder(p, a.Parent):
			return applicationView{}, errForbidden
		case a.Status.Final():
			return applicationView{}, errDecided
		case in.Version != 0 && in.Version != a.Version:
			return applicationView{}, store.ErrVersion
		}
		a.Status, a.Reason = status, strings.TrimSpace(in.Reason)
		a.Updated = s.cfg.Now().UTC()
		a.Version++
		subject, body := "Your application for "+a.Name+" was declined", a.Reason
		if status == policy.ApplicationApproved {
			g, err := s.found(tx, p, a)
			if err != nil {
				return applicationView{}, err
			}
			a.Group = g.ID
			subject, body = g.Name+" is founded", "Your group is live at /groups/"+g.Slug+"; you are its organizers.\n\n"+a.Reason
		}
		if strings.TrimSpace(body) == "" {
			body = subject + "."
		}
		if err := s.tellFounders(tx, p, a, subject, body); err != nil {
			return applicationView{}, err
		}
		if err := storeApplication(tx, a, p, policy.OpUpdate, string(status)); err != nil {
			return applicationView{}, err
		}
		return s.viewApplication(tx, p, a)
	})
}

// found creates the group of an approved application, makes the applicant
// and the co-founders who accepted its organizers (a co-founder who
// declined or never answered is not) and announces it to the members of
// the group above.
func (s *Server) found(tx store.Tx, p principal, a policy.Application) (policy.Group, error) {
	parent, err := tx.Group(a.Parent)
	if err != nil {
		return policy.Group{}, err
	}
	loc := a.Location
	g := policy.Group{Slug: a.Slug, Name: a.Name, Description: a.Remit, Kind: policy.GroupLocal, Parent: a.Parent, Join: policy.JoinOnRequest, Location: &loc}
	if err := s.checkPlacement(tx, g); err != nil {
		return g, err
	}
	if g, err = tx.CreateGroup(g); err != nil {
		if errors.Is(err, store.ErrExists) {
			return g, &policy.FieldError{Field: "slug", Message: fmt.Sprintf("%q was taken since the application was made", a.Slug)}
		}
		return g, err
	}
	for _, f := range a.Organizers() {
		if _, err := tx.AddMembership(policy.Membership{User: f.User, Group: g.ID, Role: s.founderRole(), Origin: policy.OriginManual}); err != nil {
			return g, err
		}
	}
	_, err = mail.Queue(tx, mail.Announcement{Group: parent, Groups: []policy.GroupID{parent.ID},
		Subject: mail.Subject("New group: " + g.Name),
		Body:    fmt.Sprintf("%s is founded in %s. %s\n\nJoin it at /groups/%s.", g.Name, loc.City, a.Remit, g.Slug),
		Author:  p.actor(), AuthorName: s.displayName(tx, p)}, s.cfg.Now())
	return g, err
}

// PutApplication writes a as applied (audited), for seeding a store (the
// demo).
func PutApplication(tx store.Tx, a policy.Application) error {
	return storeApplication(tx, a, principal{tenant: a.Founder.Tenant, user: a.Founder.User}, policy.OpCreate, "applied")
}
