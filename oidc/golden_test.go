package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestDiscoveryGolden(t *testing.T) {
	st, eng := openStore(t)
	p, err := New(Config{Issuer: "https://roster.example.com/oidc", Store: st, Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oidc/.well-known/openid-configuration", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	golden := filepath.Join("testdata", "discovery.golden.json")
	got := append(rec.Body.Bytes(), '\n')
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("discovery document differs from %s (run with -update):\n%s", golden, got)
	}
	// Paths outside the issuer's path are not served.
	rec = httptest.NewRecorder()
	p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("outside prefix: %d", rec.Code)
	}
}

func jwksKIDs(t *testing.T, e *env) map[string]string {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Errorf("JWKS publishes a private key %s", k.KeyID)
		}
		out[k.KeyID] = k.Algorithm
	}
	return out
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, 0, func(c *Config) { c.KeyRotation = time.Hour })
	before := jwksKIDs(t, e)
	if len(before) != 2 {
		t.Fatalf("want one RS256 and one ES256 key, got %v", before)
	}
	r := newRP(t, e, "portal", portalSecret)
	v := oauth2.GenerateVerifier()
	tok, err := r.oauth.Exchange(r.ctx, r.login(t, "s", "n", v, aliceSteps()...), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	oldIDToken := tok.Extra("id_token").(string)

	// A restarted provider on the same store reuses the keys.
	e2 := startProvider(t, e.st, e.engine, e.users)
	if got := jwksKIDs(t, e2); len(got) != 2 || !sameKeys(got, before) {
		t.Errorf("keys after restart %v, want %v", got, before)
	}

	e.clock.Advance(time.Hour + time.Minute)
	if err := e.p.keys.rotateIfDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := jwksKIDs(t, e)
	if len(after) != 4 {
		t.Fatalf("after rotation want 4 keys (2 new, 2 retired), got %v", after)
	}
	// Tokens signed by the retired key still verify; new ones use the new key.
	if _, err := r.verifier.Verify(r.ctx, oldIDToken); err != nil && !isExpired(err) {
		t.Errorf("old ID token: %v", err)
	}
	tok2, err := r.oauth.Exchange(r.ctx, r.login(t, "s", "n", v, aliceSteps()...), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	r2 := newRP(t, e, "portal", portalSecret) // fresh key cache
	if _, err := r2.verifier.Verify(r2.ctx, tok2.Extra("id_token").(string)); err != nil {
		t.Errorf("new ID token: %v", err)
	}
	if kid := headerKID(t, tok2.Extra("id_token").(string)); before[kid] != "" {
		t.Errorf("new token signed with retired key %s", kid)
	}

	// Once every token of the retired keys has expired, they leave the JWKS.
	e.clock.Advance(21 * time.Minute)
	if err := e.p.keys.rotateIfDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := jwksKIDs(t, e); len(got) != 2 || sameKeys(got, before) {
		t.Errorf("after expiry want only the 2 new keys, got %v", got)
	}
}

func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func isExpired(err error) bool {
	var te *gooidc.TokenExpiredError
	return errors.As(err, &te)
}

func headerKID(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, supportedAlgs)
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}
