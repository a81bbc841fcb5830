package admin

// Announcements: an organizer (announcements.send on the group) writes to
// the group's members, and by choice to every group below it (an ISUG or
// RUG admin reaching every LUG through its RUGs: announcements.send and
// groups.manage on the group written through), or up to the organizers
// of the group above (the channel runs both ways: a LUG's organizers
// write to their RUG's). The announcement is queued in the mail outbox in
// the same transaction as its audit entry (an outbound
// announcement.created event); the mail service reads the recipients
// from the policy engine when it sends, so only the members of that
// moment get it.
//
//	POST /api/v1/groups/{group}/announcements {subject, body, to: members|subgroups|parentOrganizers}
//	GET  /api/v1/groups/{group}/announcements    the archive (group.read)
//	GET  /api/v1/groups/{group}/announcements.atom  its Atom feed (announcefeed.go)
//	GET  /api/v1/announcements/{id}              delivery counts (announcements.send)

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

func (s *Server) reachRoutes() {
	s.handle("POST /api/v1/groups/{group}/announcements", s.sendAnnouncement)
	s.handle("GET /api/v1/groups/{group}/announcements", s.listAnnouncements)
	s.mux.HandleFunc("GET /api/v1/groups/{group}/announcements.atom", s.announcementFeed) // announcefeed.go
	s.handle("GET /api/v1/announcements/{id}", s.announcementStatus)
	s.publicRoutes() // admin/public.go
}

// Whom an announcement is to.
const (
	toMembers          = "members"
	toSubgroups        = "subgroups"
	toParentOrganizers = "parentOrganizers"
)

// announcementView is one announcement of the archive.
type announcementView struct {
	ID      string           `json:"id"`
	Group   policy.GroupID   `json:"group"`
	Groups  []policy.GroupID `json:"groups"`
	Subject string           `json:"subject"`
	Body    string           `json:"body"`
	// BodyHTML is the Markdown body rendered and sanitised, as the mail
	// shows it.
	BodyHTML   string `json:"bodyHTML"`
	ToName     string `json:"toName,omitempty"`
	Author     string `json:"author,omitempty"`
	Created    string `json:"created"`
	Queued     bool   `json:"queued"` // not yet expanded into deliveries
	Recipients int    `json:"recipients"`
}

func viewAnnouncement(j mail.Job) announcementView {
	html, _ := mail.MarkdownHTML(j.Body) // goldmark writes to memory: no error
	return announcementView{ID: j.ID, Group: j.Group, Groups: j.Groups, Subject: j.Subject, Body: j.Body, BodyHTML: string(html),
		ToName: j.ToName, Author: j.AuthorName, Created: j.Created.Format("2006-01-02T15:04:05Z07:00"), Queued: !j.Expanded, Recipients: j.Recipients}
}

// descendants returns g and every group below it, parents first.
func (s *Server) descendants(g policy.GroupID) []policy.GroupID {
	out := []policy.GroupID{g}
	for i := 0; i < len(out); i++ {
		out = append(out, s.cfg.Engine.Children(out[i])...)
	}
	return out
}

func (s *Server) sendAnnouncement(w http.ResponseWriter, r *http.Request, p principal) {
	var in struct {
		Subject   string `json:"subject"`
		Body      string `json:"body"`
		To        string `json:"to"`
		Subgroups bool   `json:"subgroups"` // the same as to: subgroups
	}
	if err := s.body(w, r)(&in); err != nil {
		writeErr(w, err)
		return
	}
	g, ok := s.withGroup(w, r, p, policy.PermAnnouncementsSend)
	if !ok {
		return
	}
	if in.Subgroups && in.To == "" {
		in.To = toSubgroups
	}
	groups := []policy.GroupID{g.ID}
	var roles []policy.RoleName
	toName := ""
	switch in.To {
	case "", toMembers:
	case toParentOrganizers:
		if g.Parent == "" {
			writeErr(w, &Error{Status: http.StatusBadRequest, Code: "invalid", Message: g.Name + " has no group above it"})
			return
		}
		// The organizers of the parent: who holds a role there that may
		// write to it.
		var parent policy.Group
		err := s.view(r, func(tx store.Tx) error {
			var err error
			if parent, err = tx.Group(g.Parent); err != nil {
				return err
			}
			rs, err := tx.Roles()
			for _, role := range rs {
				if slices.Contains(role.Permissions, policy.PermAnnouncementsSend) {
					roles = append(roles, role.Name)
				}
			}
			return err
		})
		if err != nil {
			writeErr(w, err)
			return
		}
		groups, toName = []policy.GroupID{parent.ID}, "the organizers of "+parent.Name
	case toSubgroups:
		// Reaching the members below is communication, not governance
		// (a self-governing LUG keeps its own organizers): those who run
		// g (groups.manage on it) may write through it to every group
		// below.
		if !s.can(p, policy.PermGroupsManage, g.ID) {
			writeErr(w, &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "writing to every group below " + g.Name + " needs groups.manage on it"})
			return
		}
		groups = s.descendants(g.ID)
	default:
		writeErr(w, &Error{Status: http.StatusBadRequest, Code: "invalid", Message: "to must be members, subgroups or parentOrganizers"})
		return
	}
	// An estimate for the answer: the mail service reads the members
	// again when it sends.
	estimate := map[policy.UserID]bool{}
	for _, h := range groups {
		for _, m := range s.cfg.Engine.Members(h) {
			if len(roles) == 0 || slices.Contains(roles, m.Role) {
				estimate[m.User] = true
			}
		}
	}
	var j mail.Job
	err := s.update(r, p, func(tx store.Tx) error {
		author := "Roster"
		if !p.admin {
			if u, err := tx.User(p.tenant, p.user); err == nil {
				author = u.DisplayName
				if author == "" {
					author = u.UserName
				}
			}
		}
		var err error
		j, err = mail.Queue(tx, mail.Announcement{Group: g, Groups: groups, Roles: roles, ToName: toName,
			Subject: in.Subject, Body: in.Body, Author: p.actor(), AuthorName: author}, s.cfg.Now())
		if err != nil {
			return err
		}
		// The audit entry is also the outbound announcement.created
		// event: what a chat or forum tool needs to post it.
		return tx.Record(p.tenant, policy.OpCreate, "announcement/"+j.ID, map[string]any{
			"id": j.ID, "group": g.ID, "groupSlug": g.Slug, "groupName": g.Name, "to": cmp.Or(in.To, toMembers), "toName": toName,
			"groups": len(groups), "subject": j.Subject, "body": j.Body, "author": author, "members": len(estimate),
			"created": j.Created,
		})
	})
	if err != nil {
		writeErr(w, err)
		return
	}
	v := viewAnnouncement(j)
	v.Recipients = len(estimate)
	writeJSON(w, http.StatusAccepted, v)
}

func (s *Server) listAnnouncements(w http.ResponseWriter, r *http.Request, p principal) {
	g, ok := s.withGroup(w, r, p, policy.PermGroupRead)
	if !ok {
		return
	}
	read(s, w, r, func(tx store.Tx) (list[announcementView], error) {
		js, err := mail.Jobs(tx, g.ID, mail.KindAnnouncement)
		out := make([]announcementView, len(js))
		for i, j := range js {
			out[i] = viewAnnouncement(j)
		}
		return list[announcementView]{Items: out}, err
	})
}

func (s *Server) announcementStatus(w http.ResponseWriter, r *http.Request, p principal) {
	var st mail.Status
	err := s.view(r, func(tx store.Tx) (err error) { st, err = mail.JobStatus(tx, r.PathValue("id")); return })
	if err == nil && (st.Job.Kind != mail.KindAnnouncement || !s.can(p, policy.PermAnnouncementsSend, st.Job.Group)) {
		err = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such announcement"}
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"announcement": viewAnnouncement(st.Job), "counts": st.Counts, "failures": nonNil(st.Failures)})
}
