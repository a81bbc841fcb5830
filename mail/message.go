package mail

import (
	"bytes"
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one e-mail to one recipient: a plain-text and an HTML
// rendering of the same content (multipart/alternative, RFC 2046 §5.1.4)
// and optional attachments (multipart/mixed).
type Message struct {
	From    mail.Address
	To      mail.Address
	ReplyTo string
	Subject string
	// ID is the Message-ID without angle brackets. Messages queued by the
	// outbox carry a stable id derived from their idempotency key, so a
	// message sent twice (at-least-once delivery) is recognisably the
	// same message.
	ID   string
	Date time.Time
	// Header holds further header fields (List-Id, List-Unsubscribe…).
	Header      map[string]string
	Text, HTML  string
	Attachments []Attachment
}

// Attachment is one attached file.
type Attachment struct {
	Name        string
	ContentType string // e.g. "text/calendar; method=REQUEST; charset=UTF-8"
	Data        []byte
}

// goMail builds the go-mail message: multipart/alternative text and
// HTML in quoted-printable, attachments in base64 (multipart/mixed).
func (m *Message) goMail(opts ...gomail.MsgOption) (*gomail.Msg, error) {
	gm := gomail.NewMsg(append([]gomail.MsgOption{gomail.WithNoDefaultUserAgent()}, opts...)...)
	from, to := m.From, m.To
	gm.FromMailAddress(&from)
	gm.ToMailAddress(&to)
	if m.ReplyTo != "" {
		if err := gm.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("mail: reply-to: %w", err)
		}
	}
	gm.Subject(m.Subject)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	gm.SetDateWithValue(date)
	if m.ID != "" {
		gm.SetMessageIDWithValue(m.ID)
	} else {
		gm.SetMessageID()
	}
	keys := make([]string, 0, len(m.Header))
	for k := range m.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.ContainsAny(k+m.Header[k], "\r\n") {
			return nil, fmt.Errorf("mail: header %s contains a line break", k)
		}
		gm.SetGenHeaderPreformatted(gomail.Header(k), m.Header[k])
	}
	gm.SetBodyString(gomail.TypeTextPlain, m.Text)
	gm.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	for _, a := range m.Attachments {
		if err := gm.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType)),
			gomail.WithFileEncoding(gomail.EncodingB64)); err != nil {
			return nil, err
		}
	}
	return gm, nil
}

// Bytes encodes the message as RFC 5322 with MIME (RFC 2045–2047), as
// SMTP sends it but without a DKIM signature.
func (m *Message) Bytes() ([]byte, error) {
	gm, err := m.goMail()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := gm.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
