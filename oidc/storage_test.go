package oidc

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/roster-dev/roster/store"
)

// fullDisk is a store whose writes fail as on a full disk while full is
// set; the real full-disk test (a tmpfs) is cmd/roster's TestFullDiskSaysSo.
type fullDisk struct {
	store.Store
	full atomic.Bool
}

func (s *fullDisk) Update(ctx context.Context, actor string, fn func(store.Tx) error) error {
	if s.full.Load() {
		return store.StorageError(fmt.Errorf("commit: %w", &fs.PathError{Op: "write", Path: "roster.db", Err: syscall.ENOSPC}))
	}
	return s.Store.Update(ctx, actor, fn)
}

// TestStorageFailureIsNotABug: a token request while the store cannot
// write answers temporarily_unavailable (503, Retry-After), not
// server_error, and works again once the store does.
func TestStorageFailureIsNotABug(t *testing.T) {
	base, eng := openStore(t)
	st := &fullDisk{Store: base}
	users := seed(t, st, 0)
	e := startProvider(t, st, eng, users)
	code := e.code(t, "portal", testVerifier)
	st.full.Store(true)
	status, body := e.exchange(t, code, testVerifier)
	wantOAuthError(t, status, body, http.StatusServiceUnavailable, errTemporarilyUnavailable)
	st.full.Store(false)
	status, body = e.exchange(t, code, testVerifier)
	if status != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("after the store recovered: %d %v", status, body)
	}
}
