package ldap

import (
	"context"
	"errors"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// Authenticate checks a password against the directory and returns the
// stored user it belongs to (RFC 4513 §5.1.3 simple bind).
//
// It finds the entry with the service account, by userName under the
// users base and filter (the name is escaped, RFC 4515 §3), then binds as
// that entry's DN on a separate pooled connection. Errors, for errors.Is:
// ErrInvalidCredentials for a wrong password, an unknown or ambiguous
// userName, or an empty password (never sent: an empty simple bind is an
// unauthenticated bind, RFC 4513 §5.1.2); ErrAccountDisabled when the
// directory marks the account locked or disabled, or the stored user is
// inactive; ErrDirectoryUnavailable when the directory cannot be reached
// in time; ErrNotSynced when the directory knows the user but the store
// does not yet.
//
// A locked account is reported as such whatever the password, as the
// directory itself refuses the bind then; when the password was not
// accepted the error wraps ErrInvalidCredentials too, so a sign-in page
// can answer exactly as for a wrong password.
func (s *Source) Authenticate(ctx context.Context, userName, password string) (policy.User, error) {
	if password == "" || userName == "" {
		return policy.User{}, ErrInvalidCredentials
	}
	entry, err := s.findUser(ctx, userName)
	if err != nil {
		return policy.User{}, err
	}
	disabled := s.isDisabled(entry)
	if err := s.bindAs(ctx, entry.DN, password); err != nil {
		if errors.Is(err, ErrInvalidCredentials) && disabled {
			// Both are true, and the password was not verified: a
			// caller facing the public must not tell this apart from a
			// wrong password, or it reveals which accounts exist.
			return policy.User{}, fmt.Errorf("%w; %w", ErrAccountDisabled, ErrInvalidCredentials)
		}
		return policy.User{}, err
	}
	if disabled {
		return policy.User{}, ErrAccountDisabled
	}
	ext := s.externalID(entry)
	var u policy.User
	err = s.st.View(ctx, func(tx store.Tx) error {
		var err error
		u, err = tx.UserByExternalID(s.tenant, ext)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && u.Source != s.source:
		return policy.User{}, fmt.Errorf("ldap[%s]: %s: %w", s.dir.ID, userName, ErrNotSynced)
	case err != nil:
		return policy.User{}, fmt.Errorf("ldap[%s]: read store: %w", s.dir.ID, err)
	case !u.Active:
		return policy.User{}, ErrAccountDisabled
	}
	return u, nil
}

// findUser looks the user's entry up with the service account.
func (s *Source) findUser(ctx context.Context, userName string) (*goldap.Entry, error) {
	filter := fmt.Sprintf("(&%s(%s=%s))", s.dir.Users.Filter, s.dir.Attributes.UserName, goldap.EscapeFilter(userName))
	attrs := s.userAttrs()
	req := goldap.NewSearchRequest(s.dir.Users.BaseDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		2, int(s.dir.Timeout.Seconds()), false, filter, attrs, nil)
	var res *goldap.SearchResult
	err := s.withConn(ctx, s.searchPool, func(c *goldap.Conn) error {
		var err error
		res, err = c.Search(req)
		return err
	})
	switch {
	case err != nil && goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded):
		s.log.Warn("ldap authenticate: userName matches several entries", "userName", userName)
		return nil, ErrInvalidCredentials
	case err != nil:
		return nil, err
	case len(res.Entries) != 1:
		if len(res.Entries) > 1 {
			s.log.Warn("ldap authenticate: userName matches several entries", "userName", userName)
		}
		return nil, ErrInvalidCredentials
	}
	return res.Entries[0], nil
}

// bindAs checks dn's password on a connection of the bind pool.
func (s *Source) bindAs(ctx context.Context, dn, password string) error {
	return s.withConn(ctx, s.bindPool, func(c *goldap.Conn) error {
		err := c.Bind(dn, password)
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return ErrInvalidCredentials
		}
		return err
	})
}

// withConn runs fn on a pooled connection, retrying once on a fresh one
// when a pooled connection turns out to be dead.
func (s *Source) withConn(ctx context.Context, p *pool, fn func(*goldap.Conn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		c, err := p.get(ctx)
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err = fn(c)
		stop()
		broken := unavailable(err) || c.IsClosing()
		p.put(c, broken)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrInvalidCredentials):
			return err
		case ctx.Err() != nil:
			return fmt.Errorf("ldap[%s]: %w: %w", s.dir.ID, ErrDirectoryUnavailable, ctx.Err())
		case broken && attempt == 0:
			continue
		}
		return s.wrapOp("authenticate", err)
	}
}
