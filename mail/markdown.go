package mail

import (
	"bytes"
	"html/template"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// markdown renders what organizers write: CommonMark with GitHub's tables,
// strikethrough and autolinks (github.com/yuin/goldmark), without raw
// HTML, then sanitised by github.com/microcosm-cc/bluemonday's policy for
// user content, so no script, style, form or event handler reaches a
// member's mail program whatever the author typed. The plain-text part of
// a message carries the Markdown source itself, which reads well as text.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// organizerMarkdown is the one renderer; it is not changed after
// creation, and both parts are safe for concurrent use.
var organizerMarkdown = newMarkdown()

// MarkdownHTML renders Markdown written by an organizer (an announcement's
// body) as sanitised HTML, as the messages, the archive and the Atom feed
// show it.
func MarkdownHTML(src string) (template.HTML, error) { return organizerMarkdown.HTML(src) }

func newMarkdown() *markdown {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowURLSchemes("https", "http", "mailto")
	return &markdown{md: goldmark.New(goldmark.WithExtensions(extension.GFM)), policy: p}
}

// HTML renders src as sanitised HTML.
func (m *markdown) HTML(src string) (template.HTML, error) {
	var b bytes.Buffer
	if err := m.md.Convert([]byte(src), &b); err != nil {
		return "", err
	}
	return template.HTML(m.policy.SanitizeBytes(b.Bytes())), nil //nolint:gosec // sanitised just now
}
