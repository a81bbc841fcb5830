package mail

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// Sender delivers one message. A *PermanentError means retrying cannot
// help (the server refused the recipient or the message with a 5xx
// reply); any other error is retried. Send may be called from several
// goroutines at once.
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

// DKIM is a DKIM signing key (RFC 6376): messages are signed by Domain
// with the key published at Selector._domainkey.Domain.
type DKIM struct {
	Domain   string
	Selector string
	// Key is an RSA or Ed25519 private key (see ParseDKIMKey).
	Key crypto.Signer
}

// ParseDKIMKey reads a PEM private key (PKCS#1 or PKCS#8, RSA or
// Ed25519).
func ParseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	k, err := gomail.PrivKeyFromPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("mail: DKIM key: %w", err)
	}
	return k, nil
}

// SMTP sends through one SMTP submission server with
// github.com/wneessen/go-mail. It keeps up to MaxIdle connections open
// between messages (one per concurrent sender), so a large announcement
// is one SMTP transaction per message, not one connection. Authentication
// (AUTH PLAIN, RFC 4616) is used only when Username is set, and only over
// TLS unless the server is on the loopback.
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
	// Timeout bounds each network step (default 30 s).
	Timeout time.Duration
	// DKIM, when set, signs every message.
	DKIM *DKIM
	// MaxIdle is how many connections are kept open for the next
	// message (default 4).
	MaxIdle int

	once    sync.Once
	client  *gomail.Client
	initErr error
	mu      sync.Mutex
	idle    []*gosmtp.Client
}

var _ Sender = (*SMTP)(nil)

func (s *SMTP) init() {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tcfg := s.TLSConfig.Clone()
	if tcfg == nil {
		tcfg = &tls.Config{}
	}
	if tcfg.ServerName == "" {
		tcfg.ServerName = s.Host
	}
	hello := s.HelloName
	if hello == "" {
		hello = "localhost"
	}
	opts := []gomail.Option{
		gomail.WithPort(s.Port), gomail.WithTimeout(timeout), gomail.WithHELO(hello), gomail.WithTLSConfig(tcfg),
	}
	switch s.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	s.client, s.initErr = gomail.NewClient(s.Host, opts...)
}

// Send delivers m to its one recipient, over an open connection when one
// is idle.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	s.once.Do(s.init)
	if s.initErr != nil {
		return &PermanentError{s.initErr}
	}
	var mopts []gomail.MsgOption
	if s.DKIM != nil {
		// A signer per message: go-mail's signer sets itself up on first
		// use and is not safe to share between goroutines.
		mopts = append(mopts, gomail.WithDKIM(gomail.NewDKIMSigner(s.DKIM.Domain, s.DKIM.Selector, s.DKIM.Key)))
	}
	gm, err := m.goMail(mopts...)
	if err != nil {
		return &PermanentError{err}
	}
	for {
		conn, reused := s.take()
		if conn == nil {
			if conn, err = s.client.DialToSMTPClientWithContext(ctx); err != nil {
				return fmt.Errorf("mail: connect to %s: %w", s.client.ServerAddr(), err)
			}
		}
		err = s.client.SendWithSMTPClient(conn, gm)
		if err == nil {
			s.put(conn)
			return nil
		}
		_ = s.client.CloseWithSMTPClient(conn)
		var se *gomail.SendError
		if reused && errors.As(err, &se) && se.Reason == gomail.ErrConnCheck {
			continue // the server closed the idle connection: dial afresh
		}
		if errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600 {
			return &PermanentError{err}
		}
		return fmt.Errorf("mail: send: %w", err)
	}
}

func (s *SMTP) take() (*gosmtp.Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.idle); n > 0 {
		c := s.idle[n-1]
		s.idle = s.idle[:n-1]
		return c, true
	}
	return nil, false
}

func (s *SMTP) put(c *gosmtp.Client) {
	max := s.MaxIdle
	if max <= 0 {
		max = 4
	}
	s.mu.Lock()
	if len(s.idle) < max {
		s.idle = append(s.idle, c)
		c = nil
	}
	s.mu.Unlock()
	if c != nil {
		_ = s.client.CloseWithSMTPClient(c)
	}
}

// CloseIdle closes the idle connections (QUIT); the outbox calls it when
// nothing more is due.
func (s *SMTP) CloseIdle() error {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, s.client.CloseWithSMTPClient(c))
	}
	return errors.Join(errs...)
}
