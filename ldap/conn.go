package ldap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"

	goldap "github.com/go-ldap/ldap/v3"
)

// Errors of the package, for errors.Is.
var (
	// ErrInvalidCredentials: wrong password or no such user. The two are
	// deliberately the same answer. Empty passwords always get it.
	ErrInvalidCredentials = errors.New("ldap: invalid credentials")
	// ErrAccountDisabled: the account is locked or disabled in the
	// directory (ppolicy pwdAccountLockedTime, AD userAccountControl,
	// FreeIPA nsAccountLock) or inactive in the store.
	ErrAccountDisabled = errors.New("ldap: account disabled")
	// ErrDirectoryUnavailable: the directory could not be reached, the
	// TLS handshake failed, or it did not answer in time.
	ErrDirectoryUnavailable = errors.New("ldap: directory unavailable")
	// ErrServiceBind: the directory refused the configured bindDN and
	// bindPassword.
	ErrServiceBind = errors.New("ldap: service account bind refused")
	// ErrNotSynced: the directory knows the user but the store does not
	// yet (the next sync will add them).
	ErrNotSynced = errors.New("ldap: user not yet synchronized")
	// ErrNothingPending: Approve was called with no run held back by the
	// deletion guard.
	ErrNothingPending = errors.New("ldap: no sync run waits for approval")
	// ErrSubtreeVanished: a searched base DN no longer exists, or answered
	// no entries where the store holds many (DeletionGuard.MinEntries).
	// It is a failure of the directory, and wraps ErrDirectoryUnavailable.
	ErrSubtreeVanished = fmt.Errorf("%w: a searched subtree vanished", ErrDirectoryUnavailable)
)

// unavailable reports whether err means the directory cannot be talked to
// (as opposed to an answer such as invalid credentials).
func unavailable(err error) bool {
	var ne net.Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return true
	case goldap.IsErrorAnyOf(err, goldap.ErrorNetwork, goldap.LDAPResultUnavailable,
		goldap.LDAPResultBusy, goldap.LDAPResultTimeLimitExceeded, goldap.LDAPResultServerDown,
		goldap.LDAPResultTimeout, goldap.LDAPResultConnectError, goldap.ErrorUnexpectedResponse):
		return true
	}
	s := err.Error()
	for _, m := range []string{"connection closed", "response channel closed", "timeout",
		"unable to read LDAP response packet", "connection reset", "broken pipe", "EOF"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// wrapOp wraps an LDAP error for operation op, marking directory outages
// with ErrDirectoryUnavailable.
func (s *Source) wrapOp(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("ldap[%s]: %s: %w: %w", s.dir.ID, op, ErrDirectoryUnavailable, err)
	}
	return fmt.Errorf("ldap[%s]: %s: %w", s.dir.ID, op, err)
}

// dial opens a connection (TLS as configured) without binding.
func (s *Source) dial(ctx context.Context) (*goldap.Conn, error) {
	d := &net.Dialer{Timeout: s.dir.Timeout}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	opts := []goldap.DialOpt{goldap.DialWithDialer(d)}
	if strings.HasPrefix(strings.ToLower(s.dir.URL), "ldaps:") {
		opts = append(opts, goldap.DialWithTLSDialer(s.tls.Clone(), d))
	}
	c, err := goldap.DialURL(s.dir.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("ldap[%s]: dial %s: %w: %w", s.dir.ID, s.dir.URL, ErrDirectoryUnavailable, err)
	}
	c.SetTimeout(s.dir.Timeout)
	if s.dir.StartTLS {
		if err := c.StartTLS(s.tls.Clone()); err != nil {
			c.Close()
			return nil, fmt.Errorf("ldap[%s]: StartTLS: %w: %w", s.dir.ID, ErrDirectoryUnavailable, err)
		}
	}
	return c, nil
}

// dialService opens a connection bound as the service account.
func (s *Source) dialService(ctx context.Context) (*goldap.Conn, error) {
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	if s.dir.BindDN != "" {
		if err := c.Bind(s.dir.BindDN, s.dir.BindPassword); err != nil {
			c.Close()
			if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
				return nil, fmt.Errorf("ldap[%s]: bind as %s: %w: %w", s.dir.ID, s.dir.BindDN, ErrServiceBind, err)
			}
			return nil, s.wrapOp("bind as "+s.dir.BindDN, err)
		}
	}
	return c, nil
}

// pool keeps a few idle connections.
type pool struct {
	mu    sync.Mutex
	idle  []*goldap.Conn
	max   int
	dial  func(context.Context) (*goldap.Conn, error)
	close bool
}

func (p *pool) get(ctx context.Context) (*goldap.Conn, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !c.IsClosing() {
			p.mu.Unlock()
			return c, nil
		}
		c.Close()
	}
	p.mu.Unlock()
	return p.dial(ctx)
}

// put returns c to the pool; broken connections are closed instead.
func (p *pool) put(c *goldap.Conn, broken bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if broken || p.close || c.IsClosing() || len(p.idle) >= p.max {
		c.Close()
		return
	}
	p.idle = append(p.idle, c)
}

func (p *pool) shutdown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.close = true
	for _, c := range p.idle {
		c.Close()
	}
	p.idle = nil
}
