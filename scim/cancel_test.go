package scim

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/roster-dev/roster/store"
)

// hangStore, once armed, holds every transaction until its context is
// done, telling entered when one starts: the client can hang up
// mid-request.
type hangStore struct {
	store.Store
	armed   *atomic.Bool
	entered chan struct{}
}

func (s hangStore) hang(ctx context.Context) {
	if s.armed.Load() {
		s.entered <- struct{}{}
		<-ctx.Done()
	}
}

func (s hangStore) View(ctx context.Context, fn func(store.Tx) error) error {
	s.hang(ctx)
	return s.Store.View(ctx, fn)
}

func (s hangStore) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	s.hang(ctx)
	return s.Store.Update(ctx, actor, fn)
}

// statusWriter records the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// TestClientCanceled: a client that hangs up during a read, a scan or a
// write is not a server error: the answer is recorded as 499 (so the HTTP
// metrics count it apart from 5xx) and logged at DEBUG, never at ERROR.
func TestClientCanceled(t *testing.T) {
	logs := &logRecords{}
	hang := hangStore{armed: new(atomic.Bool), entered: make(chan struct{})}
	e := newEnvWith(t, func(c *Config) {
		hang.Store = c.Store
		c.Store = hang
		c.Logger = slog.New(logs)
	})
	statuses := make(chan int, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		e.srv.ServeHTTP(sw, r)
		statuses <- sw.status
	}))
	defer ts.Close()
	hang.armed.Store(true)

	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/Users/0190a0b0-0000-7000-8000-000000000000", ""},
		{"GET", "/Users?filter=" + strings.ReplaceAll(`displayName co "a"`, " ", "%20"), ""},
		{"POST", "/Users", `{"schemas":["` + UserSchema + `"],"userName":"bob"}`},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, tt.method, ts.URL+"/scim/v2/acme"+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		req.Header.Set("Content-Type", "application/scim+json")
		done := make(chan error, 1)
		go func() {
			resp, err := ts.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		<-hang.entered
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("%s %s: client got %v", tt.method, tt.path, err)
		}
		if got := <-statuses; got != statusClientClosed {
			t.Errorf("%s %s: recorded status %d, want 499", tt.method, tt.path, got)
		}
	}
	if got := logs.at(slog.LevelWarn); len(got) != 0 {
		t.Errorf("canceled requests logged %q", got)
	}
	if got := logs.at(slog.LevelDebug); len(got) != 3 {
		t.Errorf("debug log %q, want one line per canceled request", got)
	}
}
