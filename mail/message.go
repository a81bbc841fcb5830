package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"sort"
	"strings"
	"time"
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

// Bytes encodes the message as RFC 5322 with MIME (RFC 2045–2047): UTF-8
// text parts in quoted-printable, attachments in base64. It does not sign
// (no DKIM).
func (m *Message) Bytes() ([]byte, error) {
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	id := m.ID
	if id == "" {
		id = randomID() + "@roster"
	}
	hdr("From", m.From.String())
	hdr("To", m.To.String())
	if m.ReplyTo != "" {
		hdr("Reply-To", m.ReplyTo)
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+id+">")
	hdr("MIME-Version", "1.0")
	keys := make([]string, 0, len(m.Header))
	for k := range m.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.ContainsAny(k+m.Header[k], "\r\n") {
			return nil, fmt.Errorf("mail: header %s contains a line break", k)
		}
		hdr(k, m.Header[k])
	}
	// The alternative parts, then (with attachments) a mixed wrapper.
	var altBuf bytes.Buffer
	alt := multipart.NewWriter(&altBuf)
	for _, p := range []struct{ ct, s string }{{"text/plain; charset=UTF-8", m.Text}, {"text/html; charset=UTF-8", m.HTML}} {
		w, err := alt.CreatePart(textproto.MIMEHeader{"Content-Type": {p.ct}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(w)
		if _, err := io.WriteString(qw, crlf(p.s)); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := alt.Close(); err != nil {
		return nil, err
	}
	altType := `multipart/alternative; boundary="` + alt.Boundary() + `"`
	if len(m.Attachments) == 0 {
		hdr("Content-Type", altType)
		b.WriteString("\r\n")
		b.Write(altBuf.Bytes())
		return b.Bytes(), nil
	}
	mixed := multipart.NewWriter(&b)
	hdr("Content-Type", `multipart/mixed; boundary="`+mixed.Boundary()+`"`)
	b.WriteString("\r\n")
	pw, err := mixed.CreatePart(textproto.MIMEHeader{"Content-Type": {altType}})
	if err != nil {
		return nil, err
	}
	if _, err := pw.Write(altBuf.Bytes()); err != nil {
		return nil, err
	}
	for _, a := range m.Attachments {
		w, err := mixed.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {a.ContentType},
			"Content-Transfer-Encoding": {"base64"},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})},
		})
		if err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			if _, err := io.WriteString(w, enc[:76]+"\r\n"); err != nil {
				return nil, err
			}
			enc = enc[76:]
		}
		if _, err := io.WriteString(w, enc+"\r\n"); err != nil {
			return nil, err
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// crlf normalises line ends to CRLF.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
