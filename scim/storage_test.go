package scim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/roster-dev/roster/store"
)

// fullStore is a store whose writes the medium refuses while full is set,
// as bbolt reports a full disk: the transaction runs, then its commit fails
// with a wrapped ENOSPC and nothing is kept. The real medium is tested at
// command level (cmd/roster/storage_test.go, on a small tmpfs).
type fullStore struct {
	store.Store
	full *atomic.Bool
}

func (s fullStore) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, actor, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if s.full.Load() {
			return store.StorageError(fmt.Errorf("bolt: commit: %w", &os.PathError{Op: "write", Path: "/var/lib/roster/roster.db", Err: syscall.ENOSPC}))
		}
		return nil
	})
}

// logRecords is a slog.Handler that keeps what it is given.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

// at returns the messages logged at level or above.
func (h *logRecords) at(level slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level >= level {
			out = append(out, r.Level.String()+" "+r.Message)
		}
	}
	return out
}

// TestStorageFull: while the medium refuses writes, every SCIM write
// answers 507 in SCIM error JSON naming storage, changes nothing, and the
// condition is logged once (at WARN, not ERROR) however many requests hit
// it; reads keep working; when space returns, writes succeed again.
func TestStorageFull(t *testing.T) {
	var full atomic.Bool
	logs := &logRecords{}
	e := newEnvWith(t, func(c *Config) {
		c.Store = fullStore{Store: c.Store, full: &full}
		c.Logger = slog.New(logs)
	})
	user, group := seed(t, e, acmeToken, "acme", "alice")
	before := e.snapshot(t, "acme")
	full.Store(true)

	patch := map[string]any{"schemas": []string{patchOpSchema}, "Operations": []any{
		map[string]any{"op": "replace", "path": "displayName", "value": "Renamed"}}}
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/Users", map[string]any{"schemas": []string{UserSchema}, "userName": "bob@example.com"}},
		{"PUT", "/Users/" + user, map[string]any{"schemas": []string{UserSchema}, "userName": "alice@example.com", "displayName": "Alice"}},
		{"PATCH", "/Users/" + user, patch},
		{"PATCH", "/Groups/" + group, patch},
		{"DELETE", "/Users/" + user, nil},
		{"POST", "/Groups", map[string]any{"schemas": []string{GroupSchema}, "displayName": "g2"}},
	}
	for round := 0; round < 3; round++ {
		for _, w := range writes {
			r := e.acme(t, w.method, w.path, w.body)
			detail, _ := r.body["detail"].(string)
			if r.status != http.StatusInsufficientStorage || r.body["status"] != "507" ||
				!strings.Contains(detail, "storage") || !strings.Contains(detail, "nothing was changed") {
				t.Fatalf("%s %s on a full disk: %d %s", w.method, w.path, r.status, r.raw)
			}
			if strings.Contains(detail, "roster.db") || strings.Contains(detail, "/var/lib") {
				t.Errorf("detail names the file: %s", detail)
			}
		}
	}
	if got := e.snapshot(t, "acme"); got != before {
		t.Errorf("a refused write left a trace:\n%s\n%s", before, got)
	}
	if r := e.acme(t, "GET", "/Users/"+user, nil); r.status != http.StatusOK {
		t.Errorf("read during the storage failure: %d %s", r.status, r.raw)
	}
	if got := logs.at(slog.LevelWarn); len(got) != 1 || !strings.HasPrefix(got[0], "WARN") {
		t.Errorf("18 refused writes logged %q, want one warning", got)
	}

	full.Store(false)
	if r := e.acme(t, "PATCH", "/Users/"+user, patch); r.status != http.StatusOK {
		t.Fatalf("write after recovery: %d %s", r.status, r.raw)
	}
	full.Store(true)
	e.acme(t, "PATCH", "/Users/"+user, patch)
	if got := logs.at(slog.LevelWarn); len(got) != 2 {
		t.Errorf("a second storage failure after a recovery logged %q, want a second warning", got)
	}
}
