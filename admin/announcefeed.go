package admin

// The Atom feed (RFC 4287) of a group's announcements, for feed readers
// and for chat or forum tools that poll:
//
//	GET /api/v1/groups/{group}/announcements.atom
//
// With a bearer token it needs group.read, like the archive; without one
// it is served only for a public group (policy.Group.Public, not
// archived), whose announcements to its members are no secret. An
// announcement written up to the parent's organizers is not in the feed.
// Entries are the newest 50, their content the Markdown rendered and
// sanitised as in the mail.

import (
	"encoding/xml"
	"net/http"
	"time"

	"github.com/roster-dev/roster/mail"
	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// feedEntries is how many announcements the feed carries.
const feedEntries = 50

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Link    []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Updated   string      `xml:"updated"`
	Published string      `xml:"published"`
	Author    atomAuthor  `xml:"author"`
	Content   atomContent `xml:"content"`
}

type atomAuthor struct {
	Name string `xml:"name"`
}

type atomContent struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

func (s *Server) announcementFeed(w http.ResponseWriter, r *http.Request) {
	var g policy.Group
	if r.Header.Get("Authorization") != "" {
		p, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="roster"`)
			writeErr(w, err)
			return
		}
		var ok bool
		if g, ok = s.withGroup(w, r, p, policy.PermGroupRead); !ok {
			return
		}
	} else {
		err := s.view(r, func(tx store.Tx) (err error) { g, err = lookupGroup(tx, r.PathValue("group")); return })
		if err == nil && (!g.Public || g.Archived) {
			// Anonymous callers learn nothing of a group that is not public.
			err = errNoGroup
		}
		if err != nil {
			writeErr(w, err)
			return
		}
	}
	var js []mail.Job
	if err := s.view(r, func(tx store.Tx) (err error) { js, err = mail.Jobs(tx, g.ID, mail.KindAnnouncement); return }); err != nil {
		writeErr(w, err)
		return
	}
	self := "/api/v1/groups/" + g.Slug + "/announcements.atom"
	f := atomFeed{ID: "urn:roster:group:" + string(g.ID) + ":announcements", Title: g.Name + ": announcements",
		Updated: g.Created.UTC().Format(time.RFC3339), Link: []atomLink{{Rel: "self", Href: self}}}
	for _, j := range js {
		if j.ToName != "" {
			continue // to the parent's organizers, not to the members
		}
		if len(f.Entries) == feedEntries {
			break
		}
		body, err := mail.MarkdownHTML(j.Body)
		if err != nil {
			writeErr(w, err)
			return
		}
		at := j.Created.UTC().Format(time.RFC3339)
		if len(f.Entries) == 0 {
			f.Updated = at
		}
		author := j.AuthorName
		if author == "" {
			author = g.Name
		}
		f.Entries = append(f.Entries, atomEntry{ID: "urn:roster:announcement:" + j.ID, Title: j.Subject, Updated: at, Published: at,
			Author: atomAuthor{Name: author}, Content: atomContent{Type: "html", Body: string(body)}})
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	_ = enc.Encode(f)
}
