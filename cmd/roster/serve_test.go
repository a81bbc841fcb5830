package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-dev/roster/config"
)

// TestServeWaitsForJobs: serve returns only after its background jobs
// (directory schedules, OIDC maintenance) have returned, because the caller
// closes the store and the LDAP sources right after.
func TestServeWaitsForJobs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &app{cfg: &config.Config{Listen: ln.Addr().String()}, log: slog.New(slog.DiscardHandler), mux: http.NewServeMux()}
	var stopped atomic.Bool
	a.jobs = append(a.jobs, func(ctx context.Context) {
		<-ctx.Done()
		time.Sleep(200 * time.Millisecond) // a sync finishing its batch
		stopped.Store(true)
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.serve(ctx, ln) }()
	for deadline := time.Now().Add(5 * time.Second); !a.ready.Load(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !stopped.Load() {
		t.Error("serve returned while a background job was still running")
	}
}
