package config

import (
	"strings"
	"testing"
)

func TestStoreConfig(t *testing.T) {
	env := map[string]string{"ROSTER_DATABASE_URL": "postgres://roster@db/roster"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name    string
		store   string
		backend string
		err     string // "" : valid
		check   func(t *testing.T, s StoreConfig)
	}{
		{name: "default is bbolt", store: "", backend: "bbolt", check: func(t *testing.T, s StoreConfig) {
			if s.Bbolt == nil || s.Bbolt.Path != "./roster-data/roster.db" || s.Postgres != nil {
				t.Errorf("store = %+v", s)
			}
		}},
		{name: "postgres with defaults", store: `{postgres: {dsn: "${ROSTER_DATABASE_URL}"}}`, backend: "postgres", check: func(t *testing.T, s StoreConfig) {
			if p := s.Postgres; p == nil || p.DSN != "postgres://roster@db/roster" || p.MaxConns != 20 || p.Migrate != "manual" || s.Bbolt != nil {
				t.Errorf("store = %+v / %+v", s, s.Postgres)
			}
		}},
		{name: "postgres full", store: `{postgres: {dsn: "postgres://x@y/z", maxConns: 7, migrate: auto}}`, backend: "postgres", check: func(t *testing.T, s StoreConfig) {
			if p := s.Postgres; p.MaxConns != 7 || p.Migrate != "auto" {
				t.Errorf("postgres = %+v", p)
			}
		}},
		{name: "both backends", store: `{bbolt: {path: x.db}, postgres: {dsn: "postgres://x@y/z"}}`, err: "config: store: set one backend"},
		{name: "no dsn", store: `{postgres: {maxConns: 3}}`, err: "config: store.postgres.dsn: is required"},
		{name: "dsn from an unset variable", store: `{postgres: {dsn: "${NOPE:-}"}}`, err: "store.postgres.dsn"},
		{name: "bad migrate", store: `{postgres: {dsn: "postgres://x@y/z", migrate: sometimes}}`, err: `store.postgres.migrate: "sometimes" is not one of auto, manual`},
		{name: "negative maxConns", store: `{postgres: {dsn: "postgres://x@y/z", maxConns: -1}}`, err: "store.postgres.maxConns"},
		{name: "unknown key", store: `{postgres: {dsn: "postgres://x@y/z", pool: 3}}`, err: "pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "tenants: [{id: acme, name: Acme, kind: partner}]\n"
			if tt.store != "" {
				doc += "store: " + tt.store + "\n"
			}
			c, err := Parse([]byte(doc), lookup)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse = %v, want an error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Store.Backend(); got != tt.backend {
				t.Errorf("Backend() = %q, want %q", got, tt.backend)
			}
			tt.check(t, c.Store)
		})
	}
}
