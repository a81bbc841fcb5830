package mail

import (
	"bytes"
	"context"
	"embed"
	htmltemplate "html/template"
	netmail "net/mail"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/roster-dev/roster/policy"
)

//go:embed templates
var templateFS embed.FS

var (
	textTmpl = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/message.txt"))
	htmlTmpl = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/message.html"))
)

// view is what the templates render.
type view struct {
	Subject, Group, Greeting, Signature string
	Paragraphs                          []string
	// Body is an announcement's Markdown, rendered and sanitised for the
	// HTML part; BodyText is its source for the text part.
	Body                           htmltemplate.HTML
	BodyText                       string
	Items                          []viewItem
	UnsubscribeURL, PreferencesURL string
}

type viewItem struct{ When, Title, Group, Where string }

// paragraphs splits text at blank lines.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// whenText formats an occurrence in its meeting's zone.
func whenText(t time.Time, zone string) string {
	loc := time.UTC
	if zone != "" {
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		}
	}
	s := t.In(loc).Format("Mon 2 Jan 2006, 15:04 MST")
	if zone != "" && zone != "UTC" {
		s += " (" + zone + ")"
	}
	return s
}

// render builds the message of delivery d to user u.
func (s *Service) render(ctx context.Context, j *Job, d Delivery, u policy.User) (*Message, error) {
	now := s.cfg.Now()
	tok, err := s.MakeToken(ctx, Token{User: d.User, Tenant: d.Tenant, Group: d.Via, Expires: now.Add(tokenTTL)})
	if err != nil {
		return nil, err
	}
	name := u.DisplayName
	if name == "" {
		name = strings.TrimSpace(u.GivenName + " " + u.FamilyName)
	}
	if name == "" {
		name = u.UserName
	}
	host := "roster"
	if bu, err := url.Parse(s.cfg.BaseURL); err == nil && bu.Hostname() != "" {
		host = bu.Hostname()
	}
	v := view{
		Subject:        j.Subject,
		Group:          j.GroupName,
		Greeting:       "Hello " + name + ",",
		UnsubscribeURL: s.cfg.BaseURL + "/mail/unsubscribe?t=" + tok,
		PreferencesURL: s.cfg.BaseURL + "/mail/preferences?t=" + tok,
	}
	listID := `"` + strings.ReplaceAll(j.GroupName, `"`, "") + `" <` + j.GroupSlug + ".groups." + host + ">"
	from := s.cfg.From
	from.Name = j.GroupName
	msg := &Message{
		From: from, To: netmail.Address{Name: name, Address: u.PrimaryEmail()}, ReplyTo: s.cfg.ReplyTo,
		ID: strings.ReplaceAll(j.ID+"."+string(d.User), ":", "-") + "@" + host, Date: now,
		Header: map[string]string{
			"List-Unsubscribe":      "<" + v.UnsubscribeURL + ">",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
			"Auto-Submitted":        "auto-generated",
			"X-Roster-Job":          j.ID,
		},
	}
	switch j.Kind {
	case KindReminder:
		m := *j.Meeting
		v.Paragraphs = []string{"You said you are going to this meeting of " + j.GroupName + ". See you there!"}
		v.Items = []viewItem{{When: whenText(m.Start, m.TimeZone), Title: m.Title, Where: place(m)}}
		if m.OnlineURL != "" {
			v.Items[0].Where = strings.TrimPrefix(v.Items[0].Where+" · online: "+m.OnlineURL, " · ")
		}
		msg.Header["List-Post"] = "NO"
	case KindDirect:
		v.Paragraphs = paragraphs(j.Body)
		v.Signature = j.GroupName
		msg.Header["List-Post"] = "NO"
	case KindAnnouncement:
		body, err := MarkdownHTML(j.Body)
		if err != nil {
			return nil, err
		}
		v.Body, v.BodyText = body, strings.TrimSpace(j.Body)
		v.Signature = j.AuthorName
		if v.Signature != "" {
			v.Signature += ", " + j.GroupName
		}
		switch {
		case j.ToName != "":
			v.Paragraphs = []string{"From " + j.GroupName + " to " + j.ToName + ":"}
		case d.Via != j.Group:
			v.Paragraphs = []string{"To every group below " + j.GroupName + ":"}
		}
		msg.Header["List-Post"] = "NO"
	case KindNotice:
		m := *j.Meeting
		method := "REQUEST"
		switch j.Change {
		case "created":
			v.Paragraphs = []string{j.GroupName + " has a new meeting. The invitation is attached; open it to add the meeting to your calendar."}
		case "cancelled":
			method = "CANCEL"
			v.Paragraphs = []string{"This meeting of " + j.GroupName + " is cancelled. The attached cancellation removes it from your calendar."}
		default:
			v.Paragraphs = []string{"This meeting of " + j.GroupName + " has changed. The attached invitation updates your calendar."}
		}
		if m.Description != "" {
			v.Paragraphs = append(v.Paragraphs, paragraphs(m.Description)...)
		}
		where := place(m)
		if m.OnlineURL != "" && m.Location != "" {
			where += " · online: " + m.OnlineURL
		}
		v.Items = []viewItem{{When: whenText(m.Start, m.TimeZone), Title: m.Title, Where: where}}
		if m.RRule != "" {
			if r, err := policy.ParseRRule(m.RRule); err == nil {
				v.Items[0].When += " (repeats: " + r.String() + ")"
			}
		}
		msg.Attachments = []Attachment{{
			Name:        "invite.ics",
			ContentType: "text/calendar; method=" + method + "; charset=UTF-8",
			Data:        invitation(m, method, j.GroupName, s.cfg.From.Address, u.PrimaryEmail(), name, now),
		}}
	case KindDigest:
		v.Group = "your groups"
		v.Paragraphs = []string{"The meetings of your groups in the week of " + j.Week.Format("Monday 2 January 2006") + ":"}
		for _, it := range d.Items {
			v.Items = append(v.Items, viewItem{When: whenText(it.Start, it.TimeZone), Title: it.Title, Group: it.GroupName, Where: it.Where})
		}
		from.Name = "Roster"
		msg.From = from
		listID = `"Weekly digest" <digest.groups.` + host + ">"
	}
	msg.Subject = v.Subject
	msg.Header["List-Id"] = listID
	var tb, hb bytes.Buffer
	if err := textTmpl.Execute(&tb, v); err != nil {
		return nil, err
	}
	if err := htmlTmpl.Execute(&hb, v); err != nil {
		return nil, err
	}
	msg.Text, msg.HTML = tb.String(), hb.String()
	return msg, nil
}
