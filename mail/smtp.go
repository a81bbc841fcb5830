package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"time"
)

// Sender delivers one message. A *PermanentError means retrying cannot
// help (the server refused the recipient or the message with a 5xx
// reply); any other error is retried.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// PermanentError is a delivery failure that retrying cannot cure: an SMTP
// 5xx reply (RFC 5321 §4.2.1).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "mail: permanent failure: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// TLS modes of an SMTP server.
const (
	// TLSAuto uses STARTTLS (RFC 3207) whenever the server offers it,
	// verifying the server's certificate; a server that does not offer it
	// is talked to in the clear.
	TLSAuto = "auto"
	// TLSStartTLS requires STARTTLS: a server that does not offer it is
	// an error.
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the first byte (port 465, RFC
	// 8314 §3.3).
	TLSImplicit = "implicit"
	// TLSNone never uses TLS (a catcher on the loopback).
	TLSNone = "none"
)

// SMTP sends through one SMTP submission server with net/smtp. It opens a
// connection per message; it does not pool. Authentication (AUTH PLAIN,
// RFC 4616) is used only when Username is set, and net/smtp refuses it
// over an unencrypted connection to anything but localhost.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is one of TLSAuto (default), TLSStartTLS, TLSImplicit, TLSNone.
	TLS string
	// TLSConfig, when set, is used for STARTTLS and implicit TLS (tests
	// add their CA here); ServerName defaults to Host.
	TLSConfig *tls.Config
	// HelloName is the name given in EHLO (default "localhost").
	HelloName string
	// Timeout bounds one delivery (default 30 s).
	Timeout time.Duration
}

var _ Sender = (*SMTP)(nil)

// Send delivers m to its one recipient.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	raw, err := m.Bytes()
	if err != nil {
		return &PermanentError{err}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	tcfg := s.TLSConfig.Clone()
	if tcfg == nil {
		tcfg = &tls.Config{}
	}
	if tcfg.ServerName == "" {
		tcfg.ServerName = s.Host
	}
	var conn net.Conn
	d := &net.Dialer{}
	if s.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tcfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("mail: dial %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return classify("greeting", err)
	}
	defer c.Close()
	hello := s.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return classify("EHLO", err)
	}
	if s.TLS != TLSImplicit && s.TLS != TLSNone {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tcfg); err != nil {
				// A certificate that does not verify is not retried
				// into success by waiting.
				return fmt.Errorf("mail: STARTTLS with %s: %w", addr, err)
			}
		} else if s.TLS == TLSStartTLS {
			return fmt.Errorf("mail: %s does not offer STARTTLS", addr)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return classify("AUTH", err)
		}
	}
	if err := c.Mail(m.From.Address); err != nil {
		return classify("MAIL FROM", err)
	}
	if err := c.Rcpt(m.To.Address); err != nil {
		return classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(raw); err != nil {
		return classify("DATA", err)
	}
	if err := w.Close(); err != nil {
		return classify("end of DATA", err)
	}
	_ = c.Quit()
	return nil
}

// classify wraps an SMTP error: a 5xx reply is permanent.
func classify(step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 && te.Code < 600 {
		return &PermanentError{fmt.Errorf("%s: %w", step, err)}
	}
	return fmt.Errorf("mail: %s: %w", step, err)
}
