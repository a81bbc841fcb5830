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
// sanitised as in the mail. Without a token an entry names its author only
// if they agreed to be shown publicly (policy.Profile.Public), as the
// public pages do; otherwise its author is the group.

import (
	"encoding/xml"
	"net/http"
	"strings"
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
	anonymous := r.Header.Get("Authorization") == ""
	if !anonymous {
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
	shown := map[string]bool{} // author (actor) → may be named here
	err := s.view(r, func(tx store.Tx) (err error) {
		if js, err = mail.Jobs(tx, g.ID, mail.KindAnnouncement); err != nil {
			return err
		}
		for _, j := range js {
			if _, ok := shown[j.Author]; ok {
				continue
			}
			if shown[j.Author], err = s.authorShown(tx, j.Author, anonymous); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
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
		if author == "" || !shown[j.Author] {
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

// authorShown reports whether the feed may name the author of an
// announcement (its actor, "user:<tenant>/<id>"): always for a reader with
// a token; for an anonymous one only a person who agreed to be shown
// publicly.
func (s *Server) authorShown(tx store.Tx, actor string, anonymous bool) (bool, error) {
	if !anonymous {
		return true, nil
	}
	rest, ok := strings.CutPrefix(actor, "user:")
	if !ok {
		return false, nil
	}
	_, id, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return false, nil
	}
	pr, err := getProfile(tx, policy.UserID(id))
	return pr.Public, err
}
