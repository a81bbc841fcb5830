package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roster-dev/roster/store"
)

// storageHealth follows whether the store can take writes. It learns from
// every write (watchedStore) and, for readiness, from a real write
// transaction run at most once per interval; while a storage failure
// lasts, recovery also needs free space on the store's file system, since
// a small probe can land in pages the file already has.
type storageHealth struct {
	log   *slog.Logger
	st    store.Store // the unwatched store, for probes
	dir   string      // the store file's folder ("" when not a file)
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	failing error // the storage failure in force, nil when healthy
	probed  time.Time

	ok       prometheus.Gauge
	failures prometheus.Counter
}

// minFreeBytes is the free space a failing store needs before it is
// trusted again.
const minFreeBytes = 1 << 20

func newStorageHealth(log *slog.Logger, st store.Store, path string, reg prometheus.Registerer) *storageHealth {
	h := &storageHealth{log: log, st: st, every: 5 * time.Second, now: time.Now,
		ok: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roster_storage_ok", Help: "1 while the store takes writes, 0 during a storage failure (out of space, read-only, I/O error).",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roster_storage_write_failures_total", Help: "Writes refused by the storage medium.",
		}),
	}
	if path != "" {
		h.dir = filepath.Dir(path)
	}
	h.ok.Set(1)
	reg.MustRegister(h.ok, h.failures)
	return h
}

// observe records the outcome of a write. Only storage failures and
// successes change the state; a transition is logged once, not per write.
func (h *storageHealth) observe(err error) {
	switch {
	case errors.Is(err, store.ErrStorage):
		h.failures.Inc()
		h.mu.Lock()
		was := h.failing
		h.failing = err
		h.mu.Unlock()
		if was == nil {
			h.ok.Set(0)
			h.log.Error("storage failing: writes are refused until it recovers", "err", err)
		}
	case err == nil:
		h.mu.Lock()
		was := h.failing
		h.failing = nil
		h.mu.Unlock()
		if was != nil {
			h.ok.Set(1)
			h.log.Info("storage recovered: writes succeed again")
		}
	}
}

// Ready reports nil while the store takes writes. It runs a probe write
// when the last one is older than the interval.
func (h *storageHealth) Ready(ctx context.Context) error {
	h.mu.Lock()
	due := h.now().Sub(h.probed) >= h.every
	if due {
		h.probed = h.now()
	}
	failing := h.failing
	h.mu.Unlock()
	if !due {
		return failing
	}
	if failing != nil && h.dir != "" {
		var fs syscall.Statfs_t
		if err := syscall.Statfs(h.dir, &fs); err == nil && fs.Bavail*uint64(fs.Bsize) < minFreeBytes {
			return failing
		}
	}
	err := h.st.Update(ctx, "readyz", func(tx store.Tx) error {
		return tx.PutRecord("health", "probe", []byte(h.now().UTC().Format(time.RFC3339Nano)))
	})
	if ctx.Err() != nil {
		return failing // the caller went away: no news
	}
	h.observe(err)
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failing
}

// watchedStore is the store the server's components use: it reports the
// outcome of every write to its storageHealth.
type watchedStore struct {
	store.Store
	h *storageHealth
}

// Update implements store.Store.
func (w watchedStore) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	err := w.Store.Update(ctx, actor, fn)
	w.h.observe(err)
	return err
}

// storageCause names a storage failure in words without a file path.
func storageCause(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return "storage unavailable"
}
