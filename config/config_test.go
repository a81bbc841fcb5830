package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/roster-dev/roster/policy"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseFull(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(doc, env(map[string]string{"ROSTER_ADMIN_TOKEN": "s3cret: #not-yaml-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9090" || c.Issuer != "http://127.0.0.1:9090" {
		t.Errorf("listen/issuer = %q %q", c.Listen, c.Issuer)
	}
	if got := c.Admin.Tokens; len(got) != 1 || got[0].Token != "s3cret: #not-yaml-0123456789" || got[0].Name != "token-1" {
		t.Errorf("admin tokens = %q (env value must be taken literally)", got)
	}
	if c.Store.Bbolt.Path != "/tmp/roster-test/roster.db" || c.Log.Level != "debug" {
		t.Errorf("store/log = %+v %+v", c.Store.Bbolt, c.Log)
	}
	if len(c.Tenants) != 2 || c.Tenants[1].Tenant().Kind != "partner" {
		t.Fatalf("tenants = %+v", c.Tenants)
	}
	var scim struct {
		Tokens []string `yaml:"tokens"`
	}
	if err := Section(c.Tenants[1].SCIM, "tenants[1].scim", &scim); err != nil {
		t.Fatal(err)
	}
	if len(scim.Tokens) != 1 || scim.Tokens[0] != "acme-default-token-123" {
		t.Errorf("scim tokens = %q (default from ${VAR:-default})", scim.Tokens)
	}
	if c.Policy.Charter == nil || c.Policy.Charter.Threshold != 0.6 {
		t.Errorf("charter = %+v", c.Policy.Charter)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(""), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Issuer != "http://127.0.0.1:8080" || c.Store.Bbolt.Path != "./roster-data/roster.db" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name, doc, field string
	}{
		{"unknown key", "listen: x\nbogus: 1\n", "bogus"},
		{"unknown nested key", "store:\n  bbolt: {paht: x}\n", "paht"},
		{"bad issuer", "issuer: ftp://x\n", "issuer"},
		{"short admin token", "admin: {tokens: [short]}\n", "admin.tokens[0]"},
		{"unset env", "admin: {tokens: [\"${NOPE_NOT_SET}\"]}\n", "NOPE_NOT_SET"},
		{"bad tenant kind", "tenants: [{id: a, name: A, kind: reseller}]\n", "tenants[0].kind"},
		{"bad tenant id", "tenants: [{id: 'A B', name: A, kind: partner}]\n", "tenants[0].id"},
		{"duplicate tenant", "tenants: [{id: a, name: A, kind: partner}, {id: a, name: B, kind: partner}]\n", "tenants[1].id"},
		{"missing tenant name", "tenants: [{id: a, kind: partner}]\n", "tenants[0].name"},
		{"bad domain", "tenants: [{id: a, name: A, kind: partner, domains: [Acme.Example]}]\n", "tenants[0].domains[0]"},
		{"domain with at", "tenants: [{id: a, name: A, kind: partner, domains: ['@acme.example']}]\n", "tenants[0].domains[0]"},
		{"domain of two tenants", "tenants: [{id: a, name: A, kind: partner, domains: [acme.example]}, {id: b, name: B, kind: partner, domains: [acme.example]}]\n", "tenants[1].domains[0]"},
		{"domain inside another tenant's", "tenants: [{id: a, name: A, kind: partner, domains: [acme.example]}, {id: b, name: B, kind: partner, domains: [eu.acme.example]}]\n", "inside"},
		{"bad kind name", "policy: {kinds: [Chapter]}\n", "policy.kinds[0].name"},
		{"kind parent unknown", "policy: {kinds: [{name: chapter, parents: [galaxy]}]}\n", "policy.kinds[0].parents[0]"},
		{"bad log level", "log: {level: loud}\n", "log.level"},
		{"bad threshold", "policy: {charter: {kind: local, parent: international, threshold: 1.5}}\n", "policy.charter.threshold"},
		{"role without permissions", "policy: {roles: [{name: x}]}\n", "policy.roles[0].permissions"},
		{"malformed yaml", "listen: [\n", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %q", err, tt.field)
			}
		})
	}
}

func TestSectionRefusesUnknownKeys(t *testing.T) {
	c, err := Parse([]byte("tenants: [{id: a, name: A, kind: partner, scim: {tokenz: [x]}}]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var scim struct {
		Tokens []string `yaml:"tokens"`
	}
	err = Section(c.Tenants[0].SCIM, "tenants[0].scim", &scim)
	var ce *Error
	if !errors.As(err, &ce) || ce.Field != "tenants[0].scim" || !strings.Contains(err.Error(), "tokenz") {
		t.Fatalf("err = %v", err)
	}
}

func TestSetListenMovesTheDefaultIssuer(t *testing.T) {
	c, err := Parse([]byte("listen: 127.0.0.1:8080\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.SetListen("127.0.0.1:9999")
	if c.Listen != "127.0.0.1:9999" || c.Issuer != "http://127.0.0.1:9999" {
		t.Errorf("listen/issuer = %q %q, want the issuer to follow --listen when not configured", c.Listen, c.Issuer)
	}
	c, err = Parse([]byte("issuer: https://roster.example.com\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	c.SetListen("127.0.0.1:9999")
	if c.Issuer != "https://roster.example.com" {
		t.Errorf("issuer = %q, a configured issuer must stay", c.Issuer)
	}
}

// TestErrorLinesAreTheFiles: line numbers in errors are those of the file,
// comments and blank lines included, in protocol sections too.
func TestErrorLinesAreTheFiles(t *testing.T) {
	doc := "# comment\n\nlisten: 127.0.0.1:1\n\n# more\nlogg: {level: info}\n"
	if _, err := Parse([]byte(doc), env(nil)); err == nil || !strings.Contains(err.Error(), "line 6") || !strings.Contains(err.Error(), "logg") {
		t.Errorf("err = %v, want line 6 and logg", err)
	}
	doc = "# comment\n\ntenants:\n  # acme\n  - id: acme\n    name: Acme\n    kind: partner\n\n    scim:\n      tokenz: [x]\n"
	c, err := Parse([]byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var scim struct {
		Tokens []string `yaml:"tokens"`
	}
	if err := Section(c.Tenants[0].SCIM, "tenants[0].scim", &scim); err == nil || !strings.Contains(err.Error(), "line 10") || !strings.Contains(err.Error(), "tokenz") {
		t.Errorf("err = %v, want line 10 and tokenz", err)
	}
}

// TestErrorsDoNotShowEnvValues: a value read from the environment (often a
// secret) is not quoted, even in part, by a type error.
func TestErrorsDoNotShowEnvValues(t *testing.T) {
	const secret = "Sup3rSecretToken-0123456789"
	lookup := env(map[string]string{"S": secret})
	for _, doc := range []string{
		"admin:\n  tokens: ${S}\n",
		"admin: {maxBodyBytes: \"${S}\"}\n",
		"admin: {maxBodyBytes: ${S}}\n",
	} {
		_, err := Parse([]byte(doc), lookup)
		if err == nil {
			t.Errorf("%q: no error", doc)
			continue
		}
		if strings.Contains(err.Error(), secret[:7]) {
			t.Errorf("%q: error %q shows the environment value", doc, err)
		}
	}
	c, err := Parse([]byte("oidc:\n  keyRotation: ${S}\n  maxGroups: ${S}\n"), lookup)
	if err != nil {
		t.Fatal(err)
	}
	var sec struct {
		KeyRotation Duration `yaml:"keyRotation"`
		MaxGroups   int      `yaml:"maxGroups"`
	}
	err = Section(c.OIDC, "oidc", &sec)
	if err == nil || strings.Contains(err.Error(), secret[:7]) {
		t.Errorf("section error %v shows the environment value (or is missing)", err)
	}
}

func TestKindsMakeTheHierarchy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	doc := "policy:\n  kinds:\n    - chapter\n    - {name: city, parents: [chapter, top], governance: self}\n    - {name: local, parents: [regional], governance: managed}\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Policy.Hierarchy()
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Parents["city"]; len(got) != 2 || got[0] != "chapter" || got[1] != policy.Root {
		t.Errorf("city parents %v", got)
	}
	if got := h.Parents["local"]; len(got) != 1 || got[0] != policy.GroupRegional {
		t.Errorf("local parents %v (a built-in kind, changed)", got)
	}
	if got := h.Parents["chapter"]; !slices.Contains(got, policy.Root) || !slices.Contains(got, policy.GroupLocal) {
		t.Errorf("chapter without parents should sit anywhere: %v", got)
	}
	for kind, want := range map[policy.GroupKind]policy.Governance{"city": policy.GovernSelf, "local": policy.GovernManaged, "chapter": policy.GovernManaged, policy.GroupSpecialInterest: policy.GovernSelf} {
		if got := h.GovernanceOf(policy.Group{Kind: kind}); got != want {
			t.Errorf("governance of %s = %s, want %s", kind, got, want)
		}
	}
	c.Policy.Kinds = []KindConfig{{Name: "local", Governance: "anarchy"}}
	if _, err := c.Policy.Hierarchy(); err == nil || !strings.Contains(err.Error(), "policy.kinds[0].governance") {
		t.Errorf("bad governance: %v", err)
	}
}
