package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// LocalAccounts implements Passwords with bcrypt hashes kept in the store
// (namespace "local-accounts", key "<tenant>/<folded userName>"), for user
// groups whose people have no directory. An account belongs to the Roster
// user with the same userName in the tenant.
type LocalAccounts struct {
	Store store.Store
	// Cost is the bcrypt cost for SetPassword; 0: bcrypt.DefaultCost.
	Cost int
}

var _ Passwords = LocalAccounts{}

type localAccount struct {
	Hash []byte `json:"hash"`
}

func localKey(tenant policy.TenantID, userName string) string {
	return string(tenant) + "/" + policy.FoldUserName(userName)
}

// dummyHashes keeps the time of a check for an unknown user close to that
// of a known one: one hash of a random password per bcrypt cost in use,
// made on first need.
var dummyHashes sync.Map // cost -> []byte

func (l LocalAccounts) cost() int {
	if l.Cost == 0 {
		return bcrypt.DefaultCost
	}
	return l.Cost
}

// dummyHash returns the hash an unknown user's password is compared with,
// at the cost of l's own hashes.
func (l LocalAccounts) dummyHash() []byte {
	cost := l.cost()
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(randomString(16)), cost)
	if err != nil {
		h, _ = bcrypt.GenerateFromPassword([]byte(randomString(16)), bcrypt.DefaultCost)
	}
	v, _ := dummyHashes.LoadOrStore(cost, h)
	return v.([]byte)
}

// dummyCheck spends the time of a password check on nothing, for a
// sign-in that names nobody.
func (l LocalAccounts) dummyCheck(password string) {
	bcrypt.CompareHashAndPassword(l.dummyHash(), []byte(password))
}

// CheckPassword checks userName's password in tenant. It returns the
// user's record, or an error wrapping ErrBadCredentials (unknown account or
// wrong password) or ErrDisabled (inactive user).
func (l LocalAccounts) CheckPassword(ctx context.Context, tenant policy.TenantID, userName, password string) (policy.User, error) {
	var acct localAccount
	var u policy.User
	found := true
	err := l.Store.View(ctx, func(tx store.Tx) error {
		raw, err := tx.GetRecord(NSLocalAccounts, localKey(tenant, userName))
		if errors.Is(err, store.ErrNotFound) {
			found = false
			return nil
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &acct); err != nil {
			return fmt.Errorf("oidc: decoding local account: %w", err)
		}
		u, err = tx.UserByUserName(tenant, userName)
		if errors.Is(err, store.ErrNotFound) {
			found = false
			return nil
		}
		return err
	})
	if err != nil {
		return policy.User{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !found {
		bcrypt.CompareHashAndPassword(l.dummyHash(), []byte(password))
		return policy.User{}, fmt.Errorf("%w: no local account %q in %q", ErrBadCredentials, userName, tenant)
	}
	if err := bcrypt.CompareHashAndPassword(acct.Hash, []byte(password)); err != nil {
		return policy.User{}, fmt.Errorf("%w: wrong password for %q", ErrBadCredentials, userName)
	}
	if !u.Active {
		return u, fmt.Errorf("%w: %q", ErrDisabled, userName)
	}
	return u, nil
}

// SetPassword sets (or replaces) the password of a local account. When no
// user with that userName exists in the tenant, it creates an active one
// with Source "local". Passwords shorter than 8 bytes or longer than 72
// (bcrypt's limit) are refused. The change is audited on behalf of
// store.ActorOr(ctx, "oidc"): the admin API puts the admin in ctx.
func (l LocalAccounts) SetPassword(ctx context.Context, tenant policy.TenantID, userName, password string) (policy.User, error) {
	if len(password) < 8 || len(password) > 72 {
		return policy.User{}, errors.New("oidc: password must be 8 to 72 bytes long")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), l.cost())
	if err != nil {
		return policy.User{}, fmt.Errorf("oidc: hashing password: %w", err)
	}
	raw, err := json.Marshal(localAccount{Hash: hash})
	if err != nil {
		return policy.User{}, err
	}
	var u policy.User
	err = l.Store.Update(ctx, store.ActorOr(ctx, "oidc"), func(tx store.Tx) error {
		var err error
		u, err = tx.UserByUserName(tenant, userName)
		if errors.Is(err, store.ErrNotFound) {
			u, err = tx.CreateUser(tenant, policy.User{Tenant: tenant, UserName: userName, Active: true, Source: SourceLocal})
		}
		if err != nil {
			return err
		}
		if err := tx.PutRecord(NSLocalAccounts, localKey(tenant, userName), raw); err != nil {
			return err
		}
		return tx.Record(tenant, policy.OpUpdate, "local-account/"+localKey(tenant, userName), map[string]any{"user": u.ID})
	})
	if err != nil {
		return policy.User{}, fmt.Errorf("oidc: setting local password: %w", err)
	}
	return u, nil
}

// SetLocalPassword sets a local account's password with the default bcrypt
// cost, creating the user (Source "local") when needed. See
// LocalAccounts.SetPassword.
func SetLocalPassword(ctx context.Context, st store.Store, tenant policy.TenantID, userName, password string) error {
	_, err := LocalAccounts{Store: st}.SetPassword(ctx, tenant, userName, password)
	return err
}
