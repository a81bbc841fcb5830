package oidc

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/roster-dev/roster/policy"
	"github.com/roster-dev/roster/store"
)

// newUpstreamIdP starts a second, independent Roster provider acting as
// the company Globex's own IdP, with tenant "corp" and local user carol,
// and registers main's callback as client "roster".
func newUpstreamIdP(t *testing.T, mainURLs ...string) *env {
	t.Helper()
	st, eng := openStore(t)
	ctx := context.Background()
	err := st.Update(ctx, "test", func(tx store.Tx) error {
		if err := tx.PutTenant(policy.Tenant{ID: upstreamTenantU, Name: "Globex internal", Kind: policy.TenantVendor}); err != nil {
			return err
		}
		_, err := tx.CreateUser(upstreamTenantU, policy.User{Tenant: upstreamTenantU, UserName: "carol", GivenName: "Carol", FamilyName: "Shaw",
			Emails: []policy.Email{{Value: "carol@globex.example", Primary: true}}, Active: true, Source: "ldap:corp"})
		if err != nil {
			return err
		}
		for i, u := range mainURLs {
			c := ClientConfig{ID: "roster" + strings.Repeat("2", i), Secret: upstreamSecret, RedirectURIs: []string{u + "/callback/upstream"}}
			if err := c.normalize(""); err != nil {
				return err
			}
			b, _ := json.Marshal(c)
			if err := tx.PutRecord(nsClients, c.ID, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (LocalAccounts{Store: st, Cost: bcrypt.MinCost}).SetPassword(ctx, upstreamTenantU, "carol", carolPassword); err != nil {
		t.Fatal(err)
	}
	return startProvider(t, st, eng, nil, func(c *Config) {
		c.Clients = nil
		// The IdP's directory vouches for an address when the user's
		// record says so (the test sets it).
		c.EmailVerified = func(u policy.User, _ policy.Tenant, _ string) bool { return u.Attributes["emailVerified"] == true }
	})
}

func upstreamSteps() []map[string]string {
	return []map[string]string{{"tenant": upstreamTenant}, {"tenant": upstreamTenantU}, {"username": "carol", "password": carolPassword}}
}

func TestUpstreamSignIn(t *testing.T) {
	st, eng := openStore(t)
	users := seed(t, st, 0)
	mainSrv, main2Srv := newLateServer(t), newLateServer(t)
	idp := newUpstreamIdP(t, mainSrv.URL, main2Srv.URL)
	upCfg := UpstreamConfig{Issuer: idp.srv.URL, ClientID: "roster", ClientSecret: upstreamSecret, UserNameClaim: "preferred_username", CreateUsers: true}
	main := startProviderOn(t, mainSrv, st, eng, users, func(c *Config) {
		c.Upstreams = map[policy.TenantID]UpstreamConfig{upstreamTenant: upCfg}
	})

	r := newRP(t, main, "portal", portalSecret)
	_, idt, cl := r.signIn(t, "up-state", "up-nonce", upstreamSteps()...)
	if cl.Tenant != upstreamTenant || cl.PreferredUsername != "carol" || cl.Email != "carol@globex.example" || idt.Nonce != "up-nonce" {
		t.Errorf("claims %+v nonce %q", cl, idt.Nonce)
	}
	var carol policy.User
	var err error
	st.View(context.Background(), func(tx store.Tx) error {
		carol, err = tx.UserByUserName(upstreamTenant, "carol")
		return err
	})
	if err != nil || carol.Source != "oidc:globex" || string(carol.ID) != idt.Subject || !carol.Active {
		t.Errorf("JIT user %+v, %v", carol, err)
	}

	// A second sign-in maps to the same user.
	v := oauth2.GenerateVerifier()
	code := r.login(t, "up-state2", "up-nonce2", v, upstreamSteps()...)
	tok, err := r.oauth.Exchange(r.ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if idt2, err := r.verifier.Verify(r.ctx, tok.Extra("id_token").(string)); err != nil || idt2.Subject != idt.Subject {
		t.Errorf("second sign-in: %v", err)
	}

	// Inactive users are refused even when the IdP signs them in.
	carol.Active = false
	if err := st.Update(context.Background(), "test", func(tx store.Tx) error { _, err := tx.UpdateUser(upstreamTenant, carol); return err }); err != nil {
		t.Fatal(err)
	}
	pg := upstreamFinalPage(t, main)
	if pg.status != http.StatusForbidden || !strings.Contains(pg.alert(), "disabled") {
		t.Errorf("inactive upstream user: %d %q", pg.status, pg.alert())
	}

	// Without just-in-time creation an unknown user is refused: a second
	// Roster on the same store matches by e-mail without creating users.
	upCfg.CreateUsers = false
	upCfg.UserNameClaim = "email"
	upCfg.ClientID = "roster2"
	main2 := startProviderOn(t, main2Srv, st, eng, users, func(c *Config) {
		c.Upstreams = map[policy.TenantID]UpstreamConfig{upstreamTenant: upCfg}
	})
	carol.Active = true
	if err := st.Update(context.Background(), "test", func(tx store.Tx) error {
		c, err := tx.User(upstreamTenant, carol.ID)
		if err != nil {
			return err
		}
		c.Active = true
		_, err = tx.UpdateUser(upstreamTenant, c)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	setVerified := func(v bool) {
		t.Helper()
		if err := idp.st.Update(context.Background(), "test", func(tx store.Tx) error {
			c, err := tx.UserByUserName(upstreamTenantU, "carol")
			if err != nil {
				return err
			}
			c.Attributes = map[string]any{"emailVerified": v}
			_, err = tx.UpdateUser(upstreamTenantU, c)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	setVerified(true)
	pg = upstreamFinalPage(t, main2)
	if pg.status != http.StatusForbidden || !strings.Contains(pg.alert(), "no Roster account") {
		t.Errorf("unknown upstream user: %d %q", pg.status, pg.alert())
	}

	// Matching by e-mail needs an address the IdP has verified: anybody
	// may have put an unverified one in their upstream profile.
	if err := st.Update(context.Background(), "test", func(tx store.Tx) error {
		_, err := tx.CreateUser(upstreamTenant, policy.User{Tenant: upstreamTenant, UserName: "carol@globex.example", Active: true, Source: "local"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	setVerified(false)
	b := newBrowser(rpRedirect)
	loc, err := b.signIn(main2.authorizeURL(authParams("portal")), upstreamSteps()...)
	if err == nil || loc != nil {
		t.Errorf("sign-in matched by an unverified e-mail: %v %v", loc, err)
	}
	setVerified(true)
	idp.clock.Advance(2 * time.Minute) // carol's password attempts at the IdP refill
	if loc, err := newBrowser(rpRedirect).signIn(main2.authorizeURL(authParams("portal")), upstreamSteps()...); err != nil || loc.Query().Get("code") == "" {
		t.Errorf("sign-in matched by a verified e-mail: %v %v", loc, err)
	}
}

// upstreamFinalPage runs the upstream sign-in and returns the error page
// main shows at the end.
func upstreamFinalPage(t *testing.T, main *env) page {
	t.Helper()
	b := newBrowser(rpRedirect)
	v := authParams("portal", "code_challenge", s256(strings.Repeat("v", 43)), "code_challenge_method", "S256")
	pg, loc, err := b.get(main.authorizeURL(v))
	for _, st := range upstreamSteps() {
		if err != nil || loc != nil {
			t.Fatalf("unexpected end: %v %v", loc, err)
		}
		pg, loc, err = b.submit(pg, st)
	}
	if err != nil || loc != nil {
		t.Fatalf("unexpected end: %v %v", loc, err)
	}
	return pg
}

// TestUpstreamMixUp checks the defence against IdP mix-up (RFC 9700
// §4.4, RFC 9207): the answer reaching /callback/upstream must come from
// the IdP of the tenant the sign-in started with, as told by its iss
// parameter; one naming another issuer, or none from an IdP that promises
// it, is refused before the code is sent anywhere.
func TestUpstreamMixUp(t *testing.T) {
	st, eng := openStore(t)
	users := seed(t, st, 0)
	mainSrv := newLateServer(t)
	idp := newUpstreamIdP(t, mainSrv.URL)
	main := startProviderOn(t, mainSrv, st, eng, users, func(c *Config) {
		c.Upstreams = map[policy.TenantID]UpstreamConfig{upstreamTenant: {Issuer: idp.srv.URL, ClientID: "roster",
			ClientSecret: upstreamSecret, CreateUsers: true}}
	})
	callback := main.srv.URL + "/callback/upstream"
	b := newBrowser(rpRedirect)
	b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if u := req.URL.String(); strings.HasPrefix(u, callback) || strings.HasPrefix(u, rpRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	loc, err := b.signIn(main.authorizeURL(authParams("portal")), upstreamSteps()...)
	if err != nil || !strings.HasPrefix(loc.String(), callback) || loc.Query().Get("iss") != idp.srv.URL {
		t.Fatalf("want the IdP's answer with iss, got %v %v", loc, err)
	}
	for name, iss := range map[string]string{"another issuer": "https://evil.example", "no issuer": ""} {
		u := *loc
		q := u.Query()
		if iss == "" {
			q.Del("iss")
		} else {
			q.Set("iss", iss)
		}
		u.RawQuery = q.Encode()
		pg, to, err := b.get(u.String())
		if err != nil || to != nil || pg.status != http.StatusBadRequest {
			t.Errorf("%s: redirect %v, status %d (%v)", name, to, pg.status, err)
		}
	}
	pg, to, err := b.get(loc.String())
	if err != nil || to == nil || to.Query().Get("code") == "" {
		t.Errorf("the genuine answer: %v, status %d %q (%v)", to, pg.status, pg.alert(), err)
	}
}
